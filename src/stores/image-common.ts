/**
 * Helpers shared by the stores' sections of the local state image (docs/format.md, "Local state
 * image"): the section-format version every section starts with, and a count check that keeps a
 * malformed count from allocating more than the section's bytes can hold.
 *
 * It must never accept a section of another format version, nor a count the remaining bytes
 * cannot back.
 */
import type { ImageReader, ImageWriter } from '../codec/image-section.ts';

/** The format version every store section of this release starts with (u32). */
export const IMAGE_SECTION_VERSION = 1;

/** Writes the section's format version. */
export function writeSectionVersion(w: ImageWriter): void {
  w.u32(IMAGE_SECTION_VERSION);
}

/** Reads the section's format version. @throws Error when it is not `IMAGE_SECTION_VERSION`. */
export function readSectionVersion(r: ImageReader, section: string): void {
  const version = r.u32();
  if (version !== IMAGE_SECTION_VERSION) throw new Error(`${section} image section has format version ${version}, expected ${IMAGE_SECTION_VERSION}`);
}

/**
 * A u32 count of items that each take at least `minBytes` bytes in the section.
 * @throws Error when the bytes left cannot hold that many.
 */
export function readCount(r: ImageReader, minBytes: number, what: string): number {
  const n = r.u32();
  if (n * minBytes > r.remaining) throw new Error(`image count of ${what} (${n}) exceeds what ${r.remaining} bytes can hold`);
  return n;
}

/** The most elements of `bytesPerElement` bytes the rest of the section can hold (a typed array's `maxCount`). */
export function maxElements(r: ImageReader, bytesPerElement: number): number {
  return Math.floor(r.remaining / bytesPerElement);
}

/** A safe non-negative integer read as i64. @throws Error when negative. */
export function readUint(r: ImageReader, what: string): number {
  const n = r.i64();
  if (n < 0) throw new Error(`image ${what} is negative (${n})`);
  return n;
}
