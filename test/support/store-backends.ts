/**
 * The backends a whole `ConsensusStore` runs on in the conformance suites and engine tests, each
 * a factory of fresh, empty media that can be opened again and again:
 * - `realFilesBackend`: the write-ahead log on real files, one temporary directory under
 *   os.tmpdir() per medium, removed after the test file's last test (through node's threadpool:
 *   the sync worker, which starts a thread at each open, is left to the log and I/O tests);
 * - `simDiskBackend`: the write-ahead log on the simulated disk (src/io/sim-disk.ts), one disk
 *   per medium, with its own seed;
 * - `memoryBackend`: the in-memory log (test/support/memory-log.ts) through `openStoreOnLog`.
 * The two WAL backends open through `openStore`, so the wiring (one log, one replay pass, the
 * node key, the sign guard's open-time rules) is covered. Every open gets a fixed node key, a
 * ticking clock (one per medium, so a reopen never goes back in time) and 1 MiB segments,
 * unless `overrides` says otherwise.
 *
 * `storeHarness` turns an open store into a suite's harness (test/conformance/support.ts).
 *
 * Test support only: it must never be imported by library code.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { createRealFileSystem } from '../../src/io/real-fs.ts';
import { openStore, openStoreOnLog, type ConsensusStore, type OpenStoreOptions, type StoreOptions } from '../../src/store.ts';
import type { StoreHarness } from '../../src/testing/conformance/support.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';

/** Options of one open, over the backend's defaults (the location is the medium's). */
export type StoreOverrides = Partial<Omit<OpenStoreOptions, 'dir' | 'fs'>>;

/** One store's data: every `open` opens the same data (empty the first time). */
export interface StoreMedium {
  open(overrides?: StoreOverrides): Promise<ConsensusStore>;
  /**
   * Cuts power under the store open on this medium, where the backend can: what was not durable
   * is lost (the simulated disk decides, from its seed, the fate of every unsynced write), the
   * open store's calls fail from now on, and the next `open` recovers. Absent on real files.
   */
  readonly powerCut?: () => void;
}

/** A kind of storage under a whole store. */
export interface StoreBackend {
  /** Names the backend in test titles. */
  readonly name: string;
  /** A fresh, empty medium. */
  medium(): StoreMedium;
}

/** The node key every backend opens with unless overridden (its audit chain's key). */
export const BACKEND_NODE_KEY = { privateKey: new Uint8Array(32).fill(7) };

const SEGMENT_SIZE = 1024 * 1024;
const CLOCK_START = 1_700_000_000_000;

function defaults(chainId: string): StoreOptions & { log: { segmentSize: number } } {
  let clock = CLOCK_START;
  return { chainId, audit: { nodeKey: BACKEND_NODE_KEY }, now: () => clock++, log: { segmentSize: SEGMENT_SIZE } };
}

/**
 * The WAL on real files: each medium is a new directory `<tmpdir>/cstore-<label>-XXXXXX`. The
 * directories are removed after the calling test file's tests (stores must be closed by then).
 */
export function realFilesBackend(chainId: string, label: string): StoreBackend {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return {
    name: 'WAL on real files',
    medium: () => {
      const dir = mkdtempSync(join(tmpdir(), `cstore-${label}-`));
      dirs.push(dir);
      const base = defaults(chainId);
      // Without the sync worker: it would start (a thread) at every open and stop at every close.
      const fs = createRealFileSystem({ syncWorker: false });
      return { open: (overrides = {}) => openStore({ ...base, ...overrides, dir, fs }) };
    },
  };
}

/** The WAL on the simulated disk: each medium is a new disk, seeded `firstSeed`, `firstSeed + 1`, ... */
export function simDiskBackend(chainId: string, firstSeed = 1): StoreBackend {
  let seed = firstSeed;
  return {
    name: 'WAL on the simulated disk',
    medium: () => {
      const disk = new SimulatedDisk({ seed: seed++ });
      const base = defaults(chainId);
      return { open: (overrides = {}) => openStore({ ...base, ...overrides, dir: '/data', fs: disk.fs() }), powerCut: () => disk.crash() };
    },
  };
}

/** The in-memory log through `openStoreOnLog`; each medium is a new memory disk. */
export function memoryBackend(chainId: string): StoreBackend {
  return {
    name: 'in-memory log',
    medium: () => {
      const disk = new MemoryDisk();
      const base = defaults(chainId);
      let log: MemoryLog | undefined;
      return {
        open: (overrides = {}) => {
          // The log's options and the key file concern only `openStore`'s own log.
          const { log: _log, ...options } = { ...base, ...overrides };
          const { keyFile: _keyFile, ...audit } = options.audit ?? {};
          log = MemoryLog.open(disk);
          return openStoreOnLog(log, { ...options, audit });
        },
        powerCut: () => log?.crash(),
      };
    },
  };
}

/** Both WAL backends: real files in a temporary directory, and the simulated disk. */
export function walBackends(chainId: string, label: string): StoreBackend[] {
  return [realFilesBackend(chainId, label), simDiskBackend(chainId)];
}

/**
 * A suite's harness over `store`: `view` picks the suite's own fields; writes are seen through
 * the store's log; `reopen` closes the store and opens the same data with `reopenStore`.
 */
export function storeHarness<H extends StoreHarness<H>>(
  store: ConsensusStore,
  reopenStore: () => Promise<ConsensusStore>,
  view: (store: ConsensusStore) => Omit<H, keyof StoreHarness<H>>,
): H {
  return {
    ...view(store),
    nextLsn: () => store.log.nextLsn,
    reopen: async () => {
      await store.close();
      return storeHarness(await reopenStore(), reopenStore, view);
    },
    close: () => store.close(),
  } as unknown as H; // H is exactly its view plus these three: TypeScript cannot see that for a generic H.
}

/** Opens a fresh medium of `backend` and returns the harness `view` makes of it. */
export async function freshHarness<H extends StoreHarness<H>>(
  backend: StoreBackend,
  view: (store: ConsensusStore) => Omit<H, keyof StoreHarness<H>>,
  overrides: StoreOverrides = {},
): Promise<H> {
  const medium = backend.medium();
  const reopen = (): Promise<ConsensusStore> => medium.open(overrides);
  return storeHarness(await reopen(), reopen, view);
}
