/** The seeded PRNG: reproducible streams, bounds, argument checks. */
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/io/prng.ts';

function take(prng: Prng, n: number): number[] {
  return Array.from({ length: n }, () => prng.nextU32());
}

describe('Prng', () => {
  it('the same seed gives the same stream, different seeds different ones', () => {
    expect(take(new Prng(42), 20)).toEqual(take(new Prng(42), 20));
    expect(take(new Prng(42), 20)).not.toEqual(take(new Prng(43), 20));
    expect(take(new Prng(1_700_000_000_000), 5)).not.toEqual(take(new Prng(1_700_000_000_000 + 2 ** 32), 5));
    expect(take(new Prng(0), 5)).not.toEqual(take(new Prng(-1), 5));
  });

  it('the stream is pinned: these values never change between versions', () => {
    expect(take(new Prng(12345), 3)).toEqual([1412780458, 2987940632, 2018378644]);
  });

  it('int stays within its inclusive bounds and reaches both ends', () => {
    const prng = new Prng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const x = prng.int(-3, 3);
      expect(x >= -3 && x <= 3).toBe(true);
      seen.add(x);
    }
    expect(seen.size).toBe(7);
    expect(prng.int(5, 5)).toBe(5);
    const big = prng.int(0, 2 ** 53 - 1);
    expect(Number.isSafeInteger(big)).toBe(true);
    expect(() => prng.int(3, 2)).toThrow(RangeError);
    expect(() => prng.int(0.5, 2)).toThrow(RangeError);
  });

  it('float is in [0, 1), bool follows its probability, pick chooses from the array', () => {
    const prng = new Prng(9);
    let trues = 0;
    for (let i = 0; i < 4000; i++) {
      const f = prng.float();
      expect(f >= 0 && f < 1).toBe(true);
      if (prng.bool(0.25)) trues++;
    }
    expect(trues).toBeGreaterThan(800);
    expect(trues).toBeLessThan(1200);
    expect(prng.bool(0)).toBe(false);
    expect(prng.bool(1)).toBe(true);
    expect(() => prng.bool(2)).toThrow(RangeError);
    expect(['a', 'b']).toContain(prng.pick(['a', 'b']));
    expect(() => prng.pick([])).toThrow(RangeError);
    expect(() => new Prng(Number.NaN)).toThrow(RangeError);
  });

  it('fill and fork are reproducible', () => {
    const a = new Prng(1);
    const b = new Prng(1);
    expect(a.fill(new Uint8Array(13))).toEqual(b.fill(new Uint8Array(13)));
    expect(take(a.fork(), 4)).toEqual(take(b.fork(), 4));
  });
});
