/**
 * STYLE: every error path has a test that reaches it. This file reaches, one by one and by their
 * message, the error sites of the round-state store, the validator registry, the evidence store,
 * the reward history and the audit log that no other test reached deterministically (some only
 * by chance, through a fast-check generator): defensive checks on a log that misbehaves (an
 * append resolving without LSNs, a read finding no record), range checks on queries, option
 * checks, and a failure of an injected callback that must not be swallowed.
 */
import { describe, expect, it } from 'vitest';
import { ConsensusStoreError, isStoreError, type ErrorCode } from '../../src/errors.ts';
import { RecordKind } from '../../src/codec/kinds.ts';
import type { Log, LogRecord, Lsn, RecordInput } from '../../src/log/types.ts';
import { LogAuditLog } from '../../src/stores/audit-log.ts';
import { LogEvidenceStore } from '../../src/stores/evidence-store.ts';
import { LogRewardHistory } from '../../src/stores/reward-history.ts';
import { LogRoundStateStore } from '../../src/stores/round-state-store.ts';
import { LogValidatorRegistry } from '../../src/stores/validator-registry.ts';
import { equivocation } from '../../src/testing/conformance/evidence-store.conformance.ts';
import { distribution } from '../../src/testing/conformance/reward-history.conformance.ts';
import { roundState } from '../../src/testing/conformance/round-state-store.conformance.ts';
import { AUDIT_CHAIN, memoryAudit, nodeKey } from '../support/audit-test-log.ts';
import { KeyBook, signedVote, TEST_CHAIN_ID } from '../support/evidence-test-log.ts';
import { MemoryLog } from '../../src/log/memory-log.ts';
import { testPublicKey, tickingClock } from '../support/round-test-log.ts';
import { outcomeOf } from '../support/outcome.ts';

/** Expects `call` to throw or reject a ConsensusStoreError with `code` and a message matching `message`. */
async function expectError(call: () => unknown, code: ErrorCode, message: RegExp): Promise<void> {
  const outcome = await outcomeOf(call);
  expect(isStoreError(outcome, code), String(outcome)).toBe(true);
  expect((outcome as ConsensusStoreError).message).toMatch(message);
}

/** A memory log whose `append` writes but resolves without LSNs (a broken backend), and whose `get` can be made to find nothing. */
function brokenLog(): { log: Log; memory: MemoryLog; lose: () => void; dropLsns: () => void } {
  const memory = MemoryLog.open();
  let lost = false;
  let noLsns = false;
  const log = Object.create(memory) as Log;
  Object.defineProperty(log, 'append', {
    value: async (records: readonly RecordInput[]): Promise<Lsn[]> => {
      const lsns = await memory.append(records);
      return noLsns ? [] : lsns;
    },
  });
  Object.defineProperty(log, 'get', {
    value: async (lsn: Lsn): Promise<LogRecord | undefined> => (lost ? undefined : memory.get(lsn)),
  });
  return { log, memory, lose: () => (lost = true), dropLsns: () => (noLsns = true) };
}

const NO_LSN = /append resolved without an LSN/;

describe('LogRoundStateStore error paths', () => {
  it('an append resolving without an LSN is CORRUPTION, for a save and for a prune', async () => {
    const { log, dropLsns } = brokenLog();
    const store = new LogRoundStateStore({ log, now: tickingClock() });
    await store.saveRoundState(roundState(5, 5));
    dropLsns();
    await expectError(() => store.saveRoundState(roundState(6, 6)), 'CORRUPTION', NO_LSN);
    await expectError(() => store.pruneBeforeHeight(5), 'CORRUPTION', NO_LSN);
  });

  it('listRoundStates with startHeight above endHeight is INVALID_ARGUMENT', async () => {
    const store = new LogRoundStateStore({ log: MemoryLog.open(), now: tickingClock() });
    await expectError(() => store.listRoundStates({ startHeight: 5, endHeight: 4 }), 'INVALID_ARGUMENT', /query\.startHeight \(5\) must not exceed query\.endHeight \(4\)/);
  });
});

describe('LogValidatorRegistry error paths', () => {
  it('an append resolving without an LSN is CORRUPTION', async () => {
    const { log, dropLsns } = brokenLog();
    const registry = new LogValidatorRegistry({ log, now: tickingClock() });
    dropLsns();
    await expectError(() => registry.registerValidator({ validatorId: 'a', publicKey: testPublicKey(1), stake: 1n }, 1), 'CORRUPTION', NO_LSN);
  });

  it('getValidatorHistory with startHeight above endHeight, and a slash with both amount and fraction, are INVALID_ARGUMENT', async () => {
    const registry = new LogValidatorRegistry({ log: MemoryLog.open(), now: tickingClock() });
    await registry.registerValidator({ validatorId: 'a', publicKey: testPublicKey(1), stake: 10n }, 1);
    await expectError(() => registry.getValidatorHistory('a', { startHeight: 3, endHeight: 2 }), 'INVALID_ARGUMENT', /query\.startHeight \(3\) must not exceed/);
    await expectError(
      () => registry.recordSlash({ validatorId: 'a', height: 2, amount: 1n, fraction: { numerator: 1n, denominator: 2n }, reason: 'x' }),
      'INVALID_ARGUMENT',
      /not both or neither/,
    );
  });
});

