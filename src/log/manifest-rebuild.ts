/**
 * Rebuilding a missing MANIFEST from the segments (D5, repair mode only). Every segment that
 * holds data describes itself: its header carries its id and the LSN of its first record, and
 * its records carry their LSNs. The rebuilt manifest lists as sealed every segment of the
 * longest run of consecutive ids from the oldest one with a sound header whose first LSNs rise,
 * except the newest of the run (the one the writer continues in); each sealed entry gets its end
 * offset, LSN range and header digest from a full walk, computed as the writer computes them
 * (segment-walk.ts). A sealed segment whose walk stops before the next segment's first LSN is
 * entered with the range the next header implies, so that the ordinary sealed check finds its
 * damage and repair mode handles it like any other; segments after a break in the run are later
 * data, removed (and reported) by the ordinary repair.
 *
 * This file must never write a segment, and never run without `repair: true`: a missing
 * manifest is otherwise CORRUPTION (open.ts).
 */
import { SEGMENT_HEADER_BYTES, decodeSegmentHeader, type SegmentHeader } from '../codec/framing.ts';
import type { FileHandle } from '../io/types.ts';
import { ChunkReader, DEFAULT_CHUNK_BYTES } from './chunk-reader.ts';
import { SegmentEntry } from './lsn-index.ts';
import { surveyData } from './loss-survey.ts';
import type { Manifest, SealedSegment } from './manifest.ts';
import { segmentPath } from './segment-file.ts';
import { walkSegment } from './segment-walk.ts';

/**
 * The manifest the segments `ids` (ascending, open in `handles`) describe (see the file
 * comment), generation 1, nothing pending. An empty log's when no segment holds a sound header.
 *
 * @throws ConsensusStoreError UNSUPPORTED_FORMAT for a segment of another format version; errno errors.
 */
export async function rebuildManifest(walDir: string, ids: readonly number[], handles: ReadonlyMap<number, FileHandle>): Promise<Manifest> {
  const run = await headerRun(ids, handles);
  const first = run[0];
  if (first === undefined) return { generation: 1, firstSegmentId: ids[0] ?? 1, baseLsn: 1, sealed: [], pendingRepairs: [] };
  const sealed: SealedSegment[] = [];
  for (let i = 0; i + 1 < run.length; i++) {
    const { id, header } = run[i]!;
    const nextFirstLsn = run[i + 1]!.header.firstLsn;
    const handle = handles.get(id)!;
    const capacity = await handle.size();
    const entry = new SegmentEntry(id, segmentPath(walDir, id), capacity, header.firstLsn);
    const walk = await walkSegment({ handle, entry, limit: capacity, verifyCrc: true, chunkBytes: DEFAULT_CHUNK_BYTES });
    const whole = walk.damage === undefined && walk.nextLsn === nextFirstLsn;
    const endOffset = whole ? walk.endOffset : (await surveyData(handle, capacity, 0)).dataEnd;
    sealed.push({ id, firstLsn: header.firstLsn, lastLsn: nextFirstLsn - 1, endOffset, digest: walk.digest });
  }
  return { generation: 1, firstSegmentId: first.id, baseLsn: first.header.firstLsn, sealed, pendingRepairs: [] };
}

/** The longest run of consecutive ids, from the oldest segment with a sound header, whose headers are sound, name their own id and have rising first LSNs. */
async function headerRun(ids: readonly number[], handles: ReadonlyMap<number, FileHandle>): Promise<{ id: number; header: SegmentHeader }[]> {
  const run: { id: number; header: SegmentHeader }[] = [];
  for (const id of ids) {
    const header = await readHeader(handles.get(id)!);
    const last = run[run.length - 1];
    const fits = header !== undefined && header.id === id && (last === undefined || (id === last.id + 1 && header.firstLsn > last.header.firstLsn));
    if (fits) run.push({ id, header });
    else if (last !== undefined) break;
  }
  return run;
}

async function readHeader(handle: FileHandle): Promise<SegmentHeader | undefined> {
  const capacity = await handle.size();
  const reader = new ChunkReader(handle, capacity, SEGMENT_HEADER_BYTES);
  if (!(await reader.ensure(0, SEGMENT_HEADER_BYTES))) return undefined;
  const decoded = decodeSegmentHeader(reader.bytes, 0);
  return decoded.status === 'ok' ? decoded.header : undefined;
}
