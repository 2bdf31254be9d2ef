/**
 * The fixed parts of a cold file (docs/format.md, "Cold files"): the file header, the block
 * header and its checksum, the footer (per block: offset, length, count, kinds, the ranges of
 * height, round, LSN and time, and the validators it names, as indices into the file's
 * dictionary of validator ids) and the trailer that locates the footer. Encoded and decoded
 * here; the writer (cold-file.ts) and the reader (cold-reader.ts) do the I/O.
 *
 * It must never do I/O, and never return a footer or trailer it did not fully check: any field
 * out of range, out of order or inconsistent with the file size throws CORRUPTION naming the
 * file and the offset of the field.
 */
import { crc32cUpdate, maskCrc } from '../codec/crc32c.ts';
import { equalBytes, readU32, readU64, writeU32, writeU64 } from '../codec/bytes.ts';
import { corruption } from '../errors.ts';
import { ByteSink, ByteSource } from './cold-bytes.ts';
import type { ColdBlockRef } from './types.ts';

const ascii = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Magic of the file header. */
export const COLD_FILE_MAGIC = ascii.encode('CSCOLDFL');
/** Magic ending the trailer. */
export const COLD_TRAILER_MAGIC = ascii.encode('CSCOLDTR');
/** Layout version of cold files. */
export const COLD_FILE_VERSION = 1;
/** File header: magic 8, u32 version, u32 reserved (0). */
export const FILE_HEADER_BYTES = 16;
/** Block header: u32 stored body length, u32 record count, u32 column bytes, u32 masked CRC32C. */
export const BLOCK_HEADER_BYTES = 16;
/** Trailer: u64 footer offset, u32 footer length, u32 masked CRC32C of the other trailer bytes, magic 8. */
export const TRAILER_BYTES = 24;
/** Bound on the column bytes of one block (a block holds at least one record of up to 64 MiB). */
export const MAX_BLOCK_RAW_BYTES = 0x7fff_0000;
/** Bound on a footer's length (checked before it is read into memory). */
export const MAX_FOOTER_BYTES = 256 * 1024 * 1024;

const FLAG_HEIGHT = 1;
const FLAG_ROUND = 2;
const FLAG_TIME = 4;
const MODE_LIST = 0;
const MODE_BITMAP = 1;

/** The file header's bytes. */
export function encodeFileHeader(): Uint8Array {
  const out = new Uint8Array(FILE_HEADER_BYTES);
  out.set(COLD_FILE_MAGIC, 0);
  writeU32(out, 8, COLD_FILE_VERSION);
  return out;
}

/** Checks the file header of `file`. CORRUPTION on any other bytes. */
export function checkFileHeader(bytes: Uint8Array, file: string): void {
  if (bytes.length < FILE_HEADER_BYTES || !equalBytes(bytes.subarray(0, 8), COLD_FILE_MAGIC)) throw corruption(file, 0, 'not a cold file (bad magic)');
  if (readU32(bytes, 8) !== COLD_FILE_VERSION) throw corruption(file, 8, `cold file version ${readU32(bytes, 8)} (this build reads ${COLD_FILE_VERSION})`);
  if (readU32(bytes, 12) !== 0) throw corruption(file, 12, 'cold file header reserved field is not zero');
}

/** The masked CRC32C of a block: its offset (u64), its header's first 12 bytes and its body. */
export function blockCrc(offset: number, header: Uint8Array, body: Uint8Array): number {
  const at = new Uint8Array(8);
  writeU64(at, 0, offset);
  return maskCrc(crc32cUpdate(crc32cUpdate(crc32cUpdate(0, at), header, 0, 12), body));
}

/** The header of a block whose compressed body is `body`, stored at `offset`. */
export function encodeBlockHeader(offset: number, body: Uint8Array, count: number, rawBytes: number): Uint8Array {
  const header = new Uint8Array(BLOCK_HEADER_BYTES);
  writeU32(header, 0, body.length);
  writeU32(header, 4, count);
  writeU32(header, 8, rawBytes);
  writeU32(header, 12, blockCrc(offset, header, body));
  return header;
}

/** A footer as the writer builds it and the reader decodes it. */
export interface ColdFooter {
  /** The blocks, in file (and LSN) order; `file` is the file's name. */
  readonly blocks: readonly ColdBlockRef[];
  /** The dictionary: every validator id the file's records name, ascending. */
  readonly validators: readonly string[];
  /** Per block, the ascending dictionary indices of the validators its records name. */
  readonly blockValidators: readonly (readonly number[])[];
}

function rangeOf(lo: number, hi: number): { present: boolean; lo: number; hi: number } {
  return Number.isNaN(lo) ? { present: false, lo: 0, hi: 0 } : { present: true, lo, hi };
}

