// Vote verification on PostgreSQL (docs/stores.md, "Vote verification"): the same default as the
// WAL (the registry's key at the vote's height), the registry caught up with other processes'
// records before a vote is refused for want of a key, tokens, and the opt-out.
import { afterEach, expect, it } from 'vitest';
import { isStoreError } from '../../src/errors.ts';
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import type { ConsensusStore } from '../../src/store.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import { privateKeyFor, signedVote, TEST_CHAIN_ID } from '../../src/testing/conformance/fixtures.ts';
import { describePg, pgMedium } from './support.ts';

const open: ConsensusStore[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function reasonOf(p: Promise<unknown>): Promise<unknown> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isStoreError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
  return (err as { details?: Record<string, unknown> }).details?.['reason'];
}

function forged(v: ValidatorVote): ValidatorVote {
  return { ...v, blockHash: new Uint8Array(32).fill(0xee), signature: new Uint8Array(64).fill(3) };
}

describePg('PostgreSQL backend: vote verification', () => {
  it('refuses a forged vote of a registered validator: no vote, no evidence, no audit entry', async () => {
    const medium = pgMedium(TEST_CHAIN_ID, 'vverify');
    const store = await medium.open();
    open.push(store);
    await store.validators.registerValidator({ validatorId: 'val-1', publicKey: publicKeyOf(privateKeyFor('val-1')), stake: 1n }, 0);
    const honest = signedVote('val-1', { height: 5, round: 5, voteType: 'precommit', hash: 1 });
    expect((await store.votes.appendVote(honest)).outcome).toBe('stored');
    const audit = store.audit.size;
    expect(await reasonOf(store.votes.appendVote(forged(honest)))).toBe('bad-signature');
    expect(await reasonOf(store.votes.appendVotes([signedVote('val-1', { height: 6, round: 6, hash: 1 }), forged(honest)]))).toBe('bad-signature');
    expect(await reasonOf(store.votes.appendVote(signedVote('val-2', { height: 5, round: 5, hash: 1 })))).toBe('unknown-validator');
    expect(await store.votes.countVotesForRound(5)).toBe(1);
    expect(await store.votes.countVotesForRound(6)).toBe(0);
    expect(await store.evidence.queryByValidator('val-1')).toEqual([]);
    expect(store.audit.size).toBe(audit);
    // Tokens: verify() mints one; a lookalike is verified, not trusted.
    const token = await store.votes.verify(signedVote('val-1', { height: 7, round: 7, hash: 1 }));
    expect(Object.isFrozen(token)).toBe(true);
    expect((await store.votes.appendVote(token)).outcome).toBe('stored');
    expect(await reasonOf(store.votes.verify(forged(honest)))).toBe('bad-signature');
    // appendVotes' own checks.
    for (const bad of ['x', Array.from({ length: store.votes.limits.maxRoundVotes + 1 }, () => honest)]) {
      const err = await store.votes.appendVotes(bad as never).catch((e: unknown) => e);
      expect(isStoreError(err, 'INVALID_ARGUMENT')).toBe(true);
    }
  });

  it('a validator registered by another process is seen once the registry caught up', async () => {
    const medium = pgMedium(TEST_CHAIN_ID, 'vverify2');
    const a = await medium.open();
    open.push(a);
    const b = await medium.open();
    open.push(b);
    await a.validators.registerValidator({ validatorId: 'val-late', publicKey: publicKeyOf(privateKeyFor('val-late')), stake: 1n }, 100);
    // b never read the registration: the refusal's retry catches up first.
    expect(await reasonOf(b.votes.appendVote(signedVote('val-late', { height: 99, round: 99, hash: 1 })))).toBe('key-not-valid-at-height');
    expect((await b.votes.appendVote(signedVote('val-late', { height: 100, round: 100, hash: 1 }))).outcome).toBe('stored');
  });

  it("voteVerification 'off' stores unverified votes, and verify() then refuses", async () => {
    const store = await pgMedium(TEST_CHAIN_ID, 'vverify3').open({ voteVerification: 'off' });
    open.push(store);
    const v = forged(signedVote('val-9', { height: 1, round: 1, hash: 1 }));
    expect((await store.votes.appendVote(v)).outcome).toBe('stored');
    const err = await store.votes.verify(v).catch((e: unknown) => e);
    expect(isStoreError(err, 'INVALID_ARGUMENT')).toBe(true);
  });
});