describe('LogEvidenceStore error paths', () => {
  const a = signedVote('val-1', { height: 10, round: 3, hash: 0xaa });
  const b = signedVote('val-1', { height: 10, round: 3, hash: 0xbb });

  function store(log: Log = MemoryLog.open(), now: () => number = tickingClock(), publicKeyAt = new KeyBook().publicKeyAt): LogEvidenceStore {
    return new LogEvidenceStore({ log, now }, { chainId: TEST_CHAIN_ID, publicKeyAt });
  }

  it('a publicKeyAt that is not a function is INVALID_ARGUMENT at construction', async () => {
    await expectError(() => new LogEvidenceStore({ log: MemoryLog.open(), now: tickingClock() }, { chainId: TEST_CHAIN_ID, publicKeyAt: 'keys' as never }), 'INVALID_ARGUMENT', /options\.publicKeyAt must be a function/);
  });

  it('a malformed content id is INVALID_ARGUMENT', async () => {
    await expectError(() => store().getEvidence('XYZ'), 'INVALID_ARGUMENT', /64 lowercase hex/);
    await expectError(() => store().verifyEvidence('ab'.repeat(31)), 'INVALID_ARGUMENT', /64 lowercase hex/);
  });

  it('a query range with startHeight above endHeight is INVALID_ARGUMENT', async () => {
    await expectError(() => store().queryByValidator('val-1', { startHeight: 9, endHeight: 8 }), 'INVALID_ARGUMENT', /options\.startHeight \(9\) must not exceed/);
  });

  it('an append resolving without an LSN is CORRUPTION', async () => {
    const { log, dropLsns } = brokenLog();
    dropLsns();
    await expectError(() => store(log).recordEvidence(equivocation(a, b)), 'CORRUPTION', NO_LSN);
  });

  it('a broken injected clock is a RangeError, and nothing is written', async () => {
    const log = MemoryLog.open();
    await expect(store(log, () => -1).recordEvidence(equivocation(a, b))).rejects.toThrow(/StoreContext\.now\(\) returned -1/);
    expect(log.disk.records).toHaveLength(0);
  });

  it('a record of a kind it does not own is a RangeError (a wiring mistake)', () => {
    expect(() => store().apply({ lsn: 1 as Lsn, kind: RecordKind.Vote, payload: new Uint8Array(1) })).toThrow(RangeError);
  });

  it('a key lookup that fails while building the vote batch part is not swallowed (only INVALID_ARGUMENT pairs are skipped)', () => {
    const failing = store(MemoryLog.open(), tickingClock(), () => {
      throw new ConsensusStoreError('CLOSED', 'the store is closed');
    });
    const event = { vote: b, outcome: 'equivocation' as const, conflictsWith: [{ id: 1 as Lsn, vote: a, timestamp: a.timestamp, recordedAt: 1 }], recordedAt: 2 };
    expect(() => failing.voteBatchPart(event)).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });
});

describe('LogRewardHistory error paths', () => {
  const line = { validatorId: 'val-a', reason: 'BlockProposal' as const, amount: 7n };

  it('an append resolving without an LSN is CORRUPTION', async () => {
    const { log, dropLsns } = brokenLog();
    const history = new LogRewardHistory({ log, now: tickingClock() });
    dropLsns();
    await expectError(() => history.recordDistribution(distribution(1, [line])), 'CORRUPTION', NO_LSN);
  });

  it('a broken injected clock is a RangeError, and nothing is written', async () => {
    const log = MemoryLog.open();
    const history = new LogRewardHistory({ log, now: () => Number.NaN });
    await expect(history.recordDistribution(distribution(1, [line]))).rejects.toThrow(/StoreContext\.now\(\) returned NaN/);
    expect(log.disk.records).toHaveLength(0);
  });

  it('every inverted range is INVALID_ARGUMENT, and heights with dates, and a statement over maxEntries', async () => {
    const history = new LogRewardHistory({ log: MemoryLog.open(), now: tickingClock() });
    await history.recordDistribution(distribution(1, [line, line]));
    await expectError(() => history.getValidatorRewards('val-a', { startHeight: 5, endHeight: 4 }), 'INVALID_ARGUMENT', /query\.startHeight \(5\) must not exceed/);
    await expectError(() => history.queryDistributions({ startHeight: 5, endHeight: 4 }), 'INVALID_ARGUMENT', /query\.startHeight \(5\) must not exceed/);
    await expectError(() => history.exportRewards({ startHeight: 5, endHeight: 4 }), 'INVALID_ARGUMENT', /query\.startHeight \(5\) must not exceed/);
    await expectError(() => history.exportRewards({ startDate: 5, endDate: 4 }), 'INVALID_ARGUMENT', /query\.startDate must not be after/);
    await expectError(() => history.exportRewards({ startHeight: 1, endDate: 4 }), 'INVALID_ARGUMENT', /heights or dates, not both/);
    await expectError(() => history.exportRewards({ maxEntries: 1 }), 'INVALID_ARGUMENT', /holds more than 1 rewards/);
  });
});

