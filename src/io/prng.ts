/**
 * A small seeded pseudo-random generator (sfc32, seeded through splitmix32) for everything in
 * the project that must be reproducible from one number: the simulated disk's crash decisions,
 * fuzzers, seeded model tests.
 *
 * It must never be used for anything secret (keys, nonces): it is predictable by design. It
 * must never read a clock or `Math.random`: the same seed gives the same stream, on every
 * platform and Node version.
 */

const TWO_POW_32 = 0x1_0000_0000;
const TWO_POW_53 = 2 ** 53;

/** One step of splitmix32: a good scrambler for turning a seed into generator state. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A deterministic pseudo-random number generator (sfc32, period about 2^128).
 *
 * ```ts
 * const prng = new Prng(42);
 * prng.int(1, 6); // the same die roll on every run with seed 42
 * ```
 */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /**
   * @param seed any finite number; all 53 integer bits matter (so `Date.now()` is a fine seed),
   *   the fraction is ignored.
   * @throws RangeError when `seed` is not finite.
   */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`Prng seed must be a finite number, got ${seed}`);
    const whole = Math.trunc(seed);
    const lo = whole >>> 0;
    const hi = Math.floor(whole / TWO_POW_32) >>> 0;
    const mix = { s: lo ^ Math.imul(hi, 0x27d4eb2d) };
    this.#a = splitmix32(mix);
    this.#b = splitmix32(mix);
    this.#c = splitmix32(mix);
    this.#d = splitmix32(mix) | 1;
    // Warm up so that close seeds give unrelated early outputs.
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** The next value, a uniform integer in [0, 2^32). */
  nextU32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A uniform float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.nextU32() / TWO_POW_32;
  }

  /**
   * A uniform integer in [min, maxInclusive], without modulo bias.
   * @throws RangeError when the bounds are not safe integers, `min > maxInclusive`, or the span
   *   exceeds 2^53.
   */
  int(min: number, maxInclusive: number): number {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(maxInclusive) || min > maxInclusive) {
      throw new RangeError(`Prng.int needs safe integers min <= max, got ${min}, ${maxInclusive}`);
    }
    const span = maxInclusive - min + 1;
    if (span > TWO_POW_53) throw new RangeError(`Prng.int span too large: ${span}`);
    if (span <= TWO_POW_32) {
      const limit = TWO_POW_32 - (TWO_POW_32 % span);
      for (;;) {
        const x = this.nextU32();
        if (x < limit) return min + (x % span);
      }
    }
    const limit = TWO_POW_53 - (TWO_POW_53 % span);
    for (;;) {
      const x = this.nextU32() * 0x20_0000 + (this.nextU32() >>> 11);
      if (x < limit) return min + (x % span);
    }
  }

  /**
   * True with probability `p` (default 0.5).
   * @throws RangeError when `p` is not in [0, 1].
   */
  bool(p = 0.5): boolean {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Prng.bool probability must be in [0, 1], got ${p}`);
    return this.float() < p;
  }

  /**
   * A uniformly chosen element of `xs`.
   * @throws RangeError when `xs` is empty.
   */
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new RangeError('Prng.pick of an empty array');
    return xs[this.int(0, xs.length - 1)] as T;
  }

  /** Fills `bytes` with random bytes and returns it. */
  fill(bytes: Uint8Array): Uint8Array {
    for (let i = 0; i < bytes.length; i += 4) {
      let x = this.nextU32();
      for (let j = i; j < Math.min(i + 4, bytes.length); j++) {
        bytes[j] = x & 0xff;
        x >>>= 8;
      }
    }
    return bytes;
  }

  /** A new generator seeded from this one: an independent stream for a sub-task. */
  fork(): Prng {
    return new Prng(this.nextU32() * 0x20_0000 + (this.nextU32() >>> 11));
  }
}