/** The footer's bytes, its masked CRC32C in the last 4. */
export function encodeFooter(footer: ColdFooter): Uint8Array {
  const sink = new ByteSink(64 + footer.blocks.length * 96);
  sink.u32(footer.blocks.length).u32(footer.validators.length);
  for (const v of footer.validators) {
    const b = ascii.encode(v);
    sink.u16(b.length).bytes(b);
  }
  const dict = footer.validators.length;
  footer.blocks.forEach((ref, i) => {
    const h = rangeOf(ref.minHeight, ref.maxHeight);
    const r = rangeOf(ref.minRound, ref.maxRound);
    const t = rangeOf(ref.minTime, ref.maxTime);
    sink.u64(ref.offset).u32(ref.length).u32(ref.count).u64(ref.minLsn).u64(ref.maxLsn);
    sink.u8((h.present ? FLAG_HEIGHT : 0) | (r.present ? FLAG_ROUND : 0) | (t.present ? FLAG_TIME : 0));
    sink.u64(h.lo).u64(h.hi).u32(r.lo).u32(r.hi).u64(t.lo).u64(t.hi);
    sink.u8(ref.kinds.length);
    for (const k of ref.kinds) sink.u8(k);
    const indices = footer.blockValidators[i] ?? [];
    const list = new ByteSink(indices.length * 2 + 8).varint(indices.length);
    let last = -1;
    for (const x of indices) {
      list.varint(x - last);
      last = x;
    }
    const bitmapBytes = Math.ceil(dict / 8);
    if (list.length <= bitmapBytes) {
      sink.u8(MODE_LIST).bytes(list.view());
    } else {
      const bitmap = new Uint8Array(bitmapBytes);
      for (const x of indices) bitmap[x >>> 3] = (bitmap[x >>> 3] as number) | (1 << (x & 7));
      sink.u8(MODE_BITMAP).bytes(bitmap);
    }
  });
  const body = sink.view();
  const out = new Uint8Array(body.length + 4);
  out.set(body, 0);
  writeU32(out, body.length, maskCrc(crc32cUpdate(0, body)));
  return out;
}

/**
 * Decodes the footer `bytes` read at `footerOffset` of `file` (named `name` in its blocks).
 * Checks its CRC, every field and that the blocks tile the file from the header to the footer.
 */
