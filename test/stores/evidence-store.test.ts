/**
 * LogEvidenceStore behaviour beyond the conformance suite: equivocation evidence in the
 * conflicting vote's own batch (D3) and its fate across a crash, unverified evidence upgraded
 * once the key is known, failed appends, and corrupt records on replay.
 */
import { describe, expect, it } from 'vitest';
import { encodeEvidenceRecord } from '../../src/codec/evidence-record.ts';
import { RecordKind } from '../../src/codec/kinds.ts';
import type { Lsn } from '../../src/log/types.ts';
import { buildEquivocationRecord, LogEvidenceStore, equivocationEvidence, evidenceId } from '../../src/stores/evidence-store.ts';
import { LogVoteStore } from '../../src/stores/vote-store.ts';
import { equivocation } from '../../src/testing/conformance/evidence-store.conformance.ts';
import { expectCode } from '../../src/testing/conformance/round-state-store.conformance.ts';
import { KeyBook, openMemoryEvidence, signedVote, TEST_CHAIN_ID } from '../support/evidence-test-log.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';
import { replay, tickingClock } from '../support/round-test-log.ts';

/** A LogVoteStore and an evidence store on one memory log, wired as openStore wires them. */
async function openVotesAndEvidence(disk: MemoryDisk, keys = new KeyBook()) {
  const log = MemoryLog.open(disk);
  const ctx = { log, now: tickingClock() };
  const votes = new LogVoteStore(ctx, { verification: 'off' });
  const evidence = new LogEvidenceStore(ctx, { chainId: TEST_CHAIN_ID, publicKeyAt: keys.publicKeyAt, nodeId: 'me' });
  votes.setBatchContributors([(event) => evidence.voteBatchPart(event)]);
  await replay(log, [votes, evidence]);
  return { log, votes, evidence };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await Promise.resolve();
  if (!condition()) throw new Error('condition never held');
}

const a = signedVote('val-1', { height: 10, round: 3, hash: 0xaa });
const b = signedVote('val-1', { height: 10, round: 3, hash: 0xbb });

