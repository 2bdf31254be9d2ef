/**
 * Test harnesses for the LogEvidenceStore and the LogRewardHistory on the in-memory log
 * (test/support/memory-log.ts): open a store on a memory disk, replay it the way `openStore`
 * does, reopen it on the same disk. Also the evidence fixture: deterministic validator keys, a
 * key book answering `publicKeyAt`, and signed votes and proposals.
 *
 * Test support only: it must never be imported by library code.
 */
import type { StoreContext } from '../../src/stores/context.ts';
import { LogEvidenceStore } from '../../src/stores/evidence-store.ts';
import { LogRewardHistory } from '../../src/stores/reward-history.ts';
import type { EvidenceHarness } from '../../src/testing/conformance/evidence-store.conformance.ts';
import type { RewardHistoryHarness } from '../../src/testing/conformance/reward-history.conformance.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';
import { replay, tickingClock } from './round-test-log.ts';

export { KeyBook, privateKeyFor, signedProposal, signedVote, TEST_CHAIN_ID } from '../../src/testing/conformance/fixtures.ts';
import { KeyBook, TEST_CHAIN_ID } from '../../src/testing/conformance/fixtures.ts';

/** An evidence store opened (and replayed) on a memory disk. */
export interface OpenedEvidence {
  readonly store: LogEvidenceStore;
  readonly log: MemoryLog;
  readonly ctx: StoreContext;
  readonly disk: MemoryDisk;
}

/** Opens (and replays) an evidence store on `disk` with `keys`. */
export async function openMemoryEvidence(disk: MemoryDisk = new MemoryDisk(), keys: KeyBook = new KeyBook()): Promise<OpenedEvidence> {
  const log = MemoryLog.open(disk);
  const ctx: StoreContext = { log, now: tickingClock() };
  const store = new LogEvidenceStore(ctx, { chainId: TEST_CHAIN_ID, publicKeyAt: keys.publicKeyAt, nodeId: 'node-under-test' });
  await replay(log, [store]);
  return { store, log, ctx, disk };
}

/** The conformance harness of the evidence store on the memory log. */
export async function memoryEvidenceHarness(disk: MemoryDisk = new MemoryDisk()): Promise<EvidenceHarness> {
  const opened = await openMemoryEvidence(disk);
  return {
    store: opened.store,
    chainId: TEST_CHAIN_ID,
    nextLsn: () => opened.log.nextLsn,
    reopen: async () => {
      await opened.log.close();
      return memoryEvidenceHarness(disk);
    },
    close: () => opened.log.close(),
  };
}

/** Opens (and replays) a LogRewardHistory on `disk`. */
export async function openMemoryRewards(disk: MemoryDisk = new MemoryDisk()): Promise<{ history: LogRewardHistory; log: MemoryLog; disk: MemoryDisk }> {
  const log = MemoryLog.open(disk);
  const history = new LogRewardHistory({ log, now: tickingClock() });
  await replay(log, [history]);
  return { history, log, disk };
}

/** The conformance harness of the reward history on the memory log. */
export async function memoryRewardHarness(disk: MemoryDisk = new MemoryDisk()): Promise<RewardHistoryHarness> {
  const opened = await openMemoryRewards(disk);
  return {
    history: opened.history,
    nextLsn: () => opened.log.nextLsn,
    reopen: async () => {
      await opened.log.close();
      return memoryRewardHarness(disk);
    },
    close: () => opened.log.close(),
  };
}
