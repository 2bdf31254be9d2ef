/**
 * How the I/O worker thread starts: the same way whatever the embedding process's flags
 * (`--input-type=module` on the command line or in NODE_OPTIONS, preloads that throw in worker
 * threads), checked in child processes that open a real store; and a worker that cannot start
 * (its source throws or exits before serving, the Worker constructor throws) is a
 * ConsensusStoreError WORKER_FAILED that says so, from SyncWorker, from the real file system's
 * writable open and from openStore, never an EIO that reads as a failed disk. A worker that dies
 * after it served still fails its request in flight with EIO.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConsensusStoreError } from '../../src/errors.ts';
import { openStore } from '../../src/store.ts';
import { createRealFileSystem } from '../../src/io/real-fs.ts';
import { SyncWorker } from '../../src/io/sync-worker.ts';
import { SYNC_WORKER_SERVING } from '../../src/io/sync-worker-entry.ts';
import { errnoOf } from '../../src/io/types.ts';
import { outcomeOf } from '../support/outcome.ts';

const SRC = join(import.meta.dirname, '..', '..', 'src');
const srcUrl = (file: string): string => pathToFileURL(join(SRC, file)).href;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sync-worker-start-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface ChildResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node <args>` with `env` added to this process's environment. */
function runNode(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<ChildResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { timeout: 20_000, killSignal: 'SIGKILL', env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * An ES module script (for `--input-type=module -e`) that opens a store in `storeDir`, saves a
 * round state (a durable append through the worker), closes and reopens it to read the state
 * back, then sends one writeAndSync straight through a SyncWorker; prints one JSON line.
 */
function storeScript(storeDir: string, file: string): string {
  return `
import { openStore } from ${JSON.stringify(srcUrl('index.ts'))};
import { SyncWorker } from ${JSON.stringify(srcUrl('io/sync-worker.ts'))};
import { openSync, closeSync } from 'node:fs';
const dir = ${JSON.stringify(storeDir)};
const store = await openStore({ dir, chainId: 'c' });
await store.rounds.saveRoundState({ height: 7, round: 1, phase: 'prevote', startedAt: 1, updatedAt: 2 });
await store.close();
const again = await openStore({ dir, chainId: 'c' });
const saved = await again.rounds.loadRoundState();
await again.close();
const worker = new SyncWorker();
await worker.ready();
const usable = worker.usable();
const fd = openSync(${JSON.stringify(file)}, 'w');
await worker.writeAndSync(fd, [new TextEncoder().encode('durable\\n')], 0, ${JSON.stringify(file)});
closeSync(fd);
const stats = worker.stats();
await worker.shutdown();
console.log(JSON.stringify({ height: saved?.height ?? saved?.state?.height, usable, served: stats.polled + stats.parked }));
`;
}

/**
 * A preload (for `-r`) that throws in the I/O worker thread (any worker thread with a shared
 * buffer in its workerData; tsx's own loader thread, which runs preloads too, is spared).
 */
function workerHostilePreload(): string {
  const file = join(dir, 'throws-in-workers.cjs');
  const code = [
    "const w = require('node:worker_threads');",
    "if (!w.isMainThread && w.workerData?.sab instanceof SharedArrayBuffer) throw new Error('this preload refuses worker threads');",
  ];
  writeFileSync(file, code.join('\n'));
  return file;
}

describe('the I/O worker starts whatever the embedding process runs with', () => {
  it.each([
    ['node --input-type=module -e', () => ({ flags: ['--input-type=module'], env: {} })],
    ['NODE_OPTIONS=--input-type=module', () => ({ flags: [], env: { NODE_OPTIONS: '--input-type=module' } })],
    ['-r <preload that throws in workers>', () => ({ flags: ['--input-type=module', '-r', workerHostilePreload()], env: {} })],
    ['NODE_OPTIONS=-r <preload that throws in workers>', () => ({ flags: ['--input-type=module'], env: { NODE_OPTIONS: `-r ${workerHostilePreload()}` } })],
  ] as const)('%s: openStore, a durable append and a direct writeAndSync succeed', async (name, setup) => {
    const { flags, env } = setup();
    const tag = name.replace(/[^a-z]+/gi, '-');
    const storeDir = join(dir, `store-${tag}`);
    const file = join(dir, `direct-${tag}`);
    const result = await runNode(['--import', 'tsx', ...flags, '-e', storeScript(storeDir, file)], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toEqual({ height: 7, usable: true, served: 1 });
    expect(readFileSync(file, 'utf8')).toBe('durable\n');
  });
});

/** Asserts `err` is the start-up failure: WORKER_FAILED, saying so, with `causeText` in its cause. */
function expectStartFailure(err: unknown, causeText: string): void {
  expect(err).toBeInstanceOf(ConsensusStoreError);
  const e = err as ConsensusStoreError;
  expect(e.code).toBe('WORKER_FAILED');
  expect(e.message).toContain('the I/O worker thread could not start');
  expect(e.message).toContain(causeText);
  expect(String((e.cause as Error | undefined)?.message)).toContain(causeText);
}

const THROWS_AT_LOAD = "throw new Error('boom at load');";
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** How many fds of this process (Linux) are open on `file`: a failed open must leave none behind. */
function fdsOn(file: string): number {
  const target = realpathSync(file);
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(join('/proc/self/fd', fd)) === target) n += 1;
    } catch {
      // closed meanwhile (the directory's own fd, for one)
    }
  }
  return n;
}

