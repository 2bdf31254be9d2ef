/**
 * The ValidatorRegistry conformance suite: written against `ValidatorRegistry` only, and
 * parameterized by a factory, so that every backend runs the same scenarios. Call
 * `validatorRegistryConformance(name, open, publicKey)` inside a test file.
 *
 * It must never reach into a backend's internals: what it may observe is the API, whether a
 * call wrote anything (`nextLsn`), and what survives `reopen`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ValidatorRegistry } from '../../stores/validator-types.ts';
import { callMethod, expectCode, expectEveryInvalid, harnessRunner, junkWith, propertySeed, type StoreHarness } from './support.ts';

/** A registry under test, and how to reopen it on the same data. */
export interface ValidatorRegistryHarness extends StoreHarness<ValidatorRegistryHarness> {
  readonly registry: ValidatorRegistry;
}

const MAX_STAKE = (1n << 128n) - 1n;

function junk(): fc.Arbitrary<unknown> {
  return junkWith([fc.constant(-1n), fc.constant(1n << 128n), fc.constant(''), fc.constant('x'.repeat(129))], 40);
}

/**
 * Registers the ValidatorRegistry conformance scenarios under `describe(name)`. `open` resolves
 * with a fresh, empty registry each time; `publicKey(n)` gives a distinct valid ed25519 key.
 */
