/**
 * The SignGuard conformance suite: the sign guard's contract (D8 in docs/durability.md; docs/stores.md, "The
 * sign guard" and "Fresh data directory"; the file comment of src/stores/sign-guard.ts), written
 * against the guard's methods only and parameterized by a factory, so that every backend runs
 * the same scenarios. Call `signGuardConformance(name, open)` inside a test file.
 *
 * The factory opens a fresh, empty store with the sign options it is given (the ones `openStore`
 * takes in `signer`: `state`, `allowFreshState`, `importWatermark`) and the identity
 * `SIGN_IDENTITY` (none with `withIdentity: false`); it rejects as that open does
 * (FRESH_SIGN_STATE). The suite must never reach into a backend's internals: it observes the
 * API, whether a call wrote anything (`nextLsn`), and what survives a reopen. A failing
 * property prints its seed (replay with SIGN_GUARD_SEED=<seed>).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../errors.ts';
import { proposalSignBytes, publicKeyOf, verifyBytes, voteSignBytes } from '../../codec/vote-sign.ts';
import type { SignedProposal, UnsignedProposal, UnsignedVote, ValidatorVote } from '../../model/vote.ts';
import type { SignWatermark } from '../../model/sign.ts';
import { expectCode, expectEveryInvalid, harnessRunner, junkWith, propertySeed, type StoreHarness } from './support.ts';
import type { SignGuard } from '../../stores/sign-guard-types.ts';


/** The signing identity every factory must open with, unless told `withIdentity: false`. */
export const SIGN_IDENTITY: { readonly validatorId: string; readonly privateKey: Uint8Array } = {
  validatorId: 'me',
  privateKey: new Uint8Array(32).fill(42),
};

/** The sign options of one open (`openStore`'s), and whether it has the identity. */
export interface SignOpenOptions {
  /** Default true: open with `SIGN_IDENTITY`; false: with no identity. */
  readonly withIdentity?: boolean;
  /** Default `existing-key`. */
  readonly state?: 'new-key' | 'existing-key';
  readonly allowFreshState?: boolean;
  readonly importWatermark?: SignWatermark;
}

/** A sign guard under test, and how to reopen it on the same data. */
export interface SignGuardHarness extends StoreHarness<SignGuardHarness> {
  readonly guard: SignGuard;
  /** The chain id the store was opened with (signatures are bound to it). */
  readonly chainId: string;
  /**
   * Closes this store (if it is not closed yet) and opens the same data with `options`;
   * rejects as that open does. `reopen()` is `reopenWith({})`: the identity, `existing-key`.
   */
  reopenWith(options: SignOpenOptions): Promise<SignGuardHarness>;
}

const PUBLIC_KEY = publicKeyOf(SIGN_IDENTITY.privateKey);
const NEW_KEY: SignOpenOptions = { state: 'new-key' };

function hash(fill: number): Uint8Array {
  return new Uint8Array(32).fill(fill);
}

/** The identity's vote: (10, 20, prevote) for block 1 at time 1000 unless overridden. */
export function ownVote(overrides: Partial<UnsignedVote> = {}): UnsignedVote {
  return { validatorId: SIGN_IDENTITY.validatorId, height: 10, round: 20, voteType: 'prevote', blockHash: hash(1), timestamp: 1_000, ...overrides };
}

/** The identity's proposal: (10, 20) for block 1, no proof-of-lock round, at time 1000 unless overridden. */
export function ownProposal(overrides: Partial<UnsignedProposal> = {}): UnsignedProposal {
  return { validatorId: SIGN_IDENTITY.validatorId, height: 10, round: 20, blockHash: hash(1), polRound: null, timestamp: 1_000, ...overrides };
}

/** A call that must not be signed, under a name for failure messages. */
type Refused = readonly [string, (guard: SignGuard) => Promise<unknown>];

/**
 * Expects each of `calls` to reject with `code`, writing nothing and leaving the watermark
 * where it was.
 */
