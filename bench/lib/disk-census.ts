/**
 * What a consensus-store data directory holds on disk, read from the files after the store
 * closed (docs/format.md, "Directory", "Segments"): the hot log's segments walked frame by
 * frame up to the end of their last record (the preallocated zeros after it, and a segment
 * created ahead of need that holds no batch, counted apart as "preallocated"), with the bytes
 * and count of the records of each kind (header, payload and padding: the span on disk) and of
 * the commit markers; the local images (`images/`); the portable snapshots (`snapshots/`); and
 * the other files (MANIFEST, LOCK, SIGNSTATE, node.key) whole.
 *
 * Must never: count a preallocated zero as used, or guess a size from a formula: every figure
 * is read from the files.
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { readU32, recordSpan, SEGMENT_HEADER_BYTES, SEGMENT_MAGIC } from '../../src/codec/framing.ts';

/** Records of one kind in the segments: how many, and their bytes on disk (span). */
export interface KindBytes {
  count: number;
  bytes: number;
}

/** A data directory's bytes, by what holds them. */
export interface DiskCensus {
  /** Segments up to the end of their last record (headers, records, commit markers). */
  readonly segments: number;
  readonly segmentFiles: number;
  /** Zeros after the last record of each segment, and segments holding no batch. */
  readonly preallocated: number;
  /** `images/` (local state images). */
  readonly images: number;
  readonly imageFiles: number;
  /** `snapshots/` (portable snapshots and their attestations). */
  readonly snapshots: number;
  readonly snapshotFiles: number;
  /** Every other file (MANIFEST, LOCK, SIGNSTATE, node.key), whole. */
  readonly other: number;
  readonly otherFiles: readonly string[];
  /** Records in the segments by kind number (200: commit markers); segment headers under 0. */
  readonly kinds: ReadonlyMap<number, KindBytes>;
}

/** Total bytes the census counts as used: segments, images, snapshots and other files. */
export function usedBytes(c: DiskCensus): number {
  return c.segments + c.images + c.snapshots + c.other;
}

function walk(dir: string, visit: (path: string) => void): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) walk(p, visit);
    else if (entry.isFile()) visit(p);
  }
}

function add(kinds: Map<number, KindBytes>, kind: number, bytes: number): void {
  const k = kinds.get(kind) ?? { count: 0, bytes: 0 };
  k.count++;
  k.bytes += bytes;
  kinds.set(kind, k);
}

/**
 * Walks one segment's frames: resolves with the bytes up to the end of its last record (0 when
 * its header was never written), adding each record's span to `kinds`.
 */
export function walkSegment(path: string, kinds: Map<number, KindBytes>): number {
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(SEGMENT_HEADER_BYTES);
    if (size < SEGMENT_HEADER_BYTES || readSync(fd, head, 0, SEGMENT_HEADER_BYTES, 0) < SEGMENT_HEADER_BYTES) return 0;
    if (!head.subarray(0, SEGMENT_MAGIC.length).equals(SEGMENT_MAGIC)) return 0;
    add(kinds, 0, SEGMENT_HEADER_BYTES);
    const frame = Buffer.alloc(9);
    let pos = SEGMENT_HEADER_BYTES;
    for (;;) {
      if (pos + 9 > size) return pos;
      readSync(fd, frame, 0, 9, pos);
      const length = readU32(frame, 0);
      const kind = frame[8] ?? 0;
      if (length === 0 && kind === 0) return pos;
      const next = pos + recordSpan(length);
      if (next > size) return pos;
      add(kinds, kind, next - pos);
      pos = next;
    }
  } finally {
    closeSync(fd);
  }
}

/** Reads the census of a closed store's data directory. */
export function diskCensus(dir: string): DiskCensus {
  const kinds = new Map<number, KindBytes>();
  let segments = 0;
  let segmentFiles = 0;
  let preallocated = 0;
  let images = 0;
  let imageFiles = 0;
  let snapshots = 0;
  let snapshotFiles = 0;
  let other = 0;
  const otherFiles: string[] = [];
  walk(dir, (p) => {
    const size = statSync(p).size;
    const top = relative(dir, p).split(sep)[0] ?? '';
    if (top === 'wal' && p.endsWith('.wal')) {
      const used = walkSegment(p, kinds);
      segments += used;
      preallocated += size - used;
      segmentFiles++;
    } else if (top === 'images') {
      images += size;
      imageFiles++;
    } else if (top === 'snapshots') {
      snapshots += size;
      snapshotFiles++;
    } else {
      other += size;
      otherFiles.push(relative(dir, p));
    }
  });
  return { segments, segmentFiles, preallocated, images, imageFiles, snapshots, snapshotFiles, other, otherFiles: otherFiles.sort(), kinds };
}