describe('a worker that cannot start is WORKER_FAILED, not EIO', () => {
  it.each([
    ['its source throws at load', THROWS_AT_LOAD, 'boom at load'],
    ['its source is a syntax error', 'this is not javascript', 'Unexpected identifier'],
    ['it exits before serving', 'process.exit(3);', 'exited with code 3'],
    ['it returns before serving', "'nothing to do';", 'exited with code 0'],
  ])('SyncWorker: %s', async (_name, source, causeText) => {
    const worker = new SyncWorker({ source });
    await worker.ready();
    expectStartFailure(worker.startError(), causeText);
    expect(worker.usable()).toBe(false);
    const err = await outcomeOf(() => worker.datasync(0, 'some-file'));
    expectStartFailure(err, causeText);
    expect(errnoOf(err)).not.toBe('EIO');
    await worker.shutdown();
  });

  it('SyncWorker: the Worker constructor throws', async () => {
    // Not a string: node's Worker constructor throws synchronously (ERR_INVALID_ARG_VALUE).
    const worker = new SyncWorker({ source: 42 as unknown as string });
    await worker.ready();
    expectStartFailure(worker.startError(), 'eval');
    expect(worker.usable()).toBe(false);
  });

  it('SyncWorker: requests sent while it was starting reject WORKER_FAILED (they were never served)', async () => {
    const source = 'const t = Date.now(); while (Date.now() - t < 100); throw new Error("late failure");';
    const worker = new SyncWorker({ source });
    const fd = openSync(join(dir, 'never-served'), 'w');
    try {
      const first = outcomeOf(() => worker.writeAndSync(fd, [bytes('first')], 0, 'never-served'));
      const second = outcomeOf(() => worker.datasync(fd, 'never-served'));
      expectStartFailure(await first, 'late failure');
      expectStartFailure(await second, 'late failure');
      await worker.ready();
      expectStartFailure(worker.startError(), 'late failure');
    } finally {
      closeSync(fd);
    }
    expect(statSync(join(dir, 'never-served')).size).toBe(0);
  });

  it('SyncWorker: a worker that dies after it started serving still fails its request with EIO', async () => {
    // Serves by the protocol up to the pickup of a request, then dies inside it: outcome unknown.
    const source = `
      const { workerData, parentPort } = process.getBuiltinModule('node:worker_threads');
      const ctl = new Int32Array(workerData.sab, 0, 16);
      parentPort.postMessage(${JSON.stringify(SYNC_WORKER_SERVING)});
      while (Atomics.load(ctl, 0) !== 1) Atomics.wait(ctl, 0, Atomics.load(ctl, 0));
      Atomics.store(ctl, 8, 1);
      throw new Error('died while serving');
    `;
    const worker = new SyncWorker({ source });
    await worker.ready();
    expect(worker.startError()).toBeUndefined();
    expect(worker.usable()).toBe(true);
    const err = await outcomeOf(() => worker.datasync(0, 'in-flight'));
    expect(err).not.toBeInstanceOf(ConsensusStoreError);
    expect(errnoOf(err)).toBe('EIO');
    expect(String(((err as Error).cause as Error | undefined)?.message)).toContain('died while serving');
    expect(worker.startError()).toBeUndefined();
    await worker.shutdown();
  });

  it('the real file system: a writable open rejects WORKER_FAILED and closes its fd; reads still work; a second writable open fails the same way', async () => {
    const fs = createRealFileSystem({ syncWorkerOptions: { source: THROWS_AT_LOAD } });
    const file = join(dir, 'rfs-start-failure');
    expectStartFailure(await outcomeOf(() => fs.open(file, 'create')), 'boom at load');
    expectStartFailure(await outcomeOf(() => fs.open(file, 'readwrite')), 'boom at load');
    expect(fdsOn(file)).toBe(0);
    expect(statSync(file).size).toBe(0);
    const reader = await fs.open(file, 'read');
    expect(await reader.size()).toBe(0);
    await reader.close();
    // Without the worker the same file system writes normally.
    const plain = createRealFileSystem({ syncWorker: false });
    const h = await plain.open(file, 'readwrite');
    await h.writeAndSync([bytes('plain')], 0);
    await h.close();
    expect(readFileSync(file, 'utf8')).toBe('plain');
  });

  it('openStore: a worker that cannot start fails the open with WORKER_FAILED (not IO_FAILED or EIO) and releases the lock', async () => {
    const storeDir = join(dir, 'store-start-failure');
    const fs = createRealFileSystem({ syncWorkerOptions: { source: THROWS_AT_LOAD } });
    const err = await outcomeOf(() => openStore({ dir: storeDir, chainId: 'c', fs }));
    expectStartFailure(err, 'boom at load');
    // The lock was released and the directory is usable by a working file system.
    const store = await openStore({ dir: storeDir, chainId: 'c', fs: createRealFileSystem() });
    await store.rounds.saveRoundState({ height: 3, round: 0, phase: 'prevote', startedAt: 1, updatedAt: 2 });
    expect(store.log.status).toBe('open');
    await store.close();
  });
});
