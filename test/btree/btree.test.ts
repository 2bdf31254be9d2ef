/**
 * Tests of the index B+tree: a reference model (a sorted array) driven by seeded random
 * operations with the invariant checker after every mutation, exhaustive range bounds, reversed
 * iteration, counts, pruning, iterator invalidation and the bulk shapes of a replay.
 * Reproduce a failure with FC_SEED=<printed seed>.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BTree, type RangeOptions } from '../../src/btree/btree.ts';
import { compareNumbers, compareStrings, tupleComparator } from '../../src/btree/keys.ts';
import { isStoreError } from '../../src/errors.ts';

const seed = Number(process.env.FC_SEED ?? Date.now());
console.log('seed', seed);

/** The reference: entries sorted by key, found by linear scans (obviously right, slow). */
class SortedArrayModel {
  entries: [number, number][] = [];

  set(k: number, v: number): boolean {
    const i = this.entries.findIndex(([key]) => key >= k);
    if (i >= 0 && this.entries[i]?.[0] === k) {
      this.entries[i] = [k, v];
      return false;
    }
    this.entries.splice(i < 0 ? this.entries.length : i, 0, [k, v]);
    return true;
  }

  delete(k: number): boolean {
    const i = this.entries.findIndex(([key]) => key === k);
    if (i < 0) return false;
    this.entries.splice(i, 1);
    return true;
  }

  deleteBelow(hi: number): number {
    const before = this.entries.length;
    this.entries = this.entries.filter(([key]) => key >= hi);
    return before - this.entries.length;
  }

  range(lo: number | undefined, hi: number | undefined, hiInclusive: boolean): [number, number][] {
    return this.entries.filter(
      ([k]) => (lo === undefined || k >= lo) && (hi === undefined || (hiInclusive ? k <= hi : k < hi)),
    );
  }
}

function rangeOptions(hiInclusive: boolean | undefined): RangeOptions | undefined {
  return hiInclusive === undefined ? undefined : { hiInclusive };
}

/** Compares every query of `tree` on one range against the model. */
function expectRangeMatches(
  tree: BTree<number, number>,
  model: SortedArrayModel,
  lo: number | undefined,
  hi: number | undefined,
  hiInclusive: boolean | undefined,
): void {
  const options = rangeOptions(hiInclusive);
  const expected = model.range(lo, hi, hiInclusive === true);
  expect([...tree.entries(lo, hi, options)]).toEqual(expected);
  expect([...tree.entriesReversed(hi, lo, options)]).toEqual([...expected].reverse());
  expect([...tree.keys(lo, hi, options)]).toEqual(expected.map(([k]) => k));
  expect([...tree.values(lo, hi, options)]).toEqual(expected.map(([, v]) => v));
  expect([...tree.keysReversed(hi, lo, options)]).toEqual(expected.map(([k]) => k).reverse());
  expect(tree.countRange(lo, hi, options)).toBe(expected.length);
}

type Op =
  | { readonly kind: 'set'; readonly key: number; readonly value: number }
  | { readonly kind: 'delete'; readonly key: number }
  /** `append` of (largest key, or 3 when empty) + delta: above the largest when delta > 0. */
  | { readonly kind: 'append'; readonly delta: number; readonly value: number }
  | { readonly kind: 'deleteBelow'; readonly key: number }
  | { readonly kind: 'clear' }
  | { readonly kind: 'query'; readonly lo: number | undefined; readonly hi: number | undefined; readonly hiInclusive: boolean | undefined };

function opsArbitrary(keySpace: number): fc.Arbitrary<Op[]> {
  const key = fc.integer({ min: 0, max: keySpace });
  const bound = fc.option(fc.integer({ min: -2, max: keySpace + 2 }), { nil: undefined });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 12, arbitrary: fc.record({ kind: fc.constant('set' as const), key, value: fc.integer() }) },
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('append' as const), delta: fc.integer({ min: -3, max: 5 }), value: fc.integer() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteBelow' as const), key }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('query' as const),
        lo: bound,
        hi: bound,
        hiInclusive: fc.constantFrom(undefined, false, true),
      }),
    },
  );
  return fc.array(op, { maxLength: 400, size: 'max' });
}

