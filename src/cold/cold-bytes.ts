/**
 * The byte writer and reader of the cold tier's own layouts (docs/format.md, "Cold files"):
 * little-endian u8/u16/u32/u64 fields, raw bytes and unsigned LEB128 varints (seven bits a byte,
 * least significant group first, the high bit set on every byte but the last; values below 2^53,
 * so at most 8 bytes, and minimal: no trailing zero group).
 *
 * It must never do I/O, and the reader must never return a value it did not fully read: a field
 * that runs past the end, a varint longer than 8 bytes or above 2^53 - 1 throws Error with the
 * byte position (the caller turns it into CORRUPTION naming its file and offset).
 */
import { readU32, readU64, writeU32, writeU64 } from '../codec/bytes.ts';

/** Most bytes of a varint of a safe integer. */
export const MAX_VARINT_BYTES = 8;

/** The byte length of `value` as a varint. */
export function varintLength(value: number): number {
  let n = 1;
  let v = value;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

/** A growing little-endian byte buffer. */
export class ByteSink {
  #buf: Uint8Array;
  #pos = 0;

  constructor(capacity = 1024) {
    this.#buf = new Uint8Array(Math.max(16, capacity));
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const bigger = new Uint8Array(Math.max(this.#buf.length * 2, this.#pos + n));
    bigger.set(this.#buf.subarray(0, this.#pos));
    this.#buf = bigger;
  }

  /** Appends `value` (a safe non-negative integer, checked by the caller) as a varint. */
  varint(value: number): this {
    this.#room(MAX_VARINT_BYTES);
    let v = value;
    while (v >= 0x80) {
      this.#buf[this.#pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buf[this.#pos++] = v;
    return this;
  }

  u8(value: number): this {
    this.#room(1);
    this.#buf[this.#pos++] = value;
    return this;
  }

  u16(value: number): this {
    this.#room(2);
    this.#buf[this.#pos++] = value & 0xff;
    this.#buf[this.#pos++] = (value >>> 8) & 0xff;
    return this;
  }

  u32(value: number): this {
    this.#room(4);
    writeU32(this.#buf, this.#pos, value);
    this.#pos += 4;
    return this;
  }

  /** A safe non-negative integer as a u64. */
  u64(value: number): this {
    this.#room(8);
    writeU64(this.#buf, this.#pos, value);
    this.#pos += 8;
    return this;
  }

  /** Raw bytes. */
  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
    return this;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#pos;
  }

  /** The bytes written (a view of the internal buffer: valid until the next append). */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#pos);
  }

  /** A copy of the bytes written. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#pos);
  }
}

/** Reads what `ByteSink` wrote; `pos` is the next byte. Throws Error with the position on bad input. */
export class ByteSource {
  pos: number;
  readonly #bytes: Uint8Array;
  readonly #end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.#bytes = bytes;
    this.pos = start;
    this.#end = end;
  }

  #need(n: number, what: string): void {
    if (this.pos + n > this.#end) throw new Error(`${what} at byte ${this.pos} runs past the end (byte ${this.#end})`);
  }

  /** The next varint. */
  varint(): number {
    const start = this.pos;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      this.#need(1, 'varint');
      const b = this.#bytes[this.pos++] as number;
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(value)) throw new Error(`varint at byte ${start} exceeds 2^53-1`);
        if (i > 0 && b === 0) throw new Error(`varint at byte ${start} is not minimal`);
        return value;
      }
      scale *= 0x80;
    }
    throw new Error(`varint at byte ${start} is longer than ${MAX_VARINT_BYTES} bytes`);
  }

  u8(): number {
    this.#need(1, 'u8');
    return this.#bytes[this.pos++] as number;
  }

  u16(): number {
    this.#need(2, 'u16');
    const v = (this.#bytes[this.pos] as number) | ((this.#bytes[this.pos + 1] as number) << 8);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.#need(4, 'u32');
    const v = readU32(this.#bytes, this.pos);
    this.pos += 4;
    return v;
  }

  /** A u64 that must be a safe integer. */
  u64(): number {
    this.#need(8, 'u64');
    const v = readU64(this.#bytes, this.pos);
    if (v < 0) throw new Error(`u64 at byte ${this.pos} exceeds 2^53-1`);
    this.pos += 8;
    return v;
  }

  /** `n` bytes (a view into the source). */
  bytes(n: number): Uint8Array {
    this.#need(n, `${n} bytes`);
    const out = this.#bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.#end - this.pos;
  }
}