async function expectRefused(h: SignGuardHarness, code: 'CONFLICT' | 'INVALID_ARGUMENT', calls: readonly Refused[]): Promise<void> {
  const lsn = h.nextLsn();
  const watermark = h.guard.watermark();
  for (const [what, call] of calls) {
    const err: unknown = await call(h.guard).then(
      () => new Error(`${what}: expected ${code}, but it was signed`),
      (e: unknown) => e,
    );
    if (!isStoreError(err, code)) throw err instanceof Error ? err : new Error(`${what}: ${String(err)}`);
  }
  expect(h.nextLsn(), 'a refused request wrote something').toBe(lsn);
  expect(h.guard.watermark()).toEqual(watermark);
}

function voteVerifies(h: SignGuardHarness, v: ValidatorVote): boolean {
  return verifyBytes(v.signature, voteSignBytes(v, h.chainId), PUBLIC_KEY);
}

function proposalVerifies(h: SignGuardHarness, p: SignedProposal): boolean {
  return verifyBytes(p.signature, proposalSignBytes(p, h.chainId), PUBLIC_KEY);
}

/** Signs `vote`, expecting a new signature: it verifies, and something was written. */
async function signsNew(h: SignGuardHarness, vote: UnsignedVote): Promise<ValidatorVote> {
  const lsn = h.nextLsn();
  const signed = await h.guard.signVote(vote);
  expect(signed).toMatchObject(vote);
  expect(voteVerifies(h, signed)).toBe(true);
  expect(h.nextLsn()).toBeGreaterThan(lsn);
  expect(h.guard.watermark()).toEqual({ height: vote.height, round: vote.round, step: vote.voteType });
  return signed;
}

/** Values of wrong types and out-of-range numbers for the bad-input property. */
function junk(): fc.Arbitrary<unknown> {
  return junkWith([fc.constant(2 ** 32), fc.constant(''), fc.constant('x'.repeat(129)), fc.constant('a\ud800'), fc.string({ maxLength: 3 }), fc.bigInt()], 40);
}

const isSafeUint = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isU32 = (x: unknown): boolean => isSafeUint(x) && (x as number) <= 2 ** 32 - 1;
const isHash = (x: unknown): boolean => x instanceof Uint8Array && x.length === 32;
const isPlainObject = (x: unknown): boolean => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);

/**
 * Bad sign requests: something that is not an object, or the identity's request with exactly
 * one field bad. Another validator's id is bad too (the guard signs for its identity only).
 */
function badRequests(): fc.Arbitrary<readonly [string, (guard: SignGuard) => Promise<unknown>]> {
  const bad = (ok: (x: unknown) => boolean): fc.Arbitrary<unknown> => fc.oneof(junk(), fc.constantFrom('someone-else', 'Me', 'me ')).filter((x) => !ok(x));
  const vote = ownVote({ height: 50, round: 60, voteType: 'precommit' });
  const proposal = ownProposal({ height: 50, round: 60, polRound: 59 });
  const withField = <T extends object>(base: T, field: string, value: unknown): T => ({ ...base, [field]: value });
  const any = (x: unknown): never => x as never;
  return fc.oneof(
    bad(isPlainObject).map((x) => ['signVote, not an object', (g: SignGuard) => g.signVote(any(x))] as const),
    fc.oneof(
      bad((x) => x === SIGN_IDENTITY.validatorId).map((x) => ['validatorId', x] as const),
      bad(isSafeUint).map((x) => ['height', x] as const),
      bad(isU32).map((x) => ['round', x] as const),
      bad((x) => x === 'prevote' || x === 'precommit' || x === 'commit').map((x) => ['voteType', x] as const),
      bad((x) => x === null || isHash(x)).map((x) => ['blockHash', x] as const),
      bad(isSafeUint).map((x) => ['timestamp', x] as const),
    ).map(([field, x]) => [`signVote, ${field}`, (g: SignGuard) => g.signVote(any(withField(vote, field, x)))] as const),
    bad(isPlainObject).map((x) => ['signProposal, not an object', (g: SignGuard) => g.signProposal(any(x))] as const),
    fc.oneof(
      bad((x) => x === SIGN_IDENTITY.validatorId).map((x) => ['validatorId', x] as const),
      bad(isSafeUint).map((x) => ['height', x] as const),
      // The round must stay above the proposal's polRound (59) to be valid, so anything else is bad.
      bad((x) => isU32(x) && (x as number) > 59).map((x) => ['round', x] as const),
      bad(isHash).map((x) => ['blockHash', x] as const),
      // null is valid (no proof-of-lock round); so is any round below the proposal's (60).
      bad((x) => x === null || (isU32(x) && (x as number) < 60)).map((x) => ['polRound', x] as const),
      bad(isSafeUint).map((x) => ['timestamp', x] as const),
    ).map(([field, x]) => [`signProposal, ${field}`, (g: SignGuard) => g.signProposal(any(withField(proposal, field, x)))] as const),
    bad(isPlainObject).map((x) => ['importWatermark, not an object', (g: SignGuard) => g.importWatermark(any(x))] as const),
    fc.oneof(
      bad(isSafeUint).map((x) => ['height', x] as const),
      bad(isU32).map((x) => ['round', x] as const),
      bad((x) => x === 'propose' || x === 'prevote' || x === 'precommit' || x === 'commit').map((x) => ['step', x] as const),
    ).map(([field, x]) => [`importWatermark, ${field}`, (g: SignGuard) => g.importWatermark(any(withField({ height: 50, round: 60, step: 'prevote' }, field, x)))] as const),
  );
}