export function decodeFooter(bytes: Uint8Array, file: string, name: string, footerOffset: number): ColdFooter {
  if (bytes.length < 12) throw corruption(file, footerOffset, `cold file footer of ${bytes.length} bytes is too short`);
  const crcAt = bytes.length - 4;
  if (readU32(bytes, crcAt) !== maskCrc(crc32cUpdate(0, bytes, 0, crcAt))) throw corruption(file, footerOffset + crcAt, 'cold file footer checksum mismatch');
  const src = new ByteSource(bytes, 0, crcAt);
  const fail = (why: string): never => {
    throw corruption(file, footerOffset + src.pos, `cold file footer: ${why}`);
  };
  try {
    const blockCount = src.u32();
    const dictCount = src.u32();
    if (blockCount < 1 || blockCount > crcAt || dictCount > crcAt) fail(`counts ${blockCount} blocks, ${dictCount} validators out of range`);
    const validators: string[] = [];
    for (let i = 0; i < dictCount; i++) {
      const len = src.u16();
      let id = '';
      try {
        id = utf8Strict.decode(src.bytes(len));
      } catch {
        fail(`validator ${i} is not UTF-8`);
      }
      if (id.length === 0 || (i > 0 && !(id > (validators[i - 1] as string)))) fail(`validator ${i} empty or out of order`);
      validators.push(id);
    }
    const blocks: ColdBlockRef[] = [];
    const blockValidators: number[][] = [];
    let expectOffset = FILE_HEADER_BYTES;
    let lastLsn = 0;
    for (let i = 0; i < blockCount; i++) {
      const offset = src.u64();
      const length = src.u32();
      const count = src.u32();
      const minLsn = src.u64();
      const maxLsn = src.u64();
      if (offset !== expectOffset || length <= BLOCK_HEADER_BYTES || count < 1) fail(`block ${i} at ${offset} (${length} bytes, ${count} records) does not follow the previous block`);
      if (minLsn <= lastLsn || maxLsn < minLsn || maxLsn - minLsn < count - 1) fail(`block ${i} LSN range ${minLsn}..${maxLsn} out of order`);
      const flags = src.u8();
      if ((flags & ~7) !== 0) fail(`block ${i} flags ${flags}`);
      const hLo = src.u64();
      const hHi = src.u64();
      const rLo = src.u32();
      const rHi = src.u32();
      const tLo = src.u64();
      const tHi = src.u64();
      const span = (flag: number, lo: number, hi: number, what: string): [number, number] => {
        if ((flags & flag) === 0) {
          if (lo !== 0 || hi !== 0) fail(`block ${i} absent ${what} range is not zero`);
          return [NaN, NaN];
        }
        if (hi < lo) fail(`block ${i} ${what} range ${lo}..${hi}`);
        return [lo, hi];
      };
      const [minHeight, maxHeight] = span(FLAG_HEIGHT, hLo, hHi, 'height');
      const [minRound, maxRound] = span(FLAG_ROUND, rLo, rHi, 'round');
      const [minTime, maxTime] = span(FLAG_TIME, tLo, tHi, 'time');
      const kindCount = src.u8();
      if (kindCount < 1 || kindCount > count) fail(`block ${i} kind count ${kindCount}`);
      const kinds: number[] = [];
      for (let k = 0; k < kindCount; k++) {
        const kind = src.u8();
        if (kind === 0 || (k > 0 && kind <= (kinds[k - 1] as number))) fail(`block ${i} kinds out of order`);
        kinds.push(kind);
      }
      const mode = src.u8();
      const indices: number[] = [];
      if (mode === MODE_LIST) {
        const n = src.varint();
        if (n > dictCount) fail(`block ${i} names ${n} validators of ${dictCount}`);
        let last = -1;
        for (let k = 0; k < n; k++) {
          last += src.varint();
          if (indices.length > 0 && last <= (indices[indices.length - 1] as number)) fail(`block ${i} validator index repeats`);
          if (last >= dictCount) fail(`block ${i} validator index ${last} of ${dictCount}`);
          indices.push(last);
        }
      } else if (mode === MODE_BITMAP) {
        const bitmap = src.bytes(Math.ceil(dictCount / 8));
        for (let x = 0; x < bitmap.length * 8; x++) {
          if (((bitmap[x >>> 3] as number) & (1 << (x & 7))) === 0) continue;
          if (x >= dictCount) fail(`block ${i} validator bitmap names index ${x} of ${dictCount}`);
          indices.push(x);
        }
      } else {
        fail(`block ${i} validator index mode ${mode}`);
      }
      // Frozen: the reader hands these very objects to every caller.
      blocks.push(Object.freeze({ file: name, offset, length, count, kinds: Object.freeze(kinds), minHeight, maxHeight, minRound, maxRound, minLsn, maxLsn, minTime, maxTime }));
      blockValidators.push(indices);
      expectOffset = offset + length;
      lastLsn = maxLsn;
    }
    if (src.remaining !== 0) fail(`${src.remaining} trailing bytes`);
    if (expectOffset !== footerOffset) throw corruption(file, footerOffset, `cold file blocks end at ${expectOffset}, not at the footer`);
    return { blocks, validators, blockValidators };
  } catch (err) {
    if (err instanceof Error && err.name !== 'ConsensusStoreError') throw corruption(file, footerOffset + src.pos, `cold file footer: ${err.message}`);
    throw err;
  }
}

/** The trailer of a file whose footer is at `footerOffset`, `footerLength` bytes. */
export function encodeTrailer(footerOffset: number, footerLength: number): Uint8Array {
  const out = new Uint8Array(TRAILER_BYTES);
  writeU64(out, 0, footerOffset);
  writeU32(out, 8, footerLength);
  out.set(COLD_TRAILER_MAGIC, 16);
  writeU32(out, 12, trailerCrc(out));
  return out;
}

function trailerCrc(bytes: Uint8Array): number {
  return maskCrc(crc32cUpdate(crc32cUpdate(0, bytes, 0, 12), bytes, 16, TRAILER_BYTES));
}

/** Decodes the trailer at the end of `file` of `fileBytes` bytes: where its footer is. */
export function decodeTrailer(bytes: Uint8Array, file: string, fileBytes: number): { footerOffset: number; footerLength: number } {
  const at = fileBytes - TRAILER_BYTES;
  if (bytes.length !== TRAILER_BYTES || !equalBytes(bytes.subarray(16), COLD_TRAILER_MAGIC)) throw corruption(file, at + 16, 'cold file trailer magic missing');
  if (readU32(bytes, 12) !== trailerCrc(bytes)) throw corruption(file, at + 12, 'cold file trailer checksum mismatch');
  const footerOffset = readU64(bytes, 0);
  const footerLength = readU32(bytes, 8);
  if (footerOffset < FILE_HEADER_BYTES || footerLength > MAX_FOOTER_BYTES || footerOffset + footerLength !== at) {
    throw corruption(file, at, `cold file trailer places the footer at ${footerOffset} (${footerLength} bytes) in a file of ${fileBytes}`);
  }
  return { footerOffset, footerLength };
}
