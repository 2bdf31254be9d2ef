/**
 * MemoryColdTier: a cold tier held in memory, with the same block semantics as the file-backed
 * one (records grouped in blocks of `blockRecords`, a block's ranges over its records), for the
 * stores' tests and for a store opened on a bare log.
 *
 * It must never answer differently from a file tier holding the same records in the same blocks.
 */
import type { ColdBlockRef, ColdCut, ColdFilter, ColdKeys, ColdRecord, ColdTier } from './types.ts';
import { NO_CUT } from './types.ts';

interface MemoryBlock {
  readonly ref: ColdBlockRef;
  readonly validators: ReadonlySet<string>;
  readonly records: readonly ColdRecord[];
}

function intersects(lo: number, hi: number, range: readonly [number, number] | undefined): boolean {
  if (range === undefined) return true;
  if (Number.isNaN(lo)) return false;
  return lo <= range[1] && hi >= range[0];
}

/** True when a block described by `ref` and `validators` may hold a record matching `filter`. */
export function blockMatches(ref: ColdBlockRef, validators: ReadonlySet<string>, filter: ColdFilter): boolean {
  if (filter.kinds !== undefined && !filter.kinds.some((k) => ref.kinds.includes(k))) return false;
  if (!intersects(ref.minHeight, ref.maxHeight, filter.height)) return false;
  if (!intersects(ref.minRound, ref.maxRound, filter.round)) return false;
  if (!intersects(ref.minLsn, ref.maxLsn, filter.lsn)) return false;
  if (!intersects(ref.minTime, ref.maxTime, filter.time)) return false;
  if (filter.validator !== undefined && !validators.has(filter.validator)) return false;
  return true;
}

/** A cold tier in memory (see the file comment). */
export class MemoryColdTier implements ColdTier {
  cut: ColdCut = NO_CUT;
  readonly #blocks: MemoryBlock[] = [];
  readonly #counts = new Map<number, number>();
  #files = 0;
  /** Reads served (a test checks that a query read only what it needed). */
  reads = 0;

  /**
   * Adds one "file": `records` (in LSN order) in blocks of `blockRecords`, indexed by `keysOf`,
   * and moves the cut to `cut`.
   */
  add(records: readonly ColdRecord[], keysOf: (r: ColdRecord) => ColdKeys, cut: ColdCut, blockRecords = 64): void {
    const file = `memory-${++this.#files}`;
    for (let at = 0; at < records.length; at += blockRecords) {
      const part = records.slice(at, at + blockRecords);
      const validators = new Set<string>();
      const kinds = new Set<number>();
      const span = { minHeight: NaN, maxHeight: NaN, minRound: NaN, maxRound: NaN, minTime: NaN, maxTime: NaN };
      const widen = (lo: 'minHeight' | 'minRound' | 'minTime', hi: 'maxHeight' | 'maxRound' | 'maxTime', v: number | undefined): void => {
        if (v === undefined) return;
        if (Number.isNaN(span[lo]) || v < span[lo]) span[lo] = v;
        if (Number.isNaN(span[hi]) || v > span[hi]) span[hi] = v;
      };
      for (const r of part) {
        kinds.add(r.kind);
        this.#counts.set(r.kind, (this.#counts.get(r.kind) ?? 0) + 1);
        const keys = keysOf(r);
        widen('minHeight', 'maxHeight', keys.height);
        widen('minRound', 'maxRound', keys.round);
        widen('minTime', 'maxTime', keys.time);
        for (const v of keys.validators ?? []) validators.add(v);
      }
      const ref: ColdBlockRef = {
        file,
        offset: at,
        length: part.length,
        count: part.length,
        kinds: [...kinds].sort((a, b) => a - b),
        ...span,
        minLsn: part[0]?.lsn ?? NaN,
        maxLsn: part[part.length - 1]?.lsn ?? NaN,
      };
      this.#blocks.push({ ref, validators, records: part });
    }
    this.cut = cut;
  }

  countOf(kind: number): number {
    return this.#counts.get(kind) ?? 0;
  }

  blocks(filter: ColdFilter): Promise<ColdBlockRef[]> {
    const out = this.#blocks.filter((b) => blockMatches(b.ref, b.validators, filter)).map((b) => b.ref);
    out.sort((a, b) => a.minLsn - b.minLsn || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    return Promise.resolve(out);
  }

  read(block: ColdBlockRef): Promise<ColdRecord[]> {
    const found = this.#blocks.find((b) => b.ref.file === block.file && b.ref.offset === block.offset);
    if (found === undefined) return Promise.reject(new Error(`no block ${block.file}@${block.offset}`));
    this.reads++;
    return Promise.resolve(found.records.slice());
  }
}
