/**
 * The sign-state copy (`<dir>/SIGNSTATE`): a second, checksummed copy of the node key's sign
 * watermark, kept beside the log by the sign guard (D8, docs/durability.md). The guard writes it
 * after the log record of a signature is durable and before the signature is released, so it is
 * never behind a released signature; on open, a copy above the log's watermark means the log
 * lost its newest sign record, and the open is refused until a watermark is imported.
 *
 * Two fixed slots (docs/format.md, "SIGNSTATE"), written in turn in place with one write and
 * one fdatasync: a torn write can only damage the slot being written, and the other still holds
 * the previous watermark. The current value is the valid slot with the higher sequence.
 *
 * This file must never report a save done before its fdatasync returned, and never treat a
 * damaged slot as a watermark.
 */
import { join } from 'node:path';
import { encodeSignStateSlot, newestSignStateSlot, SLOT_BYTES, type SignStateSlot } from '../codec/sign-state-slot.ts';
import { ConsensusStoreError, fromFsError } from '../errors.ts';
import { errnoOf, type FileHandle, type FileSystem } from '../io/types.ts';

/** The copy's file name inside the data directory. */
export const SIGN_STATE_FILE = 'SIGNSTATE';

/** A watermark as the copy holds it. */
export interface CopiedWatermark {
  readonly height: number;
  readonly round: number;
  /** 1 propose, 2 prevote, 3 precommit, 4 commit. */
  readonly step: number;
  readonly publicKey: Uint8Array;
}

/** Where the sign guard keeps its second copy of the watermark. */
export interface WatermarkCopy {
  /** The newest valid copy, or undefined when there is none. */
  readonly current: CopiedWatermark | undefined;
  /**
   * Replaces the copy, durably.
   * @throws ConsensusStoreError IO_FAILED or DISK_FULL; the previous copy then still stands.
   */
  save(watermark: CopiedWatermark): Promise<void>;
  /** Closes the file. Idempotent. */
  close(): Promise<void>;
}

/**
 * Opens (creating it when absent, with its directory entry made durable) the copy in `dir`.
 * @throws the file system's errno errors, as ConsensusStoreError IO_FAILED or DISK_FULL.
 */
export async function openSignStateFile(fs: FileSystem, dir: string): Promise<WatermarkCopy> {
  const path = join(dir, SIGN_STATE_FILE);
  try {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await fs.readFile(path);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
    }
    const handle = await fs.open(path, 'create');
    if (bytes === undefined) await fs.syncDir(dir);
    return new SignStateFile(path, handle, newestSignStateSlot(bytes ?? new Uint8Array(0)));
  } catch (err) {
    throw ioError(err, path);
  }
}

class SignStateFile implements WatermarkCopy {
  readonly #path: string;
  readonly #handle: FileHandle;
  #current: SignStateSlot | undefined;
  /** The slot the next save writes (the one not holding the current copy). */
  #next: number;
  #closed = false;

  constructor(path: string, handle: FileHandle, newest: ReturnType<typeof newestSignStateSlot>) {
    this.#path = path;
    this.#handle = handle;
    this.#current = newest?.slot;
    this.#next = newest?.index === 0 ? 1 : 0;
  }

  get current(): CopiedWatermark | undefined {
    const c = this.#current;
    return c === undefined ? undefined : { height: c.height, round: c.round, step: c.step, publicKey: c.publicKey.slice() };
  }

  async save(watermark: CopiedWatermark): Promise<void> {
    const slot: SignStateSlot = { ...watermark, sequence: (this.#current?.sequence ?? 0) + 1 };
    try {
      await this.#handle.writeAndSync([encodeSignStateSlot(slot)], this.#next * SLOT_BYTES);
    } catch (err) {
      throw ioError(err, this.#path);
    }
    this.#current = slot;
    this.#next = 1 - this.#next;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle.close();
  }
}

function ioError(err: unknown, path: string): ConsensusStoreError {
  const typed = fromFsError(err, `sign-state copy ${path}`);
  if (typed instanceof ConsensusStoreError) return typed;
  return new ConsensusStoreError('IO_FAILED', `sign-state copy ${path}: ${String(err)}`, { cause: err });
}
