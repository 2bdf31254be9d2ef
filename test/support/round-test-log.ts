/**
 * Test harnesses for the round-state store, the recovery manager and the validator registry on
 * the in-memory log (test/support/memory-log.ts): open a store on a memory disk, replay it the
 * way `openStore` does, reopen it on the same disk, crash it. Also deterministic clocks and
 * valid ed25519 public keys for fixtures.
 *
 * Test support only: it must never be imported by library code.
 */
import { Point } from '@noble/ed25519';
import type { Log } from '../../src/log/types.ts';
import type { RecordApplier, StoreContext } from '../../src/stores/context.ts';
import { LogRoundStateStore } from '../../src/stores/round-state-store.ts';
import type { RoundStateStoreOptions } from '../../src/stores/round-types.ts';
import { LogValidatorRegistry } from '../../src/stores/validator-registry.ts';
import type { RoundStateHarness } from '../../src/testing/conformance/round-state-store.conformance.ts';
import type { ValidatorRegistryHarness } from '../../src/testing/conformance/validator-registry.conformance.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';

/** A clock that ticks one ms per reading, from a fixed start, so that tests are deterministic. */
export function tickingClock(start = 1_700_000_000_000): () => number {
  let now = start;
  return () => now++;
}

/** Feeds every durable record of the appliers' kinds to them, in LSN order (what `openStore` does). */
export async function replay(log: Log, appliers: readonly RecordApplier[]): Promise<void> {
  await log.scan((record) => {
    for (const a of appliers) if (a.kinds.includes(record.kind)) a.apply(record);
  });
}

/** A store opened on a memory disk: its log, context and the disk to reopen on. */
export interface MemoryOpened<S> {
  readonly store: S;
  readonly log: MemoryLog;
  readonly ctx: StoreContext;
  readonly disk: MemoryDisk;
}

/** Opens (and replays) a LogRoundStateStore on `disk` (fresh when omitted). */
export async function openMemoryRounds(
  disk: MemoryDisk = new MemoryDisk(),
  options: RoundStateStoreOptions = {},
  now: () => number = tickingClock(),
): Promise<MemoryOpened<LogRoundStateStore>> {
  const log = MemoryLog.open(disk);
  const ctx: StoreContext = { log, now };
  const store = new LogRoundStateStore(ctx, options);
  await replay(log, [store]);
  return { store, log, ctx, disk };
}

/** Opens (and replays) a LogValidatorRegistry on `disk` (fresh when omitted). */
export async function openMemoryRegistry(
  disk: MemoryDisk = new MemoryDisk(),
  now: () => number = tickingClock(),
): Promise<MemoryOpened<LogValidatorRegistry>> {
  const log = MemoryLog.open(disk);
  const ctx: StoreContext = { log, now };
  const store = new LogValidatorRegistry(ctx);
  await replay(log, [store]);
  return { store, log, ctx, disk };
}

/** The conformance harness of the round-state store on the memory log. */
export async function memoryRoundHarness(disk: MemoryDisk = new MemoryDisk()): Promise<RoundStateHarness> {
  const opened = await openMemoryRounds(disk);
  return {
    rounds: opened.store,
    nextLsn: () => opened.log.nextLsn,
    reopen: async () => {
      await opened.log.close();
      return memoryRoundHarness(disk);
    },
    close: () => opened.log.close(),
  };
}

/** The conformance harness of the validator registry on the memory log. */
export async function memoryRegistryHarness(disk: MemoryDisk = new MemoryDisk()): Promise<ValidatorRegistryHarness> {
  const opened = await openMemoryRegistry(disk);
  return {
    registry: opened.store,
    nextLsn: () => opened.log.nextLsn,
    reopen: async () => {
      await opened.log.close();
      return memoryRegistryHarness(disk);
    },
    close: () => opened.log.close(),
  };
}

const keyCache = new Map<number, Uint8Array>();

/** A valid ed25519 public key, distinct for each `n` >= 0 (the point (n+1)·B). */
export function testPublicKey(n: number): Uint8Array {
  let key = keyCache.get(n);
  if (key === undefined) {
    key = Point.BASE.multiply(BigInt(n) + 1n).toBytes();
    keyCache.set(n, key);
  }
  return key.slice();
}
