/**
 * writeColdFile: writes records (in LSN order) to a new immutable cold file (docs/format.md,
 * "Cold files"): the file header, then blocks of about `blockBytes` column bytes, each columnar
 * (block-columns.ts), compressed with deflateRaw off the event loop and checksummed, then the
 * footer (the block index and the validator -> blocks index) and the trailer. Written as
 * `<name>.tmp`, fdatasync'ed, renamed to `<name>`, the directory fsync'ed; only then does the
 * call resolve with the file's ColdFileInfo, for the manifest.
 *
 * It must never overwrite an existing file, never leave a file under the final name unless it
 * is complete and durable, and never write anything on bad input found before the first block
 * (bad input found later removes the temp file): INVALID_ARGUMENT. All I/O goes through the
 * FileSystem interface (D9, docs/durability.md).
 */
import { dirname, join } from 'node:path';
import { crc32cUpdate } from '../codec/crc32c.ts';
import { MAX_PAYLOAD_BYTES } from '../codec/framing.ts';
import { fromFsError, invalidArgument } from '../errors.ts';
import type { FileHandle, FileSystem } from '../io/types.ts';
import { checkInteger, checkKeys, checkObject, checkSafeUint, checkU32 } from '../model/check.ts';
import { checkValidatorId } from '../model/vote.ts';
import { columnBytesOf, encodeBlockColumns } from './block-columns.ts';
import { checkColdFileName, type ColdFileInfo, type ColdKindCount } from './cold-file-info.ts';
import { encodeBlockHeader, encodeFileHeader, encodeFooter, encodeTrailer, type ColdFooter } from './cold-format.ts';
import type { ColdBlockRef, ColdKeys, ColdRecord } from './types.ts';
import { deflateAsync } from './zlib-async.ts';

/** Options of `writeColdFile`. */
export interface ColdFileOptions {
  /** Column bytes (before compression) after which a block is closed; 1 KiB..16 MiB, default 64 KiB. */
  readonly blockBytes?: number;
  /** deflate level, 1..9; default 6. */
  readonly level?: number;
}

/** Default `blockBytes`. */
export const DEFAULT_BLOCK_BYTES = 64 * 1024;
/** Default deflate level. */
export const DEFAULT_LEVEL = 6;
const OPTION_KEYS = ['blockBytes', 'level'];

interface Span {
  minHeight: number;
  maxHeight: number;
  minRound: number;
  maxRound: number;
  minTime: number;
  maxTime: number;
}

function newSpan(): Span {
  return { minHeight: NaN, maxHeight: NaN, minRound: NaN, maxRound: NaN, minTime: NaN, maxTime: NaN };
}

function widen(span: Span, field: 'Height' | 'Round' | 'Time', v: number | undefined): void {
  if (v === undefined) return;
  const lo = `min${field}` as const;
  const hi = `max${field}` as const;
  if (Number.isNaN(span[lo]) || v < span[lo]) span[lo] = v;
  if (Number.isNaN(span[hi]) || v > span[hi]) span[hi] = v;
}

/** Checks what `keysOf` returned for the record at `lsn`. INVALID_ARGUMENT naming the field. */
function checkColdKeys(lsn: number, value: unknown): ColdKeys {
  const name = `keysOf(record ${lsn})`;
  const o = checkObject(name, value);
  checkKeys(name, o, ['height', 'round', 'validators', 'time']);
  if (o['height'] !== undefined) checkSafeUint(`${name}.height`, o['height']);
  if (o['round'] !== undefined) checkU32(`${name}.round`, o['round']);
  if (o['time'] !== undefined) checkSafeUint(`${name}.time`, o['time']);
  const validators = o['validators'];
  if (validators !== undefined) {
    if (!Array.isArray(validators)) throw invalidArgument(`${name}.validators`, 'must be an array of validator ids');
    validators.forEach((v: unknown, i) => checkValidatorId(`${name}.validators[${i}]`, v));
  }
  return o as ColdKeys;
}

/** Checks the options of `writeColdFile`. */
function checkOptions(options: unknown): { blockBytes: number; level: number } {
  if (options === undefined) return { blockBytes: DEFAULT_BLOCK_BYTES, level: DEFAULT_LEVEL };
  const o = checkObject('options', options);
  checkKeys('options', o, OPTION_KEYS);
  const blockBytes = o['blockBytes'] === undefined ? DEFAULT_BLOCK_BYTES : checkInteger('options.blockBytes', o['blockBytes'], 1024, 16 * 1024 * 1024);
  const level = o['level'] === undefined ? DEFAULT_LEVEL : checkInteger('options.level', o['level'], 1, 9);
  return { blockBytes, level };
}

