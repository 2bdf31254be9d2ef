/**
 * Sequential big reads over one segment: the open-time walk, the tail inspection and `scan` read
 * through a `ChunkReader`, which keeps one window of the file in memory and refills it only when
 * a record runs past the window, so the per-record loop stays synchronous.
 *
 * This file must never read past the segment's capacity, and never size a buffer from an
 * unchecked length: callers check a record's length against the bytes left before asking for it.
 */
import type { FileHandle } from '../io/types.ts';

/** Default window: 1 MiB. */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;

/** A window over `[start, end)` of a file of `capacity` bytes. */
export class ChunkReader {
  /** The window's bytes: `bytes[i]` is the file's byte `start + i`. */
  bytes: Uint8Array;
  /** The window as 32-bit words (for zero checks); `start` is always 8-aligned by callers. */
  words: Int32Array;
  /** File offset of `bytes[0]`. */
  start = 0;
  /** File offset just past the window's valid bytes. */
  end = 0;
  readonly #handle: FileHandle;
  readonly #capacity: number;
  readonly #chunkBytes: number;

  /**
   * @param handle - the segment, open for reading.
   * @param capacity - bytes of the segment (reads never go past it).
   * @param chunkBytes - usual window size (a multiple of 8).
   */
  constructor(handle: FileHandle, capacity: number, chunkBytes = DEFAULT_CHUNK_BYTES) {
    this.#handle = handle;
    this.#capacity = capacity;
    this.#chunkBytes = chunkBytes;
    this.bytes = new Uint8Array(Math.min(chunkBytes, Math.max(capacity, 8)));
    this.words = new Int32Array(this.bytes.buffer, 0, this.bytes.length >>> 2);
  }

  /** True when `[pos, pos + length)` is in the window (no I/O). */
  has(pos: number, length: number): boolean {
    return pos >= this.start && pos + length <= this.end;
  }

  /**
   * Makes `[pos, pos + length)` available in the window, reading from `pos` on (a whole chunk,
   * or more when `length` is larger).
   *
   * @returns false, reading nothing, when the range runs past the segment's capacity.
   * @throws the file system's errno error.
   */
  async ensure(pos: number, length: number): Promise<boolean> {
    if (this.has(pos, length)) return true;
    if (pos + length > this.#capacity) return false;
    const want = Math.min(Math.max(this.#chunkBytes, length), this.#capacity - pos);
    if (this.bytes.length < want) {
      this.bytes = new Uint8Array(want);
      this.words = new Int32Array(this.bytes.buffer, 0, want >>> 2);
    }
    let got = 0;
    while (got < want) {
      const n = await this.#handle.read(this.bytes, pos + got, got, want - got);
      if (n === 0) break;
      got += n;
    }
    // A file shorter than its capacity reads as unwritten space past its end.
    this.bytes.fill(0, got, want);
    this.start = pos;
    this.end = pos + want;
    return true;
  }
}
