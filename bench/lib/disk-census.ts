/**
 * What a consensus-store data directory holds on disk, read from the files after the store
 * closed (docs/format.md, "Directory", "Segments"): the hot log's segments walked frame by
 * frame up to the end of their last record (the preallocated zeros after it, and a segment
 * created ahead of need that holds no batch, counted apart as "preallocated"), with the bytes
 * and count of the records of each kind (header, payload and padding: the span on disk) and of
 * the commit markers; the local images (`images/`); the portable snapshots (`snapshots/`); the
 * cold tier (`cold/`: its files whole, by the store that wrote them, with their record counts by
 * kind as the cold manifest lists them, and the manifest itself; docs/format.md, "Cold files");
 * and the other files (MANIFEST, LOCK, SIGNSTATE, node.key) whole.
 *
 * Must never: count a preallocated zero as used, or guess a size from a formula: every figure
 * is read from the files.
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { readFileSync } from 'node:fs';
import { readU32, recordSpan, SEGMENT_HEADER_BYTES, SEGMENT_MAGIC } from '../../src/codec/framing.ts';
import { COLD_DIR_NAME, COLD_MANIFEST_NAME, decodeColdManifest } from '../../src/cold/cold-manifest.ts';

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
  /** `cold/`: the cold files, whole (the manifest apart). */
  readonly cold: number;
  readonly coldFiles: number;
  /** `cold/MANIFEST` (0 when absent). */
  readonly coldManifest: number;
  /** Cold files by the store that wrote them (the name before the first '-'): bytes, files, records. */
  readonly coldByStore: ReadonlyMap<string, { bytes: number; files: number; records: number }>;
  /** Records in the cold files by kind, as the cold manifest lists them. */
  readonly coldKinds: ReadonlyMap<number, number>;
  /** Every other file (MANIFEST, LOCK, SIGNSTATE, node.key), whole. */
  readonly other: number;
  readonly otherFiles: readonly string[];
  /** Records in the segments by kind number (200: commit markers); segment headers under 0. */
  readonly kinds: ReadonlyMap<number, KindBytes>;
}

/** Total bytes the census counts as used: segments, images, snapshots, cold files and manifest, and other files. */
export function usedBytes(c: DiskCensus): number {
  return c.segments + c.images + c.snapshots + c.cold + c.coldManifest + c.other;
}

/** The cold manifest of `dir` decoded, with the cold files' records by kind and by store (empty when there is none). */
function coldCensus(dir: string): { kinds: Map<number, number>; byStore: Map<string, { bytes: number; files: number; records: number }> } {
  const kinds = new Map<number, number>();
  const byStore = new Map<string, { bytes: number; files: number; records: number }>();
  const path = join(dir, COLD_DIR_NAME, COLD_MANIFEST_NAME);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    return { kinds, byStore };
  }
  for (const f of decodeColdManifest(bytes, path).files) {
    const store = f.name.split('-')[0] ?? f.name;
    const s = byStore.get(store) ?? { bytes: 0, files: 0, records: 0 };
    s.bytes += f.bytes;
    s.files++;
    s.records += f.records;
    byStore.set(store, s);
    for (const k of f.kinds) kinds.set(k.kind, (kinds.get(k.kind) ?? 0) + k.count);
  }
  return { kinds, byStore };
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
  let cold = 0;
  let coldFiles = 0;
  let coldManifest = 0;
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
    } else if (top === COLD_DIR_NAME && p.endsWith('.cold')) {
      cold += size;
      coldFiles++;
    } else if (top === COLD_DIR_NAME && relative(dir, p) === join(COLD_DIR_NAME, COLD_MANIFEST_NAME)) {
      coldManifest += size;
    } else {
      other += size;
      otherFiles.push(relative(dir, p));
    }
  });
  const c = coldCensus(dir);
  return { segments, segmentFiles, preallocated, images, imageFiles, snapshots, snapshotFiles, cold, coldFiles, coldManifest, coldByStore: c.byStore, coldKinds: c.kinds, other, otherFiles: otherFiles.sort(), kinds };
}
