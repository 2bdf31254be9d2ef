/**
 * The RoundStateStore conformance suite: written against `RoundStateStore` only, and
 * parameterized by a factory, so that every backend (the WAL, the memory log, later PostgreSQL)
 * runs the same scenarios. Call `roundStateStoreConformance(name, open)` inside a test file.
 *
 * It must never reach into a backend's internals: what it may observe is the API, whether a
 * call wrote anything (`nextLsn`), and what survives `reopen`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../errors.ts';
import type { RoundState } from '../../model/round.ts';
import type { RoundStateStore } from '../../stores/round-types.ts';
import { callMethod, expectCode, expectEveryInvalid, harnessRunner, junkWith, propertySeed, type StoreHarness } from './support.ts';

/** Other suites and store tests import the error check from here. */
export { expectCode };

/** A store under test, and how to reopen it on the same data. */
export interface RoundStateHarness extends StoreHarness<RoundStateHarness> {
  readonly rounds: RoundStateStore;
}

/** A round state with the given coordinates and fixed times. */
export function roundState(height: number, round: number, phase: RoundState['phase'] = 'propose', extra: Partial<RoundState> = {}): RoundState {
  return { height, round, phase, startedAt: 1_000, updatedAt: 2_000, ...extra };
}

function hash(fill: number): Uint8Array {
  return new Uint8Array(32).fill(fill);
}

/** Values of every wrong type and out-of-range number, for the bad-input properties. */
function junk(): fc.Arbitrary<unknown> {
  return junkWith([fc.constant(2 ** 32), fc.string({ maxLength: 3 }), fc.bigInt()], 40);
}

/** A state with exactly one field replaced by something invalid. */
function badState(): fc.Arbitrary<unknown> {
  const fields = ['height', 'round', 'phase', 'lockedRound', 'lockedBlockHash', 'validRound', 'validBlockHash', 'proposalBlockHash', 'proposer', 'appData', 'startedAt', 'updatedAt'];
  return fc.oneof(
    junk().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array),
    fc.record({ field: fc.constantFrom(...fields), value: junk() }).map(({ field, value }) => {
      const base: Record<string, unknown> = { ...roundState(5, 5, 'prevote') };
      base[field] = value;
      return base;
    }).filter((s) => !isValidShape(s)),
    fc.constant({ ...roundState(5, 5), lockedRound: 3 }),
    fc.constant({ ...roundState(5, 5), lockedRound: 6, lockedBlockHash: hash(1) }),
    fc.constant({ ...roundState(5, 5), validBlockHash: hash(1) }),
    fc.constant({ ...roundState(5, 5), startedAt: 3_000, updatedAt: 2_000 }),
    fc.constant({ ...roundState(5, 5), proposer: '' }),
    fc.constant({ ...roundState(5, 5), appData: new Uint8Array(64 * 1024 + 1) }),
    fc.constant({ ...roundState(5, 5), isProposer: 'yes' }),
    fc.constant({ ...roundState(5, 5), validatorCount: 4 }),
    fc.constant({ ...roundState(5, 5), validatorCount: 4, quorumSize: 5 }),
    fc.constant({ ...roundState(5, 5), validatorCount: 0, quorumSize: 0 }),
  );
}

/** Whether junk happened to produce a valid state (e.g. `undefined` in an optional field). */
function isValidShape(s: Record<string, unknown>): boolean {
  const optional = ['lockedRound', 'lockedBlockHash', 'validRound', 'validBlockHash', 'proposalBlockHash', 'proposer', 'appData'];
  for (const k of optional) if (s[k] === undefined) delete s[k];
  const inRange = (v: unknown, max: number): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
  const is32 = (v: unknown): boolean => v === undefined || (v instanceof Uint8Array && v.length === 32);
  return (
    inRange(s['height'], 2 ** 53 - 1) &&
    inRange(s['round'], 2 ** 32 - 1) &&
    ['propose', 'prevote', 'precommit', 'commit', 'finalize'].includes(s['phase'] as string) &&
    inRange(s['startedAt'], 2 ** 53 - 1) &&
    inRange(s['updatedAt'], 2 ** 53 - 1) &&
    (s['updatedAt'] as number) >= (s['startedAt'] as number) &&
    s['lockedRound'] === undefined && s['validRound'] === undefined &&
    is32(s['proposalBlockHash']) &&
    (s['proposer'] === undefined || (typeof s['proposer'] === 'string' && s['proposer'].length > 0 && s['proposer'].length <= 128)) &&
    (s['appData'] === undefined || (s['appData'] instanceof Uint8Array && s['appData'].length <= 65536))
  );
}

