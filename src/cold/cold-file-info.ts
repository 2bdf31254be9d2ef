/**
 * ColdFileInfo: what the cold manifest records of one cold file (docs/format.md, "Cold files"):
 * its name, size and whole-file checksum, its record counts by kind and the ranges of its
 * records' height, round, LSN and time; and the rule for cold file names.
 *
 * It must never do I/O. `checkColdFileInfo` must reject (INVALID_ARGUMENT) any value the
 * manifest could not encode or that contradicts itself.
 */
import { invalidArgument } from '../errors.ts';
import { checkInteger, checkKeys, checkObject, checkSafeUint, checkU32, MAX_U32 } from '../model/check.ts';

/** Records of one kind in a file. */
export interface ColdKindCount {
  readonly kind: number;
  readonly count: number;
}

/** One cold file as the manifest lists it. Ranges are NaN..NaN when no record has the field. */
export interface ColdFileInfo {
  /** The file's name inside the cold directory (see `isColdFileName`). */
  readonly name: string;
  /** Its size in bytes. */
  readonly bytes: number;
  /** CRC32C (unmasked) of every byte of the file. */
  readonly checksum: number;
  /** Records in the file. */
  readonly records: number;
  /** Records by kind, ascending kind, every count >= 1, summing to `records`. */
  readonly kinds: readonly ColdKindCount[];
  readonly minHeight: number;
  readonly maxHeight: number;
  readonly minRound: number;
  readonly maxRound: number;
  readonly minLsn: number;
  readonly maxLsn: number;
  readonly minTime: number;
  readonly maxTime: number;
}

/** The suffix of every cold file name. */
export const COLD_FILE_SUFFIX = '.cold';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\.cold$/;

/** True when `name` is a valid cold file name: 1..100 of [A-Za-z0-9_-] (the first no '_' or '-'), then `.cold`. */
export function isColdFileName(name: unknown): name is string {
  return typeof name === 'string' && NAME.test(name);
}

/** The conventional name of the `seq`-th cold file: 16 zero-padded digits, then `.cold`. */
export function coldFileName(seq: number): string {
  checkSafeUint('seq', seq);
  return `${String(seq).padStart(16, '0')}${COLD_FILE_SUFFIX}`;
}

/** Checks a file name argument. INVALID_ARGUMENT unless `isColdFileName`. */
export function checkColdFileName(argument: string, name: unknown): string {
  if (!isColdFileName(name)) throw invalidArgument(argument, `must be 1..100 characters of [A-Za-z0-9_-] (not starting with _ or -) followed by ${COLD_FILE_SUFFIX}, got ${JSON.stringify(name)}`);
  return name;
}

const INFO_KEYS = ['name', 'bytes', 'checksum', 'records', 'kinds', 'minHeight', 'maxHeight', 'minRound', 'maxRound', 'minLsn', 'maxLsn', 'minTime', 'maxTime'];

function checkRange(name: string, lo: unknown, hi: unknown, max: number, optional: boolean): void {
  if (optional && Number.isNaN(lo) && Number.isNaN(hi)) return;
  checkInteger(`${name} min`, lo, 0, max);
  checkInteger(`${name} max`, hi, lo as number, max);
}

/** Checks a ColdFileInfo given by a caller; returns a frozen copy. INVALID_ARGUMENT naming the field. */
export function checkColdFileInfo(name: string, value: unknown): ColdFileInfo {
  const o = checkObject(name, value);
  checkKeys(name, o, INFO_KEYS);
  checkColdFileName(`${name}.name`, o['name']);
  checkSafeUint(`${name}.bytes`, o['bytes']);
  checkU32(`${name}.checksum`, o['checksum']);
  const records = checkInteger(`${name}.records`, o['records'], 1, Number.MAX_SAFE_INTEGER);
  const kinds = o['kinds'];
  if (!Array.isArray(kinds) || kinds.length === 0 || kinds.length > 255) throw invalidArgument(`${name}.kinds`, 'must be an array of 1..255 kind counts');
  let sum = 0;
  let last = 0;
  const copy: ColdKindCount[] = kinds.map((k: unknown, i) => {
    const kc = checkObject(`${name}.kinds[${i}]`, k);
    checkKeys(`${name}.kinds[${i}]`, kc, ['kind', 'count']);
    const kind = checkInteger(`${name}.kinds[${i}].kind`, kc['kind'], last + 1, 255);
    const count = checkInteger(`${name}.kinds[${i}].count`, kc['count'], 1, records);
    last = kind;
    sum += count;
    return Object.freeze({ kind, count });
  });
  if (sum !== records) throw invalidArgument(`${name}.kinds`, `counts sum to ${sum}, not to records ${records}`);
  checkRange(`${name}.lsn`, o['minLsn'], o['maxLsn'], Number.MAX_SAFE_INTEGER, false);
  if ((o['minLsn'] as number) < 1 || (o['maxLsn'] as number) - (o['minLsn'] as number) < records - 1) throw invalidArgument(`${name}.minLsn`, 'range cannot hold the records');
  checkRange(`${name}.height`, o['minHeight'], o['maxHeight'], Number.MAX_SAFE_INTEGER, true);
  checkRange(`${name}.round`, o['minRound'], o['maxRound'], MAX_U32, true);
  checkRange(`${name}.time`, o['minTime'], o['maxTime'], Number.MAX_SAFE_INTEGER, true);
  return Object.freeze({ ...(o as unknown as ColdFileInfo), kinds: Object.freeze(copy) });
}
