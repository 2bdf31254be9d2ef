/**
 * Comparing big query answers fast: a canonical text (bigints, bytes, maps and sets spelt out),
 * so that equal texts mean deep-equal answers; a difference is then shown by toEqual.
 */
import { expect } from 'vitest';

/** The canonical text of `value`. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    const raw = (this as Record<string, unknown>)[key];
    if (typeof raw === 'bigint') return { bigint: raw.toString() };
    if (raw instanceof Uint8Array) return { bytes: Buffer.from(raw).toString('hex') };
    if (raw instanceof Map) return { map: [...raw.entries()] };
    if (raw instanceof Set) return { set: [...raw] };
    if (raw === undefined) return { undefined: true };
    return v;
  });
}

/** `actual` deep-equals `expected` (compared as canonical text; toEqual shows a difference). */
export function expectSameAnswers(actual: unknown, expected: unknown, label: string): void {
  if (canonical(actual) !== canonical(expected)) expect(actual, label).toEqual(expected);
  // toEqual may pass where the texts differ (an undefined property against none): then the texts must say why.
  if (canonical(actual) !== canonical(expected)) expect(canonical(actual), label).toBe(canonical(expected));
}