function runOps(maxNodeSize: number, ops: readonly Op[]): void {
  const tree = new BTree<number, number>(compareNumbers, { maxNodeSize });
  const model = new SortedArrayModel();
  for (const op of ops) {
    switch (op.kind) {
      case 'set':
        expect(tree.set(op.key, op.value)).toBe(model.set(op.key, op.value));
        break;
      case 'delete':
        expect(tree.delete(op.key)).toBe(model.delete(op.key));
        break;
      case 'append': {
        const max = model.entries.at(-1)?.[0];
        const key = (max ?? 3) + op.delta;
        const above = max === undefined || key > max;
        expect(tree.append(key, op.value)).toBe(above);
        if (above) model.set(key, op.value);
        break;
      }
      case 'deleteBelow':
        expect(tree.deleteBelow(op.key)).toBe(model.deleteBelow(op.key));
        break;
      case 'clear':
        tree.clear();
        model.entries = [];
        break;
      case 'query':
        expectRangeMatches(tree, model, op.lo, op.hi, op.hiInclusive);
        continue;
    }
    tree.checkInvariants();
    expect(tree.size).toBe(model.entries.length);
  }
  expect([...tree]).toEqual(model.entries);
  expect(tree.minKey()).toBe(model.entries[0]?.[0]);
  expect(tree.maxKey()).toBe(model.entries.at(-1)?.[0]);
  for (const [k, v] of model.entries) {
    expect(tree.get(k)).toBe(v);
    expect(tree.has(k)).toBe(true);
  }
  expect(tree.get(-1)).toBeUndefined();
  expect(tree.has(-1)).toBe(false);
}

describe('BTree against a sorted-array model', () => {
  it('agrees with the model on random operations with tiny nodes (deep splits and merges)', () => {
    fc.assert(fc.property(opsArbitrary(120), (ops) => runOps(4, ops)), { seed, numRuns: 150 });
  });

  it('agrees with the model on random operations for several node sizes', () => {
    fc.assert(
      fc.property(fc.constantFrom(5, 6, 7, 8, 16, 64), opsArbitrary(400), (maxNodeSize, ops) => runOps(maxNodeSize, ops)),
      { seed: seed + 1, numRuns: 80 },
    );
  });

  it('agrees with the model while growing to 2,000 keys in random order and shrinking back to empty', () => {
    const keys = Array.from({ length: 2000 }, (_, i) => i);
    const order = fc.shuffledSubarray(keys, { minLength: keys.length });
    fc.assert(
      fc.property(order, order, fc.constantFrom(4, 5), (inserts, deletes, maxNodeSize) => {
        const tree = new BTree<number, number>(compareNumbers, { maxNodeSize });
        const model = new SortedArrayModel();
        const steps = [...inserts.map((k) => ({ k, insert: true })), ...deletes.map((k) => ({ k, insert: false }))];
        steps.forEach(({ k, insert }, n) => {
          expect(insert ? tree.set(k, n) : tree.delete(k)).toBe(insert ? model.set(k, n) : model.delete(k));
          if (n % 16 === 0) tree.checkInvariants();
          if (n % 500 === 0) expectRangeMatches(tree, model, k - 40, k + 40, undefined);
        });
        tree.checkInvariants();
        expect(tree.size).toBe(0);
      }),
      { seed: seed + 3, numRuns: 6 },
    );
  });

  it('keeps every invariant when the newest keys of an ascending replay are deleted newest first', () => {
    for (const maxNodeSize of [4, 5, 6]) {
      const tree = new BTree<number, number>(compareNumbers, { maxNodeSize });
      for (let i = 0; i < 500; i++) tree.set(i, i);
      tree.checkInvariants();
      for (let i = 499; i >= 0; i--) {
        expect(tree.delete(i)).toBe(true);
        tree.checkInvariants();
        expect(tree.maxKey()).toBe(i === 0 ? undefined : i - 1);
      }
      for (let i = 0; i < 100; i++) tree.set(i, i);
      for (let i = 99; i >= 50; i -= 3) tree.delete(i);
      tree.checkInvariants();
    }
  });

  it('agrees with the model when mostly-ascending inserts alternate with pruning (the replay and prune pattern)', () => {
    const step = fc.record({ inserts: fc.integer({ min: 1, max: 60 }), gap: fc.integer({ min: 1, max: 3 }), prune: fc.nat(40) });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30, size: 'max' }), fc.constantFrom(4, 5, 8), (steps, maxNodeSize) => {
        const tree = new BTree<number, number>(compareNumbers, { maxNodeSize });
        const model = new SortedArrayModel();
        let next = 0;
        for (const { inserts, gap, prune } of steps) {
          for (let i = 0; i < inserts; i++, next += gap) {
            tree.set(next, i);
            model.set(next, i);
          }
          tree.checkInvariants();
          const cut = (model.entries[0]?.[0] ?? 0) + prune;
          expect(tree.deleteBelow(cut)).toBe(model.deleteBelow(cut));
          tree.checkInvariants();
        }
        expect([...tree]).toEqual(model.entries);
      }),
      { seed: seed + 2, numRuns: 100 },
    );
  });
});

