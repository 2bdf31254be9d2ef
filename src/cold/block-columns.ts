/**
 * The columnar layout of one cold block before compression (docs/format.md, "Cold files",
 * "Block content"): the kinds (one byte each), the LSNs (the first, then deltas, varints), the
 * payload lengths (varints), then the payload bytes grouped by (kind, length) class in order of
 * first appearance, each class stored byte-plane transposed: byte 0 of every record of the
 * class, then byte 1, and so on. Fixed-layout records (a vote) then put their heights, rounds,
 * types and ids in long runs that deflate shrinks to almost nothing.
 *
 * Pure functions, no I/O. Decoding must never return a record it did not fully check: any
 * inconsistency throws Error with the byte position (the reader turns it into CORRUPTION).
 */
import type { Lsn } from '../model/log-record.ts';
import type { ColdRecord } from './types.ts';
import { ByteSink, ByteSource, varintLength } from './cold-bytes.ts';

/** Bytes a record adds to a block's columns: its kind, LSN delta (at most), length and payload. */
export function columnBytesOf(record: ColdRecord): number {
  return 1 + 8 + varintLength(record.payload.length) + record.payload.length;
}

/** The class key of a record: kind and payload length. */
function classKey(kind: number, length: number): number {
  return length * 256 + kind;
}

/** Groups record indexes by class, in order of first appearance. */
function classesOf(kinds: ArrayLike<number>, lengths: ArrayLike<number>, n: number): number[][] {
  const byKey = new Map<number, number[]>();
  const order: number[][] = [];
  for (let i = 0; i < n; i++) {
    const key = classKey(kinds[i] as number, lengths[i] as number);
    let members = byKey.get(key);
    if (members === undefined) {
      members = [];
      byKey.set(key, members);
      order.push(members);
    }
    members.push(i);
  }
  return order;
}

const PLANES = 0;
const DICTIONARY = 1;

/** One run of byte positions of a class: stored as byte planes, or as a dictionary of its distinct byte strings. */
interface Segment {
  readonly start: number;
  end: number;
  readonly kind: typeof PLANES | typeof DICTIONARY;
  /** Dictionary segments: each member's entry index, and the entry count. */
  ids?: Int32Array;
  size?: number;
}

/** The lookup table of `segmentsOf` (module-level: no allocation per byte position). */
const tableStamps = new Int32Array(65536);
const tableIds = new Int32Array(65536);
let tableStamp = 0;

/**
 * Splits the `width` byte positions of a class of `payloads` into segments: a run of positions
 * whose byte strings take at most `limit` distinct values across the members (an id, a hash, the
 * high bytes of a time) becomes a dictionary; any other position a byte plane.
 */
function segmentsOf(payloads: readonly Uint8Array[], width: number): Segment[] {
  const n = payloads.length;
  const limit = Math.min(255, Math.floor(n / 2));
  const out: Segment[] = [];
  let open: Segment | undefined;
  const extend = (from: Int32Array | undefined, j: number): { ids: Int32Array; size: number } | undefined => {
    // Tuple ids stay below 255, so (previous id, byte) fits a 64 Ki table; a stamp per call
    // empties it without clearing it.
    if (tableStamp >= 0x7fff_fff0) {
      tableStamps.fill(0);
      tableStamp = 0;
    }
    const stamp = ++tableStamp;
    const ids = new Int32Array(n);
    let size = 0;
    for (let i = 0; i < n; i++) {
      const key = (from === undefined ? 0 : (from[i] as number) << 8) | ((payloads[i] as Uint8Array)[j] as number);
      let id: number;
      if (tableStamps[key] === stamp) {
        id = tableIds[key] as number;
      } else {
        if (size >= limit) return undefined;
        id = size++;
        tableStamps[key] = stamp;
        tableIds[key] = id;
      }
      ids[i] = id;
    }
    return { ids, size };
  };
  for (let j = 0; j < width; j++) {
    if (open !== undefined && open.kind === DICTIONARY) {
      const grown = extend(open.ids, j);
      if (grown !== undefined) {
        open.ids = grown.ids;
        open.size = grown.size;
        open.end = j + 1;
        continue;
      }
    }
    const fresh = limit > 0 ? extend(undefined, j) : undefined;
    if (fresh !== undefined) {
      open = { start: j, end: j + 1, kind: DICTIONARY, ids: fresh.ids, size: fresh.size };
      out.push(open);
    } else if (open !== undefined && open.kind === PLANES) {
      open.end = j + 1;
    } else {
      open = { start: j, end: j + 1, kind: PLANES };
      out.push(open);
    }
  }
  return worthIt(out, n);
}

/**
 * Keeps a dictionary segment only where it pays: at least two bytes wide and its entries and
 * index at most half its planes; any other becomes planes, merged with planes beside it.
 */
function worthIt(segments: readonly Segment[], n: number): Segment[] {
  const out: Segment[] = [];
  for (const seg of segments) {
    const len = seg.end - seg.start;
    const keep = seg.kind === DICTIONARY && len >= 2 && (seg.size as number) * len + n <= (n * len) / 2;
    const last = out[out.length - 1];
    if (keep) out.push(seg);
    else if (last !== undefined && last.kind === PLANES) last.end = seg.end;
    else out.push({ start: seg.start, end: seg.end, kind: PLANES });
  }
  return out;
}

