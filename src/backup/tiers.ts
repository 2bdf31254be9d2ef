/**
 * The records of a directory across its two tiers, in LSN order, for backups and the read-only tools
 * (docs/operations.md, "Bounded history and the tools"): the cold tier's records of the kinds
 * asked for (a k-way merge over the cold files: each file holds its records in LSN order, and
 * the files of later compactions may hold lower LSNs of height-cut kinds), and the hot log's
 * records that are not cold under the cut (a compacted log may still hold records below the cut
 * until its segments are released: they are read from the cold tier, once).
 *
 * It must never hold more than one decoded block per cold file, never return a record twice,
 * and never write.
 */
import { invalidArgument } from '../errors.ts';
import type { ColdBlockRef, ColdCut, ColdRecord, ColdTier } from '../cold/types.ts';
import { isColdByHeight, isColdByLsn } from '../cold/types.ts';
import type { LogRecord, Lsn } from '../log/types.ts';

/** One cold file's blocks of the asked kinds, read one at a time. */
class FileCursor {
  readonly #tier: ColdTier;
  readonly #blocks: ColdBlockRef[];
  readonly #kinds: ReadonlySet<number>;
  #records: ColdRecord[] = [];
  #at = 0;

  constructor(tier: ColdTier, blocks: ColdBlockRef[], kinds: ReadonlySet<number>) {
    this.#tier = tier;
    this.#blocks = blocks;
    this.#kinds = kinds;
  }

  /** The next record, undefined at the end; loads the next block when the current one is used up. */
  async peek(): Promise<ColdRecord | undefined> {
    for (;;) {
      while (this.#at < this.#records.length) {
        const r = this.#records[this.#at] as ColdRecord;
        if (this.#kinds.has(r.kind)) return r;
        this.#at++;
      }
      const next = this.#blocks.shift();
      if (next === undefined) return undefined;
      this.#records = await this.#tier.read(next);
      this.#at = 0;
    }
  }

  take(): void {
    this.#at++;
  }
}

/**
 * The cold records of `kinds` in `tier`, in ascending LSN order.
 * @throws INVALID_ARGUMENT on an empty or bad kind list; the tier's CORRUPTION (naming file and offset).
 */
export async function* coldRecordsInOrder(tier: ColdTier, kinds: readonly number[]): AsyncGenerator<ColdRecord> {
  if (!Array.isArray(kinds) || kinds.length === 0 || !kinds.every((k) => Number.isInteger(k) && k >= 0 && k <= 255)) throw invalidArgument('kinds', 'must be a non-empty list of record kinds');
  const wanted = new Set(kinds);
  const byFile = new Map<string, ColdBlockRef[]>();
  for (const b of await tier.blocks({ kinds })) {
    const list = byFile.get(b.file) ?? [];
    list.push(b);
    byFile.set(b.file, list);
  }
  const cursors = [...byFile.values()].map((blocks) => new FileCursor(tier, blocks.sort((a, b) => a.offset - b.offset), wanted));
  for (;;) {
    let best: FileCursor | undefined;
    let bestRecord: ColdRecord | undefined;
    for (const c of cursors) {
      const r = await c.peek();
      if (r !== undefined && (bestRecord === undefined || r.lsn < bestRecord.lsn)) {
        best = c;
        bestRecord = r;
      }
    }
    if (best === undefined || bestRecord === undefined) return;
    best.take();
    yield bestRecord;
  }
}

/**
 * True when the hot log's `record` is held by the cold tier under `cut` (and must be read from
 * there): a kind of `lsnKinds` at or below the cut's LSN, or a kind of `heightKinds` whose
 * `height` (`heightOf`) lies below the cut's height, at or below its LSN.
 */
export function heldCold(cut: ColdCut, record: { readonly kind: number; readonly lsn: number }, lsnKinds: ReadonlySet<number>, heightKinds: ReadonlySet<number>, heightOf: () => number | undefined): boolean {
  if (record.lsn > cut.lsn) return false;
  if (lsnKinds.has(record.kind)) return isColdByLsn(cut, record.lsn);
  if (!heightKinds.has(record.kind)) return false;
  const height = heightOf();
  return height !== undefined && isColdByHeight(cut, record.lsn, height);
}

/** What `scanAcross` reads: a log (scanned by slices) and the cold tier beside it, if any. */
export interface TieredSource {
  readonly log: { scan(visit: (record: LogRecord) => boolean | void, from?: Lsn): Promise<void> };
  readonly coldTier: ColdTier | undefined;
}

/** Records of the hot log gathered per slice before they are merged with the cold ones. */
const SLICE_RECORDS = 4096;

/**
 * Hands `visit` every record of `kinds` across both tiers of `source`, in ascending LSN order
 * (see the file comment); `visit` returning false stops. Kinds of `lsnCutKinds` are cold at or
 * below the cut's LSN; the others by the height `heightOf` reads from a record (undefined: a
 * kind that never goes cold).
 * @throws INVALID_ARGUMENT on a bad kind list; the tier's and the log's CORRUPTION.
 */
export async function scanAcross(
  source: TieredSource,
  kinds: readonly number[],
  lsnCutKinds: readonly number[],
  heightOf: (record: ColdRecord) => number | undefined,
  visit: (record: ColdRecord) => Promise<boolean | void> | boolean | void,
): Promise<void> {
  if (!Array.isArray(kinds) || kinds.length === 0) throw invalidArgument('kinds', 'must be a non-empty list of record kinds');
  const wanted = new Set(kinds);
  const lsnKinds = new Set(lsnCutKinds);
  const heightKinds = new Set(kinds.filter((k) => !lsnKinds.has(k)));
  const tier = source.coldTier;
  const cold = tier === undefined || tier.cut.lsn === 0 ? undefined : coldRecordsInOrder(tier, kinds);
  let pending = cold === undefined ? undefined : (await cold.next()).value ?? undefined;
  const drainBelow = async (lsn: number): Promise<boolean> => {
    while (pending !== undefined && pending.lsn < lsn) {
      if ((await visit(pending)) === false) return false;
      pending = (await (cold as AsyncGenerator<ColdRecord>).next()).value ?? undefined;
    }
    return true;
  };
  let from: Lsn | undefined;
  for (;;) {
    const slice: ColdRecord[] = [];
    let stoppedAt: number | undefined;
    await source.log.scan((record) => {
      if (!wanted.has(record.kind)) return true;
      const copy: ColdRecord = { kind: record.kind, lsn: record.lsn, payload: record.payload.slice() };
      if (tier === undefined || !heldCold(tier.cut, copy, lsnKinds, heightKinds, () => heightOf(copy))) slice.push(copy);
      if (slice.length < SLICE_RECORDS) return true;
      stoppedAt = record.lsn;
      return false;
    }, from);
    for (const record of slice) {
      if (!(await drainBelow(record.lsn))) return;
      if ((await visit(record)) === false) return;
    }
    if (stoppedAt === undefined) break;
    from = (stoppedAt + 1) as Lsn;
  }
  await drainBelow(Number.POSITIVE_INFINITY);
}
