/**
 * FileColdTier: the ColdTier the stores read, over the cold manifest's files (docs/format.md,
 * "Cold files"). `countOf` answers from the manifest's counts; `blocks` first skips every file
 * whose manifest ranges and kinds rule it out, then reads (once, kept in a bounded cache) the
 * footers of the files that may match; `read` goes through the file's reader, with a small
 * bounded cache of decoded blocks. `adopt` takes a newly committed manifest without reopening.
 *
 * It must never answer differently from a MemoryColdTier holding the same records in the same
 * blocks, never return a record of a block that failed its checks (CORRUPTION naming the file
 * and offset), and never write.
 */
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import type { FileSystem } from '../io/types.ts';
import { checkInteger, checkKeys, checkObject } from '../model/check.ts';
import type { ColdFileInfo } from './cold-file-info.ts';
import { checkColdFilter } from './cold-filter.ts';
import { coldDirOf, openColdDir, type ColdManifest } from './cold-manifest.ts';
import { ColdFileReader, type ColdFileVerifyReport } from './cold-reader.ts';
import { LruMap } from './lru.ts';
import type { ColdBlockRef, ColdCut, ColdFilter, ColdRecord, ColdTier } from './types.ts';

/** Options of FileColdTier. */
export interface FileColdTierOptions {
  /** Files whose footers are kept in memory (0..100000, default 256). */
  readonly footerCache?: number;
  /** Decoded blocks kept in memory (0..100000, default 16). */
  readonly blockCache?: number;
}

const DEFAULT_FOOTER_CACHE = 256;
const DEFAULT_BLOCK_CACHE = 16;

function checkOptions(options: unknown): { footerCache: number; blockCache: number } {
  if (options === undefined) return { footerCache: DEFAULT_FOOTER_CACHE, blockCache: DEFAULT_BLOCK_CACHE };
  const o = checkObject('options', options);
  checkKeys('options', o, ['footerCache', 'blockCache']);
  return {
    footerCache: o['footerCache'] === undefined ? DEFAULT_FOOTER_CACHE : checkInteger('options.footerCache', o['footerCache'], 0, 100_000),
    blockCache: o['blockCache'] === undefined ? DEFAULT_BLOCK_CACHE : checkInteger('options.blockCache', o['blockCache'], 0, 100_000),
  };
}

function intersects(lo: number, hi: number, range: readonly [number, number] | undefined): boolean {
  if (range === undefined) return true;
  if (Number.isNaN(lo)) return false;
  return lo <= range[1] && hi >= range[0];
}

/** True when the manifest's facts of `f` leave room for a record matching `filter`. */
function fileMayMatch(f: ColdFileInfo, filter: ColdFilter): boolean {
  if (filter.kinds !== undefined && !filter.kinds.some((k) => f.kinds.some((c) => c.kind === k))) return false;
  return (
    intersects(f.minHeight, f.maxHeight, filter.height) &&
    intersects(f.minRound, f.maxRound, filter.round) &&
    intersects(f.minLsn, f.maxLsn, filter.lsn) &&
    intersects(f.minTime, f.maxTime, filter.time)
  );
}

function copyRecords(records: readonly ColdRecord[]): ColdRecord[] {
  return records.map((r) => ({ kind: r.kind, lsn: r.lsn, payload: r.payload.slice() }));
}

/** The cold tier over files (see the file comment). */
export class FileColdTier implements ColdTier {
  readonly #fs: FileSystem;
  readonly #dir: string;
  #manifest: ColdManifest;
  #byName = new Map<string, ColdFileInfo>();
  #counts = new Map<number, number>();
  readonly #readers: LruMap<string, ColdFileReader>;
  readonly #blocks: LruMap<string, readonly ColdRecord[]>;
  /** Footers read from disk so far (a test checks that a query loaded only what it needed). */
  footerLoads = 0;

  /**
   * A tier over `manifest` (as `openColdDir` or `commitColdManifest` returned it) of the data
   * directory `storeDir`. Does no I/O.
   * @throws INVALID_ARGUMENT on a bad argument or option.
   */
  constructor(fs: FileSystem, storeDir: string, manifest: ColdManifest, options?: FileColdTierOptions) {
    if (typeof fs !== 'object' || fs === null || typeof fs.open !== 'function') throw invalidArgument('fs', 'must be a FileSystem');
    if (typeof storeDir !== 'string' || storeDir.length === 0) throw invalidArgument('storeDir', 'must be a non-empty path');
    checkManifest(manifest);
    const { footerCache, blockCache } = checkOptions(options);
    this.#fs = fs;
    this.#dir = coldDirOf(storeDir);
    this.#readers = new LruMap(footerCache);
    this.#blocks = new LruMap(blockCache);
    this.#manifest = manifest;
    this.#index();
  }