describe('BTree range queries', () => {
  const model = new SortedArrayModel();
  const tree = new BTree<number, number>(compareNumbers, { maxNodeSize: 4 });
  for (let i = 0; i < 40; i++) {
    tree.set(2 * i, i);
    model.set(2 * i, i);
  }
  const bounds = [undefined, ...Array.from({ length: 84 }, (_, i) => i - 2)];

  it('matches the model for every pair of bounds, present or absent, with and without hiInclusive', () => {
    for (const lo of bounds) {
      for (const hi of bounds) {
        for (const hiInclusive of [undefined, false, true]) expectRangeMatches(tree, model, lo, hi, hiInclusive);
      }
    }
  });

  it('yields nothing for an inverted range and counts it as zero', () => {
    expect([...tree.entries(50, 10)]).toEqual([]);
    expect([...tree.entriesReversed(10, 50)]).toEqual([]);
    expect(tree.countRange(50, 10, { hiInclusive: true })).toBe(0);
  });

  it('answers "most recent N" with a reversed scan stopped early', () => {
    const recent: number[] = [];
    for (const [k] of tree.entriesReversed()) {
      recent.push(k);
      if (recent.length === 3) break;
    }
    expect(recent).toEqual([78, 76, 74]);
  });

  it('answers "last key at or below h" with a reversed inclusive scan', () => {
    expect(tree.entriesReversed(31, undefined, { hiInclusive: true }).next().value).toEqual([30, 15]);
    expect(tree.entriesReversed(30, undefined, { hiInclusive: true }).next().value).toEqual([30, 15]);
    expect(tree.entriesReversed(30).next().value).toEqual([28, 14]);
  });

  it('behaves as an empty map when empty', () => {
    const empty = new BTree<number, string>(compareNumbers);
    expect([...empty.entries()]).toEqual([]);
    expect([...empty.entriesReversed()]).toEqual([]);
    expect([...empty.entries(1, 5)]).toEqual([]);
    expect(empty.countRange()).toBe(0);
    expect(empty.minKey()).toBeUndefined();
    expect(empty.maxKey()).toBeUndefined();
    expect(empty.deleteBelow(10)).toBe(0);
    expect(empty.delete(1)).toBe(false);
    empty.checkInvariants();
  });
});

