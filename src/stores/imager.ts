/**
 * When local images are taken (docs/durability.md, "Images"): in the background once
 * `everyRecords` records, and a quarter of what the last image covered, were written since it;
 * at a clean close when anything was written since; and on request. One image at a time. An image is an optimisation: a failure
 * to write one is kept as `lastError` and never fails a write or the store (the log is not
 * poisoned by it), and the next attempt starts over.
 *
 * It must never take an image of a poisoned store (after a failed write the memory state may
 * hold records whose durability is unknown) and never keep the process alive by its timer.
 */
import type { FileSystem } from '../io/types.ts';
import type { Log } from '../log/types.ts';
import type { NodeKey } from '../codec/node-key.ts';
import type { ImageSection } from './context.ts';
import { writeLocalImage, type WrittenImage } from './local-image.ts';
import { WriteMetrics } from './metrics.ts';

/** A background image waits for the log to grow by this fraction of what the last image covered. */
const IMAGE_GROWTH = 0.25;
/** How often the background check looks at the log, in ms. */
const CHECK_EVERY_MS = 250;

/** What the imager needs. */
export interface ImagerOptions {
  readonly fs: FileSystem;
  readonly dir: string;
  readonly everyRecords: number;
  readonly keep: number;
  readonly onClose: boolean;
  readonly chainId: string;
  readonly nodeKey: NodeKey;
  readonly now: () => number;
  /** The stores' sections; undefined: images are off (some store cannot be imaged). */
  readonly sections: readonly ImageSection[] | undefined;
}

/** Takes local images of one open store. */
export class Imager {
  readonly #log: Log;
  readonly #o: ImagerOptions;
  #lastLsn: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<WrittenImage | undefined> | undefined;
  #stopped = false;
  /** The last image written, if any. */
  lastImage: WrittenImage | undefined;
  /** Why the last attempt failed, if it did. */
  lastError: unknown;
  /** Images written by this open. */
  written = 0;
  /** Write durations and failures (metrics, docs/operations.md). */
  readonly metrics = new WriteMetrics();

  /** @param lastLsn - the LSN of the image the open loaded (0: none). */
  constructor(log: Log, options: ImagerOptions, lastLsn: number) {
    this.#log = log;
    this.#o = options;
    this.#lastLsn = lastLsn;
  }

  #disabled = false;

  /** True when images can be taken at all. */
  get enabled(): boolean {
    return !this.#disabled && this.#o.sections !== undefined && this.#log.capture !== undefined;
  }

  /**
   * Turns images off for the rest of this open: records were (or may be) appended to the log
   * behind the stores' backs, so their in-memory state no longer matches the log.
   */
  disable(): void {
    this.#disabled = true;
  }

  /** Starts the background check (when `everyRecords` > 0). */
  start(): void {
    if (!this.enabled || this.#o.everyRecords === 0 || this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      if (this.#running === undefined && this.#due()) void this.take(true).catch(() => undefined);
    }, CHECK_EVERY_MS);
    this.#timer.unref?.();
  }

  /**
   * A background image is due once `everyRecords` records were written since the last one and
   * at least a quarter as many as the last one covered: each image writes the whole state, so
   * a fixed interval would write quadratically much over a growing history; this keeps the
   * images written to a constant multiple of the state, and the tail an open replays to at most
   * a fifth of the log.
   */
  #due(): boolean {
    const behind = this.#behind();
    return behind >= this.#o.everyRecords && behind >= this.#lastLsn * IMAGE_GROWTH;
  }

  #behind(): number {
    return this.#log.nextLsn - 1 - this.#lastLsn;
  }

  /**
   * Takes an image now (after the one in progress, if any). Resolves with the image, or
   * undefined when there is nothing new to image (unless `force`: a compaction evicted state).
   * @throws the file system's error (also kept as `lastError`); Error when images are off.
   */
  take(pace = true, atClose = false, force = false): Promise<WrittenImage | undefined> {
    const sections = this.#o.sections;
    if (sections === undefined || this.#disabled) return Promise.reject(new Error('local images are off for this open'));
    const previous = this.#running ?? Promise.resolve(undefined);
    const run = previous
      .catch(() => undefined)
      .then(async () => {
        const status = this.#log.status;
        if (status !== 'open' && !(atClose && status === 'closing')) throw new Error(`the log is ${status}: no image`);
        // Forced (after a compaction): the state shrank without a record being written.
        if (this.#behind() <= 0 && !force) return undefined;
        const started = performance.now();
        let image: WrittenImage | undefined;
        try {
          image = await writeLocalImage({ ...this.#o, sections, log: this.#log, pace, replace: force });
        } catch (err) {
          this.metrics.failures++;
          throw err;
        }
        if (image !== undefined) {
          this.metrics.seconds.observe((performance.now() - started) / 1000);
          this.#lastLsn = image.lsn;
          this.lastImage = image;
          this.written++;
        }
        this.lastError = undefined;
        return image;
      });
    const tracked = run.catch((err: unknown) => {
      this.lastError = err;
      throw err;
    });
    // What `stop` and the next `take` wait for: settles, never rejects (the caller of this take gets the error).
    const settled: Promise<WrittenImage | undefined> = tracked.catch(() => undefined).finally(() => {
      if (this.#running === settled) this.#running = undefined;
    });
    this.#running = settled;
    return tracked;
  }

  /** Stops the background check, waits for an image in progress, and takes one more at a clean close (`clean`). */
  async stop(clean: boolean): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
    if (clean && this.#o.onClose && this.enabled && this.#behind() > 0) await this.take(false, true).catch(() => undefined);
  }
}