function checkFs(fs: unknown): FileSystem {
  const o = fs as Partial<FileSystem> | null;
  if (typeof o !== 'object' || o === null || typeof o.open !== 'function' || typeof o.rename !== 'function' || typeof o.syncDir !== 'function') {
    throw invalidArgument('fs', 'must be a FileSystem');
  }
  return fs as FileSystem;
}

/** Checks a directory argument: a non-empty string. */
export function checkDir(name: string, dir: unknown): string {
  if (typeof dir !== 'string' || dir.length === 0 || dir.includes('\0')) throw invalidArgument(name, `must be a non-empty path, got ${JSON.stringify(dir)}`);
  return dir;
}

/**
 * Creates `dir` and any missing parents, each made durable (D9, docs/durability.md): the
 * parent of every directory created is fsync'ed, top down.
 */
export async function ensureDir(fs: FileSystem, dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; (await fs.stat(d)) === undefined; d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  if (missing.length === 0) return;
  await fs.mkdir(dir);
  for (const d of missing.reverse()) await fs.syncDir(dirname(d));
}

/** Records as an async iterator, or INVALID_ARGUMENT when `records` is not iterable. */
function iteratorOf(records: unknown): AsyncIterator<unknown> | Iterator<unknown> {
  if (typeof records === 'object' && records !== null) {
    const asyncIt = (records as AsyncIterable<unknown>)[Symbol.asyncIterator];
    if (typeof asyncIt === 'function') return asyncIt.call(records);
    const it = (records as Iterable<unknown>)[Symbol.iterator];
    if (typeof it === 'function') return it.call(records);
  }
  throw invalidArgument('records', 'must be an Iterable or AsyncIterable of ColdRecord');
}

/** Lets a source that was not read to its end release what it holds (a generator's finally). */
async function closeIterator(iterator: AsyncIterator<unknown> | Iterator<unknown>): Promise<void> {
  try {
    await iterator.return?.();
  } catch {
    // The write already failed; its error is the one to report.
  }
}

/** Checks one record (after `lastLsn`). INVALID_ARGUMENT naming it. */
function checkRecord(value: unknown, index: number, lastLsn: number): ColdRecord {
  const name = `records[${index}]`;
  const o = checkObject(name, value);
  checkInteger(`${name}.kind`, o['kind'], 1, 255);
  const lsn = checkInteger(`${name}.lsn`, o['lsn'], 1, Number.MAX_SAFE_INTEGER);
  if (lsn <= lastLsn) throw invalidArgument(`${name}.lsn`, `must be above the previous record's LSN ${lastLsn} (records come in LSN order), got ${lsn}`);
  const payload = o['payload'];
  if (!(payload instanceof Uint8Array) || payload.length > MAX_PAYLOAD_BYTES) throw invalidArgument(`${name}.payload`, `must be a Uint8Array of at most ${MAX_PAYLOAD_BYTES} bytes`);
  return o as unknown as ColdRecord;
}

/**
 * Writes `records` (in strictly ascending LSN order, at least one) as the cold file `name` in
 * `dir` (created if absent), indexed by `keysOf`, and returns what the manifest records of it.
 *
 * @throws ConsensusStoreError INVALID_ARGUMENT on a bad argument, option, record or key, on
 *   records out of LSN order, on no records, or when `<dir>/<name>` exists (nothing is left
 *   behind); IO_FAILED or DISK_FULL when the file system fails (the temp file is removed when
 *   it can be); whatever `keysOf` throws (CORRUPTION on a payload that does not decode).
 */