describe('BTree with tuple keys', () => {
  it('selects one round of a (round, validator, type) index with a prefix range', () => {
    const tree = new BTree<readonly unknown[], number>(tupleComparator(compareNumbers, compareStrings, compareNumbers), {
      maxNodeSize: 4,
    });
    let lsn = 0;
    for (const round of [3, 1, 2]) for (const v of ['carol', 'alice', 'bob']) for (const type of [2, 1]) tree.set([round, v, type], lsn++);
    tree.checkInvariants();
    expect([...tree.keys([2], [3])]).toEqual([
      [2, 'alice', 1], [2, 'alice', 2], [2, 'bob', 1], [2, 'bob', 2], [2, 'carol', 1], [2, 'carol', 2],
    ]);
    expect(tree.countRange([1, 'bob'], [1, 'bob', Infinity], { hiInclusive: true })).toBe(2);
    expect(tree.get([3, 'alice', 2])).toBe(2);
  });
});

describe('BTree iterators under mutation', () => {
  function filled(n: number): BTree<number, number> {
    const tree = new BTree<number, number>(compareNumbers, { maxNodeSize: 4 });
    for (let i = 0; i < n; i++) tree.set(i, i);
    return tree;
  }

  it('throws on next() after a new key was inserted', () => {
    const tree = filled(20);
    const it = tree.entries();
    it.next();
    tree.set(100, 1);
    expect(() => it.next()).toThrow(/changed during iteration/);
  });

  it('throws on next() after a delete, a deleteBelow or a clear, forward and reversed', () => {
    const mutations: ((t: BTree<number, number>) => unknown)[] = [(t) => t.delete(5), (t) => t.deleteBelow(3), (t) => t.clear()];
    for (const mutate of mutations) {
      const tree = filled(20);
      const forward = tree.entries();
      const backward = tree.entriesReversed();
      forward.next();
      backward.next();
      mutate(tree);
      expect(() => forward.next()).toThrow(/changed during iteration/);
      expect(() => backward.next()).toThrow(/changed during iteration/);
    }
  });

  it('throws when the tree changed between creating the iterator and its first next()', () => {
    const tree = filled(10);
    const it = tree.keys(2, 8);
    tree.delete(9);
    expect(() => it.next()).toThrow(/changed during iteration/);
  });

  it('allows replacing the value of an existing key during iteration and shows the new values ahead', () => {
    const tree = filled(10);
    const seen: number[] = [];
    for (const [k, v] of tree.entries()) {
      seen.push(v);
      if (k + 1 < 10) tree.set(k + 1, (k + 1) * 10);
    }
    expect(seen).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  });

  it('does not throw from an exhausted iterator or from a no-op delete', () => {
    const tree = filled(5);
    const it = tree.entries();
    while (!it.next().done);
    const live = tree.entries();
    tree.delete(100);
    tree.deleteBelow(-1);
    expect(live.next().value).toEqual([0, 0]);
    tree.set(100, 1);
    expect(it.next().done).toBe(true);
  });
});

