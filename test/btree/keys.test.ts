/**
 * Tests of the key comparators: each is a total order consistent with its documented meaning
 * (checked against sorting by an independent definition), deterministic, and tuple comparators
 * order prefixes before the tuples they begin. Reproduce a failure with FC_SEED=<printed seed>.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareBigInts,
  compareBytes,
  compareNumbers,
  compareStrings,
  descending,
  tupleComparator,
  type Comparator,
} from '../../src/btree/keys.ts';

const seed = Number(process.env.FC_SEED ?? Date.now());
console.log('seed', seed);

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

/** Antisymmetry, reflexivity and transitivity of `compare` on arbitrary values. */
function expectTotalOrder<T>(arb: fc.Arbitrary<T>, compare: Comparator<T>, runSeed: number): void {
  fc.assert(
    fc.property(arb, arb, arb, (a, b, c) => {
      expect(compare(a, a)).toBe(0);
      expect(sign(compare(a, b)) + sign(compare(b, a))).toBe(0);
      if (compare(a, b) <= 0 && compare(b, c) <= 0) expect(compare(a, c)).toBeLessThanOrEqual(0);
    }),
    { seed: runSeed, numRuns: 300 },
  );
}

describe('compareNumbers and compareBigInts', () => {
  it('order numbers numerically, including negatives, infinities and -0 equal to 0', () => {
    const sorted = [5, -1, Infinity, 0, -Infinity, 2.5, -0].sort(compareNumbers);
    expect(sorted).toEqual([-Infinity, -1, 0, -0, 2.5, 5, Infinity]);
    expect(compareNumbers(-0, 0)).toBe(0);
    expectTotalOrder(fc.double({ noNaN: true }), compareNumbers, seed);
  });

  it('order bigints numerically beyond 2^53', () => {
    expect(compareBigInts(2n ** 64n, 2n ** 64n + 1n)).toBe(-1);
    expect(compareBigInts(-5n, -6n)).toBe(1);
    expectTotalOrder(fc.bigInt(), compareBigInts, seed + 1);
  });
});

describe('compareStrings', () => {
  it('orders by UTF-16 code unit, not by locale', () => {
    expect(['b', 'a', 'Z', 'é', 'z', 'A'].sort(compareStrings)).toEqual(['A', 'Z', 'a', 'b', 'z', 'é']);
    // A supplementary-plane character starts with a high surrogate (0xD83D), below U+FFFF.
    expect(compareStrings('\u{1F600}', '\uFFFF')).toBe(-1);
    expect(compareStrings('ab', 'abc')).toBe(-1);
    expect(compareStrings('', '')).toBe(0);
  });

  it('agrees with comparing the code unit sequences one by one', () => {
    const byCodeUnits = (a: string, b: string): number => {
      for (let i = 0; i < Math.min(a.length, b.length); i++) {
        const d = a.charCodeAt(i) - b.charCodeAt(i);
        if (d !== 0) return sign(d);
      }
      return sign(a.length - b.length);
    };
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        expect(compareStrings(a, b)).toBe(byCodeUnits(a, b));
      }),
      { seed: seed + 2, numRuns: 500 },
    );
    expectTotalOrder(fc.string({ unit: 'binary', maxLength: 4 }), compareStrings, seed + 3);
  });
});

describe('compareBytes', () => {
  it('orders unsigned and lexicographically, a prefix before its extensions', () => {
    const b = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
    expect(compareBytes(b(1, 2), b(1, 2))).toBe(0);
    expect(compareBytes(b(1, 2), b(1, 2, 0))).toBe(-1);
    expect(compareBytes(b(0xff), b(0x00, 0xff))).toBe(1);
    expect(compareBytes(b(), b(0))).toBe(-1);
  });

  it('agrees with comparing the hex encodings as strings', () => {
    const hex = (x: Uint8Array): string => Buffer.from(x).toString('hex');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 6 }), fc.uint8Array({ maxLength: 6 }), (a, b) => {
        expect(compareBytes(a, b)).toBe(compareStrings(hex(a), hex(b)));
      }),
      { seed: seed + 4, numRuns: 500 },
    );
  });
});

describe('tupleComparator', () => {
  const voteKey = tupleComparator(compareNumbers, compareStrings, compareNumbers);

  it('orders (round, validator, type) lexicographically: the first difference decides', () => {
    const keys = [
      [2, 'a', 1],
      [1, 'b', 2],
      [1, 'b', 1],
      [1, 'a', 9],
      [10, 'a', 0],
    ];
    expect(keys.sort(voteKey)).toEqual([[1, 'a', 9], [1, 'b', 1], [1, 'b', 2], [2, 'a', 1], [10, 'a', 0]]);
  });

  it('orders a prefix before every tuple it begins and after every smaller tuple', () => {
    expect(voteKey([1], [1, 'a', 0])).toBe(-1);
    expect(voteKey([1, 'a'], [1, 'a', 0])).toBe(-1);
    expect(voteKey([1, 'b'], [1, 'a', 9])).toBe(1);
    expect(voteKey([2], [1, 'z', 9])).toBe(1);
    expect(voteKey([], [0, '', 0])).toBe(-1);
    expect(voteKey([], [])).toBe(0);
  });

  it('ignores components beyond its width', () => {
    expect(voteKey([1, 'a', 1, 'extra'], [1, 'a', 1])).toBe(0);
  });

  it('applies a descending component in reverse', () => {
    const newestFirst = tupleComparator(compareStrings, descending(compareNumbers));
    expect([['v', 1], ['v', 3], ['u', 2]].sort(newestFirst)).toEqual([['u', 2], ['v', 3], ['v', 1]]);
  });

  it('is a total order that agrees with a reference definition for widths 1 to 5', () => {
    const component = fc.integer({ min: 0, max: 3 });
    for (let width = 1; width <= 5; width++) {
      const compare = tupleComparator(...Array.from({ length: width }, () => compareNumbers));
      const reference = (a: readonly number[], b: readonly number[]): number => {
        for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return sign((a[i] as number) - (b[i] as number));
        return sign(a.length - b.length);
      };
      const tuple = fc.array(component, { maxLength: width });
      fc.assert(
        fc.property(tuple, tuple, (a, b) => {
          expect(sign(compare(a, b))).toBe(reference(a, b));
        }),
        { seed: seed + 10 + width, numRuns: 300 },
      );
      expectTotalOrder(tuple, compare, seed + 20 + width);
    }
  });

  it('refuses to build a comparator with no components', () => {
    expect(() => tupleComparator()).toThrow(RangeError);
  });
});
