/**
 * The compactor (docs/durability.md, "Compaction"): moves finalized records older than the hot
 * window out of memory, the local image and the hot log, into cold files, and releases the hot
 * segments an open no longer needs.
 *
 * One compaction, in order:
 * 1. the cut: heights below `lastFinalized + 1 - window` (and never into the heights the
 *    automatic snapshots still read), LSNs up to the last acknowledged batch, fixed between two
 *    batches (`Log.capture`), where each store also fixes which of its records become cold;
 * 2. one cold file per store, written beside the write path (compressed on the thread pool);
 * 3. the cold manifest names the new files and the new cut: its rename is the commit point
 *    (a crash before it leaves files the next open deletes; after it, the files are the data);
 * 4. each store drops what became cold from memory (its queries read the cold tier for it);
 * 5. a local image of the smaller state;
 * 6. the log releases the sealed segments below both the cut and the oldest image kept.
 * A crash between any two steps leaves a directory that opens with every acknowledged record
 * held exactly once: a record at or below the committed cut comes from the cold tier (the
 * stores skip it in images and replay), any other from the image and the hot log.
 *
 * It must never: run two compactions at once, hold the write path for more than the capture,
 * release a segment that an open may still replay (below the oldest image kept or above the
 * cut), or fail a write because a compaction failed (its error is kept for metrics and the
 * next attempt starts over).
 */
import { randomBytes } from 'node:crypto';
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import type { Log, Lsn } from '../log/types.ts';
import type { ColdCut, ColdKeys, ColdParticipant, ColdRecord, ColdTier } from '../cold/types.ts';
import { NO_CUT } from '../cold/types.ts';
import { checkObject, checkKeys } from '../model/check.ts';

/** What the compactor needs of the cold directory (files, manifest, tier). */
export interface ColdDirectory {
  /** The tier the stores read; it learns the files of each commit. */
  readonly tier: ColdTier;
  /** Writes one cold file from `records` (LSN order); resolves with its description. */
  writeFile(name: string, records: AsyncIterable<ColdRecord>, keysOf: (record: ColdRecord) => ColdKeys): Promise<unknown>;
  /** Commits the new cut and the files written since the last commit: the compaction's commit point. */
  commit(cut: ColdCut, files: readonly unknown[]): Promise<void>;
  /** Removes files written but not committed (a failed compaction). */
  discard(files: readonly unknown[]): Promise<void>;
}

/** What a compaction did. */
export interface CompactionReport {
  /** The cut before and after (equal when there was nothing to move). */
  readonly from: ColdCut;
  readonly to: ColdCut;
  /** Records moved to the cold tier, by store. */
  readonly records: Readonly<Record<string, number>>;
  /** Hot segments released, and their bytes. */
  readonly segmentsReleased: number;
  readonly bytesReleased: number;
  readonly durationMs: number;
}

/** A store that takes part, with the name its cold files carry. */
export interface NamedParticipant {
  readonly name: string;
  readonly participant: ColdParticipant;
}

/** What the compactor is given. */
export interface CompactorOptions {
  readonly log: Log;
  readonly cold: ColdDirectory;
  readonly participants: readonly NamedParticipant[];
  /** Finalized heights kept hot. */
  readonly hotHeights: number;
  /** An automatic compaction starts once the window has moved this many heights past the cut. */
  readonly compactEvery: number;
  /** The last finalized height (undefined: none). */
  readonly lastFinalized: () => Promise<number | undefined>;
  /** Given the last finalized height, the lowest height a store still needs hot for another reason (the automatic snapshots' certificates); undefined: none. */
  readonly keepFrom: (lastFinalized: number) => number | undefined;
  /** Takes a local image of the state after the eviction; resolves with its LSN (undefined: none written). */
  readonly takeImage: () => Promise<number | undefined>;
  /** The LSNs of the local images kept on disk (the oldest bounds what the log may release). */
  readonly imageLsns: () => Promise<readonly number[]>;
}

