// Bad input: fast-check arbitraries of wrong types and out-of-range values for every
// method of the vote store and the sign guard. Each must reject with a typed INVALID_ARGUMENT,
// write nothing (the log's nextLsn is unchanged), and leave the store usable.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStoreError } from '../../src/errors.ts';
import { openStoreOnLog } from '../../src/store.ts';
import type { ConsensusStore } from '../../src/store.ts';
import { hashOf, makeVote } from '../../src/testing/conformance/vote-store.conformance.ts';
import { MemoryLog } from '../../src/log/memory-log.ts';

const notANumber = fc.oneof(fc.string(), fc.boolean(), fc.constant(null), fc.bigInt(), fc.object(), fc.constant(NaN), fc.constant(Infinity));
const badHeight = fc.oneof(notANumber, fc.integer({ max: -1 }), fc.constant(2 ** 53), fc.double({ min: 0.1, max: 1e6, noInteger: true }));
const badRound = fc.oneof(notANumber, fc.integer({ max: -1 }), fc.integer({ min: 2 ** 32, max: 2 ** 40 }), fc.constant(0.5));
const badLimit = fc.oneof(notANumber, fc.integer({ max: 0 }), fc.integer({ min: 10_001, max: 2 ** 40 }), fc.constant(1.5));
const badRoundLimit = fc.oneof(notANumber, fc.integer({ max: 0 }), fc.integer({ min: 100_001, max: 2 ** 40 }));
const badId = fc.oneof(
  fc.constant(''),
  fc.string({ minLength: 129, maxLength: 200 }),
  fc.constant('a\ud800'),
  fc.integer(),
  fc.constant(null),
  fc.object(),
);
const badType = fc.oneof(fc.constantFrom('vote', 'Prevote', ''), fc.integer(), fc.constant(null));
const badHash = fc.oneof(fc.uint8Array({ minLength: 0, maxLength: 31 }), fc.uint8Array({ minLength: 33, maxLength: 40 }), fc.string(), fc.array(fc.integer()));
const badSignature = fc.oneof(fc.uint8Array({ maxLength: 63 }), fc.constant(null), fc.string());
const badObject = fc.oneof(fc.constant(null), fc.integer(), fc.string(), fc.array(fc.anything()), fc.uint8Array());

/** An unsigned vote with exactly one field replaced by a bad value, or not an object at all. */
const badUnsignedVote = fc.oneof(
  badObject,
  badId.map((validatorId) => ({ ...makeVote(), validatorId })),
  badHeight.map((height) => ({ ...makeVote(), height })),
  badRound.map((round) => ({ ...makeVote(), round })),
  badType.map((voteType) => ({ ...makeVote(), voteType })),
  badHash.map((blockHash) => ({ ...makeVote(), blockHash })),
  badHeight.map((timestamp) => ({ ...makeVote(), timestamp })),
);
/** The same for signed votes, plus a bad signature. */
const badVote = fc.oneof(badUnsignedVote, badSignature.map((signature) => ({ ...makeVote(), signature })));

const proposal = { validatorId: 'val-a', height: 5, round: 200, blockHash: hashOf(1), polRound: null, timestamp: 1 };
/**
 * A bad polRound: not null (null is valid: no proof-of-lock round), not below the round (200).
 * Regression, seed 1012839261 (CI, 2026-11-26): `badRound` includes null, which made a valid
 * proposal that was signed, and the property failed.
 */
const badPolRound = fc.oneof(badRound, fc.constant(200), fc.constant(undefined)).filter((r) => r !== null);
/** A proposal with one bad field (a nil hash is bad here: proposals name a block). */
const badProposal = fc.oneof(
  badObject,
  badId.map((validatorId) => ({ ...proposal, validatorId })),
  badHeight.map((height) => ({ ...proposal, height })),
  badRound.map((round) => ({ ...proposal, round })),
  badPolRound.map((polRound) => ({ ...proposal, polRound })),
  fc.oneof(badHash, fc.constant(null)).map((blockHash) => ({ ...proposal, blockHash })),
  badHeight.map((timestamp) => ({ ...proposal, timestamp })),
);

type Call = (store: ConsensusStore) => Promise<unknown>;
const any = (x: unknown): never => x as never;