describe('LogEvidenceStore internals', () => {
  it('a conflicting vote lands in one batch with its evidence, indexed once durable', async () => {
    const disk = new MemoryDisk();
    const s = await openVotesAndEvidence(disk);
    await s.votes.appendVote(a);
    const result = await s.votes.appendVote(b);
    expect(result.outcome).toBe('equivocation');
    expect(disk.records.map((r) => r.kind)).toEqual([RecordKind.Vote, RecordKind.Vote, RecordKind.Evidence]);
    const [stored] = await s.evidence.queryByValidator('val-1');
    expect(stored).toMatchObject({ status: 'verified', submittedBy: 'me', height: 10, lsn: result.id + 1 });
    expect(stored?.id).toBe(evidenceId(equivocation(a, b), TEST_CHAIN_ID));
    expect((await s.evidence.recordEvidence(equivocation(b, a))).outcome).toBe('duplicate');
    await s.votes.appendVote(signedVote('val-1', { height: 10, round: 3, hash: 0xcc }));
    expect((await s.evidence.getOffenseCount('val-1')).verified).toBe(3);
    await s.log.close();
    const reopened = await openVotesAndEvidence(disk);
    expect((await reopened.evidence.getOffenseCount('val-1')).verified).toBe(3);
    await reopened.log.close();
  });

  it('a crash before the batch is durable loses the vote and its evidence together', async () => {
    const disk = new MemoryDisk();
    const s = await openVotesAndEvidence(disk);
    await s.votes.appendVote(a);
    void s.votes.appendVote(b);
    await until(() => s.log.appendCalls === 2);
    expect(await s.evidence.queryByValidator('val-1')).toEqual([]);
    s.log.crash();
    const reopened = await openVotesAndEvidence(disk);
    expect(disk.records.map((r) => r.kind)).toEqual([RecordKind.Vote]);
    expect(await reopened.evidence.getOffenseCount('val-1')).toMatchObject({ verified: 0, unverified: 0 });
    expect(await reopened.votes.countVotesForRound(3)).toBe(1);
    await reopened.log.close();
  });

  it('equivocation by an unknown validator goes into the batch unverified, counted apart', async () => {
    const disk = new MemoryDisk();
    const s = await openVotesAndEvidence(disk);
    await s.votes.appendVote(signedVote('val-unknown', { height: 1, round: 1, hash: 1 }));
    await s.votes.appendVote(signedVote('val-unknown', { height: 1, round: 1, hash: 2 }));
    expect(await s.evidence.getOffenseCount('val-unknown')).toMatchObject({ verified: 0, unverified: 1 });
    expect((await s.evidence.queryByValidator('val-unknown'))[0]).toMatchObject({ status: 'unverified', failure: 'UNKNOWN_VALIDATOR' });
    await s.log.close();
  });

  it('unverified evidence is upgraded, with one record, once the key is known', async () => {
    const keys = new KeyBook();
    const opened = await openMemoryEvidence(new MemoryDisk(), keys);
    const e = equivocation(signedVote('val-9', { height: 1, round: 1, hash: 1 }), signedVote('val-9', { height: 1, round: 1, hash: 2 }));
    await expectCode(opened.store.recordEvidence(e), 'INVALID_ARGUMENT');
    const first = await opened.store.recordEvidence(e, { unverified: true });
    expect(first.evidence).toMatchObject({ status: 'unverified', failure: 'UNKNOWN_VALIDATOR' });
    expect((await opened.store.recordEvidence(e, { unverified: true })).outcome).toBe('duplicate');
    keys.register('val-9', 0);
    const before = opened.log.nextLsn;
    const upgraded = await opened.store.recordEvidence(e);
    expect(upgraded.outcome).toBe('upgraded');
    expect(upgraded.evidence.failure).toBeUndefined();
    expect(upgraded.evidence).toMatchObject({ status: 'verified', id: first.evidence.id, lsn: first.evidence.lsn });
    expect(opened.log.nextLsn).toBe(before + 1);
    expect(await opened.store.getOffenseCount('val-9')).toMatchObject({ verified: 1, unverified: 0 });
    await opened.log.close();
    const reopened = await openMemoryEvidence(opened.disk, keys);
    expect(await reopened.store.getEvidence(first.evidence.id)).toEqual(upgraded.evidence);
    expect(await reopened.store.getOffenseCount('val-9')).toMatchObject({ verified: 1, unverified: 0 });
    await reopened.log.close();
  });

  it('a failed append indexes nothing and the store stays usable', async () => {
    const opened = await openMemoryEvidence();
    opened.log.failNextAppends('DISK_FULL');
    await expectCode(opened.store.recordEvidence(equivocation(a, b)), 'DISK_FULL');
    expect(opened.store.size).toBe(0);
    expect((await opened.store.recordEvidence(equivocation(a, b))).outcome).toBe('stored');
    await opened.log.close();
  });

  it('buildEquivocationRecord refuses votes that do not conflict, and marks an unknown key unverified', () => {
    const keys = new KeyBook();
    const options = { chainId: TEST_CHAIN_ID, publicKeyAt: keys.publicKeyAt, detectedAt: 5, submittedBy: 'me' };
    expect(() => buildEquivocationRecord(a, { ...a, timestamp: 9 }, options)).toThrow(/NOT_CONFLICTING/);
    expect(() => buildEquivocationRecord(a, signedVote('val-2', { height: 10, round: 3, hash: 1 }), options)).toThrow(/VALIDATOR_MISMATCH/);
    expect(buildEquivocationRecord(a, b, options).kind).toBe(RecordKind.Evidence);
    const e = equivocationEvidence(b, a, options);
    expect(e.details.voteA).toEqual(a);
    expect(e.height).toBe(10);
  });

  it('replay refuses a record whose content id does not match its content, or that does not decode', async () => {
    const disk = new MemoryDisk();
    const opened = await openMemoryEvidence(disk);
    const e = equivocationEvidence(a, b, { chainId: TEST_CHAIN_ID, detectedAt: 1, submittedBy: 'x' });
    const wrongId = encodeEvidenceRecord({ id: new Uint8Array(32), evidence: e, status: 'verified', failure: undefined, recordedAt: 1 });
    expect(() => opened.store.apply({ lsn: 1 as Lsn, kind: wrongId.kind, payload: wrongId.payload })).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
    expect(() => opened.store.apply({ lsn: 2 as Lsn, kind: RecordKind.Evidence, payload: Uint8Array.of(1, 2, 3) })).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
    expect(() => opened.store.apply({ lsn: 3 as Lsn, kind: RecordKind.EvidencePrune, payload: Uint8Array.of(0x90) })).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
    expect(opened.store.size).toBe(0);
    await opened.log.close();
  });

  it('refuses bad constructor options', () => {
    const ctx = { log: MemoryLog.open(), now: tickingClock() };
    expect(() => new LogEvidenceStore(ctx, { chainId: '', publicKeyAt: () => undefined })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new LogEvidenceStore(ctx, { chainId: 'c', publicKeyAt: 5 as never })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
