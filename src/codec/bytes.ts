/**
 * Byte-string order, shared by the codecs (canonical order of evidence pairs) and the index
 * keys (src/btree/keys.ts re-exports it as one of its comparators).
 *
 * Like every comparator of index keys, it is a total order that depends only on its arguments
 * and never allocates per call.
 */

/** Orders byte strings lexicographically, unsigned; a proper prefix sorts before its extensions. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}