const badCalls: fc.Arbitrary<[string, Call]> = fc.oneof(
  badVote.map((v): [string, Call] => ['appendVote', (s) => s.votes.appendVote(any(v))]),
  badRound.map((r): [string, Call] => ['getVotesForRound', (s) => s.votes.getVotesForRound(any(r))]),
  fc.oneof(badRoundLimit.map((limit) => ({ limit })), badObject).map((o): [string, Call] => ['getVotesForRound opts', (s) => s.votes.getVotesForRound(1, any(o))]),
  badId.map((id): [string, Call] => ['getValidatorVotes', (s) => s.votes.getValidatorVotes(any(id))]),
  fc
    .oneof(badRound.map((startRound) => ({ startRound })), badRound.map((endRound) => ({ endRound })), badLimit.map((limit) => ({ limit })), badObject)
    .map((o): [string, Call] => ['getValidatorVotes opts', (s) => s.votes.getValidatorVotes('a', any(o))]),
  badLimit.map((l): [string, Call] => ['getRecentVotes', (s) => s.votes.getRecentVotes(any(l))]),
  fc
    .oneof(
      badRound.map((round) => ({ round })),
      badId.map((validatorId) => ({ validatorId })),
      badType.map((voteType) => ({ voteType })),
      badHeight.map((startHeight) => ({ startHeight })),
      badHeight.map((endHeight) => ({ endHeight })),
      badLimit.map((limit) => ({ limit })),
      badObject,
    )
    .map((q): [string, Call] => ['queryVotes', (s) => s.votes.queryVotes(any(q))]),
  badRound.map((r): [string, Call] => ['countVotesForRound', (s) => s.votes.countVotesForRound(any(r))]),
  badType.map((t): [string, Call] => ['countVotesForRound type', (s) => s.votes.countVotesForRound(1, any(t))]),
  fc.tuple(badId, badRound, badType).map(([id, r, t]): [string, Call] => ['voteExists', (s) => s.votes.voteExists(any(id), any(r), any(t))]),
  fc.tuple(badHeight, badRound).map(([h, r]): [string, Call] => ['markFinalized', (s) => s.votes.markFinalized(any(h), any(r))]),
  badUnsignedVote.map((v): [string, Call] => ['signVote', (s) => s.signGuard.signVote(any(v))]),
  badProposal.map((v): [string, Call] => ['signProposal', (s) => s.signGuard.signProposal(any(v))]),
  fc
    .oneof(badObject, badHeight.map((height) => ({ height, round: 1, step: 'prevote' })), badType.map((step) => ({ height: 1, round: 1, step })))
    .map((w): [string, Call] => ['importWatermark', (s) => s.signGuard.importWatermark(any(w))]),
);

describe('bad input to the vote store and sign guard', () => {
  let store: ConsensusStore;
  beforeAll(async () => {
    store = await openStoreOnLog(MemoryLog.open(), {
      chainId: 'bad-input',
      signer: { privateKey: new Uint8Array(32).fill(9), validatorId: 'val-a', state: 'new-key' },
      // Argument checks on votes with placeholder signatures (the signature check has its own tests).
      voteVerification: 'off',
    });
    await store.votes.appendVote(makeVote());
  });
  afterAll(() => store.close());

  it('rejects every bad argument with INVALID_ARGUMENT and writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(badCalls, async ([name, call]) => {
        const before = store.log.nextLsn;
        const err = await call(store).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isStoreError(err, 'INVALID_ARGUMENT'), `${name}: ${String(err)}`).toBe(true);
        expect(store.log.nextLsn).toBe(before);
      }),
      { numRuns: 400 },
    );
  });

  it('never offers a valid polRound as a bad one (regression, seed 1012839261)', () => {
    fc.assert(
      fc.property(badPolRound, (polRound) => polRound === undefined || typeof polRound !== 'number' || !Number.isInteger(polRound) || polRound < 0 || polRound >= 200 || polRound > 2 ** 32 - 1),
      { seed: 1012839261, numRuns: 2000 },
    );
  });

  it('is still usable afterwards', async () => {
    const stored = await store.votes.appendVote(makeVote({ round: 101, blockHash: hashOf(4) }));
    expect(stored.outcome).toBe('stored');
    expect(await store.votes.countVotesForRound(101)).toBe(1);
    const signed = await store.signGuard.signVote({ ...makeVote({ round: 102 }), signature: undefined } as never);
    expect(signed.signature).toHaveLength(64);
  });
});
