// Votes are verified by default (docs/stores.md, "Vote verification"): against the validator
// registry's key at the vote's height, with a VerifiedVote token for callers that verified
// already, and an explicit opt-out ('off') for tools that import history.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore, openStoreOnLog, type ConsensusStore, type StoreOptions } from '../../src/store.ts';
import { MemoryLog } from '../../src/log/memory-log.ts';
import { isStoreError } from '../../src/errors.ts';
import { publicKeyOf, signVote } from '../../src/codec/vote-sign.ts';
import { privateKeyFor, signedVote, TEST_CHAIN_ID } from '../../src/testing/conformance/fixtures.ts';
import { resolveStoreOptions } from '../../src/store-options.ts';
import { alreadyVerifiedVote, verifiedVoteFast } from '../../src/consensus/verify.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import { LogVoteStore } from '../../src/stores/vote-store.ts';

const NODE_KEY = { privateKey: new Uint8Array(32).fill(9) };
const stores: ConsensusStore[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function open(options: Partial<StoreOptions> = {}): Promise<ConsensusStore> {
  const store = await openStoreOnLog(MemoryLog.open(), { chainId: TEST_CHAIN_ID, audit: { nodeKey: NODE_KEY }, ...options });
  stores.push(store);
  return store;
}

async function register(store: ConsensusStore, id: string, height = 0, signer = id): Promise<void> {
  await store.validators.registerValidator({ validatorId: id, publicKey: publicKeyOf(privateKeyFor(signer)), stake: 10n }, height);
}

/** The store's error, expected to be INVALID_ARGUMENT with `reason`. */
async function refused(promise: Promise<unknown>, reason: string): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isStoreError(err, 'INVALID_ARGUMENT'), `expected INVALID_ARGUMENT, got ${String(err)}`).toBe(true);
  expect((err as { details?: Record<string, unknown> }).details?.['reason']).toBe(reason);
  expect((err as Error).message).toContain('refused');
  return err as Error;
}

/** Everything a refused vote must leave as it was. */
async function footprint(store: ConsensusStore, id: string) {
  return {
    nextLsn: store.log.nextLsn,
    votes: store.votes.size,
    evidence: (await store.evidence.queryByValidator(id)).length,
    audit: (await store.audit.queryByValidator(id)).length,
  };
}

function forged(vote: ValidatorVote, hash: number): ValidatorVote {
  const signature = new Uint8Array(64);
  for (let i = 0; i < 64; i++) signature[i] = (i * 37 + hash) & 0xff;
  return { ...vote, blockHash: new Uint8Array(32).fill(hash), signature };
}

