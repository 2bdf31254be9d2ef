/**
 * Comparators for index keys: numbers, bigints, strings, byte strings, and tuples of them (the
 * composite keys of the stores, e.g. (round, validator, voteType) or (height, LSN)).
 *
 * Every comparator here is a total order that depends only on its arguments: no locale, no
 * Intl, no wall clock, so two nodes (or one node before and after a restart) sort the same keys
 * the same way. They must never allocate per call: a replay compares a million keys ~20 times
 * each, and garbage there is time.
 */

/** Orders two keys: negative if `a` sorts first, positive if `b` does, 0 if they are equal. */
export type Comparator<K> = (a: K, b: K) => number;

/**
 * Numeric order. `-0` and `0` are equal. NaN must never be used as a key (it is unordered:
 * comparing it returns 0 against everything, which corrupts any index it enters).
 */
export function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Numeric order for bigints (amounts, u64 values). */
export function compareBigInts(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Orders strings by UTF-16 code unit, as JavaScript's `<` does: deterministic and
 * locale-independent ("Z" < "a", and a supplementary-plane character, stored as a surrogate pair
 * starting 0xD8..0xDB, sorts before U+E000..U+FFFF). Never use `localeCompare` for keys.
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders byte strings lexicographically, unsigned (src/codec/bytes.ts, where the codecs use it too). */
export { compareBytes } from '../codec/bytes.ts';

/** The reverse of `compare` (for a descending component inside a tuple key). */
export function descending<K>(compare: Comparator<K>): Comparator<K> {
  return (a, b) => compare(b, a);
}

/**
 * Builds a lexicographic comparator for tuple keys: component `i` is ordered by `parts[i]`, the
 * first difference decides.
 *
 * Prefixes are allowed and sort before every tuple they begin, so a shorter tuple is a range
 * bound for a group: with keys `[round, validator, type]`, `tree.entries([r], [r + 1])` yields
 * exactly the keys of round `r`. Components beyond `parts.length` are ignored. Components are
 * read directly, nothing is allocated per comparison.
 *
 * @param parts - one comparator per tuple position (at least one).
 * @returns a comparator over tuples (and their prefixes).
 * @throws RangeError if `parts` is empty.
 */
export function tupleComparator(...parts: Comparator<any>[]): Comparator<readonly unknown[]> {
  const width = parts.length;
  if (width === 0) throw new RangeError('tupleComparator needs at least one component comparator');
  const [p0, p1, p2] = parts as [Comparator<unknown>, Comparator<unknown>, Comparator<unknown>];
  // Widths 1..3 cover every index of the stores; they are unrolled so that V8 inlines them.
  if (width === 1) {
    return (a, b) => {
      if (a.length === 0 || b.length === 0) return compareGeneric(parts, a, b);
      return p0(a[0], b[0]);
    };
  }
  if (width === 2) {
    return (a, b) => {
      if (a.length < 2 || b.length < 2) return compareGeneric(parts, a, b);
      const c = p0(a[0], b[0]);
      return c !== 0 ? c : p1(a[1], b[1]);
    };
  }
  if (width === 3) {
    return (a, b) => {
      if (a.length < 3 || b.length < 3) return compareGeneric(parts, a, b);
      const c = p0(a[0], b[0]);
      if (c !== 0) return c;
      const d = p1(a[1], b[1]);
      return d !== 0 ? d : p2(a[2], b[2]);
    };
  }
  return (a, b) => compareGeneric(parts, a, b);
}

/** The general case of `tupleComparator`: any width, prefixes first. */
function compareGeneric(
  parts: readonly Comparator<unknown>[],
  a: readonly unknown[],
  b: readonly unknown[],
): number {
  const width = parts.length;
  const la = a.length < width ? a.length : width;
  const lb = b.length < width ? b.length : width;
  const n = la < lb ? la : lb;
  for (let i = 0; i < n; i++) {
    const c = (parts[i] as Comparator<unknown>)(a[i], b[i]);
    if (c !== 0) return c;
  }
  return la < lb ? -1 : la > lb ? 1 : 0;
}