describe('BTree bulk shapes', () => {
  it('takes 200k ascending inserts into full leaves and keeps every invariant', () => {
    const tree = new BTree<number, number>(compareNumbers);
    const start = performance.now();
    let added = 0;
    for (let i = 0; i < 200_000; i++) if (tree.set(i, i)) added++;
    const ms = performance.now() - start;
    expect(added).toBe(200_000);
    console.log(`200k ascending inserts: ${ms.toFixed(1)} ms`, tree.stats());
    tree.checkInvariants();
    expect(tree.size).toBe(200_000);
    expect(tree.stats().leafFill).toBe(1);
    expect(tree.countRange(1000, 151_000)).toBe(150_000);
    expect(tree.get(123_456)).toBe(123_456);
    expect(tree.minKey()).toBe(0);
    expect(tree.maxKey()).toBe(199_999);
    expect(tree.deleteBelow(150_000)).toBe(150_000);
    tree.checkInvariants();
    expect(tree.minKey()).toBe(150_000);
    expect(tree.size).toBe(50_000);
    expect(tree.deleteBelow(Infinity)).toBe(50_000);
    tree.checkInvariants();
    expect(tree.stats()).toMatchObject({ depth: 1, leaves: 1 });
  });

  it('takes 200k appends (the replay fast path) into full leaves, refuses a key not above the largest, and mixes with set', () => {
    const tree = new BTree<number, number>(compareNumbers);
    const start = performance.now();
    for (let i = 0; i < 200_000; i++) expect(tree.append(i * 2, i)).toBe(true);
    console.log(`200k appends: ${(performance.now() - start).toFixed(1)} ms`, tree.stats());
    tree.checkInvariants();
    expect(tree.stats().leafFill).toBe(1);
    expect(tree.append(399_998, 0)).toBe(false);
    expect(tree.append(7, 0)).toBe(false);
    expect(tree.get(399_998)).toBe(199_999);
    expect(tree.size).toBe(200_000);
    expect(tree.set(7, -7)).toBe(true);
    expect(tree.append(400_000, 200_000)).toBe(true);
    tree.checkInvariants();
    expect(tree.size).toBe(200_002);
    expect(tree.countRange(0, 20)).toBe(11);
    expect([...tree.keysReversed(undefined, 399_990)]).toEqual([400_000, 399_998, 399_996, 399_994, 399_992, 399_990]);
    expect(tree.deleteBelow(399_000)).toBe(199_501);
    expect(tree.append(400_002, 1)).toBe(true);
    tree.checkInvariants();
  });

  it('iterators created before an append throw on their next next()', () => {
    const tree = new BTree<number, number>(compareNumbers);
    tree.append(1, 1);
    const it = tree.keys();
    tree.append(2, 2);
    expect(() => it.next()).toThrow(/changed during iteration/);
  });

  it('takes descending inserts and deletes of every other key without breaking an invariant', () => {
    const tree = new BTree<number, number>(compareNumbers, { maxNodeSize: 8 });
    for (let i = 20_000; i > 0; i--) tree.set(i, -i);
    tree.checkInvariants();
    for (let i = 1; i <= 20_000; i += 2) expect(tree.delete(i)).toBe(true);
    tree.checkInvariants();
    expect(tree.size).toBe(10_000);
    expect([...tree.keys(1, 9)]).toEqual([2, 4, 6, 8]);
  });

  it('keeps leaves about 3/4 full when many groups each append in order (a (validator, round) index)', () => {
    const tree = new BTree<readonly unknown[], number>(tupleComparator(compareStrings, compareNumbers));
    const validators = Array.from({ length: 50 }, (_, i) => `v${String(i).padStart(2, '0')}`);
    for (let round = 0; round < 2000; round++) for (const v of validators) tree.set([v, round], round);
    tree.checkInvariants();
    expect(tree.stats().leafFill).toBeGreaterThan(0.7);
    expect(tree.countRange(['v07'], ['v08'])).toBe(2000);
  });
});

describe('BTree argument and invariant errors', () => {
  it('rejects a maxNodeSize outside [4, 4096] or not an integer with INVALID_ARGUMENT', () => {
    for (const maxNodeSize of [3, 4097, 4.5, Number.NaN]) {
      let caught: unknown;
      try {
        new BTree<number, number>(compareNumbers, { maxNodeSize });
      } catch (err) {
        caught = err;
      }
      expect(isStoreError(caught, 'INVALID_ARGUMENT')).toBe(true);
    }
  });

  it('rejects a comparator that is not a function with INVALID_ARGUMENT', () => {
    expect(() => new BTree<number, number>(undefined as unknown as typeof compareNumbers)).toThrow(/compare must be a function/);
  });

  it('reports broken ordering when the comparator changes its mind after inserts', () => {
    let sign = 1;
    const tree = new BTree<number, number>((a, b) => sign * compareNumbers(a, b), { maxNodeSize: 4 });
    for (let i = 0; i < 50; i++) tree.set(i, i);
    tree.checkInvariants();
    sign = -1;
    expect(() => tree.checkInvariants()).toThrow(/invariant violated \(ordering\)/);
  });
});