export function validatorRegistryConformance(
  name: string,
  open: () => Promise<ValidatorRegistryHarness>,
  publicKey: (n: number) => Uint8Array,
): void {
  const withRegistry = harnessRunner(open);
  const v = (n: number, stake: bigint, status?: 'active' | 'jailed' | 'inactive') => ({
    validatorId: `val-${n}`,
    publicKey: publicKey(n),
    stake,
    ...(status === undefined ? {} : { status }),
  });

  describe(`ValidatorRegistry conformance: ${name}`, () => {
    it('a registered validator is in the set from its effective height on, not before', () =>
      withRegistry(async ({ registry }) => {
        const change = await registry.registerValidator(v(1, 100n), 10);
        expect(change.kind).toBe('register');
        expect(change.before).toBeUndefined();
        expect(change.after).toMatchObject({ validatorId: 'val-1', stake: 100n, status: 'active', registeredAtHeight: 10 });
        expect((await registry.getValidatorsAtHeight(9)).validators).toEqual([]);
        const at10 = await registry.getValidatorsAtHeight(10);
        expect(at10.validators.map((x) => x.validatorId)).toEqual(['val-1']);
        expect(at10).toMatchObject({ height: 10, totalStake: 100n, activeStake: 100n });
        expect(await registry.getValidator('val-1', 9)).toBeUndefined();
        expect((await registry.getValidator('val-1'))?.publicKey).toEqual(publicKey(1));
      }));

    it('stake and status changes apply from their height on; earlier heights answer as they were', () =>
      withRegistry(async (h) => {
        const r = h.registry;
        await r.registerValidator(v(1, 100n), 1);
        await r.registerValidator(v(2, 50n, 'inactive'), 1);
        await r.updateStake('val-1', 300n, 10, 'bonded more');
        await r.updateStatus('val-2', 'active', 20, 'joined');
        const check = async (reg: ValidatorRegistry): Promise<void> => {
          expect(await reg.getValidatorsAtHeight(5)).toMatchObject({ totalStake: 150n, activeStake: 100n });
          expect(await reg.getValidatorsAtHeight(10)).toMatchObject({ totalStake: 350n, activeStake: 300n });
          expect(await reg.getValidatorsAtHeight(20)).toMatchObject({ totalStake: 350n, activeStake: 350n });
          expect((await reg.getValidator('val-2', 19))?.status).toBe('inactive');
          expect((await reg.getValidator('val-1'))?.updatedAtHeight).toBe(10);
        };
        await check(r);
        const again = await h.reopen();
        await check(again.registry);
        return again;
      }));

    it('the set lists validators in id order with every status', () =>
      withRegistry(async ({ registry }) => {
        await registry.registerValidator(v(3, 1n, 'jailed'), 0);
        await registry.registerValidator(v(1, 2n), 0);
        await registry.registerValidator(v(2, 4n, 'inactive'), 0);
        const set = await registry.getValidatorsAtHeight(0);
        expect(set.validators.map((x) => `${x.validatorId}:${x.status}`)).toEqual(['val-1:active', 'val-2:inactive', 'val-3:jailed']);
        expect(set).toMatchObject({ totalStake: 7n, activeStake: 2n });
      }));

    it('several changes at one height: the last one stands at that height', () =>
      withRegistry(async ({ registry }) => {
        await registry.registerValidator(v(1, 10n), 5);
        await registry.updateStake('val-1', 20n, 5);
        await registry.updateStake('val-1', 30n, 5);
        expect((await registry.getValidator('val-1', 5))?.stake).toBe(30n);
        expect((await registry.getValidatorHistory('val-1')).items).toHaveLength(3);
      }));

    it('a duplicate id or public key is CONFLICT and writes nothing', () =>
      withRegistry(async (h) => {
        await h.registry.registerValidator(v(1, 10n), 1);
        const lsn = h.nextLsn();
        await expectCode(h.registry.registerValidator(v(1, 10n), 2), 'CONFLICT');
        await expectCode(h.registry.registerValidator({ ...v(2, 10n), publicKey: publicKey(1) }, 2), 'CONFLICT');
        expect(h.nextLsn()).toBe(lsn);
        const again = await h.reopen();
        await expectCode(again.registry.registerValidator(v(1, 10n), 3), 'CONFLICT');
        return again;
      }));

    it('an unknown id is NOT_FOUND for changes and history, undefined for a lookup', () =>
      withRegistry(async (h) => {
        const lsn = h.nextLsn();
        await expectCode(h.registry.updateStake('nobody', 1n, 1), 'NOT_FOUND');
        await expectCode(h.registry.updateStatus('nobody', 'jailed', 1, 'x'), 'NOT_FOUND');
        await expectCode(h.registry.recordSlash({ validatorId: 'nobody', height: 1, amount: 1n, reason: 'x' }), 'NOT_FOUND');
        await expectCode(h.registry.getValidatorHistory('nobody'), 'NOT_FOUND');
        expect(await h.registry.getValidator('nobody')).toBeUndefined();
        expect(h.nextLsn()).toBe(lsn);
      }));

    it('a change below the validator\'s latest change is CONFLICT and writes nothing', () =>
      withRegistry(async (h) => {
        await h.registry.registerValidator(v(1, 10n), 10);
        await h.registry.updateStake('val-1', 20n, 20);
        const lsn = h.nextLsn();
        await expectCode(h.registry.updateStake('val-1', 5n, 19), 'CONFLICT');
        await expectCode(h.registry.updateStatus('val-1', 'jailed', 15, 'late'), 'CONFLICT');
        await expectCode(h.registry.recordSlash({ validatorId: 'val-1', height: 5, amount: 1n, reason: 'late' }), 'CONFLICT');
        expect(h.nextLsn()).toBe(lsn);
      }));

    it('tombstoned is final: a status change out of it is CONFLICT', () =>
      withRegistry(async (h) => {
        await h.registry.registerValidator(v(1, 10n), 1);
        await h.registry.updateStatus('val-1', 'tombstoned', 2, 'double sign');
        await expectCode(h.registry.updateStatus('val-1', 'active', 3, 'appeal'), 'CONFLICT');
        const slash = await h.registry.recordSlash({ validatorId: 'val-1', height: 4, amount: 1n, reason: 'late evidence', status: 'jailed' });
        expect(slash.after.status).toBe('tombstoned');
        const again = await h.reopen();
        expect((await again.registry.getValidator('val-1'))?.status).toBe('tombstoned');
        await expectCode(again.registry.updateStatus('val-1', 'inactive', 5, 'appeal'), 'CONFLICT');
        return again;
      }));

    it('a slash takes an amount or a fraction, capped at the stake, with reason, evidence and status', () =>
      withRegistry(async (h) => {
        const r = h.registry;
        await r.registerValidator(v(1, 1000n), 1);
        const a = await r.recordSlash({ validatorId: 'val-1', height: 5, amount: 100n, reason: 'downtime', status: 'jailed' });
        expect(a.slash).toEqual({ requested: 100n, amount: 100n });
        expect(a.after).toMatchObject({ stake: 900n, status: 'jailed', totalSlashed: 100n });
        expect(a.before).toMatchObject({ stake: 1000n, status: 'active' });
        const b = await r.recordSlash({
          validatorId: 'val-1',
          height: 6,
          fraction: { numerator: 1n, denominator: 3n },
          reason: 'equivocation',
          evidenceId: 'ev-1',
        });
        expect(b.slash).toEqual({ requested: 300n, amount: 300n, evidenceId: 'ev-1' });
        expect(b.reason).toBe('equivocation');
        const c = await r.recordSlash({ validatorId: 'val-1', height: 7, amount: 10_000n, reason: 'all of it', status: 'tombstoned' });
        expect(c.slash).toEqual({ requested: 10_000n, amount: 600n });
        expect(c.after).toMatchObject({ stake: 0n, totalSlashed: 1000n, status: 'tombstoned' });
        // Read the expectation before the reopen closes `r` (reads of a closed store reject CLOSED).
        const history = await r.getValidatorHistory('val-1');
        const again = await h.reopen();
        expect((await again.registry.getValidator('val-1', 6))?.stake).toBe(600n);
        expect(await again.registry.getValidatorHistory('val-1')).toEqual(history);
        return again;
      }));

    it('stakes are exact bigints up to 2^128-1 across a reopen', () =>
      withRegistry(async (h) => {
        await h.registry.registerValidator(v(1, MAX_STAKE), 1);
        await h.registry.registerValidator(v(2, MAX_STAKE - 1n), 1);
        const again = await h.reopen();
        const set = await again.registry.getValidatorsAtHeight(1);
        expect(set.validators.map((x) => x.stake)).toEqual([MAX_STAKE, MAX_STAKE - 1n]);
        expect(set.totalStake).toBe(2n * MAX_STAKE - 1n);
        return again;
      }));

    it('the largest height (2^53-1) works as an effective height, also after a reopen', () =>
      withRegistry(async (h) => {
        await h.registry.registerValidator(v(1, 5n), 2 ** 53 - 1);
        const again = await h.reopen();
        expect((await again.registry.getValidatorsAtHeight(2 ** 53 - 2)).validators).toEqual([]);
        expect((await again.registry.getValidator('val-1', 2 ** 53 - 1))?.registeredAtHeight).toBe(2 ** 53 - 1);
        return again;
      }));

    it('history is in height order with before and after, cut by range and limit, and says when it was cut', () =>
      withRegistry(async ({ registry }) => {
        await registry.registerValidator(v(1, 1n), 1);
        for (let height = 2; height <= 10; height++) await registry.updateStake('val-1', BigInt(height), height, `h${height}`);
        const all = await registry.getValidatorHistory('val-1');
        expect(all.items.map((c) => c.height)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(all.truncated).toBe(false);
        expect(all.items[3]).toMatchObject({ kind: 'stake', validatorId: 'val-1', reason: 'h4', before: { stake: 3n }, after: { stake: 4n } });
        const some = await registry.getValidatorHistory('val-1', { startHeight: 4, endHeight: 8, limit: 3 });
        expect(some.items.map((c) => c.height)).toEqual([4, 5, 6]);
        expect(some.truncated).toBe(true);
        const exact = await registry.getValidatorHistory('val-1', { startHeight: 4, endHeight: 8, limit: 5 });
        expect(exact.items.map((c) => c.height)).toEqual([4, 5, 6, 7, 8]);
        expect(exact.truncated).toBe(false);
      }));

    it('a history query with an unknown key, a start after its end or a limit above the maximum is INVALID_ARGUMENT', () =>
      withRegistry(async (h) => {
        await h.registry.registerValidator(v(1, 1n), 1);
        const lsn = h.nextLsn();
        for (const query of [{ fromHeight: 3 }, { toHeight: 3 }, { startHeight: 1, limt: 2 }, { startHeight: 3, endHeight: 2 }, { limit: 10_001 }]) {
          await expectCode(h.registry.getValidatorHistory('val-1', query as never), 'INVALID_ARGUMENT');
        }
        await expectCode(h.registry.registerValidator({ id: 'val-2', publicKey: publicKey(2), stake: 1n } as never, 1), 'INVALID_ARGUMENT');
        await expectCode(h.registry.registerValidator({ ...v(2, 1n), power: 1n } as never, 1), 'INVALID_ARGUMENT');
        await expectCode(h.registry.recordSlash({ validatorId: 'val-1', height: 2, amount: 1n, reason: 'r', jail: true } as never), 'INVALID_ARGUMENT');
        expect(h.nextLsn()).toBe(lsn);
      }));

    it('a public key that is not an ed25519 point is INVALID_ARGUMENT', () =>
      withRegistry(async (h) => {
        const lsn = h.nextLsn();
        await expectCode(h.registry.registerValidator({ validatorId: 'bad', publicKey: new Uint8Array(32).fill(255), stake: 1n }, 1), 'INVALID_ARGUMENT');
        expect(h.nextLsn()).toBe(lsn);
      }));

    it('bad input to every method is INVALID_ARGUMENT, writes nothing, and the registry still works', () =>
      withRegistry(async (h) => {
        await h.registry.registerValidator(v(1, 10n), 1);
        const isId = (x: unknown): boolean => typeof x === 'string' && x.length > 0 && x.length <= 128;
        const isHeight = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
        const isStake = (x: unknown): boolean => typeof x === 'bigint' && x >= 0n && x <= MAX_STAKE;
        const isReason = (x: unknown): boolean => typeof x === 'string' && x.length > 0 && x.length <= 1024;
        const bad = (ok: (x: unknown) => boolean) => junk().filter((x) => !ok(x));
        const good = { validatorId: 'val-1', stake: 5n, height: 3, reason: 'r' };
        const slashBase = { validatorId: 'val-1', height: 3, amount: 1n, reason: 'r' };
        const cases = fc.oneof(
          bad((x) => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array)).map((x) => ['registerValidator', [x, 1]] as const),
          bad(isId).map((x) => ['registerValidator', [{ validatorId: x, publicKey: publicKey(9), stake: 1n }, 1]] as const),
          junk().filter((x) => !(x instanceof Uint8Array && x.length === 32)).map((x) => ['registerValidator', [{ validatorId: 'n', publicKey: x, stake: 1n }, 1]] as const),
          bad(isStake).map((x) => ['registerValidator', [{ validatorId: 'n', publicKey: publicKey(9), stake: x }, 1]] as const),
          bad((x) => x === undefined).map((x) => ['registerValidator', [{ validatorId: 'n', publicKey: publicKey(9), stake: 1n, status: x }, 1]] as const),
          bad(isHeight).map((x) => ['registerValidator', [{ validatorId: 'n', publicKey: publicKey(9), stake: 1n }, x]] as const),
          bad(isHeight).map((x) => ['getValidatorsAtHeight', [x]] as const),
          bad(isId).map((x) => ['updateStake', [x, good.stake, good.height]] as const),
          bad(isStake).map((x) => ['updateStake', ['val-1', x, good.height]] as const),
          bad(isHeight).map((x) => ['updateStake', ['val-1', good.stake, x]] as const),
          bad((x) => x === undefined || isReason(x)).map((x) => ['updateStake', ['val-1', good.stake, good.height, x]] as const),
          bad(isId).map((x) => ['updateStatus', [x, 'jailed', good.height, good.reason]] as const),
          junk().map((x) => ['updateStatus', ['val-1', x, good.height, good.reason]] as const),
          bad(isHeight).map((x) => ['updateStatus', ['val-1', 'jailed', x, good.reason]] as const),
          bad(isReason).map((x) => ['updateStatus', ['val-1', 'jailed', good.height, x]] as const),
          bad(isId).map((x) => ['getValidator', [x]] as const),
          bad((x) => x === undefined || isHeight(x)).map((x) => ['getValidator', ['val-1', x]] as const),
          bad(isId).map((x) => ['getValidatorHistory', [x]] as const),
          fc.constantFrom({ limit: 0 }, { limit: 10_001 }, { startHeight: -1 }, { endHeight: 0.5 }, { startHeight: 3, endHeight: 2 }, { fromHeight: 1 }, null, 'q').map(
            (q) => ['getValidatorHistory', ['val-1', q]] as const,
          ),
          bad((x) => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array)).map((x) => ['recordSlash', [x]] as const),
          bad(isId).map((x) => ['recordSlash', [{ ...slashBase, validatorId: x }]] as const),
          bad(isHeight).map((x) => ['recordSlash', [{ ...slashBase, height: x }]] as const),
          bad(isReason).map((x) => ['recordSlash', [{ ...slashBase, reason: x }]] as const),
          bad((x) => x === undefined || isStake(x)).map((x) => ['recordSlash', [{ ...slashBase, amount: x }]] as const),
          bad((x) => x === undefined).map((x) => ['recordSlash', [{ ...slashBase, status: x }]] as const),
          bad((x) => x === undefined || (typeof x === 'string' && x.length > 0 && x.length <= 256)).map((x) => ['recordSlash', [{ ...slashBase, evidenceId: x }]] as const),
          fc.constantFrom(
            { fraction: { numerator: 1n, denominator: 2n } },
            { amount: undefined },
            { amount: undefined, fraction: { numerator: 3n, denominator: 2n } },
            { amount: undefined, fraction: { numerator: 1n, denominator: 0n } },
            { amount: undefined, fraction: { numerator: -1n, denominator: 2n } },
            { amount: undefined, fraction: { numerator: 1, denominator: 2 } },
            { amount: undefined, fraction: null },
          ).map((x) => ['recordSlash', [{ ...slashBase, ...x }]] as const),
        );
        const seed = propertySeed('REGISTRY_SEED', `validator-registry bad-input property (${name})`);
        await expectEveryInvalid(cases, ([method, args]) => callMethod(h.registry, method, args), () => h.nextLsn(), { seed, numRuns: 400 });
        await h.registry.updateStake('val-1', 11n, 2);
        expect((await h.registry.getValidator('val-1'))?.stake).toBe(11n);
      }));
  });
}
