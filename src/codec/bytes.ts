/**
 * The byte helpers of codec/ and every layer above it: the order, equality and hex of byte
 * strings; a u64 as two u32 halves; little-endian fields read and written in place (the log's
 * framing, the manifest, the fixed record payloads); and a big-endian writer and reader for the
 * signed and hashed layouts (sign bytes, block hashes, evidence content, audit events and entries).
 * io/ sits below codec/ and keeps its own few lines.
 *
 * Signatures and hashes are made of these bytes: this file must never change an output byte
 * (the known-answer tests in test/codec hold it to that), never do I/O, and never allocate in the
 * in-place helpers and the comparators (the commit path, the replay and the indexes call them for
 * every record and key).
 */
import { isWellFormedString } from '../model/vote.ts';

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

// ---------------------------------------------------------------------------------------------
// Order, equality, hex

/** Orders byte strings lexicographically, unsigned; a proper prefix sorts before its extensions. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/**
 * True when two byte strings are equal. Absent values compare by identity: two nulls (or two
 * undefineds) are equal, an absent value and bytes are not.
 */
export function equalBytes(a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lowercase hex of bytes (map keys, file contents, messages). */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Bytes of a lowercase, even-length hex string, or undefined when it is not one. */
export function fromHex(text: string): Uint8Array | undefined {
  if (typeof text !== 'string' || text.length % 2 !== 0 || !/^[0-9a-f]*$/.test(text)) return undefined;
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

// ---------------------------------------------------------------------------------------------
// A u64 as two u32 halves

const TWO_POW_32 = 0x1_0000_0000;
/** The largest high half of a safe integer: 2^53 - 1 is 0x1f_ffff * 2^32 + 0xffff_ffff. */
const MAX_SAFE_HIGH = 0x1f_ffff;

/** The high 32 bits of a safe non-negative integer (the caller has checked it). */
export function u64High(n: number): number {
  return Math.floor(n / TWO_POW_32);
}

/** The low 32 bits of a safe non-negative integer (the caller has checked it). */
export function u64Low(n: number): number {
  return n >>> 0;
}

/** The number whose u64 halves are `high` and `low`, or -1 when it exceeds 2^53 - 1 (the caller reports damage). */
export function joinU64(high: number, low: number): number {
  return high > MAX_SAFE_HIGH ? -1 : high * TWO_POW_32 + low;
}

// ---------------------------------------------------------------------------------------------
// Little-endian fields in place (nothing allocated, nothing checked: the caller knows the room)

/** Reads a little-endian u32. */
export function readU32(bytes: Uint8Array, pos: number): number {
  return (bytes[pos]! | (bytes[pos + 1]! << 8) | (bytes[pos + 2]! << 16) | (bytes[pos + 3]! << 24)) >>> 0;
}

/** Writes a little-endian u32. */
export function writeU32(bytes: Uint8Array, pos: number, value: number): void {
  bytes[pos] = value;
  bytes[pos + 1] = value >>> 8;
  bytes[pos + 2] = value >>> 16;
  bytes[pos + 3] = value >>> 24;
}

/** Reads a little-endian u64 as a number; values above 2^53 - 1 read as -1 (the caller reports damage). */
export function readU64(bytes: Uint8Array, pos: number): number {
  return joinU64(readU32(bytes, pos + 4), readU32(bytes, pos));
}

/** Writes a safe non-negative integer as a little-endian u64. */
export function writeU64(bytes: Uint8Array, pos: number, value: number): void {
  writeU32(bytes, pos, u64Low(value));
  writeU32(bytes, pos + 4, u64High(value));
}

// ---------------------------------------------------------------------------------------------
// Big-endian layouts: the writer and the reader of signed and hashed bytes

/** Appends big-endian fields to a growing buffer. */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  /** @param capacity - bytes to start with (the buffer doubles when it is full). */
  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    bigger.set(this.buf.subarray(0, this.pos));
    this.buf = bigger;
    this.view = new DataView(bigger.buffer);
  }

  /** Raw bytes. */
  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** u8. */
  u8(n: number): this {
    this.room(1);
    this.buf[this.pos++] = n;
    return this;
  }

  /** u16. */
  u16(n: number): this {
    this.room(2);
    this.view.setUint16(this.pos, n);
    this.pos += 2;
    return this;
  }

  /** u32. */
  u32(n: number): this {
    this.room(4);
    this.view.setUint32(this.pos, n);
    this.pos += 4;
    return this;
  }

  /** A safe non-negative integer as u64 (the caller has checked it). */
  u64(n: number): this {
    this.room(8);
    this.view.setUint32(this.pos, u64High(n));
    this.view.setUint32(this.pos + 4, u64Low(n));
    this.pos += 8;
    return this;
  }

  /** u16 byte length, then UTF-8. */
  text(s: string): this {
    const b = utf8.encode(s);
    return this.u16(b.length).bytes(b);
  }

  /** u32 length, then the bytes. */
  blob(b: Uint8Array): this {
    return this.u32(b.length).bytes(b);
  }

  /** The bytes written (a copy). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/** Reads what `ByteWriter` wrote; every method throws `Error` with a reason on bad input. */
export class ByteReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error(`truncated at byte ${this.pos}`);
  }

  /** `n` raw bytes (a copy). */
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** u8. */
  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }

  /** u16. */
  u16(): number {
    this.need(2);
    const n = this.view.getUint16(this.pos);
    this.pos += 2;
    return n;
  }

  /** u32. */
  u32(): number {
    this.need(4);
    const n = this.view.getUint32(this.pos);
    this.pos += 4;
    return n;
  }

  /** u64 that must be a safe integer. */
  u64(): number {
    this.need(8);
    const n = joinU64(this.view.getUint32(this.pos), this.view.getUint32(this.pos + 4));
    if (n < 0) throw new Error(`u64 at byte ${this.pos} exceeds 2^53-1`);
    this.pos += 8;
    return n;
  }

  /** A 0/1 flag. */
  flag(): boolean {
    const f = this.u8();
    if (f > 1) throw new Error(`flag ${f} is not 0 or 1`);
    return f === 1;
  }

  /** Text of 1..maxLength well-formed characters. */
  text(maxLength: number): string {
    const b = this.bytes(this.u16());
    let s: string;
    try {
      s = utf8Strict.decode(b);
    } catch {
      throw new Error('text is not valid UTF-8');
    }
    if (s.length === 0 || s.length > maxLength || !isWellFormedString(s)) throw new Error('text length out of range');
    return s;
  }

  /** A u32-length blob of at most `max` bytes. */
  blob(max: number): Uint8Array {
    const n = this.u32();
    if (n > max) throw new Error(`blob of ${n} bytes exceeds ${max}`);
    return this.bytes(n);
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** Throws when bytes are left over. */
  end(): void {
    if (this.pos !== this.buf.length) throw new Error(`${this.buf.length - this.pos} trailing bytes`);
  }
}