/**
 * Registers the SignGuard conformance scenarios under `describe(name)`. `open(options)` resolves
 * with a fresh, empty store opened with `options` (see the module comment), or rejects as the
 * open does.
 */
export function signGuardConformance(name: string, open: (options: SignOpenOptions) => Promise<SignGuardHarness>): void {
  const withGuard = harnessRunner(() => open(NEW_KEY));

  describe(`SignGuard conformance: ${name}`, () => {
    it('signs a proposal and each vote step with the identity\'s key, persisted before it returns; the watermark follows', () =>
      withGuard(async (h) => {
        expect(h.guard.watermark()).toBeUndefined();
        const lsn = h.nextLsn();
        const p = await h.guard.signProposal(ownProposal());
        expect(p).toMatchObject(ownProposal());
        expect(proposalVerifies(h, p)).toBe(true);
        expect(h.nextLsn()).toBeGreaterThan(lsn);
        expect(h.guard.watermark()).toEqual({ height: 10, round: 20, step: 'propose' });
        const votes: ValidatorVote[] = [];
        for (const voteType of ['prevote', 'precommit', 'commit'] as const) votes.push(await signsNew(h, ownVote({ voteType })));
        // Each returned signature is in the log: after a reopen the same requests get the same ones back.
        const again = await h.reopen();
        expect(again.guard.watermark()).toEqual({ height: 10, round: 20, step: 'commit' });
        expect((await again.guard.signVote(ownVote({ voteType: 'commit' }))).signature).toEqual(votes[2]?.signature);
        return again;
      }));

    it('the same request again returns the stored signature and writes nothing', () =>
      withGuard(async (h) => {
        const p = await h.guard.signProposal(ownProposal());
        let lsn = h.nextLsn();
        expect((await h.guard.signProposal(ownProposal())).signature).toEqual(p.signature);
        expect(h.nextLsn()).toBe(lsn);
        const v = await signsNew(h, ownVote());
        lsn = h.nextLsn();
        const again = await h.guard.signVote(ownVote());
        expect(again).toEqual(v);
        expect(h.nextLsn()).toBe(lsn);
      }));

    it('a request differing only in the timestamp gets the stored signature and timestamp, and writes nothing, also after a reopen', () =>
      withGuard(async (h) => {
        const v = await signsNew(h, ownVote({ timestamp: 1_000 }));
        const voteAgain = async (g: SignGuardHarness, timestamp: number): Promise<void> => {
          const lsn = g.nextLsn();
          const later = await g.guard.signVote(ownVote({ timestamp }));
          expect(later.timestamp).toBe(1_000);
          expect(later.signature).toEqual(v.signature);
          expect(voteVerifies(g, later)).toBe(true);
          expect(g.nextLsn()).toBe(lsn);
        };
        await voteAgain(h, 5_000);
        const h2 = await h.reopen();
        await voteAgain(h2, 9_999);
        const p = await h2.guard.signProposal(ownProposal({ round: 21, timestamp: 7 }));
        const proposalAgain = async (g: SignGuardHarness, timestamp: number): Promise<void> => {
          const lsn = g.nextLsn();
          const later = await g.guard.signProposal(ownProposal({ round: 21, timestamp }));
          expect(later.timestamp).toBe(7);
          expect(later.signature).toEqual(p.signature);
          expect(proposalVerifies(g, later)).toBe(true);
          expect(g.nextLsn()).toBe(lsn);
        };
        await proposalAgain(h2, 8);
        const h3 = await h2.reopen();
        await proposalAgain(h3, 100);
        // Once the watermark moved on, the earlier vote is a round regression, not a re-release.
        await expectRefused(h3, 'CONFLICT', [['the earlier vote', (g) => g.signVote(ownVote({ timestamp: 1_000 }))]]);
        return h3;
      }));

    it('other data for a signed (height, round, step) is CONFLICT and writes nothing; the signed request still gets its signature', () =>
      withGuard(async (h) => {
        const v = await signsNew(h, ownVote());
        await expectRefused(h, 'CONFLICT', [
          ['another block', (g) => g.signVote(ownVote({ blockHash: hash(2) }))],
          ['nil instead of the block', (g) => g.signVote(ownVote({ blockHash: null }))],
          ['another block and timestamp', (g) => g.signVote(ownVote({ blockHash: hash(2), timestamp: 9 }))],
        ]);
        expect((await h.guard.signVote(ownVote())).signature).toEqual(v.signature);
        const p = await h.guard.signProposal(ownProposal({ round: 30 }));
        await expectRefused(h, 'CONFLICT', [
          ['another proposed block', (g) => g.signProposal(ownProposal({ round: 30, blockHash: hash(2) }))],
          ['another proof-of-lock round', (g) => g.signProposal(ownProposal({ round: 30, polRound: 3 }))],
        ]);
        expect((await h.guard.signProposal(ownProposal({ round: 30 }))).signature).toEqual(p.signature);
      }));

    it('every regression is CONFLICT, writes nothing and leaves the watermark, before and after a reopen', () =>
      withGuard(async (h) => {
        await signsNew(h, ownVote({ voteType: 'precommit' }));
        const regressions: Refused[] = [
          ['a lower height (with a higher round)', (g) => g.signVote(ownVote({ height: 9, round: 25 }))],
          ['a lower round at the same height', (g) => g.signVote(ownVote({ round: 19, voteType: 'commit' }))],
          ['a lower round at a higher height (rounds are global)', (g) => g.signVote(ownVote({ height: 11, round: 19 }))],
          ['an earlier step at the same height and round', (g) => g.signVote(ownVote({ voteType: 'prevote' }))],
          ['a proposal after a vote of the same height and round', (g) => g.signProposal(ownProposal())],
          ['a proposal at a lower round', (g) => g.signProposal(ownProposal({ height: 12, round: 19, polRound: 3 }))],
        ];
        await expectRefused(h, 'CONFLICT', regressions);
        const again = await h.reopen();
        expect(again.guard.watermark()).toEqual({ height: 10, round: 20, step: 'precommit' });
        await expectRefused(again, 'CONFLICT', regressions);
        return again;
      }));

    it('a later step, a higher round, or a higher height keeping the round signs anew', () =>
      withGuard(async (h) => {
        await signsNew(h, ownVote({ voteType: 'prevote' }));
        await signsNew(h, ownVote({ voteType: 'commit' }));
        await signsNew(h, ownVote({ round: 21, voteType: 'prevote' }));
        await signsNew(h, ownVote({ height: 11, round: 21, voteType: 'prevote' }));
        const lsn = h.nextLsn();
        const p = await h.guard.signProposal(ownProposal({ height: 11, round: 22, polRound: 21 }));
        expect(proposalVerifies(h, p)).toBe(true);
        expect(h.nextLsn()).toBeGreaterThan(lsn);
        expect(h.guard.watermark()).toEqual({ height: 11, round: 22, step: 'propose' });
        await signsNew(h, ownVote({ height: 11, round: 22, voteType: 'prevote' }));
      }));

    it('concurrent requests are serialized: of two conflicting ones exactly one is signed, and that one is kept', () =>
      withGuard(async (h) => {
        const results = await Promise.allSettled([h.guard.signVote(ownVote({ blockHash: hash(1) })), h.guard.signVote(ownVote({ blockHash: hash(2) }))]);
        const signed = results.filter((r): r is PromiseFulfilledResult<ValidatorVote> => r.status === 'fulfilled');
        const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(signed).toHaveLength(1);
        expect(refused).toHaveLength(1);
        expect(isStoreError(refused[0]?.reason, 'CONFLICT')).toBe(true);
        const winner = signed[0]?.value as ValidatorVote;
        const again = await h.reopen();
        expect((await again.guard.signVote(ownVote({ blockHash: winner.blockHash }))).signature).toEqual(winner.signature);
        await expectRefused(again, 'CONFLICT', [['the loser', (g) => g.signVote(ownVote({ blockHash: winner.blockHash?.[0] === 1 ? hash(2) : hash(1) }))]]);
        return again;
      }));

    it('FRESH_SIGN_STATE: an existing key (the default) on a fresh directory is refused; allowFreshState lets one open through and records nothing', async () => {
      await expectCode(open({}), 'FRESH_SIGN_STATE');
      await expectCode(open({ state: 'existing-key' }), 'FRESH_SIGN_STATE');
      let h = await open({ allowFreshState: true });
      expect(h.guard.watermark()).toBeUndefined();
      await expectCode(h.reopenWith({}), 'FRESH_SIGN_STATE');
      h = await h.reopenWith({ allowFreshState: true });
      await signsNew(h, ownVote());
      h = await h.reopenWith({});
      expect(h.guard.watermark()).toEqual({ height: 10, round: 20, step: 'prevote' });
      await h.close();
    });

    it('FRESH_SIGN_STATE: state new-key opens a fresh directory and records nothing; once the key signed, the default open finds its watermark', async () => {
      let h = await open(NEW_KEY);
      expect(h.guard.watermark()).toBeUndefined();
      await expectCode(h.reopenWith({}), 'FRESH_SIGN_STATE');
      h = await h.reopenWith(NEW_KEY);
      const v = await signsNew(h, ownVote());
      h = await h.reopenWith({});
      expect(h.guard.watermark()).toEqual({ height: 10, round: 20, step: 'prevote' });
      expect((await h.guard.signVote(ownVote())).signature).toEqual(v.signature);
      // new-key on a directory where the key signed changes nothing: its watermark still binds.
      h = await h.reopenWith(NEW_KEY);
      await expectRefused(h, 'CONFLICT', [['a lower round', (g) => g.signVote(ownVote({ round: 19 }))]]);
      await h.close();
    });

    it('FRESH_SIGN_STATE: a watermark imported at open is recorded; nothing at or below it is signed, above it is, and the default open finds it', async () => {
      const imported: SignWatermark = { height: 10, round: 20, step: 'precommit' };
      let h = await open({ importWatermark: imported });
      expect(h.guard.watermark()).toEqual(imported);
      const atOrBelow: Refused[] = [
        ['its own step (what was signed there is unknown)', (g) => g.signVote(ownVote({ voteType: 'precommit' }))],
        ['an earlier step', (g) => g.signVote(ownVote({ voteType: 'prevote' }))],
        ['a proposal of its height and round', (g) => g.signProposal(ownProposal())],
        ['a lower height', (g) => g.signVote(ownVote({ height: 9, round: 21 }))],
        ['a lower round', (g) => g.signVote(ownVote({ height: 11, round: 19 }))],
      ];
      await expectRefused(h, 'CONFLICT', atOrBelow);
      h = await h.reopenWith({});
      expect(h.guard.watermark()).toEqual(imported);
      await expectRefused(h, 'CONFLICT', atOrBelow);
      // The same import again is at the recorded watermark: that open writes no more than a plain one.
      const plainLsn = h.nextLsn();
      h = await h.reopenWith({ importWatermark: imported });
      expect(h.nextLsn()).toBe(plainLsn);
      await signsNew(h, ownVote({ voteType: 'commit' }));
      await h.close();
    });

    it('importWatermark: at or below the watermark writes nothing; higher in height but lower in round is CONFLICT; higher is recorded and binds', () =>
      withGuard(async (h) => {
        const v = await signsNew(h, ownVote({ voteType: 'precommit' }));
        const current = { height: 10, round: 20, step: 'precommit' } as const;
        for (const w of [
          { height: 10, round: 20, step: 'prevote' },
          { height: 9, round: 30, step: 'commit' },
          current,
        ] as const) {
          const lsn = h.nextLsn();
          expect(await h.guard.importWatermark(w)).toEqual(current);
          expect(h.nextLsn()).toBe(lsn);
        }
        // An import equal to the signed entry keeps the entry: the same request still gets its signature.
        expect((await h.guard.signVote(ownVote({ voteType: 'precommit' }))).signature).toEqual(v.signature);
        await expectRefused(h, 'CONFLICT', [['a higher height at a lower round', (g) => g.importWatermark({ height: 11, round: 19, step: 'prevote' })]]);
        const higher = { height: 12, round: 25, step: 'prevote' } as const;
        const lsn = h.nextLsn();
        expect(await h.guard.importWatermark(higher)).toEqual(higher);
        expect(h.nextLsn()).toBeGreaterThan(lsn);
        expect(h.guard.watermark()).toEqual(higher);
        const again = await h.reopen();
        expect(again.guard.watermark()).toEqual(higher);
        await expectRefused(again, 'CONFLICT', [
          ['the imported step', (g) => g.signVote(ownVote({ height: 12, round: 25, voteType: 'prevote' }))],
          ['below the import', (g) => g.signVote(ownVote({ height: 12, round: 24, voteType: 'commit' }))],
        ]);
        await signsNew(again, ownVote({ height: 12, round: 25, voteType: 'precommit' }));
        return again;
      }));

    it('without an identity the open succeeds, there is no watermark, and every request is INVALID_ARGUMENT with nothing written', async () => {
      const h = await open({ withIdentity: false });
      expect(h.guard.watermark()).toBeUndefined();
      await expectRefused(h, 'INVALID_ARGUMENT', [
        ['a vote', (g) => g.signVote(ownVote())],
        ['a proposal', (g) => g.signProposal(ownProposal())],
        ['an import', (g) => g.importWatermark({ height: 1, round: 1, step: 'prevote' })],
      ]);
      await h.close();
    });

    it('bad input to every method is INVALID_ARGUMENT, writes nothing, leaves the watermark, and the guard still signs', () =>
      withGuard(async (h) => {
        const v = await signsNew(h, ownVote({ height: 50, round: 60, voteType: 'prevote' }));
        const watermark = h.guard.watermark();
        const seed = propertySeed('SIGN_GUARD_SEED', `sign-guard bad-input property (${name})`);
        await expectEveryInvalid(badRequests(), ([, call]) => call(h.guard), () => h.nextLsn(), { seed, numRuns: 300 });
        expect(h.guard.watermark()).toEqual(watermark);
        expect((await h.guard.signVote(ownVote({ height: 50, round: 60, voteType: 'prevote' }))).signature).toEqual(v.signature);
        await signsNew(h, ownVote({ height: 50, round: 60, voteType: 'precommit' }));
      }));

    it('after close every method rejects CLOSED', async () => {
      const h = await open(NEW_KEY);
      await h.close();
      await expectCode(h.guard.signVote(ownVote()), 'CLOSED');
      await expectCode(h.guard.signProposal(ownProposal()), 'CLOSED');
      await expectCode(h.guard.importWatermark({ height: 1, round: 1, step: 'prevote' }), 'CLOSED');
      await expectCode(Promise.resolve().then(() => h.guard.watermark()), 'CLOSED');
    });
  });
}
