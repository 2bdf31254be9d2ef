/**
 * The file pipeline (etcd's `filePipeline`): while the writer fills one segment, the next one is
 * created in the background (zeros, fdatasync, rename, directory fsync), so that rotation costs
 * no preallocation and a full disk shows when a segment is created, not in the middle of a batch.
 *
 * This file must never hand out a segment whose creation did not complete, and never leave a
 * rejected background promise unobserved. A failed background creation is retried once, inline,
 * when the writer asks for the segment (so DISK_FULL clears once space is freed).
 */
import type { FileHandle, FileSystem } from '../io/types.ts';
import { createSegmentFile } from './segment-file.ts';

type Outcome = { readonly ok: true; readonly handle: FileHandle } | { readonly ok: false; readonly error: unknown };

interface Pending {
  readonly id: number;
  readonly outcome: Promise<Outcome>;
}

/** Creates segment files ahead of the writer. */
export class SegmentPipeline {
  readonly #fs: FileSystem;
  readonly #walDir: string;
  readonly #size: number;
  #pending: Pending | undefined;

  /**
   * @param size - bytes of each new segment.
   */
  constructor(fs: FileSystem, walDir: string, size: number) {
    this.#fs = fs;
    this.#walDir = walDir;
    this.#size = size;
  }

  /** Hands the pipeline an existing, empty, durable segment `id` to give out next. */
  adopt(id: number, handle: FileHandle): void {
    this.#pending = { id, outcome: Promise.resolve({ ok: true, handle }) };
  }

  /** Starts creating segment `id` in the background, unless it is already being prepared. */
  prepare(id: number): void {
    if (this.#pending?.id === id) return;
    this.#pending = { id, outcome: this.#create(id) };
  }

  /**
   * The segment `id`, created and durable, open for reading and writing. Waits for the
   * background creation; if that failed (or another id was prepared), creates it now.
   *
   * @throws the file system's errno error (ENOSPC when the disk is full).
   */
  async take(id: number): Promise<FileHandle> {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending !== undefined) {
      const outcome = await pending.outcome;
      if (pending.id === id && outcome.ok) return outcome.handle;
      if (outcome.ok) await outcome.handle.close();
    }
    return createSegmentFile(this.#fs, this.#walDir, id, this.#size);
  }

  /** Waits for any background creation and closes what it made (close of the log). */
  async close(): Promise<void> {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending === undefined) return;
    const outcome = await pending.outcome;
    if (outcome.ok) await outcome.handle.close();
  }

  #create(id: number): Promise<Outcome> {
    return createSegmentFile(this.#fs, this.#walDir, id, this.#size).then(
      (handle): Outcome => ({ ok: true, handle }),
      (error: unknown): Outcome => ({ ok: false, error }),
    );
  }
}
