/**
 * The generic argument checks of the public API boundary (integers, u32, strings, bytes,
 * bigints, enums, objects, booleans), on which every value check of model/ is built. Each helper
 * throws ConsensusStoreError INVALID_ARGUMENT naming the argument, and returns the value
 * narrowed. They never coerce: a string '5' is not a number, a number is not a bigint.
 *
 * model/ holds plain values, their limits and their checks: it does no I/O and imports nothing
 * but model/ itself and src/errors.ts.
 */
import { invalidArgument } from '../errors.ts';

/** Largest height (and any JS-number u64 field): 2^53 - 1. */
export const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Largest u32. */
export const MAX_U32 = 0xffff_ffff;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'bigint') return `bigint ${value}`;
  if (typeof value === 'number') return `number ${value}`;
  if (typeof value === 'string') return `string of length ${value.length}`;
  return typeof value;
}

/** An integer in [min, max] (both inclusive). */
export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidArgument(name, `must be an integer in [${min}, ${max}], got ${describe(value)}`);
  }
  return value;
}

/** A u32 (rounds). */
export function checkU32(name: string, value: unknown): number {
  return checkInteger(name, value, 0, MAX_U32);
}

/** A non-negative safe integer (heights, LSNs, timestamps). */
export function checkSafeUint(name: string, value: unknown): number {
  return checkInteger(name, value, 0, MAX_SAFE);
}

/** A non-empty string of at most `maxLength` UTF-16 code units. */
export function checkString(name: string, value: unknown, maxLength: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw invalidArgument(name, `must be a non-empty string of at most ${maxLength} characters, got ${describe(value)}`);
  }
  return value;
}

/** A Uint8Array of exactly `length` bytes (or, with `length` a range, within it). */
export function checkBytes(name: string, value: unknown, length: number | { min: number; max: number }): Uint8Array {
  const ok =
    value instanceof Uint8Array &&
    (typeof length === 'number' ? value.length === length : value.length >= length.min && value.length <= length.max);
  if (!ok) {
    const want = typeof length === 'number' ? `${length}` : `${length.min}..${length.max}`;
    throw invalidArgument(name, `must be a Uint8Array of ${want} bytes, got ${describe(value)}`);
  }
  return value;
}

/** A bigint in [min, max] (max optional). Money is always bigint. */
export function checkBigint(name: string, value: unknown, min: bigint, max?: bigint): bigint {
  if (typeof value !== 'bigint' || value < min || (max !== undefined && value > max)) {
    throw invalidArgument(name, `must be a bigint >= ${min}${max === undefined ? '' : ` and <= ${max}`}, got ${describe(value)}`);
  }
  return value;
}

/** One of the listed string values. */
export function checkOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalidArgument(name, `must be one of ${allowed.join(', ')}, got ${describe(value)}`);
  }
  return value as T;
}

/** A plain object (not null, not an array, not bytes). */
export function checkObject(name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw invalidArgument(name, `must be an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/** A boolean. */
export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidArgument(name, `must be a boolean, got ${describe(value)}`);
  return value;
}

/**
 * Rejects a key of `value` that is not in `allowed` (a misspelt option must never be ignored:
 * `durabilty: 'none'` would otherwise open with the default). Keys whose value is undefined count
 * too: an option object is checked as written.
 */
export function checkKeys(name: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (allowed.includes(key)) continue;
    const near = allowed.find((a) => a.toLowerCase() === key.toLowerCase() || editDistanceAtMost1(a, key));
    throw invalidArgument(`${name}.${key}`, `is not an option here${near === undefined ? '' : ` (did you mean ${near}?)`}; known: ${allowed.join(', ')}`);
  }
}

/** Whether `a` and `b` differ by at most one inserted, removed or changed character. */
function editDistanceAtMost1(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  let j = 0;
  let edits = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      i++;
      j++;
      continue;
    }
    if (++edits > 1) return false;
    if (a.length > b.length) i++;
    else if (b.length > a.length) j++;
    else {
      i++;
      j++;
    }
  }
  return edits + (a.length - i) + (b.length - j) <= 1;
}
