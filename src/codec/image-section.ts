/**
 * The bytes of one store's section in a local state image (docs/format.md, "Local state
 * image"): a store writes its in-memory state with `ImageWriter` and reads it back with
 * `ImageReader`. Little-endian, fixed-width integers; typed arrays are written as they lie in
 * memory (the image is private to the node that wrote it and is read back on the same kind of
 * machine: the image's head carries a byte-order mark, checked when it is opened), so that a million votes load as
 * a handful of copies, not a million decodes.
 *
 * The reader must never allocate more than the bytes it was given can hold, never read past
 * its end, and never return a view into the image's buffer for a typed array (a copy, aligned,
 * that the store may keep and grow). Every malformation is an `Error` naming the byte offset; the
 * image loader turns it into CORRUPTION of the section.
 */
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

type TypedArray = Uint8Array | Int32Array | Uint32Array | Float64Array;
type TypedArrayConstructor<T extends TypedArray> = {
  new (length: number): T;
  readonly BYTES_PER_ELEMENT: number;
};

/** Collects a section's bytes as a list of parts (large arrays are not copied until `finish`). */
export class ImageWriter {
  #parts: Uint8Array[] = [];
  #scratch = new Uint8Array(4096);
  #view = new DataView(this.#scratch.buffer);
  #pos = 0;
  #length = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.#length + this.#pos;
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#scratch.length) return;
    this.#flush();
    if (n > this.#scratch.length) {
      this.#scratch = new Uint8Array(n);
      this.#view = new DataView(this.#scratch.buffer);
    }
  }

  #flush(): void {
    if (this.#pos === 0) return;
    this.#parts.push(this.#scratch.slice(0, this.#pos));
    this.#length += this.#pos;
    this.#pos = 0;
  }

  u8(n: number): this {
    this.#room(1);
    this.#scratch[this.#pos++] = n;
    return this;
  }

  u32(n: number): this {
    this.#room(4);
    this.#view.setUint32(this.#pos, n, true);
    this.#pos += 4;
    return this;
  }

  /** A safe integer (negative allowed) as a little-endian i64. */
  i64(n: number): this {
    if (!Number.isSafeInteger(n)) throw new RangeError(`image integer ${n} is not a safe integer`);
    this.#room(8);
    this.#view.setBigInt64(this.#pos, BigInt(n), true);
    this.#pos += 8;
    return this;
  }

  /** Any number, as an IEEE 754 double. */
  f64(n: number): this {
    this.#room(8);
    this.#view.setFloat64(this.#pos, n, true);
    this.#pos += 8;
    return this;
  }

  /** A boolean as one byte 0/1. */
  flag(b: boolean): this {
    return this.u8(b ? 1 : 0);
  }

  /** u32 byte length, then the bytes. */
  bytes(b: Uint8Array): this {
    this.u32(b.length);
    if (b.length <= 1024) {
      this.#room(b.length);
      this.#scratch.set(b, this.#pos);
      this.#pos += b.length;
    } else {
      this.#flush();
      this.#parts.push(b.slice());
      this.#length += b.length;
    }
    return this;
  }

  /** u32 byte length, then UTF-8. */
  text(s: string): this {
    return this.bytes(utf8.encode(s));
  }

  /** A bigint of any sign and size: u8 sign, then its magnitude as a hex string's bytes. */
  bigint(n: bigint): this {
    this.u8(n < 0n ? 1 : 0);
    return this.text((n < 0n ? -n : n).toString(16));
  }

  /**
   * The first `count` elements of a typed array, as they lie in memory: u32 count, padding to
   * a multiple of 8 bytes from the section's start, then the raw bytes (copied at `finish`, so
   * the caller must not change those elements afterwards).
   */
  array(a: TypedArray, count = a.length): this {
    if (count > a.length) throw new RangeError(`array count ${count} exceeds its length ${a.length}`);
    this.u32(count);
    const pad = (8 - (this.length % 8)) % 8;
    for (let i = 0; i < pad; i++) this.u8(0);
    const bytes = new Uint8Array(a.buffer, a.byteOffset, count * a.BYTES_PER_ELEMENT);
    this.#flush();
    this.#parts.push(bytes);
    this.#length += bytes.length;
    return this;
  }

  /**
   * The section's bytes as the list of parts written (large arrays by reference, not copied):
   * for a writer that streams them to a file. The writer must not be used afterwards.
   */
  parts(): readonly Uint8Array[] {
    this.#flush();
    return this.#parts;
  }

  /** The section's bytes, one buffer. */
  finish(): Uint8Array {
    this.#flush();
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const p of this.#parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** Reads what `ImageWriter` wrote. Every method throws `Error` naming the offset on bad bytes. */
export class ImageReader {
  #pos = 0;
  readonly #buf: Uint8Array;
  readonly #view: DataView;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  #need(n: number): void {
    if (!(n >= 0) || this.#pos + n > this.#buf.length) throw new Error(`image section truncated at byte ${this.#pos} (needs ${n} more)`);
  }

  u8(): number {
    this.#need(1);
    return this.#buf[this.#pos++] as number;
  }

  u32(): number {
    this.#need(4);
    const n = this.#view.getUint32(this.#pos, true);
    this.#pos += 4;
    return n;
  }

  i64(): number {
    this.#need(8);
    const n = this.#view.getBigInt64(this.#pos, true);
    if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) throw new Error(`image integer at byte ${this.#pos} is not safe`);
    this.#pos += 8;
    return Number(n);
  }

  f64(): number {
    this.#need(8);
    const n = this.#view.getFloat64(this.#pos, true);
    this.#pos += 8;
    return n;
  }

  flag(): boolean {
    const at = this.#pos;
    const f = this.u8();
    if (f > 1) throw new Error(`image flag at byte ${at} is ${f}, not 0 or 1`);
    return f === 1;
  }

  /** A byte string of at most `max` bytes (a copy). */
  bytes(max: number): Uint8Array {
    const at = this.#pos;
    const n = this.u32();
    if (n > max) throw new Error(`image byte string at byte ${at} has ${n} bytes, more than ${max}`);
    this.#need(n);
    const out = this.#buf.slice(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** UTF-8 text of at most `maxBytes` bytes. */
  text(maxBytes: number): string {
    const at = this.#pos;
    const b = this.bytes(maxBytes);
    try {
      return utf8Strict.decode(b);
    } catch {
      throw new Error(`image text at byte ${at} is not UTF-8`);
    }
  }

  bigint(): bigint {
    const at = this.#pos;
    const sign = this.u8();
    const hex = this.text(4096);
    if (sign > 1 || !/^[0-9a-f]+$/.test(hex)) throw new Error(`image bigint at byte ${at} is malformed`);
    const n = BigInt(`0x${hex}`);
    return sign === 1 ? -n : n;
  }

  /**
   * A typed array written by `ImageWriter.array`, copied into a new array of `capacity`
   * elements (at least its count); at most `maxCount` elements.
   */
  array<T extends TypedArray>(Kind: TypedArrayConstructor<T>, maxCount: number, capacity = 0): { array: T; count: number } {
    const at = this.#pos;
    const count = this.u32();
    if (count > maxCount) throw new Error(`image array at byte ${at} has ${count} elements, more than ${maxCount}`);
    const pad = (8 - (this.#pos % 8)) % 8;
    this.#need(pad);
    for (let i = 0; i < pad; i++) if (this.#buf[this.#pos + i] !== 0) throw new Error(`image array padding at byte ${this.#pos + i} is not zero`);
    this.#pos += pad;
    const n = count * Kind.BYTES_PER_ELEMENT;
    this.#need(n);
    const array = new Kind(Math.max(count, capacity));
    new Uint8Array(array.buffer, 0, n).set(this.#buf.subarray(this.#pos, this.#pos + n));
    this.#pos += n;
    return { array, count };
  }

  /** Throws when bytes are left over. */
  end(): void {
    if (this.#pos !== this.#buf.length) throw new Error(`image section has ${this.#buf.length - this.#pos} trailing bytes`);
  }
}