/**
 * Registers the RoundStateStore conformance scenarios under `describe(name)`. `open` resolves
 * with a fresh, empty store each time it is called.
 */
export function roundStateStoreConformance(name: string, open: () => Promise<RoundStateHarness>): void {
  const withStore = harnessRunner(open);

  describe(`RoundStateStore conformance: ${name}`, () => {
    it('a fresh store has no checkpoint and answers every query with nothing', () =>
      withStore(async ({ rounds }) => {
        expect(await rounds.loadRoundState()).toBeUndefined();
        expect(await rounds.getRoundStateAt(0)).toBeUndefined();
        expect(await rounds.listRoundStates()).toEqual({ items: [], truncated: false });
        expect(rounds.checkpointInterval).toBeGreaterThanOrEqual(1);
      }));

    it('a saved checkpoint is the latest, with its LSN, and survives a reopen', () =>
      withStore(async (h) => {
        const state = roundState(10, 40, 'prevote', { proposer: 'val-1', proposalBlockHash: hash(7) });
        const before = h.nextLsn();
        const saved = await h.rounds.saveRoundState(state);
        expect(saved.id).toBe(before);
        expect(saved.state).toEqual(state);
        expect(await h.rounds.loadRoundState()).toEqual(saved);
        const again = await h.reopen();
        expect(await again.rounds.loadRoundState()).toEqual(saved);
        return again;
      }));

    it('every optional field round-trips exactly, and later mutation of the input changes nothing', () =>
      withStore(async (h) => {
        const state = roundState(3, 9, 'precommit', {
          lockedRound: 8,
          lockedBlockHash: hash(1),
          validRound: 9,
          validBlockHash: hash(2),
          proposalBlockHash: hash(3),
          proposer: 'p'.repeat(128),
          appData: new Uint8Array([0, 1, 2, 255]),
          isProposer: false,
          validatorCount: 65_536,
          quorumSize: 43_691,
        });
        const copy = structuredClone(state);
        await h.rounds.saveRoundState(state);
        (state.lockedBlockHash as Uint8Array).fill(9);
        (state.appData as Uint8Array)[0] = 77;
        expect((await h.rounds.loadRoundState())?.state).toEqual(copy);
        const again = await h.reopen();
        expect((await again.rounds.loadRoundState())?.state).toEqual(copy);
        return again;
      }));

    it('the largest height (2^53-1) and round (2^32-1) round-trip through a reopen', () =>
      withStore(async (h) => {
        const state = roundState(2 ** 53 - 1, 2 ** 32 - 1, 'commit', { startedAt: 2 ** 53 - 2, updatedAt: 2 ** 53 - 1 });
        await h.rounds.saveRoundState(state);
        const again = await h.reopen();
        expect((await again.rounds.getRoundStateAt(2 ** 53 - 1, 2 ** 32 - 1))?.state).toEqual(state);
        return again;
      }));

    it('saving the latest state again writes nothing and returns the stored checkpoint', () =>
      withStore(async (h) => {
        const first = await h.rounds.saveRoundState(roundState(1, 1));
        const lsn = h.nextLsn();
        expect(await h.rounds.saveRoundState(roundState(1, 1))).toEqual(first);
        expect(h.nextLsn()).toBe(lsn);
      }));

    it('phases move forward within a round; the latest phase answers for that (height, round)', () =>
      withStore(async (h) => {
        for (const phase of ['propose', 'prevote', 'precommit', 'commit', 'finalize'] as const) {
          await h.rounds.saveRoundState(roundState(5, 20, phase));
        }
        expect((await h.rounds.getRoundStateAt(5, 20))?.state.phase).toBe('finalize');
        expect((await h.rounds.listRoundStates()).items).toHaveLength(1);
      }));

    it('a regression is refused with CONFLICT and writes nothing, before and after a reopen', () =>
      withStore(async (h) => {
        await h.rounds.saveRoundState(roundState(10, 30, 'precommit'));
        const check = async (store: RoundStateHarness): Promise<void> => {
          const lsn = store.nextLsn();
          await expectCode(store.rounds.saveRoundState(roundState(9, 31)), 'CONFLICT');
          await expectCode(store.rounds.saveRoundState(roundState(10, 29)), 'CONFLICT');
          await expectCode(store.rounds.saveRoundState(roundState(11, 30)), 'CONFLICT');
          await expectCode(store.rounds.saveRoundState(roundState(10, 30, 'prevote')), 'CONFLICT');
          expect(store.nextLsn()).toBe(lsn);
          expect((await store.rounds.loadRoundState())?.state).toEqual(roundState(10, 30, 'precommit'));
        };
        await check(h);
        const again = await h.reopen();
        await check(again);
        await again.rounds.saveRoundState(roundState(10, 31, 'propose'));
        await again.rounds.saveRoundState(roundState(11, 32, 'propose'));
        return again;
      }));

    it('concurrent saves are validated in call order: the second sees the first', () =>
      withStore(async (h) => {
        const [a, b] = await Promise.allSettled([
          h.rounds.saveRoundState(roundState(2, 5)),
          h.rounds.saveRoundState(roundState(2, 4)),
        ]);
        expect(a.status).toBe('fulfilled');
        expect(b.status === 'rejected' && isStoreError(b.reason, 'CONFLICT')).toBe(true);
        expect((await h.rounds.loadRoundState())?.state.round).toBe(5);
      }));

    it('getRoundStateAt answers by height (highest round) or by height and round', () =>
      withStore(async (h) => {
        await h.rounds.saveRoundState(roundState(1, 1, 'finalize'));
        await h.rounds.saveRoundState(roundState(2, 2, 'prevote'));
        await h.rounds.saveRoundState(roundState(2, 3, 'finalize'));
        await h.rounds.saveRoundState(roundState(4, 7, 'propose'));
        expect((await h.rounds.getRoundStateAt(2))?.state).toEqual(roundState(2, 3, 'finalize'));
        expect((await h.rounds.getRoundStateAt(2, 2))?.state).toEqual(roundState(2, 2, 'prevote'));
        expect(await h.rounds.getRoundStateAt(2, 4)).toBeUndefined();
        expect(await h.rounds.getRoundStateAt(3)).toBeUndefined();
        expect(await h.rounds.getRoundStateAt(4, 3)).toBeUndefined();
        expect(await h.rounds.getRoundStateAt(5)).toBeUndefined();
      }));

    it('listRoundStates returns the range oldest first, cut at the limit, and says when it was cut', () =>
      withStore(async (h) => {
        for (let height = 1; height <= 20; height++) await h.rounds.saveRoundState(roundState(height, height * 2));
        const mid = await h.rounds.listRoundStates({ startHeight: 5, endHeight: 9 });
        expect(mid.items.map((s) => s.state.height)).toEqual([5, 6, 7, 8, 9]);
        expect(mid.truncated).toBe(false);
        const limited = await h.rounds.listRoundStates({ startHeight: 15, limit: 3 });
        expect(limited.items.map((s) => s.state.height)).toEqual([15, 16, 17]);
        expect(limited.truncated).toBe(true);
        const exact = await h.rounds.listRoundStates({ startHeight: 18, limit: 3 });
        expect(exact.items.map((s) => s.state.height)).toEqual([18, 19, 20]);
        expect(exact.truncated).toBe(false);
        expect(await h.rounds.listRoundStates({ startHeight: 21 })).toEqual({ items: [], truncated: false });
        expect((await h.rounds.listRoundStates()).items.length).toBe(20);
      }));

    it('listRoundStates refuses an unknown key, a start after its end and a limit above the maximum (INVALID_ARGUMENT)', () =>
      withStore(async (h) => {
        await h.rounds.saveRoundState(roundState(1, 1));
        for (const query of [{ fromHeight: 1 }, { toHeight: 1 }, { startHeight: 1, endHeigth: 2 }, { startHeight: 2, endHeight: 1 }, { limit: 10_001 }]) {
          await expectCode(h.rounds.listRoundStates(query as never), 'INVALID_ARGUMENT');
        }
      }));

    it('pruned checkpoints stop answering, also after a reopen; the latest is kept', () =>
      withStore(async (h) => {
        for (let height = 1; height <= 10; height++) await h.rounds.saveRoundState(roundState(height, height));
        expect(await h.rounds.pruneBeforeHeight(6)).toBe(5);
        const check = async (store: RoundStateHarness): Promise<void> => {
          expect(await store.rounds.getRoundStateAt(5)).toBeUndefined();
          expect((await store.rounds.getRoundStateAt(6))?.state.height).toBe(6);
          expect((await store.rounds.listRoundStates()).items.map((s) => s.state.height)).toEqual([6, 7, 8, 9, 10]);
          expect((await store.rounds.loadRoundState())?.state.height).toBe(10);
        };
        await check(h);
        const again = await h.reopen();
        await check(again);
        return again;
      }));

    it('pruning at or below an earlier prune writes nothing; pruning past the latest is CONFLICT', () =>
      withStore(async (h) => {
        for (let height = 1; height <= 5; height++) await h.rounds.saveRoundState(roundState(height, height));
        await h.rounds.pruneBeforeHeight(3);
        const lsn = h.nextLsn();
        expect(await h.rounds.pruneBeforeHeight(3)).toBe(0);
        expect(await h.rounds.pruneBeforeHeight(1)).toBe(0);
        await expectCode(h.rounds.pruneBeforeHeight(6), 'CONFLICT');
        expect(h.nextLsn()).toBe(lsn);
        expect(await h.rounds.pruneBeforeHeight(5)).toBe(2);
        expect((await h.rounds.listRoundStates()).items.map((s) => s.state.height)).toEqual([5]);
      }));

    it('a checkpoint below a pruned height is refused with CONFLICT', () =>
      withStore(async (h) => {
        expect(await h.rounds.pruneBeforeHeight(100)).toBe(0);
        const lsn = h.nextLsn();
        await expectCode(h.rounds.saveRoundState(roundState(99, 1)), 'CONFLICT');
        expect(h.nextLsn()).toBe(lsn);
        await h.rounds.saveRoundState(roundState(100, 1));
        const again = await h.reopen();
        await expectCode(again.rounds.saveRoundState(roundState(50, 2)), 'CONFLICT');
        return again;
      }));

    it('bad input to every method is INVALID_ARGUMENT, writes nothing, and the store still works', () =>
      withStore(async (h) => {
        await h.rounds.saveRoundState(roundState(1, 1));
        const badHeight = junk().filter((v) => !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0));
        const badRound = junk().filter((v) => v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v < 2 ** 32));
        const badQuery = fc.oneof(
          junk().filter((v) => v !== undefined && (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array)),
          fc.record({ startHeight: badHeight.filter((v) => v !== undefined) }),
          fc.record({ endHeight: badHeight.filter((v) => v !== undefined) }),
          fc.record({ limit: fc.oneof(fc.constant(0), fc.constant(10_001), fc.constant(1.5), fc.constant('5')) }),
          fc.constant({ startHeight: 5, endHeight: 4 }),
          fc.constantFrom({ fromHeight: 1 }, { toHeight: 1 }, { from: 1 }),
        );
        await expectEveryInvalid(
          fc.oneof(
            badState().map((s) => ['saveRoundState', s] as const),
            badHeight.map((v) => ['getRoundStateAt', v] as const),
            badRound.map((v) => ['getRoundStateAt', 1, v] as const),
            badQuery.map((q) => ['listRoundStates', q] as const),
            badHeight.map((v) => ['pruneBeforeHeight', v] as const),
          ),
          ([method, ...args]) => callMethod(h.rounds, method, args),
          () => h.nextLsn(),
          { seed: propertySeed('ROUNDS_SEED', `round-state bad-input property (${name})`), numRuns: 300 },
        );
        await h.rounds.saveRoundState(roundState(1, 2));
        expect((await h.rounds.loadRoundState())?.state.round).toBe(2);
      }));
  });
}