describe('LogAuditLog error paths', () => {
  const ctx = () => ({ log: MemoryLog.open(), now: tickingClock() });
  const ok = { ...nodeKey(7), chainId: AUDIT_CHAIN };
  const event = { type: 'Pruned' as const, store: 'votes', belowHeight: 1, entriesRemoved: 0 };

  it('limits that contradict each other are INVALID_ARGUMENT at construction', async () => {
    await expectError(() => new LogAuditLog(ctx(), { ...ok, limits: { defaultQueryLimit: 20, maxQueryLimit: 10 } }), 'INVALID_ARGUMENT', /defaultQueryLimit must not exceed maxQueryLimit/);
    await expectError(() => new LogAuditLog(ctx(), { ...ok, limits: { defaultEvidenceLimit: 20, maxEvidenceLimit: 10 } }), 'INVALID_ARGUMENT', /defaultEvidenceLimit must not exceed maxEvidenceLimit/);
    await expectError(() => new LogAuditLog(ctx(), { ...ok, limits: { maxEventsPerCall: 8, maxBatchRecords: 8 } }), 'INVALID_ARGUMENT', /maxEventsPerCall must be below maxBatchRecords/);
  });

  it('bad companions, inverted ranges, unknown query fields and types, a bad Date or anchor are INVALID_ARGUMENT', async () => {
    const h = await memoryAudit({ limits: { maxBatchRecords: 8, maxEventsPerCall: 4 } });
    await h.audit.logEvent(event);
    const lsn = h.nextLsn();
    await expectError(() => h.audit.appendWithEvents([event], 'x' as never), 'INVALID_ARGUMENT', /companions must be an array of at most 6 records/);
    await expectError(() => h.audit.appendWithEvents([event], Array.from({ length: 7 }, () => ({ kind: 1, payload: new Uint8Array(1) }))), 'INVALID_ARGUMENT', /at most 6 records/);
    await expectError(() => h.audit.appendWithEvents([event], [{ kind: 1, payload: [1] as never }]), 'INVALID_ARGUMENT', /companions\[0\]\.payload must be a Uint8Array/);
    await expectError(() => h.audit.queryByHeight({ startHeight: 5, endHeight: 4 }), 'INVALID_ARGUMENT', /height\.startHeight \(5\) must not exceed height\.endHeight/);
    await expectError(() => h.audit.queryByHeight({ from: 5, to: 6 } as never), 'INVALID_ARGUMENT', /height\.from is not an option here/);
    await expectError(() => h.audit.queryByHeight({ startHeight: 5 } as never), 'INVALID_ARGUMENT', /must give startHeight and endHeight/);
    await expectError(() => h.audit.queryByValidator('val-1', { limt: 3 } as never), 'INVALID_ARGUMENT', /did you mean limit\?/);
    await expectError(() => h.audit.queryByDateRange(5, 4), 'INVALID_ARGUMENT', /from must not be after to/);
    await expectError(() => h.audit.queryByDateRange(new Date(Number.NaN), 4), 'INVALID_ARGUMENT', /valid Date not before 1970/);
    await expectError(() => h.audit.getEvidence({ validator: 'val-1' } as never), 'INVALID_ARGUMENT', /query\.validator is not an option here/);
    await expectError(() => h.audit.getEvidence({ startHeight: 5, endHeight: 4 }), 'INVALID_ARGUMENT', /query\.startHeight \(5\) must not exceed/);
    await expectError(() => h.audit.getEvidence({ height: 9, startHeight: 1, endHeight: 4 }), 'INVALID_ARGUMENT', /height range is empty/);
    await expectError(() => h.audit.getEvidence({ types: [] }), 'INVALID_ARGUMENT', /query\.types must be a non-empty array/);
    await expectError(() => h.audit.getEvidence({ types: ['Nope' as never] }), 'INVALID_ARGUMENT', /query\.types\[0\] must be an audit event type/);
    await expectError(() => h.audit.verifyIntegrity({ expectHead: { treeSize: 1, root: new Uint8Array(31) } }), 'INVALID_ARGUMENT', /expectHead\.root must be 32 bytes/);
    expect(h.nextLsn()).toBe(lsn);
    await h.close();
  });

  it('an entry the log no longer returns is CORRUPTION in getEvidence', async () => {
    const { log, lose } = brokenLog();
    const audit = new LogAuditLog({ log, now: tickingClock() }, ok);
    await audit.logEvent({ type: 'RoundStarted', height: 3, round: 3, proposer: null });
    expect((await audit.getEvidence({ height: 3 })).entries).toHaveLength(1);
    lose();
    await expectError(() => audit.getEvidence({ height: 3 }), 'CORRUPTION', /audit entry \d+ is not in the log/);
  });
});
