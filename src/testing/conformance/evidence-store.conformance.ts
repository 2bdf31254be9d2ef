/**
 * The ByzantineEvidenceStore conformance suite: written against `ByzantineEvidenceStore`
 * only, and parameterized by a factory, so that every backend runs the same scenarios. Call
 * `evidenceStoreConformance(name, open)` inside a test file.
 *
 * The factory's store must answer `publicKeyAt` with the fixture's keys (test/support/
 * evidence-test-log.ts, `KeyBook`): `val-1`..`val-4` from height 0, `val-late` from height
 * 100, `val-unknown` never. The suite must never reach into a backend's internals: it observes
 * the API, whether a call wrote anything (`nextLsn`), and what survives `reopen`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../errors.ts';
import type { ByzantineEvidence, EquivocationEvidence, EvidenceFailure } from '../../model/evidence.ts';
import type { ByzantineEvidenceStore } from '../../stores/evidence-types.ts';
import type { ValidatorVote } from '../../model/vote.ts';
import { signedProposal, signedVote } from './fixtures.ts';
import { expectCode, expectEveryInvalid, harnessRunner, junkWith, propertySeed, type StoreHarness } from './support.ts';

/** A store under test, and how to reopen it on the same data. */
export interface EvidenceHarness extends StoreHarness<EvidenceHarness> {
  readonly store: ByzantineEvidenceStore;
  /** The chain id the store was opened with (the fixture signs with it). */
  readonly chainId: string;
}

const COMMON = { detectedAt: 1_700_000_001_000, submittedBy: 'reporter-1', verifiedByQuorum: false };

/** Equivocation evidence of two votes, accusing the first vote's validator at the lower height. */
export function equivocation(a: ValidatorVote, b: ValidatorVote, extra: Partial<EquivocationEvidence> = {}): EquivocationEvidence {
  return { ...COMMON, type: 'Equivocation', validatorId: a.validatorId, height: Math.min(a.height, b.height), details: { voteA: a, voteB: b }, ...extra };
}

/** Expects `recordEvidence` to reject INVALID_ARGUMENT with `failure`. */
async function expectRejected(store: ByzantineEvidenceStore, e: ByzantineEvidence, failure: EvidenceFailure): Promise<void> {
  const err: unknown = await store.recordEvidence(e).then(
    () => new Error('expected a rejection'),
    (x: unknown) => x,
  );
  if (!isStoreError(err, 'INVALID_ARGUMENT')) throw err;
  expect(err.details?.['failure']).toBe(failure);
}

function junk(): fc.Arbitrary<unknown> {
  return junkWith([fc.constant(1n), fc.constant(''), fc.constant('x'.repeat(129)), fc.constant('\ud800')], 70);
}

