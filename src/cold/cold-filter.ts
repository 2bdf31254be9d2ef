/**
 * The check of a ColdFilter given to a cold tier's `blocks` (docs/format.md, "Cold files"), and
 * the match of a block's footer entry against a checked filter.
 *
 * It must never do I/O, and never let a malformed filter through: a bad field is
 * INVALID_ARGUMENT naming it (a NaN bound would otherwise match nothing, silently).
 */
import { invalidArgument } from '../errors.ts';
import { checkInteger, checkKeys, checkObject } from '../model/check.ts';
import { checkValidatorId } from '../model/vote.ts';
import { blockMatches } from './memory-tier.ts';
import type { ColdBlockRef, ColdFilter, ColdRange } from './types.ts';

const FILTER_KEYS = ['kinds', 'height', 'round', 'lsn', 'time', 'validator'];

function checkRange(name: string, value: unknown): ColdRange | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length !== 2) throw invalidArgument(name, 'must be a [lo, hi] pair of numbers');
  const [lo, hi] = value as unknown[];
  if (typeof lo !== 'number' || typeof hi !== 'number' || Number.isNaN(lo) || Number.isNaN(hi) || lo > hi) {
    throw invalidArgument(name, `must be a [lo, hi] pair of numbers with lo <= hi, got [${String(lo)}, ${String(hi)}]`);
  }
  return [lo, hi];
}

/** Checks `filter`; returns a copy holding only the fields given. INVALID_ARGUMENT naming the field. */
export function checkColdFilter(name: string, filter: unknown): ColdFilter {
  const o = checkObject(name, filter);
  checkKeys(name, o, FILTER_KEYS);
  const out: { -readonly [K in keyof ColdFilter]: ColdFilter[K] } = {};
  if (o['kinds'] !== undefined) {
    const kinds = o['kinds'];
    if (!Array.isArray(kinds)) throw invalidArgument(`${name}.kinds`, 'must be an array of kinds 1..255');
    out.kinds = kinds.map((k: unknown, i) => checkInteger(`${name}.kinds[${i}]`, k, 1, 255));
  }
  for (const field of ['height', 'round', 'lsn', 'time'] as const) {
    const range = checkRange(`${name}.${field}`, o[field]);
    if (range !== undefined) out[field] = range;
  }
  if (o['validator'] !== undefined) out.validator = checkValidatorId(`${name}.validator`, o['validator']);
  return out;
}

/** The filter without its validator (the caller checks that against its own index). */
export function withoutValidator(filter: ColdFilter): ColdFilter {
  const { validator: _validator, ...rest } = filter;
  return rest;
}

const NO_VALIDATORS: ReadonlySet<string> = new Set();

/** True when `ref` may hold a record matching `filter` but for the validator, which the caller checks. */
export function rangesMatch(ref: ColdBlockRef, filterWithoutValidator: ColdFilter): boolean {
  return blockMatches(ref, NO_VALIDATORS, filterWithoutValidator);
}
