// The accountability sinks against the real issue-4 stores: on the in-memory log (the stores on
// their own), the engine's audit events, an equivocation and a reward distribution are accepted
// as the stores validate them, and a reward recorded again for a height is not an error; through
// openStore on the write-ahead log (simulated disk), the equivocation's evidence and audit entry
// come with the vote's own batch and the sink adds neither again, and after a real close and
// reopen the evidence and reward reported again write nothing and fail nothing.
import { describe, expect, it } from 'vitest';
import { publicKeyOf, signVote } from '../../src/codec/vote-sign.ts';
import { sinksFromStores } from '../../src/consensus/accountability-sinks.ts';
import { computeDistribution } from '../../src/consensus/rewards.ts';
import type { ConsensusStore } from '../../src/store.ts';
import { ValidatorSet } from '../../src/consensus/validator-set.ts';
import { LogAuditLog } from '../../src/stores/audit-log.ts';
import { LogEvidenceStore } from '../../src/stores/evidence-store.ts';
import { LogRewardHistory } from '../../src/stores/reward-history.ts';
import { MemoryLog } from '../../src/log/memory-log.ts';
import { simDiskBackend } from '../support/store-backends.ts';
import { CHAIN_ID, keyOf } from './cluster.ts';

describe('accountability sinks over the audit log, evidence store and reward history', () => {
  it('record every consensus event, an equivocation with its audit entry, and a reward once per height', async () => {
    const log = MemoryLog.open();
    const ctx = { log, now: () => 1_700_000_000_000 };
    const nodeKey = keyOf(0);
    const accusedKey = keyOf(3);
    const audit = new LogAuditLog(ctx, { privateKey: nodeKey, publicKey: publicKeyOf(nodeKey), chainId: CHAIN_ID });
    const evidence = new LogEvidenceStore(ctx, { chainId: CHAIN_ID, publicKeyAt: (id) => (id === 'v3' ? publicKeyOf(accusedKey) : undefined) });
    const rewards = new LogRewardHistory(ctx);
    const sinks = sinksFromStores({ audit, evidence, rewards }, 'v0', ctx.now);

    const base = { validatorId: 'v3', height: 5, round: 9, voteType: 'prevote' as const, timestamp: 1 };
    const a = signVote({ ...base, blockHash: new Uint8Array(32).fill(1) }, accusedKey, CHAIN_ID);
    const b = signVote({ ...base, blockHash: new Uint8Array(32).fill(2) }, accusedKey, CHAIN_ID);
    await sinks.recordEvidence?.({ validatorId: 'v3', first: a, second: b, detectedAtHeight: 5 }, 'id');
    expect(evidence.size).toBe(1);

    const hash = new Uint8Array(32).fill(7);
    for (const event of [
      { type: 'RoundStarted', height: 5, round: 9, proposer: 'v1' },
      { type: 'ProposalReceived', height: 5, round: 9, proposer: 'v1', blockHash: hash, polRound: null, signature: new Uint8Array(64) },
      { type: 'VoteReceived', vote: a },
      { type: 'PhaseChanged', height: 5, round: 9, from: 'propose', to: 'prevote' },
      { type: 'RoundCompleted', height: 5, round: 9, blockHash: hash, durationMs: 12 },
      { type: 'Stalled', height: 5, round: 9, stalledForMs: 10_001, reason: 'no height finalized' },
    ] as const) {
      await sinks.logAudit?.(event);
    }
    expect((await audit.verifyIntegrity()).ok).toBe(true);

    const set = new ValidatorSet([0, 1, 2, 3].map((i) => ({ validatorId: `v${i}`, publicKey: publicKeyOf(keyOf(i)), stake: 100n })), CHAIN_ID);
    const d = computeDistribution({ height: 5, round: 9, timestamp: 1, proposer: 'v1', voters: ['v0', 'v1', 'v2'] }, set);
    await sinks.recordReward?.(d);
    await sinks.recordReward?.({ ...d, timestamp: 2 });
    expect(await rewards.getTotalDistributed(5)).toBe(d.totalDistributed);
  });
});

describe('accountability sinks over openStore on the write-ahead log (simulated disk)', () => {
  it('add nothing to the equivocation the vote batch recorded, and after a reopen a repeated report and reward write nothing', async () => {
    const medium = simDiskBackend(CHAIN_ID, 700).medium();
    const now = (): number => 1_700_000_000_000;
    const accusedKey = keyOf(3);
    const base = { validatorId: 'v3', height: 5, round: 9, voteType: 'prevote' as const, timestamp: 1 };
    const a = signVote({ ...base, blockHash: new Uint8Array(32).fill(1) }, accusedKey, CHAIN_ID);
    const b = signVote({ ...base, blockHash: new Uint8Array(32).fill(2) }, accusedKey, CHAIN_ID);
    const report = { validatorId: 'v3', first: a, second: b, detectedAtHeight: 5 };
    const set = new ValidatorSet([0, 1, 2, 3].map((i) => ({ validatorId: `v${i}`, publicKey: publicKeyOf(keyOf(i)), stake: 100n })), CHAIN_ID);
    const d = computeDistribution({ height: 5, round: 9, timestamp: 1, proposer: 'v1', voters: ['v0', 'v1', 'v2'] }, set);
    const detected = async (s: ConsensusStore): Promise<number> =>
      (await s.audit.queryByValidator('v3')).filter((e) => e.event.type === 'EquivocationDetected').length;

    const store = await medium.open();
    for (const v of set.validators) await store.validators.registerValidator({ validatorId: v.validatorId, publicKey: v.publicKey, stake: v.stake }, 0);
    await store.votes.appendVote(a);
    expect((await store.votes.appendVote(b)).outcome).toBe('equivocation');
    expect(await store.evidence.queryByValidator('v3')).toHaveLength(1);
    expect(await detected(store)).toBe(1);
    const sinks = sinksFromStores(store, 'v0', now);
    let lsn = store.log.nextLsn;
    await sinks.recordEvidence?.(report, 'id');
    expect(store.log.nextLsn, 'the sink wrote the equivocation again').toBe(lsn);
    await sinks.logAudit?.({ type: 'RoundCompleted', height: 5, round: 9, blockHash: new Uint8Array(32).fill(7), durationMs: 12 });
    await sinks.recordReward?.(d);
    await store.close();

    const reopened = await medium.open();
    const again = sinksFromStores(reopened, 'v0', now);
    lsn = reopened.log.nextLsn;
    await again.recordEvidence?.(report, 'id');
    await again.recordReward?.(d);
    await again.recordReward?.({ ...d, timestamp: 2 });
    expect(reopened.log.nextLsn, 'a repeated report or reward wrote something').toBe(lsn);
    expect(await reopened.evidence.queryByValidator('v3')).toMatchObject([{ type: 'Equivocation', status: 'verified' }]);
    expect(await detected(reopened)).toBe(1);
    expect(await reopened.rewards.getTotalDistributed(5)).toBe(d.totalDistributed);
    expect((await reopened.audit.verifyIntegrity()).ok).toBe(true);
    await reopened.close();
  });
});
