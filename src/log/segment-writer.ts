/**
 * The segment writer: puts one encoded batch at the end of the active segment with one
 * `writeAndSync` (D1), rotates to the pre-created next segment when a batch does not fit
 * (sealing the full one in the manifest first), and adds the batch to the index only once it
 * is durable.
 *
 * This file must never advance the position, the LSNs or the index for a batch whose write
 * failed (so DISK_FULL leaves nothing behind and the next batch rewrites the same place), never
 * write a batch into a segment before the previous segment is sealed durably, and never write a
 * batch across two segments.
 */
import { COMMIT_RECORD_BYTES, SEGMENT_HEADER_BYTES } from '../codec/framing.ts';
import type { FileHandle, FileSystem } from '../io/types.ts';
import { BatchEncoder, type PendingAppend } from './batch-encoder.ts';
import { SegmentEntry, type LsnIndex } from './lsn-index.ts';
import { writeManifest, type Manifest, type SealedSegment } from './manifest.ts';
import type { ActiveSegment } from './open.ts';
import type { ResolvedLogOptions } from './options.ts';
import type { SegmentReader } from './reader.ts';
import { planRelease } from './release-plan.ts';
import type { SegmentPipeline } from './segment-pipeline.ts';
import { segmentPath } from './segment-file.ts';

/** A write batch: whole `append` calls, in order. */
export interface WriteBatch {
  readonly calls: readonly PendingAppend[];
  /** Sum of the calls' record bytes (no marker). */
  readonly bytes: number;
  /** Sum of the calls' record counts. */
  readonly count: number;
}

interface Active {
  readonly entry: SegmentEntry;
  readonly handle: FileHandle;
  digest: number;
}

/** What the writer shares with the rest of the log. */
export interface SegmentWriterDeps {
  readonly fs: FileSystem;
  readonly options: ResolvedLogOptions;
  readonly walDir: string;
  readonly index: LsnIndex;
  readonly reader: SegmentReader;
  readonly pipeline: SegmentPipeline;
}

/** Writes batches into segments. One batch at a time (the caller serializes). */
export class SegmentWriter {
  readonly #deps: SegmentWriterDeps;
  readonly #encoder: BatchEncoder;
  #manifest: Manifest;
  /** Manifest writes (seals, acknowledgements) one at a time, in call order. */
  #manifestChain: Promise<unknown> = Promise.resolve();
  #active: Active;
  #nextLsn: number;

  /**
   * @param active - the segment open left to continue in.
   * @param nextLsn - the LSN the next record gets.
   */
  constructor(deps: SegmentWriterDeps, manifest: Manifest, active: ActiveSegment, nextLsn: number) {
    this.#deps = deps;
    this.#encoder = new BatchEncoder(deps.options.maxBatchRecords);
    this.#manifest = manifest;
    this.#nextLsn = nextLsn;
    this.#active = { entry: active.entry, handle: active.handle, digest: active.digest };
    deps.reader.pin(active.entry.id, active.handle);
  }

  /** The LSN the next written record gets. */
  get nextLsn(): number {
    return this.#nextLsn;
  }

  /** The id of the segment a rotation would move to. */
  get nextSegmentId(): number {
    return this.#active.entry.id + 1;
  }