/** Appends one class (the payloads of its members, all `width` bytes) to `sink`. */
function encodeClass(sink: ByteSink, payloads: readonly Uint8Array[], width: number): void {
  const n = payloads.length;
  const segments = segmentsOf(payloads, width);
  sink.varint(segments.length);
  for (const seg of segments) {
    const len = seg.end - seg.start;
    sink.varint(len).u8(seg.kind);
    if (seg.kind === PLANES) {
      const planes = new Uint8Array(len * n);
      for (let m = 0; m < n; m++) {
        const p = payloads[m] as Uint8Array;
        for (let j = 0; j < len; j++) planes[j * n + m] = p[seg.start + j] as number;
      }
      sink.bytes(planes);
      continue;
    }
    const ids = seg.ids as Int32Array;
    const size = seg.size as number;
    sink.u8(size - 1);
    const entries = new Uint8Array(size * len);
    const filled = new Uint8Array(size);
    for (let m = 0; m < n; m++) {
      const id = ids[m] as number;
      if (filled[id] === 1) continue;
      filled[id] = 1;
      entries.set((payloads[m] as Uint8Array).subarray(seg.start, seg.end), id * len);
    }
    sink.bytes(entries);
    const index = new Uint8Array(n);
    for (let m = 0; m < n; m++) index[m] = ids[m] as number;
    sink.bytes(index);
  }
}

/** Reads one class of `payloads` (allocated, all `width` bytes) from `src`. Throws Error on anything inconsistent. */
function decodeClass(src: ByteSource, payloads: readonly Uint8Array[], width: number): void {
  const n = payloads.length;
  const at = src.pos;
  const count = src.varint();
  if (count > width || (count === 0) !== (width === 0)) throw new Error(`class of width ${width} has ${count} segments (byte ${at})`);
  let start = 0;
  for (let s = 0; s < count; s++) {
    const segAt = src.pos;
    const len = src.varint();
    if (len < 1 || start + len > width) throw new Error(`segment of ${len} bytes at byte ${segAt} passes the class width ${width}`);
    const kind = src.u8();
    if (kind === PLANES) {
      const planes = src.bytes(len * n);
      for (let m = 0; m < n; m++) {
        const p = payloads[m] as Uint8Array;
        for (let j = 0; j < len; j++) p[start + j] = planes[j * n + m] as number;
      }
    } else if (kind === DICTIONARY) {
      const size = src.u8() + 1;
      const entries = src.bytes(size * len);
      const index = src.bytes(n);
      for (let m = 0; m < n; m++) {
        const id = index[m] as number;
        if (id >= size) throw new Error(`dictionary index ${id} of ${size} entries at byte ${src.pos - n + m}`);
        (payloads[m] as Uint8Array).set(entries.subarray(id * len, id * len + len), start);
      }
    } else {
      throw new Error(`segment kind ${kind} at byte ${segAt}`);
    }
    start += len;
  }
  if (start !== width) throw new Error(`segments of a class at byte ${at} cover ${start} of ${width} bytes`);
}

/**
 * The columns of `records` (non-empty, LSNs strictly increasing, kinds 1..255: the writer has
 * checked them).
 */
export function encodeBlockColumns(records: readonly ColdRecord[]): Uint8Array {
  const n = records.length;
  let payloadBytes = 0;
  for (const r of records) payloadBytes += r.payload.length;
  const sink = new ByteSink(n * 4 + 16 + payloadBytes + payloadBytes / 8);
  for (const r of records) sink.u8(r.kind);
  let last = 0;
  records.forEach((r, i) => {
    sink.varint(i === 0 ? r.lsn : r.lsn - last);
    last = r.lsn;
  });
  for (const r of records) sink.varint(r.payload.length);
  const kinds = records.map((r) => r.kind);
  const lengths = records.map((r) => r.payload.length);
  for (const members of classesOf(kinds, lengths, n)) {
    const width = lengths[members[0] as number] as number;
    encodeClass(sink, members.map((m) => (records[m] as ColdRecord).payload), width);
  }
  return sink.finish();
}

/**
 * The records of a block's columns: `count` records, every byte of `raw` used.
 * @throws Error naming the byte position on anything inconsistent.
 */
export function decodeBlockColumns(raw: Uint8Array, count: number): ColdRecord[] {
  if (count < 1) throw new Error(`record count ${count}`);
  if (raw.length < count) throw new Error(`kinds column of ${count} bytes runs past the end (${raw.length} bytes)`);
  const kinds = raw.subarray(0, count);
  for (let i = 0; i < count; i++) if (kinds[i] === 0) throw new Error(`record ${i} has kind 0 (byte ${i})`);
  const src = new ByteSource(raw, count);
  const lsns: number[] = new Array<number>(count);
  let lsn = 0;
  for (let i = 0; i < count; i++) {
    const at = src.pos;
    const v = src.varint();
    if (v < 1) throw new Error(`LSN ${i === 0 ? 'start' : 'delta'} ${v} at byte ${at}`);
    lsn += v;
    if (!Number.isSafeInteger(lsn)) throw new Error(`LSN at byte ${at} exceeds 2^53-1`);
    lsns[i] = lsn;
  }
  const lengths: number[] = new Array<number>(count);
  let total = 0;
  for (let i = 0; i < count; i++) {
    const at = src.pos;
    const len = src.varint();
    total += len;
    if (total > raw.length * 8) throw new Error(`payload length ${len} at byte ${at} is out of proportion to the block`);
    lengths[i] = len;
  }
  const payloads: Uint8Array[] = lengths.map((len) => new Uint8Array(len));
  for (const members of classesOf(kinds, lengths, count)) {
    decodeClass(src, members.map((m) => payloads[m] as Uint8Array), lengths[members[0] as number] as number);
  }
  if (src.remaining !== 0) throw new Error(`${src.remaining} trailing bytes at byte ${src.pos}`);
  const out: ColdRecord[] = new Array<ColdRecord>(count);
  for (let i = 0; i < count; i++) out[i] = { kind: kinds[i] as number, lsn: lsns[i] as Lsn, payload: payloads[i] as Uint8Array };
  return out;
}
