/**
 * The cold tier's contract (docs/format.md, "Cold files"; docs/stores.md, "Bounded history"):
 * what the stores see of the immutable files that hold finalized records moved out of the hot
 * log, and what they tell the compactor about their own records.
 *
 * A record is cold when it lies at or below the cut: `lsn <= cut.lsn`, and either its kind is cut
 * by LSN (the audit chain's entries and heads) or its height is below `cut.height`. Cuts only
 * ever grow in both fields, so a record that is cold stays cold. A cold record is held by exactly
 * one cold file and by no store's memory or image; a record above the cut is held by its store
 * (memory, image, hot log) and by no cold file.
 *
 * It must never: do I/O in the synchronous members, or return a record that failed its check.
 */
import type { Lsn } from '../model/log-record.ts';

/** Where the hot tier ends (see the file comment). `{ height: 0, lsn: 0 }`: nothing is cold. */
export interface ColdCut {
  /** Records of height-scoped kinds with a height below this are cold (when `lsn <= cut.lsn`). */
  readonly height: number;
  /** No record above this LSN is cold. */
  readonly lsn: number;
}

/** The cut of a store that has no cold tier. */
export const NO_CUT: ColdCut = Object.freeze({ height: 0, lsn: 0 });

/** One record in a cold file: a log record moved there, its LSN kept. */
export interface ColdRecord {
  readonly kind: number;
  readonly lsn: Lsn;
  readonly payload: Uint8Array;
}

/** What the block index of a cold file knows of one record (its store says, `ColdParticipant.coldKeys`). */
export interface ColdKeys {
  /** The height the record concerns, if any. */
  readonly height?: number;
  /** The round it concerns, if any. */
  readonly round?: number;
  /** The validators it names (a vote: one; a reward distribution: each paid one). */
  readonly validators?: readonly string[];
  /** Its own time (ms since the epoch), if any. */
  readonly time?: number;
}

/** An inclusive range of numbers. */
export type ColdRange = readonly [lo: number, hi: number];

/**
 * Which blocks to read: a block matches when, for every given field, it may hold a record that
 * matches (its kinds include one of `kinds`; its min..max of the field intersects the range; its
 * validator list names `validator`). A block's record may still not match: the store filters
 * the records it reads.
 */
export interface ColdFilter {
  readonly kinds?: readonly number[];
  readonly height?: ColdRange;
  readonly round?: ColdRange;
  readonly lsn?: ColdRange;
  readonly time?: ColdRange;
  readonly validator?: string;
}

/**
 * One block of one cold file, as its file's footer describes it. The ranges cover the records
 * of the block that have the field (NaN..NaN when none has it).
 */
export interface ColdBlockRef {
  /** The file's name inside the cold directory. */
  readonly file: string;
  /** Byte offset of the block in its file. */
  readonly offset: number;
  /** Stored bytes of the block (header and checksum included). */
  readonly length: number;
  /** Records in the block. */
  readonly count: number;
  readonly kinds: readonly number[];
  readonly minHeight: number;
  readonly maxHeight: number;
  readonly minRound: number;
  readonly maxRound: number;
  readonly minLsn: number;
  readonly maxLsn: number;
  readonly minTime: number;
  readonly maxTime: number;
}

/** The cold tier as a store reads it. */
export interface ColdTier {
  /** Where the hot tier ends. */
  readonly cut: ColdCut;
  /** Records in all cold files, by kind. */
  countOf(kind: number): number;
  /**
   * The blocks that may hold a record matching `filter`, in ascending order of (minLsn, file).
   * Reads the footers of files not read yet. CORRUPTION (naming file and offset) when a footer
   * fails its check; IO_FAILED when a file cannot be read.
   */
  blocks(filter: ColdFilter): Promise<ColdBlockRef[]>;
  /**
   * The records of one block, in LSN order, every byte checked against the block's checksum.
   * CORRUPTION naming the file and the block's offset when it does not match; never a record of
   * a damaged block.
   */
  read(block: ColdBlockRef): Promise<ColdRecord[]>;
}

/**
 * A store whose records move to the cold tier. The compactor calls `captureCold` inside
 * `Log.capture` (the store's memory then holds exactly the durable records up to `lastLsn`),
 * writes what it returns to cold files, switches the cold manifest, then calls `evictCold`.
 */
export interface ColdParticipant {
  /** The record kinds this store moves to the cold tier. */
  readonly coldKinds: readonly number[];
  /** The kinds of `coldKinds` cut by LSN alone (the audit chain); the others are cut by height. */
  readonly lsnCutKinds?: readonly number[];
  /** What the block index records of one of its records. Throws CORRUPTION on a payload that does not decode. */
  coldKeys(kind: number, payload: Uint8Array): ColdKeys;
  /**
   * Synchronous, no I/O: fixes which of the records this store holds lie at or below `next` and
   * above `previous` (the cut the cold tier has now); returns a function that yields them, in
   * LSN order, later (it may read the log: the records are durable and their segments are kept
   * until the cut is switched).
   */
  captureCold(previous: ColdCut, next: ColdCut): () => AsyncIterable<ColdRecord>;
  /**
   * Drops from memory every record at or below `cut` (the cold tier already holds them, and
   * `tier` answers for them from now on). Synchronous. Totals and counts are kept.
   */
  evictCold(cut: ColdCut, tier: ColdTier): void;
}

/** True when `record` (of a height-scoped kind, at `height`) is cold under `cut`. */
export function isColdByHeight(cut: ColdCut, lsn: number, height: number): boolean {
  return lsn <= cut.lsn && height < cut.height;
}

/** True when `record` (of an LSN-scoped kind) is cold under `cut`. */
export function isColdByLsn(cut: ColdCut, lsn: number): boolean {
  return lsn <= cut.lsn;
}
