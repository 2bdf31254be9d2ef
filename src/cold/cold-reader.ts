/**
 * ColdFileReader: reads one cold file the manifest lists (docs/format.md, "Cold files"). The
 * trailer and footer are read lazily, on the first query that needs the file, then kept; a
 * query lists the blocks whose footer entry may match its filter (ranges, kinds and the
 * validator -> blocks index); a block is read whole, its CRC32C checked before it is
 * decompressed, and its columns decoded and checked against its footer entry. `verify` re-reads
 * every byte: the whole-file checksum the manifest records, and every block.
 *
 * It must never return a record of a block that failed a check: damage throws
 * ConsensusStoreError CORRUPTION naming the file's path and the byte offset (the block's, or
 * the damaged field's). A file whose size is not the manifest's is CORRUPTION too. It never writes.
 */
import { join } from 'node:path';
import { crc32cUpdate } from '../codec/crc32c.ts';
import { readU32 } from '../codec/bytes.ts';
import { corruption, fromFsError, invalidArgument } from '../errors.ts';
import { errnoOf, type FileHandle, type FileSystem } from '../io/types.ts';
import { decodeBlockColumns } from './block-columns.ts';
import { checkColdFileInfo, type ColdFileInfo } from './cold-file-info.ts';
import { checkColdFilter, rangesMatch, withoutValidator } from './cold-filter.ts';
import {
  BLOCK_HEADER_BYTES,
  blockCrc,
  checkFileHeader,
  decodeFooter,
  decodeTrailer,
  FILE_HEADER_BYTES,
  MAX_BLOCK_RAW_BYTES,
  TRAILER_BYTES,
  type ColdFooter,
} from './cold-format.ts';
import type { ColdBlockRef, ColdFilter, ColdRecord } from './types.ts';
import { inflateAsync } from './zlib-async.ts';

/** A footer read and indexed. */
interface LoadedFooter {
  readonly footer: ColdFooter;
  /** Dictionary index of each validator id. */
  readonly indexOf: ReadonlyMap<string, number>;
  /** Per block, the dictionary indices it names. */
  readonly blockSets: readonly ReadonlySet<number>[];
  /** Block index by byte offset. */
  readonly byOffset: ReadonlyMap<number, number>;
}

/** What `verify` checked. */
export interface ColdFileVerifyReport {
  readonly file: string;
  readonly bytes: number;
  readonly blocks: number;
  readonly records: number;
}

const VERIFY_CHUNK = 1024 * 1024;

/** Reads exactly `length` bytes at `position`, or CORRUPTION (the file is shorter than its index says). */
async function readExactly(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await handle.read(out, position + got, got, length - got);
    if (n === 0) throw corruption(handle.path, position + got, `cold file ends at ${position + got}, ${length - got} bytes short`);
    got += n;
  }
  return out;
}

/** One cold file (see the file comment). */
export class ColdFileReader {
  /** The file's path. */
  readonly path: string;
  readonly info: ColdFileInfo;
  readonly #fs: FileSystem;
  #loaded: Promise<LoadedFooter> | undefined;

  /**
   * @param dir - the cold directory.
   * @param info - the file as the manifest lists it.
   * @throws ConsensusStoreError INVALID_ARGUMENT on a bad argument. Does no I/O.
   */
  constructor(fs: FileSystem, dir: string, info: ColdFileInfo) {
    if (typeof fs !== 'object' || fs === null || typeof fs.open !== 'function') throw invalidArgument('fs', 'must be a FileSystem');
    if (typeof dir !== 'string' || dir.length === 0) throw invalidArgument('dir', 'must be a non-empty path');
    this.info = checkColdFileInfo('info', info);
    this.#fs = fs;
    this.path = join(dir, info.name);
  }

  /** True once the footer has been read (a test checks that queries read only what they need). */
  get footerLoaded(): boolean {
    return this.#loaded !== undefined;
  }

