/**
 * deflateRaw and inflateRaw of node:zlib, the asynchronous (threadpool) variants, as promises:
 * a cold block is compressed and decompressed off the event loop, so that compaction beside
 * the write path never blocks it for long (docs/format.md, "Cold files").
 *
 * It must never use the synchronous zlib calls, and never inflate beyond the size the caller
 * expects (a damaged stream must not allocate without bound).
 */
import { deflateRaw, inflateRaw } from 'node:zlib';

/** deflateRaw of `bytes` at `level` (0..9). */
export function deflateAsync(bytes: Uint8Array, level: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    deflateRaw(bytes, { level }, (err, out) => (err === null ? resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength)) : reject(err)));
  });
}

/** inflateRaw of `bytes`, failing when the output would exceed `maxBytes`. */
export function inflateAsync(bytes: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    inflateRaw(bytes, { maxOutputLength: Math.max(1, maxBytes) }, (err, out) =>
      err === null ? resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength)) : reject(err),
    );
  });
}