/** Merges a kind's records from one participant into the file writer, counting them. */
async function* counted(source: AsyncIterable<ColdRecord>, count: { n: number }): AsyncIterable<ColdRecord> {
  for await (const record of source) {
    count.n++;
    yield record;
  }
}

/** Runs compactions of one open store, one at a time (see the file comment). */
export class Compactor {
  readonly #o: CompactorOptions;
  #running: Promise<CompactionReport> | undefined;
  #stopped = false;
  #sequence = 0;
  /** Holds taken by `hold` (a backup): no compaction starts while one is taken. */
  #holds = 0;
  #unheld: (() => void)[] = [];
  #active: Promise<unknown> | undefined;
  /** Why the last compaction failed, if it did. */
  lastError: unknown;
  /** Compactions finished by this open. */
  done = 0;
  /** The last compaction's report. */
  last: CompactionReport | undefined;

  constructor(options: CompactorOptions) {
    this.#o = options;
  }

  /** The cut the cold tier has now. */
  get cut(): ColdCut {
    return this.#o.cold.tier.cut;
  }

  /** The height below which records would go cold once `last` is finalized (0: none). */
  #targetHeight(last: number | undefined): number {
    if (last === undefined) return 0;
    let target = last + 1 - this.#o.hotHeights;
    const keep = this.#o.keepFrom(last);
    if (keep !== undefined) target = Math.min(target, keep);
    return Math.max(0, target);
  }

  /** Called when `height` is finalized: starts a compaction in the background when one is due. */
  onFinalized(height: number): void {
    if (this.#stopped || this.#running !== undefined || this.#o.hotHeights === 0) return;
    if (this.#targetHeight(height) - this.cut.height < this.#o.compactEvery) return;
    void this.compact().catch(() => undefined);
  }

  /**
   * Compacts now (after the one in progress). Resolves with what it did; a compaction with
   * nothing to move resolves with `from` equal to `to`.
   * @throws ConsensusStoreError CLOSED; the file system's errors (nothing committed: the next
   *   attempt starts over); INVALID_ARGUMENT when the store keeps everything hot (`hotHeights` 0).
   */
  compact(): Promise<CompactionReport> {
    if (this.#o.hotHeights === 0) return Promise.reject(invalidArgument('retention.hotHeights', 'is 0 for this store: nothing is ever compacted'));
    const previous = this.#running ?? Promise.resolve(undefined);
    const run = previous
      .catch(() => undefined)
      .then(() => this.#whenUnheld());
    const tracked = run.then(
      (report) => {
        this.lastError = undefined;
        this.last = report;
        this.done++;
        return report;
      },
      (err: unknown) => {
        this.lastError = err;
        throw err;
      },
    );
    const settled = tracked.catch(() => undefined as unknown as CompactionReport).finally(() => {
      if (this.#running === settled) this.#running = undefined;
    });
    this.#running = settled;
    return tracked;
  }

  /**
   * Keeps compactions from starting until the returned function is called (a backup: its LSN,
   * its cold manifest and its image must belong to one cut, docs/operations.md "Backup and
   * restore"); waits for the one in progress to finish (its release included, so take this
   * before holding the log's segments). The returned function is idempotent.
   */
  async hold(): Promise<() => void> {
    this.#holds++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (--this.#holds > 0) return;
      for (const wake of this.#unheld.splice(0)) wake();
    };
    await this.#active?.catch(() => undefined);
    return release;
  }

  /** Runs one compaction once no hold is taken (the check and the start are one synchronous step). */
  async #whenUnheld(): Promise<CompactionReport> {
    while (this.#holds > 0) await new Promise<void>((wake) => this.#unheld.push(wake));
    const run = this.#compactOnce();
    this.#active = run;
    try {
      return await run;
    } finally {
      if (this.#active === run) this.#active = undefined;
    }
  }

  /** Stops automatic compactions and waits for the one in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running?.catch(() => undefined);
  }

  async #compactOnce(): Promise<CompactionReport> {
    const started = performance.now();
    const { log, cold, participants } = this.#o;
    if (this.#stopped || log.status !== 'open') throw new ConsensusStoreError('CLOSED', `the store is ${this.#stopped ? 'closing' : log.status}: no compaction`);
    if (log.capture === undefined) throw invalidArgument('store', 'its log cannot fix a point between two batches: no compaction');
    const from = cold.tier.cut;
    const height = this.#targetHeight(await this.#o.lastFinalized());
    const empty = (to: ColdCut): CompactionReport => ({ from, to, records: {}, segmentsReleased: 0, bytesReleased: 0, durationMs: performance.now() - started });
    if (height <= from.height) return empty(from);
    // 1. The cut, and each store's records under it, between two batches.
    const captured = await log.capture((lastLsn) => {
      const to: ColdCut = { height, lsn: Math.max(lastLsn, from.lsn) };
      return { to, sources: participants.map((p) => ({ ...p, produce: p.participant.captureCold(from, to) })) };
    });
    const { to, sources } = captured;
    // 2. One file per store.
    const written: unknown[] = [];
    const records: Record<string, number> = {};
    // Unique across opens: the cut's LSN, and a random part (a compaction after a reopen with
    // nothing written since takes the same cut as the last one).
    const id = `${String(to.lsn).padStart(16, '0')}-${randomBytes(6).toString('hex')}-${++this.#sequence}`;
    try {
      for (const s of sources) {
        const count = { n: 0 };
        const keysOf = (r: ColdRecord): ColdKeys => s.participant.coldKeys(r.kind, r.payload);
        const file = await cold.writeFile(`${s.name}-${id}`, counted(s.produce(), count), keysOf);
        written.push(file);
        records[s.name] = count.n;
      }
      // 3. The commit point.
      await cold.commit(to, written);
    } catch (err) {
      await cold.discard(written).catch(() => undefined);
      throw err;
    }
    // 4. Memory.
    for (const s of sources) s.participant.evictCold(to, cold.tier);
    // 5 and 6. An image of what is left, then the segments no open needs.
    let segmentsReleased = 0;
    let bytesReleased = 0;
    // The log's release (docs/durability.md, "Releasing segments").
    if (log.release !== undefined && log.status === 'open') {
      await this.#o.takeImage().catch(() => undefined);
      const lsns = await this.#o.imageLsns();
      if (lsns.length > 0) {
        const before = Math.min(...lsns, to.lsn + 1);
        if (before > 1) {
          const released = await log.release(before as Lsn);
          segmentsReleased = released.segmentsReleased;
          bytesReleased = released.bytesFreed;
        }
      }
    }
    return { from, to, records, segmentsReleased, bytesReleased, durationMs: performance.now() - started };
  }
}

/** Retention options after their check. */
export interface ResolvedRetention {
  readonly hotHeights: number;
  readonly compactEvery: number;
}

const RETENTION_KEYS = ['hotHeights', 'compactEvery'] as const;

/** Default finalized heights kept hot. */
export const DEFAULT_HOT_HEIGHTS = 1000;

/**
 * Checks `options.retention` (docs/stores.md, "Bounded history").
 * @throws ConsensusStoreError INVALID_ARGUMENT naming the bad field.
 */
export function resolveRetention(value: unknown): ResolvedRetention {
  const o = value === undefined ? {} : checkObject('options.retention', value);
  checkKeys('options.retention', o, RETENTION_KEYS);
  const int = (key: string, def: number, min: number, max: number): number => {
    const v = o[key];
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw invalidArgument(`options.retention.${key}`, `must be an integer in ${min}..${max}`);
    return v;
  };
  const hotHeights = int('hotHeights', DEFAULT_HOT_HEIGHTS, 0, 1_000_000_000);
  const compactEvery = int('compactEvery', Math.max(1, Math.floor(hotHeights / 4)), 1, 1_000_000_000);
  return { hotHeights, compactEvery };
}

export { NO_CUT };