  /** Runs `body` on the file opened for reading; maps file-system errors (a missing file is CORRUPTION). */
  async #withFile<T>(body: (handle: FileHandle) => Promise<T>): Promise<T> {
    let handle: FileHandle;
    try {
      handle = await this.#fs.open(this.path, 'read');
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') throw corruption(this.path, 0, 'the cold manifest lists this file but it is missing');
      throw fromFsError(err, `opening the cold file ${this.path}`);
    }
    try {
      return await body(handle);
    } catch (err) {
      throw fromFsError(err, `reading the cold file ${this.path}`);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  async #checkSize(handle: FileHandle): Promise<void> {
    const size = await handle.size();
    if (size !== this.info.bytes) throw corruption(this.path, Math.min(size, this.info.bytes), `cold file has ${size} bytes, the cold manifest records ${this.info.bytes}`);
  }

  /** Reads and decodes the header, trailer and footer. */
  async #readFooter(handle: FileHandle): Promise<LoadedFooter> {
    await this.#checkSize(handle);
    const bytes = this.info.bytes;
    if (bytes < FILE_HEADER_BYTES + TRAILER_BYTES) throw corruption(this.path, 0, `cold file of ${bytes} bytes is too short`);
    checkFileHeader(await readExactly(handle, 0, FILE_HEADER_BYTES), this.path);
    const { footerOffset, footerLength } = decodeTrailer(await readExactly(handle, bytes - TRAILER_BYTES, TRAILER_BYTES), this.path, bytes);
    const footer = decodeFooter(await readExactly(handle, footerOffset, footerLength), this.path, this.info.name, footerOffset);
    const records = footer.blocks.reduce((n, b) => n + b.count, 0);
    if (records !== this.info.records) throw corruption(this.path, footerOffset, `cold file footer counts ${records} records, the cold manifest ${this.info.records}`);
    return {
      footer,
      indexOf: new Map(footer.validators.map((v, i) => [v, i])),
      blockSets: footer.blockValidators.map((ix) => new Set(ix)),
      byOffset: new Map(footer.blocks.map((b, i) => [b.offset, i])),
    };
  }

  /** The footer, read on first use and kept (a failed read is retried by the next call). */
  #footer(): Promise<LoadedFooter> {
    if (this.#loaded === undefined) {
      const loading = this.#withFile((h) => this.#readFooter(h));
      this.#loaded = loading;
      loading.catch(() => {
        if (this.#loaded === loading) this.#loaded = undefined;
      });
    }
    return this.#loaded;
  }

  /** Every block of the file, in file order. */
  async allBlocks(): Promise<readonly ColdBlockRef[]> {
    return (await this.#footer()).footer.blocks;
  }

  /**
   * The blocks that may hold a record matching `filter`, in file (LSN) order.
   * @throws INVALID_ARGUMENT on a bad filter; CORRUPTION when the footer is damaged; IO_FAILED.
   */
  async blocks(filter: ColdFilter): Promise<ColdBlockRef[]> {
    const checked = checkColdFilter('filter', filter);
    return this.matching(checked);
  }

  /** `blocks` for a filter already checked. */
  async matching(filter: ColdFilter): Promise<ColdBlockRef[]> {
    const loaded = await this.#footer();
    const ranges = withoutValidator(filter);
    let wanted: number | undefined;
    if (filter.validator !== undefined) {
      wanted = loaded.indexOf.get(filter.validator);
      if (wanted === undefined) return [];
    }
    return loaded.footer.blocks.filter((ref, i) => rangesMatch(ref, ranges) && (wanted === undefined || (loaded.blockSets[i] as ReadonlySet<number>).has(wanted)));
  }

  /**
   * The records of `block` (one this reader listed), in LSN order, payloads fresh copies.
   * @throws INVALID_ARGUMENT when `block` is not a block of this file; CORRUPTION naming the
   *   file and the block's offset when its bytes fail a check; IO_FAILED.
   */
  async read(block: ColdBlockRef): Promise<ColdRecord[]> {
    if (typeof block !== 'object' || block === null) throw invalidArgument('block', 'must be a ColdBlockRef');
    if (block.file !== this.info.name) throw invalidArgument('block.file', `is ${JSON.stringify(block.file)}, not ${this.info.name}`);
    const loaded = await this.#footer();
    const at = loaded.byOffset.get(block.offset);
    const ref = at === undefined ? undefined : loaded.footer.blocks[at];
    if (ref === undefined || ref.length !== block.length) throw invalidArgument('block', `${this.info.name} has no block at offset ${String(block.offset)} of ${String(block.length)} bytes`);
    return this.#withFile((h) => this.#readBlock(h, ref));
  }

  async #readBlock(handle: FileHandle, ref: ColdBlockRef): Promise<ColdRecord[]> {
    const bytes = await readExactly(handle, ref.offset, ref.length);
    return this.#decodeBlock(bytes, ref);
  }

  /** Checks and decodes the stored bytes of `ref`. */
  async #decodeBlock(bytes: Uint8Array, ref: ColdBlockRef): Promise<ColdRecord[]> {
    const bad = (why: string): never => {
      throw corruption(this.path, ref.offset, `cold block: ${why}`);
    };
    const bodyLength = readU32(bytes, 0);
    const count = readU32(bytes, 4);
    const rawLength = readU32(bytes, 8);
    if (bodyLength + BLOCK_HEADER_BYTES !== ref.length) bad(`stored length ${bodyLength} does not match the footer's ${ref.length - BLOCK_HEADER_BYTES}`);
    const body = bytes.subarray(BLOCK_HEADER_BYTES);
    if (readU32(bytes, 12) !== blockCrc(ref.offset, bytes, body)) bad('checksum mismatch');
    if (count !== ref.count) bad(`holds ${count} records, the footer says ${ref.count}`);
    if (rawLength < count || rawLength > MAX_BLOCK_RAW_BYTES) bad(`column length ${rawLength} out of range`);
    let raw: Uint8Array;
    try {
      raw = await inflateAsync(body, rawLength);
    } catch (err) {
      return bad(`does not decompress (${(err as Error).message})`);
    }
    if (raw.length !== rawLength) bad(`decompresses to ${raw.length} bytes, not ${rawLength}`);
    let records: ColdRecord[] = [];
    try {
      records = decodeBlockColumns(raw, count);
    } catch (err) {
      bad(`columns do not decode: ${(err as Error).message}`);
    }
    const first = records[0] as ColdRecord;
    const last = records[records.length - 1] as ColdRecord;
    if (first.lsn !== ref.minLsn || last.lsn !== ref.maxLsn) bad(`LSNs ${first.lsn}..${last.lsn} do not match the footer's ${ref.minLsn}..${ref.maxLsn}`);
    const kinds = new Set(records.map((r) => r.kind));
    if (kinds.size !== ref.kinds.length || ref.kinds.some((k) => !kinds.has(k))) bad('kinds do not match the footer');
    return records;
  }

  /**
   * Re-reads every byte: the whole-file checksum and size the manifest records, the header,
   * trailer and footer, and every block (checksum, decompression, columns).
   * @throws CORRUPTION naming the file and offset at the first failure; IO_FAILED.
   */
  async verify(): Promise<ColdFileVerifyReport> {
    return this.#withFile(async (handle) => {
      await this.#checkSize(handle);
      let crc = 0;
      const chunk = new Uint8Array(VERIFY_CHUNK);
      for (let pos = 0; pos < this.info.bytes; ) {
        const n = await handle.read(chunk, pos, 0, Math.min(VERIFY_CHUNK, this.info.bytes - pos));
        if (n === 0) throw corruption(this.path, pos, 'cold file ends early');
        crc = crc32cUpdate(crc, chunk, 0, n);
        pos += n;
      }
      if (crc !== this.info.checksum) throw corruption(this.path, 0, 'cold file checksum does not match the cold manifest');
      const loaded = await this.#readFooter(handle);
      let records = 0;
      for (const ref of loaded.footer.blocks) records += (await this.#readBlock(handle, ref)).length;
      return { file: this.path, bytes: this.info.bytes, blocks: loaded.footer.blocks.length, records };
    });
  }
}