  /**
   * Writes `batch` durably (or, with durability `none`, written) and indexes it.
   *
   * @returns the LSN of the batch's first record.
   * @throws the file system's errno error; nothing is then advanced.
   */
  async write(batch: WriteBatch): Promise<number> {
    const need = batch.bytes + COMMIT_RECORD_BYTES;
    if (!fits(this.#active.entry, need)) await this.#rotate();
    const active = this.#active;
    const entry = active.entry;
    const firstLsn = this.#nextLsn;
    const pos = entry.endOffset;
    const header = pos === 0 ? { id: entry.id, firstLsn } : undefined;
    const encoded = this.#encoder.encode(batch.calls, firstLsn, batch.bytes, header, active.digest);
    if (this.#deps.options.durability === 'fsync') await active.handle.writeAndSync([encoded.bytes], pos);
    else await active.handle.write([encoded.bytes], pos);
    if (pos === 0) entry.firstLsn = firstLsn;
    for (let i = 0; i < encoded.records; i++) entry.push(pos + encoded.recordStarts[i]!);
    entry.endOffset = pos + encoded.bytes.length;
    active.digest = encoded.digest;
    this.#nextLsn = firstLsn + batch.count;
    return firstLsn;
  }

  /** Closes the active segment's handle (the writer is not used after). */
  async close(): Promise<void> {
    await this.#active.handle.close();
  }

  /**
   * Moves to the next segment: takes it from the pipeline (created in the background), seals
   * the full one in the manifest, and starts preparing the one after.
   */
  async #rotate(): Promise<void> {
    const { pipeline, reader, index, options, walDir } = this.#deps;
    const old = this.#active;
    if (old.entry.endOffset === 0) {
      throw new RangeError('a batch within the limits does not fit an empty segment');
    }
    const id = this.nextSegmentId;
    const handle = await pipeline.take(id);
    try {
      await this.#seal(old);
    } catch (err) {
      pipeline.adopt(id, handle);
      throw err;
    }
    reader.unpin(old.entry.id);
    const entry = new SegmentEntry(id, segmentPath(walDir, id), options.segmentSize, this.#nextLsn);
    index.add(entry);
    this.#active = { entry, handle, digest: 0 };
    reader.pin(id, handle);
    pipeline.prepare(id + 1);
  }

  /** Records `old` as sealed in the manifest (durably: temp, fdatasync, rename, directory fsync). */
  async #seal(old: Active): Promise<void> {
    const { options } = this.#deps;
    // With durability `none` the segment's data may still be in the page cache.
    if (options.durability === 'none') await old.handle.datasync();
    const entry = old.entry;
    const sealed = {
      id: entry.id,
      firstLsn: entry.firstLsn,
      lastLsn: entry.nextLsn - 1,
      endOffset: entry.endOffset,
      digest: old.digest,
    };
    // The seal covers the clean end's segment, and more: the clean end is dropped.
    await this.#updateManifest((m) => ({ ...m, generation: m.generation + 1, sealed: [...m.sealed, sealed], cleanEnd: undefined }));
  }

  /**
   * Records where the log ends now as its clean end (see `manifest.ts`), durably. Called by a
   * clean close after every batch has been written; with durability `none` the active segment
   * is fdatasync'ed first, so the manifest never claims a byte the disk may not hold.
   *
   * @throws the file system's errno error; the previous manifest is then still in place.
   */
  async recordCleanEnd(): Promise<void> {
    const { options } = this.#deps;
    const { entry, handle, digest } = this.#active;
    if (options.durability === 'none') await handle.datasync();
    const cleanEnd = { segmentId: entry.id, lastLsn: this.#nextLsn - 1, endOffset: entry.endOffset, digest };
    await this.#updateManifest((m) => {
      const c = m.cleanEnd;
      const same = c !== undefined && c.segmentId === cleanEnd.segmentId && c.endOffset === cleanEnd.endOffset && c.digest === cleanEnd.digest;
      return same ? undefined : { ...m, generation: m.generation + 1, cleanEnd };
    });
  }

  /**
   * Drops the pending repairs with ids up to `throughId` from the manifest, durably; nothing
   * is written when none is pending there.
   *
   * @throws the file system's errno error; the previous manifest is then still in place.
   */
  async acknowledgeRepairs(throughId: number): Promise<void> {
    await this.#updateManifest((m) => {
      const rest = m.pendingRepairs.filter((p) => p.id > throughId);
      return rest.length === m.pendingRepairs.length ? undefined : { ...m, generation: m.generation + 1, pendingRepairs: rest };
    });
  }

  /**
   * Rewrites the manifest without the oldest sealed segments whose records all lie below
   * `beforeLsn` (release.ts; never the active segment, nor the newest sealed one while the
   * active segment holds no record), durably, in turn with every other manifest write.
   *
   * @returns the segments released (none: nothing written) and the first segment id now in force.
   * @throws the file system's errno error; the previous manifest is then still in force.
   */
  async release(beforeLsn: number): Promise<{ released: readonly SealedSegment[]; firstSegmentId: number }> {
    let released: readonly SealedSegment[] = [];
    let firstSegmentId = 0;
    await this.#updateManifest((m) => {
      const active = this.#active.entry;
      const plan = planRelease(m, beforeLsn, active.count > 0 ? active.id : active.id - 1);
      released = plan?.released ?? [];
      firstSegmentId = plan?.manifest.firstSegmentId ?? m.firstSegmentId;
      return plan?.manifest;
    });
    return { released, firstSegmentId };
  }

  /** Writes `change(current)` as the new manifest (unless it returns undefined), after any write before it. */
  #updateManifest(change: (current: Manifest) => Manifest | undefined): Promise<void> {
    const { fs, options } = this.#deps;
    const run = async (): Promise<void> => {
      const next = change(this.#manifest);
      if (next === undefined) return;
      await writeManifest(fs, options.dir, next);
      this.#manifest = next;
    };
    const result = this.#manifestChain.then(run, run);
    this.#manifestChain = result.catch(() => undefined);
    return result;
  }
}

/** True when `need` more bytes fit after the segment's end (with its header if it has none yet). */
function fits(entry: SegmentEntry, need: number): boolean {
  const start = entry.endOffset === 0 ? SEGMENT_HEADER_BYTES : entry.endOffset;
  return start + need <= entry.capacity;
}
