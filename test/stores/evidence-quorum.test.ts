// Evidence a finalized block carried is marked verified by a quorum (docs/devnet.md,
// "Validator-set changes"): the same content again with `verifiedByQuorum: true` upgrades the
// stored copy (one record), which a replay keeps; without it, or a second time, it is a duplicate.
import { describe, expect, it } from 'vitest';
import { publicKeyOf, signVote } from '../../src/codec/vote-sign.ts';
import type { ByzantineEvidence } from '../../src/model/evidence.ts';
import { memoryBackend } from '../support/store-backends.ts';

const CHAIN_ID = 'quorum-chain';
const key = new Uint8Array(32).fill(3);
const vote = (fill: number) =>
  signVote({ validatorId: 'v3', height: 5, round: 10, voteType: 'prevote', blockHash: new Uint8Array(32).fill(fill), timestamp: 1_000 }, key, CHAIN_ID);
const evidence = (verifiedByQuorum: boolean): ByzantineEvidence => ({
  type: 'Equivocation',
  validatorId: 'v3',
  height: 5,
  detectedAt: 1_700_000_000_000,
  submittedBy: 'v0',
  verifiedByQuorum,
  details: { voteA: vote(1), voteB: vote(2) },
});

describe('verifiedByQuorum', () => {
  it('upgrades stored evidence once, keeps its first report otherwise, and survives a reopen', async () => {
    const medium = memoryBackend(CHAIN_ID).medium();
    const store = await medium.open();
    await store.validators.registerValidator({ validatorId: 'v3', publicKey: publicKeyOf(key), stake: 100n }, 0);
    const first = await store.evidence.recordEvidence(evidence(false));
    expect(first.outcome).toBe('stored');
    expect((await store.evidence.recordEvidence(evidence(false))).outcome).toBe('duplicate');
    const before = store.log.nextLsn;
    const upgraded = await store.evidence.recordEvidence({ ...evidence(true), submittedBy: 'v1', detectedAt: 1_800_000_000_000 });
    expect(upgraded.outcome).toBe('upgraded');
    expect(upgraded.evidence).toMatchObject({ verifiedByQuorum: true, submittedBy: 'v0', detectedAt: 1_700_000_000_000, status: 'verified' });
    expect(Number(store.log.nextLsn)).toBe(Number(before) + 1);
    expect((await store.evidence.recordEvidence(evidence(true))).outcome).toBe('duplicate');
    expect((await store.evidence.recordEvidence(evidence(false))).outcome).toBe('duplicate');
    expect(await store.evidence.getOffenseCount('v3')).toMatchObject({ verified: 1, unverified: 0 });
    await store.close();
    const reopened = await medium.open();
    expect(await reopened.evidence.getEvidence(first.evidence.id)).toMatchObject({ verifiedByQuorum: true, submittedBy: 'v0', status: 'verified' });
    await reopened.close();
  });
});