  /**
   * Opens the cold directory of `storeDir` (openColdDir: cleans leftovers, checks the listed
   * files) and returns a tier over it. Errors as openColdDir's.
   */
  static async open(fs: FileSystem, storeDir: string, chainId: string, options?: FileColdTierOptions): Promise<FileColdTier> {
    checkOptions(options);
    const { manifest } = await openColdDir(fs, storeDir, chainId);
    return new FileColdTier(fs, storeDir, manifest, options);
  }

  #index(): void {
    this.#byName = new Map(this.#manifest.files.map((f) => [f.name, f]));
    this.#counts = new Map();
    for (const f of this.#manifest.files) for (const k of f.kinds) this.#counts.set(k.kind, (this.#counts.get(k.kind) ?? 0) + k.count);
  }

  get cut(): ColdCut {
    return this.#manifest.cut;
  }

  /** The manifest the tier answers from. */
  get manifest(): ColdManifest {
    return this.#manifest;
  }

  countOf(kind: number): number {
    return this.#counts.get(kind) ?? 0;
  }

  /**
   * Takes the manifest a later commit returned (same chain, a higher generation, every file of
   * the current one kept unless dropped): queries see the new files and cut from now on.
   * @throws INVALID_ARGUMENT otherwise (the tier keeps answering from its current manifest).
   */
  adopt(next: ColdManifest): void {
    checkManifest(next);
    if (next.chainId !== this.#manifest.chainId) throw invalidArgument('next.chainId', `is '${next.chainId}', not '${this.#manifest.chainId}'`);
    if (next.generation <= this.#manifest.generation) throw invalidArgument('next.generation', `${next.generation} is not above ${this.#manifest.generation}`);
    if (next.cut.height < this.cut.height || next.cut.lsn < this.cut.lsn) throw invalidArgument('next.cut', 'moves back');
    const keep = new Set(next.files.map((f) => f.name));
    this.#manifest = next;
    this.#index();
    this.#readers.deleteWhere((name) => !keep.has(name));
    this.#blocks.deleteWhere((key) => !keep.has(key.slice(0, key.indexOf('@'))));
  }

  #reader(info: ColdFileInfo): ColdFileReader {
    let reader = this.#readers.get(info.name);
    if (reader === undefined) {
      reader = new ColdFileReader(this.#fs, this.#dir, info);
      this.#readers.set(info.name, reader);
      this.footerLoads++;
    }
    return reader;
  }

  async blocks(filter: ColdFilter): Promise<ColdBlockRef[]> {
    const checked = checkColdFilter('filter', filter);
    const out: ColdBlockRef[] = [];
    for (const f of this.#manifest.files) {
      if (!fileMayMatch(f, checked)) continue;
      out.push(...(await this.#reader(f).matching(checked)));
    }
    out.sort((a, b) => a.minLsn - b.minLsn || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    return out;
  }

  async read(block: ColdBlockRef): Promise<ColdRecord[]> {
    if (typeof block !== 'object' || block === null) throw invalidArgument('block', 'must be a ColdBlockRef');
    const info = this.#byName.get(block.file);
    if (info === undefined) throw invalidArgument('block.file', `${JSON.stringify(block.file)} is not a file of this cold tier`);
    const key = `${block.file}@${block.offset}`;
    const cached = this.#blocks.get(key);
    if (cached !== undefined) return copyRecords(cached);
    const records = await this.#reader(info).read(block);
    this.#blocks.set(key, copyRecords(records));
    return records;
  }

  /** Re-reads every byte of every file (scrub, `cstore verify`). CORRUPTION at the first damage. */
  async verify(): Promise<ColdFileVerifyReport[]> {
    const out: ColdFileVerifyReport[] = [];
    for (const f of this.#manifest.files) out.push(await new ColdFileReader(this.#fs, this.#dir, f).verify());
    return out;
  }
}

function checkManifest(manifest: unknown): asserts manifest is ColdManifest {
  const m = manifest as Partial<ColdManifest> | null;
  if (typeof m !== 'object' || m === null || !Array.isArray(m.files) || typeof m.cut !== 'object' || typeof m.chainId !== 'string' || typeof m.generation !== 'number') {
    throw new ConsensusStoreError('INVALID_ARGUMENT', 'manifest must be a ColdManifest (from openColdDir or commitColdManifest)', { details: { argument: 'manifest' } });
  }
}