export async function writeColdFile(
  fs: FileSystem,
  dir: string,
  name: string,
  records: AsyncIterable<ColdRecord> | Iterable<ColdRecord>,
  keysOf: (r: ColdRecord) => ColdKeys,
  options?: ColdFileOptions,
): Promise<ColdFileInfo> {
  checkFs(fs);
  checkDir('dir', dir);
  checkColdFileName('name', name);
  if (typeof keysOf !== 'function') throw invalidArgument('keysOf', 'must be a function');
  const { blockBytes, level } = checkOptions(options);
  const iterator = iteratorOf(records);
  const path = join(dir, name);
  const temp = `${path}.tmp`;
  try {
    if ((await fs.stat(path)) !== undefined) throw invalidArgument('name', `${path} exists (cold files are never overwritten)`);
  } catch (err) {
    throw fromFsError(err, `writing the cold file ${path}`);
  }

  let handle: FileHandle | undefined;
  let pos = 0;
  let fileCrc = 0;
  const refs: ColdBlockRef[] = [];
  const blockSets: Set<string>[] = [];
  const kindCounts = new Map<number, number>();
  const fileSpan = newSpan();
  let total = 0;

  let pending: ColdRecord[] = [];
  let pendingBytes = 0;
  let pendingKinds = new Set<number>();
  let pendingValidators = new Set<string>();
  let pendingSpan = newSpan();

  const write = async (bytes: Uint8Array): Promise<void> => {
    await (handle as FileHandle).write([bytes], pos);
    fileCrc = crc32cUpdate(fileCrc, bytes);
    pos += bytes.length;
  };

  const flush = async (): Promise<void> => {
    if (handle === undefined) {
      await ensureDir(fs, dir);
      handle = await fs.open(temp, 'create');
      await handle.truncate(0);
      await write(encodeFileHeader());
    }
    const raw = encodeBlockColumns(pending);
    const body = await deflateAsync(raw, level);
    const offset = pos;
    const header = encodeBlockHeader(offset, body, pending.length, raw.length);
    refs.push({
      file: name,
      offset,
      length: header.length + body.length,
      count: pending.length,
      kinds: [...pendingKinds].sort((a, b) => a - b),
      ...pendingSpan,
      minLsn: (pending[0] as ColdRecord).lsn,
      maxLsn: (pending[pending.length - 1] as ColdRecord).lsn,
    });
    blockSets.push(pendingValidators);
    await write(header);
    await write(body);
    pending = [];
    pendingBytes = 0;
    pendingKinds = new Set();
    pendingValidators = new Set();
    pendingSpan = newSpan();
  };

  try {
    let lastLsn = 0;
    for (;;) {
      const step = await iterator.next();
      if (step.done === true) break;
      const record = checkRecord(step.value, total, lastLsn);
      const keys = checkColdKeys(record.lsn, keysOf(record));
      lastLsn = record.lsn;
      total++;
      pending.push(record);
      pendingBytes += columnBytesOf(record);
      pendingKinds.add(record.kind);
      kindCounts.set(record.kind, (kindCounts.get(record.kind) ?? 0) + 1);
      for (const span of [pendingSpan, fileSpan]) {
        widen(span, 'Height', keys.height);
        widen(span, 'Round', keys.round);
        widen(span, 'Time', keys.time);
      }
      for (const v of keys.validators ?? []) pendingValidators.add(v);
      if (pendingBytes >= blockBytes) await flush();
    }
    if (total === 0) throw invalidArgument('records', 'must hold at least one record');
    if (pending.length > 0) await flush();

    const dictionary = [...new Set(blockSets.flatMap((s) => [...s]))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const indexOf = new Map(dictionary.map((v, i) => [v, i]));
    const footer: ColdFooter = {
      blocks: refs,
      validators: dictionary,
      blockValidators: blockSets.map((s) => [...s].map((v) => indexOf.get(v) as number).sort((a, b) => a - b)),
    };
    const footerBytes = encodeFooter(footer);
    const footerOffset = pos;
    await write(footerBytes);
    await write(encodeTrailer(footerOffset, footerBytes.length));
    const h = handle as unknown as FileHandle;
    await h.datasync();
    await h.close();
    handle = undefined;
    await fs.rename(temp, path);
    await fs.syncDir(dir);
  } catch (err) {
    if (handle !== undefined) {
      await handle.close().catch(() => undefined);
      await fs.unlink(temp).catch(() => undefined);
    }
    await closeIterator(iterator);
    throw fromFsError(err, `writing the cold file ${path}`);
  }

  const kinds: ColdKindCount[] = [...kindCounts].sort((a, b) => a[0] - b[0]).map(([kind, count]) => ({ kind, count }));
  return {
    name,
    bytes: pos,
    checksum: fileCrc,
    records: total,
    kinds,
    ...fileSpan,
    minLsn: (refs[0] as ColdBlockRef).minLsn,
    maxLsn: (refs[refs.length - 1] as ColdBlockRef).maxLsn,
  };
}