/** Registers the ByzantineEvidenceStore conformance scenarios under `describe(name)`. */
export function evidenceStoreConformance(name: string, open: () => Promise<EvidenceHarness>): void {
  const withStore = harnessRunner(open);
  const a = signedVote('val-1', { height: 10, round: 3, hash: 0xaa });
  const b = signedVote('val-1', { height: 10, round: 3, hash: 0xbb });

  describe(`ByzantineEvidenceStore conformance: ${name}`, () => {
    it('an equivocation from two real signed votes is stored verified and found by id, validator and type', () =>
      withStore(async ({ store }) => {
        const { evidence, outcome } = await store.recordEvidence(equivocation(a, b));
        expect(outcome).toBe('stored');
        expect(evidence).toMatchObject({ type: 'Equivocation', validatorId: 'val-1', height: 10, status: 'verified', submittedBy: 'reporter-1' });
        expect(evidence.id).toMatch(/^[0-9a-f]{64}$/);
        expect(await store.getEvidence(evidence.id)).toEqual(evidence);
        expect(await store.verifyEvidence(evidence.id)).toEqual({ ok: true });
        expect((await store.queryByValidator('val-1')).map((e) => e.id)).toEqual([evidence.id]);
        expect((await store.queryByType('Equivocation')).map((e) => e.id)).toEqual([evidence.id]);
        expect(await store.queryByType('DoubleSign')).toEqual([]);
        const count = await store.getOffenseCount('val-1');
        expect(count).toMatchObject({ verified: 1, unverified: 0 });
        expect(count.byType.Equivocation).toEqual({ verified: 1, unverified: 0 });
      }));

    it('the same offense in either order of its votes is one piece of evidence, written once', () =>
      withStore(async ({ store, nextLsn }) => {
        const first = await store.recordEvidence(equivocation(a, b));
        const before = nextLsn();
        const second = await store.recordEvidence(equivocation(b, a, { submittedBy: 'reporter-2', detectedAt: 5 }));
        expect(second.outcome).toBe('duplicate');
        expect(second.evidence).toEqual(first.evidence);
        expect(nextLsn()).toBe(before);
        expect((await store.getOffenseCount('val-1')).verified).toBe(1);
      }));

    it('a nil vote against a block vote, and one round at two heights, are equivocation too', () =>
      withStore(async ({ store }) => {
        const nil = signedVote('val-2', { height: 10, round: 3, hash: null });
        const block = signedVote('val-2', { height: 10, round: 3, hash: 1 });
        expect((await store.recordEvidence(equivocation(nil, block))).evidence.status).toBe('verified');
        const low = signedVote('val-3', { height: 10, round: 4, hash: 1 });
        const high = signedVote('val-3', { height: 11, round: 4, hash: 1 });
        expect((await store.recordEvidence(equivocation(high, low))).evidence.height).toBe(10);
        await expectRejected(store, equivocation(high, low, { height: 11 }), 'HEIGHT_MISMATCH');
      }));

    it('each bad equivocation is rejected with its failure code and nothing is written', () =>
      withStore(async ({ store, nextLsn }) => {
        const before = nextLsn();
        const tampered = { ...b, signature: b.signature.map((x, i) => (i === 0 ? x ^ 1 : x)) };
        const otherChain = signedVote('val-1', { height: 10, round: 3, hash: 0xbb }, { chainId: 'another-chain' });
        const cases: [string, ByzantineEvidence, EvidenceFailure][] = [
          ['same block hash', equivocation(a, signedVote('val-1', { height: 10, round: 3, hash: 0xaa, timestamp: 5 })), 'NOT_CONFLICTING'],
          ['different validator', equivocation(a, signedVote('val-2', { height: 10, round: 3, hash: 0xbb })), 'VALIDATOR_MISMATCH'],
          ['accused is not the signer', equivocation(a, b, { validatorId: 'val-2' }), 'VALIDATOR_MISMATCH'],
          ['different round', equivocation(a, signedVote('val-1', { height: 10, round: 4, hash: 0xbb })), 'DIFFERENT_ROUND'],
          ['different type', equivocation(a, signedVote('val-1', { height: 10, round: 3, hash: 0xbb, voteType: 'precommit' })), 'DIFFERENT_TYPE'],
          ['bad signature', equivocation(a, tampered), 'BAD_SIGNATURE'],
          ['forged by another key', equivocation(a, signedVote('val-1', { height: 10, round: 3, hash: 0xbb }, { signer: 'val-2' })), 'BAD_SIGNATURE'],
          ['signed for another chain', equivocation(a, otherChain), 'BAD_SIGNATURE'],
          [
            'unknown validator',
            equivocation(signedVote('val-unknown', { height: 1, round: 1, hash: 1 }), signedVote('val-unknown', { height: 1, round: 1, hash: 2 })),
            'UNKNOWN_VALIDATOR',
          ],
          [
            'validator not yet registered at that height',
            equivocation(signedVote('val-late', { height: 99, round: 1, hash: 1 }), signedVote('val-late', { height: 99, round: 1, hash: 2 })),
            'UNKNOWN_VALIDATOR',
          ],
        ];
        for (const [, evidence, failure] of cases) await expectRejected(store, evidence, failure);
        expect(nextLsn()).toBe(before);
        expect(await store.getOffenseCount('val-1')).toMatchObject({ verified: 0, unverified: 0 });
        const late = equivocation(signedVote('val-late', { height: 100, round: 1, hash: 1 }), signedVote('val-late', { height: 100, round: 1, hash: 2 }));
        expect((await store.recordEvidence(late)).evidence.status).toBe('verified');
      }));

    it('evidence recorded explicitly as unverified is stored with its failure and counted apart', () =>
      withStore(async ({ store }) => {
        const forged = signedVote('val-1', { height: 10, round: 3, hash: 0xcc }, { signer: 'val-2' });
        const { evidence } = await store.recordEvidence(equivocation(a, forged), { unverified: true });
        expect(evidence).toMatchObject({ status: 'unverified', failure: 'BAD_SIGNATURE' });
        expect(await store.verifyEvidence(evidence.id)).toMatchObject({ ok: false, failure: 'BAD_SIGNATURE' });
        await store.recordEvidence(equivocation(a, b), { unverified: true });
        const count = await store.getOffenseCount('val-1');
        expect(count).toMatchObject({ verified: 1, unverified: 1 });
        expect(count.byType.Equivocation).toEqual({ verified: 1, unverified: 1 });
      }));

    it('double signing: two commit votes at one height for two blocks, in any rounds', () =>
      withStore(async ({ store }) => {
        const c1 = signedVote('val-2', { height: 20, round: 7, hash: 1, voteType: 'commit' });
        const c2 = signedVote('val-2', { height: 20, round: 9, hash: 2, voteType: 'commit' });
        const base = { ...COMMON, type: 'DoubleSign' as const, validatorId: 'val-2', height: 20 };
        expect((await store.recordEvidence({ ...base, details: { voteA: c1, voteB: c2 } })).evidence.status).toBe('verified');
        const p2 = signedVote('val-2', { height: 20, round: 9, hash: 2, voteType: 'precommit' });
        await expectRejected(store, { ...base, details: { voteA: c1, voteB: p2 } }, 'WRONG_VOTE_TYPE');
        const nil = signedVote('val-2', { height: 20, round: 9, hash: null, voteType: 'commit' });
        await expectRejected(store, { ...base, details: { voteA: c1, voteB: nil } }, 'NIL_VOTE');
        const other = signedVote('val-2', { height: 21, round: 9, hash: 2, voteType: 'commit' });
        await expectRejected(store, { ...base, details: { voteA: c1, voteB: other } }, 'DIFFERENT_HEIGHT');
        const same = signedVote('val-2', { height: 20, round: 9, hash: 1, voteType: 'commit' });
        await expectRejected(store, { ...base, details: { voteA: c1, voteB: same } }, 'NOT_CONFLICTING');
      }));

    it('proposal equivocation: two signed proposals for one (height, round) with two blocks', () =>
      withStore(async ({ store }) => {
        const base = { ...COMMON, type: 'ProposalEquivocation' as const, validatorId: 'val-3', height: 30 };
        const p1 = signedProposal('val-3', { height: 30, round: 2, hash: 1 });
        const p2 = signedProposal('val-3', { height: 30, round: 2, hash: 2 });
        const stored = await store.recordEvidence({ ...base, details: { proposalA: p2, proposalB: p1 } });
        expect(stored.evidence.status).toBe('verified');
        expect((await store.recordEvidence({ ...base, details: { proposalA: p1, proposalB: p2 } })).outcome).toBe('duplicate');
        await expectRejected(store, { ...base, details: { proposalA: p1, proposalB: signedProposal('val-3', { height: 30, round: 3, hash: 2 }) } }, 'DIFFERENT_ROUND');
        await expectRejected(store, { ...base, details: { proposalA: p1, proposalB: { ...p1, timestamp: 1 } } }, 'NOT_CONFLICTING');
      }));

    it('an invalid signature is evidence only when the signature really fails', () =>
      withStore(async ({ store }) => {
        const base = { ...COMMON, type: 'InvalidSignature' as const, validatorId: 'val-4', height: 40 };
        const forged = signedVote('val-4', { height: 40, round: 1, hash: 1 }, { signer: 'val-1' });
        expect((await store.recordEvidence({ ...base, details: { vote: forged } })).evidence.status).toBe('verified');
        await expectRejected(store, { ...base, details: { vote: signedVote('val-4', { height: 40, round: 1, hash: 1 }) } }, 'SIGNATURE_VALID');
        expect((await store.getOffenseCount('val-4')).byType.InvalidSignature.verified).toBe(1);
      }));

    it('a replay is a genuine vote seen again later', () =>
      withStore(async ({ store }) => {
        const vote = signedVote('val-4', { height: 41, round: 1, hash: 1 });
        const base = { ...COMMON, type: 'ReplayAttack' as const, validatorId: 'val-4', height: 41 };
        expect((await store.recordEvidence({ ...base, details: { vote, firstSeenAt: 10, replayedAt: 20 } })).evidence.status).toBe('verified');
        await expectRejected(store, { ...base, details: { vote, firstSeenAt: 20, replayedAt: 20 } }, 'NOT_A_REPLAY');
      }));

    it('queries are bounded, ranged by height, in (height, LSN) order', () =>
      withStore(async ({ store }) => {
        for (const height of [50, 10, 30]) {
          await store.recordEvidence(
            equivocation(signedVote('val-1', { height, round: height, hash: 1 }), signedVote('val-1', { height, round: height, hash: 2 })),
          );
        }
        expect((await store.queryByValidator('val-1')).map((e) => e.height)).toEqual([10, 30, 50]);
        expect((await store.queryByValidator('val-1', { limit: 2 })).map((e) => e.height)).toEqual([10, 30]);
        expect((await store.queryByType('Equivocation', { startHeight: 20, endHeight: 50 })).map((e) => e.height)).toEqual([30, 50]);
        expect(await store.queryByValidator('val-2')).toEqual([]);
        expect(await store.getEvidence('0'.repeat(64))).toBeUndefined();
        await expectCode(store.verifyEvidence('0'.repeat(64)), 'NOT_FOUND');
      }));

    it('expiry needs both ages exceeded, removes evidence from queries, keeps offense counts, survives reopen', () =>
      withStore(async (h) => {
        const old = equivocation(signedVote('val-1', { height: 5, round: 5, hash: 1 }), signedVote('val-1', { height: 5, round: 5, hash: 2 }), { detectedAt: 1_000 });
        const young = equivocation(signedVote('val-1', { height: 6, round: 6, hash: 1 }), signedVote('val-1', { height: 6, round: 6, hash: 2 }), { detectedAt: 900_000 });
        const oldId = (await h.store.recordEvidence(old)).evidence.id;
        await h.store.recordEvidence(young);
        const before = h.nextLsn();
        expect(await h.store.pruneExpired({ currentHeight: 100, now: 1_000_000, maxAgeBlocks: 100, maxAgeMs: 1 })).toEqual({ pruned: 0 });
        expect(h.nextLsn()).toBe(before);
        expect(await h.store.pruneExpired({ currentHeight: 100, now: 1_000_000, maxAgeBlocks: 10, maxAgeMs: 500_000 })).toEqual({ pruned: 1 });
        expect(await h.store.getEvidence(oldId)).toBeUndefined();
        expect((await h.store.queryByValidator('val-1')).map((e) => e.height)).toEqual([6]);
        expect((await h.store.getOffenseCount('val-1')).verified).toBe(2);
        await expectCode(h.store.recordEvidence(old), 'CONFLICT');
        const reopened = await h.reopen();
        expect(await reopened.store.getEvidence(oldId)).toBeUndefined();
        expect((await reopened.store.getOffenseCount('val-1')).verified).toBe(2);
        expect((await reopened.store.queryByValidator('val-1')).map((e) => e.height)).toEqual([6]);
        return reopened;
      }));

    it('reopening (replay) gives the same answers', () =>
      withStore(async (h) => {
        const stored = (await h.store.recordEvidence(equivocation(a, b))).evidence;
        const forged = signedVote('val-2', { height: 3, round: 1, hash: 1 }, { signer: 'val-1' });
        const unverified = (
          await h.store.recordEvidence(
            { ...COMMON, type: 'Equivocation', validatorId: 'val-2', height: 3, details: { voteA: forged, voteB: signedVote('val-2', { height: 3, round: 1, hash: 2 }) } },
            { unverified: true },
          )
        ).evidence;
        const reopened = await h.reopen();
        expect(await reopened.store.getEvidence(stored.id)).toEqual(stored);
        expect(await reopened.store.getEvidence(unverified.id)).toEqual(unverified);
        expect(await reopened.store.getOffenseCount('val-2')).toMatchObject({ verified: 0, unverified: 1 });
        expect((await reopened.store.queryByType('Equivocation')).map((e) => e.id)).toEqual([unverified.id, stored.id]);
        return reopened;
      }));

    it('bad arguments to every method reject INVALID_ARGUMENT, write nothing, and leave the store usable', () =>
      withStore(async ({ store, nextLsn }) => {
        const before = nextLsn();
        const valid = equivocation(a, b);
        const mutate = fc.tuple(fc.constantFrom('type', 'validatorId', 'height', 'detectedAt', 'submittedBy', 'verifiedByQuorum', 'details'), junk());
        const voteField = fc.tuple(fc.constantFrom('validatorId', 'height', 'round', 'voteType', 'blockHash', 'timestamp', 'signature'), junk());
        const calls = fc.oneof(
          mutate
            .filter(([k, v]) => !(k === 'verifiedByQuorum' && typeof v === 'boolean'))
            .map(([k, v]) => () => store.recordEvidence({ ...valid, [k]: v } as unknown as ByzantineEvidence)),
          voteField
            .filter(([k, v]) => !(k === 'blockHash' && v === null))
            .map(([k, v]) => () => store.recordEvidence({ ...valid, details: { voteA: a, voteB: { ...b, [k]: v } } } as unknown as ByzantineEvidence)),
          junk().map((v) => () => store.recordEvidence(v as ByzantineEvidence)),
          junk()
            .filter((v) => v !== undefined && !(typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)))
            .map((v) => () => store.recordEvidence(valid, v as never)),
          junk().map((v) => () => store.getEvidence(v as string)),
          junk().map((v) => () => store.verifyEvidence(v as string)),
          junk().map((v) => () => store.queryByValidator(v as string)),
          junk().map((v) => () => store.queryByType(v as 'Equivocation')),
          junk().map((v) => () => store.getOffenseCount(v as string)),
          fc.tuple(fc.constantFrom('startHeight', 'endHeight', 'limit'), junk().filter((v) => v !== undefined)).map(
            ([k, v]) =>
              () =>
                store.queryByValidator('val-1', { [k]: v }),
          ),
          fc.tuple(fc.constantFrom('currentHeight', 'now', 'maxAgeBlocks', 'maxAgeMs'), junk()).map(
            ([k, v]) =>
              () =>
                store.pruneExpired({ currentHeight: 1, now: 1, maxAgeBlocks: 1, maxAgeMs: 1, [k]: v }),
          ),
        );
        const seed = propertySeed('EVIDENCE_SEED', 'evidence bad-input property');
        await expectEveryInvalid(calls, (call) => call(), undefined, { seed, numRuns: 300 });
        expect(nextLsn()).toBe(before);
        expect((await store.recordEvidence(valid)).outcome).toBe('stored');
      }));
  });
}