describe('vote verification by default', () => {
  it('refuses a forged conflicting vote of a registered validator: no vote, no evidence, no audit entry (regression)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cstore-vv-'));
    dirs.push(dir);
    const store = await openStore({ dir, chainId: TEST_CHAIN_ID });
    stores.push(store);
    await register(store, 'val-1');
    const honest = signedVote('val-1', { height: 5, round: 5, voteType: 'precommit', hash: 1 });
    expect((await store.votes.appendVote(honest)).outcome).toBe('stored');
    const before = await footprint(store, 'val-1');
    const err = await refused(store.votes.appendVote(forged(honest, 2)), 'bad-signature');
    expect((err as { details?: Record<string, unknown> }).details).toMatchObject({ validatorId: 'val-1', height: 5 });
    expect(await footprint(store, 'val-1')).toEqual(before);
    expect(await store.votes.getVotesForRound(5)).toHaveLength(1);
    // The honest vote's own equivocation is still detected when it is real.
    const real = signedVote('val-1', { height: 5, round: 5, voteType: 'precommit', hash: 3 });
    expect((await store.votes.appendVote(real)).outcome).toBe('equivocation');
  });

  it('refuses a vote of a validator the registry does not know', async () => {
    const store = await open();
    const before = await footprint(store, 'val-unknown');
    await refused(store.votes.appendVote(signedVote('val-unknown', { height: 1, round: 1, hash: 1 })), 'unknown-validator');
    expect(await footprint(store, 'val-unknown')).toEqual(before);
  });

  it('refuses a vote at a height where the validator has no key yet (key-not-valid-at-height), accepts it from there on', async () => {
    const store = await open();
    await register(store, 'val-late', 100);
    await refused(store.votes.appendVote(signedVote('val-late', { height: 99, round: 99, hash: 1 })), 'key-not-valid-at-height');
    expect(store.votes.size).toBe(0);
    expect((await store.votes.appendVote(signedVote('val-late', { height: 100, round: 100, hash: 1 }))).outcome).toBe('stored');
  });

  it("refuses a vote signed by a key that is not the validator's at that height", async () => {
    const store = await open();
    await register(store, 'val-1');
    // val-1's vote signed with val-2's key.
    await refused(store.votes.appendVote(signedVote('val-1', { height: 1, round: 1, hash: 1 }, { signer: 'val-2' })), 'bad-signature');
    // Signed for another chain.
    await refused(store.votes.appendVote(signedVote('val-1', { height: 1, round: 1, hash: 1 }, { chainId: 'other-chain' })), 'bad-signature');
    expect(store.votes.size).toBe(0);
  });

  it('a caller-supplied publicKeyOf replaces the registry: a key change at a height refuses the old key from there on', async () => {
    // The registry has no key-change operation; a caller's key book can change keys at a height.
    const keyOf = (id: string, height: number): Uint8Array | undefined =>
      id === 'val-1' ? publicKeyOf(privateKeyFor(height < 50 ? 'val-1' : 'val-1-new')) : undefined;
    const store = await open({ voteVerification: { publicKeyOf: keyOf } });
    await register(store, 'val-2'); // known to the registry, not to the key book
    const oldKey = (height: number) => signedVote('val-1', { height, round: height, hash: 1 });
    const newKey = (height: number) => signedVote('val-1', { height, round: height, hash: 1 }, { signer: 'val-1-new' });
    expect((await store.votes.appendVote(oldKey(49))).outcome).toBe('stored');
    await refused(store.votes.appendVote(oldKey(50)), 'bad-signature');
    await refused(store.votes.appendVote(oldKey(51)), 'bad-signature');
    await refused(store.votes.appendVote(newKey(49)), 'bad-signature');
    expect((await store.votes.appendVote(newKey(50))).outcome).toBe('stored');
    await refused(store.votes.appendVote(signedVote('val-2', { height: 1, round: 1, hash: 1 })), 'unknown-validator');
    expect(store.votes.size).toBe(2);
  });

  it("verify() mints a frozen VerifiedVote whose bytes cannot be changed after verification", async () => {
    const store = await open();
    await register(store, 'val-1');
    const vote = signedVote('val-1', { height: 2, round: 2, hash: 4 });
    const token = await store.votes.verify(vote);
    expect(Object.isFrozen(token)).toBe(true);
    expect(token).toEqual(vote);
    expect(token.signature).not.toBe(vote.signature);
    expect(() => {
      (token as { height: number }).height = 3;
    }).toThrow(TypeError);
    // Changing the caller's arrays or the token's visible arrays changes nothing written.
    vote.signature.fill(0);
    token.signature.fill(0);
    token.blockHash?.fill(9);
    const result = await store.votes.appendVote(token);
    expect(result.outcome).toBe('stored');
    expect(result.vote).toEqual(signedVote('val-1', { height: 2, round: 2, hash: 4 }));
    expect(await store.votes.verify(token)).toBe(token);
    // The result is the caller's: changing it does not change the token's verified vote.
    result.vote.signature.fill(1);
    expect((await store.votes.appendVote(token)).outcome).toBe('duplicate');
    expect((await store.votes.getVotesForRound(2))[0]?.vote).toEqual(signedVote('val-1', { height: 2, round: 2, hash: 4 }));
  });

  it('verify() refuses what appendVote refuses, and cannot verify when verification is off', async () => {
    const store = await open();
    await register(store, 'val-1');
    await refused(store.votes.verify(forged(signedVote('val-1', { height: 1, round: 1, hash: 1 }), 2)), 'bad-signature');
    await refused(store.votes.verify(signedVote('val-3', { height: 1, round: 1, hash: 1 })), 'unknown-validator');
    const err = await store.votes.verify({ ...signedVote('val-1', { height: 1, round: 1, hash: 1 }), height: -1 }).catch((e: unknown) => e);
    expect(isStoreError(err, 'INVALID_ARGUMENT')).toBe(true);
    const off = await open({ voteVerification: 'off' });
    const offErr = await off.votes.verify(signedVote('val-1', { height: 1, round: 1, hash: 1 })).catch((e: unknown) => e);
    expect(isStoreError(offErr, 'INVALID_ARGUMENT')).toBe(true);
    expect(String(offErr)).toContain("'off'");
  });

  it('a VerifiedVote-shaped plain object is verified, not trusted', async () => {
    const store = await open();
    await register(store, 'val-1');
    const token = await store.votes.verify(signedVote('val-1', { height: 1, round: 1, hash: 1 }));
    const lookalike = Object.freeze({ ...forged(token, 2) });
    await refused(store.votes.appendVote(lookalike), 'bad-signature');
    await refused(store.votes.appendVote({ ...token, blockHash: new Uint8Array(32).fill(7) }), 'bad-signature');
    expect(store.votes.size).toBe(0);
  });

  it('a token minted by a store of another chain id is not trusted', async () => {
    const other = await open({ chainId: 'other-chain' });
    await register(other, 'val-1');
    const vote = signedVote('val-1', { height: 1, round: 1, hash: 1 }, { chainId: 'other-chain' });
    const token = await other.votes.verify(vote);
    const store = await open();
    await register(store, 'val-1');
    await refused(store.votes.appendVote(token), 'bad-signature');
    expect(store.votes.size).toBe(0);
    // The engine's tokens are bound the same way.
    const engineToken = verifiedVoteFast(vote, publicKeyOf(privateKeyFor('val-1')), 'other-chain');
    expect(engineToken).toBeDefined();
    await refused(store.votes.appendVote(engineToken as ValidatorVote), 'bad-signature');
  });

  it("the engine's tokens and the sign guard's own votes skip the registry (verified by the library)", async () => {
    const store = await openStoreOnLog(MemoryLog.open(), {
      chainId: TEST_CHAIN_ID,
      audit: { nodeKey: NODE_KEY },
      signer: { privateKey: privateKeyFor('val-own'), validatorId: 'val-own', state: 'new-key' },
    });
    stores.push(store);
    // Neither validator is in the registry.
    const peer = signedVote('val-peer', { height: 1, round: 1, hash: 1 });
    const token = verifiedVoteFast(peer, publicKeyOf(privateKeyFor('val-peer')), TEST_CHAIN_ID);
    expect(token).toBeDefined();
    expect((await store.votes.appendVote(token as ValidatorVote)).outcome).toBe('stored');
    expect(verifiedVoteFast(forged(peer, 2), publicKeyOf(privateKeyFor('val-peer')), TEST_CHAIN_ID)).toBeUndefined();
    expect(verifiedVoteFast({ ...peer, height: -1 }, publicKeyOf(privateKeyFor('val-peer')), TEST_CHAIN_ID)).toBeUndefined();
    // A malformed vote is not minted by the vouching path: the store checks it.
    const malformed = alreadyVerifiedVote({ ...peer, round: -1 }, publicKeyOf(privateKeyFor('val-peer')), TEST_CHAIN_ID);
    const err = await store.votes.appendVote(malformed).catch((e: unknown) => e);
    expect(isStoreError(err, 'INVALID_ARGUMENT')).toBe(true);
    const own = await store.signGuard.signVote({ validatorId: 'val-own', height: 1, round: 1, voteType: 'prevote', blockHash: new Uint8Array(32).fill(1), timestamp: 1 });
    expect(Object.isFrozen(own)).toBe(true);
    expect((await store.votes.appendVote(own)).outcome).toBe('stored');
    // The same vote as a plain object is verified, and val-own is not registered.
    await refused(store.votes.appendVote({ ...own }), 'unknown-validator');
  });

  it("the opt-out 'off' stores unverified votes", async () => {
    const store = await open({ voteVerification: 'off' });
    const unsigned = forged(signedVote('val-nobody', { height: 1, round: 1, hash: 1 }), 1);
    expect((await store.votes.appendVote(unsigned)).outcome).toBe('stored');
    expect((await store.votes.appendVotes([forged(unsigned, 2)]))[0]?.outcome).toBe('equivocation');
  });

  it('appendVotes with one bad vote writes nothing, and names it', async () => {
    const store = await open();
    await register(store, 'val-1');
    await register(store, 'val-2');
    const good1 = signedVote('val-1', { height: 1, round: 1, hash: 1 });
    const good2 = signedVote('val-2', { height: 1, round: 1, hash: 1 });
    const before = await footprint(store, 'val-1');
    const err = await refused(store.votes.appendVotes([good1, forged(good2, 3), good2]), 'bad-signature');
    expect((err as { details?: Record<string, unknown> }).details?.['argument']).toBe('votes[1]');
    expect(await footprint(store, 'val-1')).toEqual(before);
    const results = await store.votes.appendVotes([good1, await store.votes.verify(good2)]);
    expect(results.map((r) => r.outcome)).toEqual(['stored', 'stored']);
    const notArray = await store.votes.appendVotes('x' as unknown as ValidatorVote[]).catch((e: unknown) => e);
    expect(isStoreError(notArray, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('appendVotes refuses more votes than limits.votes.maxRoundVotes', async () => {
    const store = await open({ voteVerification: 'off', limits: { votes: { maxRoundVotes: 2, defaultQueryLimit: 1, maxQueryLimit: 2 } } });
    const v = (r: number) => forged(signedVote('val-1', { height: r, round: r, hash: 1 }), 1);
    const err = await store.votes.appendVotes([v(1), v(2), v(3)]).catch((e: unknown) => e);
    expect(isStoreError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect(store.votes.size).toBe(0);
  });

  it('bad voteVerification option values are INVALID_ARGUMENT', () => {
    for (const bad of ['on', 'OFF', true, false, 0, 1, null, [], () => undefined, {}, { publicKeyOf: 1 }, { publicKeyOf: () => undefined, extra: 1 }]) {
      let err: unknown;
      try {
        resolveStoreOptions({ chainId: 'c', voteVerification: bad as never });
      } catch (e) {
        err = e;
      }
      expect(isStoreError(err, 'INVALID_ARGUMENT'), `voteVerification ${String(bad)}`).toBe(true);
      expect((err as Error).message).toContain('options.voteVerification');
    }
    expect(resolveStoreOptions({ chainId: 'c' }).voteVerification).toBe('registry');
    expect(resolveStoreOptions({ chainId: 'c', voteVerification: 'off' }).voteVerification).toBe('off');
  });

  it('a publicKeyOf that answers something other than a 32-byte key refuses the vote (bad-signature)', async () => {
    const vote = signedVote('val-1', { height: 1, round: 1, hash: 1 });
    for (const key of [new Uint8Array(31), 'key', new Uint8Array(32)]) {
      const store = await open({ voteVerification: { publicKeyOf: () => key as Uint8Array } });
      await refused(store.votes.appendVote(vote), 'bad-signature');
      expect(store.votes.size).toBe(0);
    }
  });

  it('LogVoteStore refuses a verification option that is neither a verification nor off', () => {
    for (const bad of [undefined, 'on', null, 1]) {
      let err: unknown;
      try {
        new LogVoteStore({ log: MemoryLog.open(), now: () => 0 }, { verification: bad as never });
      } catch (e) {
        err = e;
      }
      expect(isStoreError(err, 'INVALID_ARGUMENT'), String(bad)).toBe(true);
      expect((err as Error).message).toContain('options.verification');
    }
  });

  it('verification is read at append time: a validator registered later is accepted then', async () => {
    const store = await open();
    const vote = signVote({ validatorId: 'val-4', height: 3, round: 3, voteType: 'precommit', blockHash: null, timestamp: 5 }, privateKeyFor('val-4'), TEST_CHAIN_ID);
    await refused(store.votes.appendVote(vote), 'unknown-validator');
    await register(store, 'val-4');
    expect((await store.votes.appendVote(vote)).outcome).toBe('stored');
  });
});
