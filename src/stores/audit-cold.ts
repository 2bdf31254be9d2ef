/**
 * The audit log's side of the cold tier (docs/audit.md, "What lives where"; docs/format.md,
 * "Cold files"): the index keys of its records, the verbatim records a compaction moves, and
 * the reads that answer for entries below the cut: a block's entries decoded into the same
 * `LogEntry` the hot index holds (its head's signature found in the records after it), the
 * merge of cold and hot answers in a query's order and limit, the cold records in LSN order for
 * the chain check and the export, and the cold leaves of the Merkle tree for a dispute bundle.
 *
 * It must never: re-encode a record (the chain hashes the stored bytes), return a record above
 * the store's cut (the tier may already hold a newer one the store still holds in memory),
 * return an entry the hot replay would not index (one that does not decode), or swallow a
 * CORRUPTION the tier raised.
 */
import { decodeEntryBody, decodeHeadPayload, parseEntryBody, splitEntryPayload } from '../codec/audit-record.ts';
import { heightOfEvent, validatorOfEvent } from '../codec/audit-event.ts';
import { RecordKind } from '../codec/kinds.ts';
import { HASH_BYTES, merkleLeafHash } from '../codec/merkle.ts';
import type { ColdBlockRef, ColdCut, ColdFilter, ColdKeys, ColdRecord, ColdTier } from '../cold/types.ts';
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import type { Log, Lsn } from '../log/types.ts';
import { checkObject, checkSafeUint } from '../model/check.ts';
import { makeEntry, type MutableEntry } from './audit-index.ts';

/** The audit log's cold kinds, both cut by LSN. */
export const AUDIT_COLD_KINDS: readonly number[] = Object.freeze([RecordKind.AuditEvent, RecordKind.AuditHead]);

/** Records gathered from the log per scan pass of `scanAuditRecords` (bounds its memory). */
export const CAPTURE_CHUNK_RECORDS = 1024;

/**
 * The signature of the newest cold entry: what every cold entry after the last cold head
 * carries (its head lies above the cut, or was never written). `pending`: no head has signed it
 * yet, the next head will.
 */
export interface ColdTail {
  readonly pending: boolean;
  readonly signature: Uint8Array | null;
  readonly signedHeadId: Lsn | null;
}

/** The tail of a store that has no cold entry. */
export const NO_TAIL: ColdTail = Object.freeze({ pending: false, signature: null, signedHeadId: null });

/** An entry found by a query, with its stored payload when it came from the cold tier. */
export interface FoundEntry {
  readonly entry: MutableEntry;
  readonly payload?: Uint8Array;
}

/** The tail an entry leaves when it is the newest cold one: its signature, or pending while unsigned. */
export function tailOf(entry: MutableEntry, unsigned: readonly MutableEntry[]): ColdTail {
  if (unsigned.includes(entry) || entry.signature === null) return { pending: true, signature: null, signedHeadId: null };
  return { pending: false, signature: entry.signature, signedHeadId: entry.signedHeadId };
}

/** A cut given to a public method. @throws INVALID_ARGUMENT naming the field. */
export function checkCut(name: string, value: unknown): ColdCut {
  const o = checkObject(name, value);
  return { height: checkSafeUint(`${name}.height`, o['height']), lsn: checkSafeUint(`${name}.lsn`, o['lsn']) };
}

/** A tier given to `evictCold`. @throws INVALID_ARGUMENT when it lacks a member of ColdTier. */
export function checkTier(name: string, value: unknown): ColdTier {
  const o = checkObject(name, value);
  for (const m of ['countOf', 'blocks', 'read'] as const) {
    if (typeof o[m] !== 'function') throw invalidArgument(`${name}.${m}`, 'must be a function (a ColdTier)');
  }
  return value as ColdTier;
}

/**
 * What a cold file's block index records of an audit record: an entry's height, validator and
 * time (as the hot indexes key it); a head's payload carries none of them, so it gives none.
 * @throws INVALID_ARGUMENT (a kind that is not the audit log's, a payload that is not bytes),
 *   CORRUPTION (a payload that does not decode).
 */
export function auditColdKeys(kind: unknown, payload: unknown): ColdKeys {
  if (kind !== RecordKind.AuditEvent && kind !== RecordKind.AuditHead) throw invalidArgument('kind', `must be ${RecordKind.AuditEvent} or ${RecordKind.AuditHead} (an audit kind)`);
  if (!(payload instanceof Uint8Array)) throw invalidArgument('payload', 'must be a Uint8Array');
  try {
    if (kind === RecordKind.AuditHead) {
      decodeHeadPayload(payload);
      return {};
    }
    const parts = decodeEntryBody(splitEntryPayload(payload).body);
    const height = heightOfEvent(parts.event);
    const validator = validatorOfEvent(parts.event);
    return {
      ...(height === undefined ? {} : { height }),
      ...(validator === undefined ? {} : { validators: [validator] }),
      time: parts.timestamp,
    };
  } catch (err) {
    throw new ConsensusStoreError('CORRUPTION', `audit ${kind === RecordKind.AuditHead ? 'head' : 'entry'} payload does not decode: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The durable audit records with LSN in `[from, to]`, verbatim (payloads copied out of the
 * log's buffers), in LSN order, read in passes of at most `CAPTURE_CHUNK_RECORDS` records.
 */
export async function* scanAuditRecords(log: Log, from: number, to: number): AsyncGenerator<ColdRecord> {
  let at = from;
  while (at <= to) {
    const got: ColdRecord[] = [];
    let resume: number | undefined;
    await log.scan((r) => {
      if (r.lsn > to) return false;
      if (r.kind === RecordKind.AuditEvent || r.kind === RecordKind.AuditHead) got.push({ kind: r.kind, lsn: r.lsn, payload: r.payload.slice() });
      if (got.length < CAPTURE_CHUNK_RECORDS) return true;
      resume = r.lsn + 1;
      return false;
    }, at as Lsn);
    yield* got;
    if (resume === undefined) return;
    at = resume;
  }
}

/** The entry a hot replay would index for `payload`, or undefined when it does not decode. */
function decodeEntry(lsn: Lsn, payload: Uint8Array): MutableEntry | undefined {
  try {
    const split = splitEntryPayload(payload);
    const p = decodeEntryBody(split.body);
    return makeEntry(lsn, p.sequence, p.event, p.timestamp, p.prevHash, split.hash);
  } catch {
    return undefined;
  }
}

/** An entry's sequence and stored hash, without decoding its event. */
function sequenceAndHash(payload: Uint8Array): { sequence: number; hash: Uint8Array } | undefined {
  try {
    const split = splitEntryPayload(payload);
    return { sequence: parseEntryBody(split.body).sequence, hash: split.hash };
  } catch {
    return undefined;
  }
}

function headSignature(payload: Uint8Array): Uint8Array | undefined {
  try {
    return decodeHeadPayload(payload).signature;
  } catch {
    return undefined;
  }
}

/**
 * Reads the cold tier for one query (its blocks are cached for the query's length only): the
 * records at or below the store's cut, decoded as the hot replay decodes them.
 */
export class ColdAuditReader {
  readonly #cache = new Map<string, ColdRecord[]>();

  constructor(
    private readonly tier: ColdTier,
    private readonly cut: ColdCut,
    private readonly tail: ColdTail,
  ) {}

  /** The blocks that may hold an audit entry matching `filter`, at or below the cut, in LSN order. */
  blocks(filter: Omit<ColdFilter, 'kinds' | 'lsn'>, kinds: readonly number[] = [RecordKind.AuditEvent]): Promise<ColdBlockRef[]> {
    return this.tier.blocks({ ...filter, kinds, lsn: [0, this.cut.lsn] });
  }

  /** The audit records of `block` at or below the cut, in LSN order. CORRUPTION from the tier unchanged. */
  async records(block: ColdBlockRef): Promise<ColdRecord[]> {
    const key = `${block.file}\u0000${block.offset}`;
    let records = this.#cache.get(key);
    if (records === undefined) {
      records = (await this.tier.read(block)).filter((r) => (r.kind === RecordKind.AuditEvent || r.kind === RecordKind.AuditHead) && r.lsn <= this.cut.lsn);
      this.#cache.set(key, records);
    }
    return records;
  }

  /**
   * The entries of `block` (those a replay indexes), each with its payload and its head's
   * signature: the first head after it that decodes, in this block, a later cold block, or
   * (after the last cold head) the tail's.
   */
  async entriesOf(block: ColdBlockRef): Promise<FoundEntry[]> {
    const out: FoundEntry[] = [];
    let run: MutableEntry[] = [];
    for (const r of await this.records(block)) {
      if (r.kind === RecordKind.AuditEvent) {
        const entry = decodeEntry(r.lsn, r.payload);
        if (entry === undefined) continue;
        run.push(entry);
        out.push({ entry, payload: r.payload });
        continue;
      }
      const signature = headSignature(r.payload);
      if (signature === undefined || run.length === 0) continue;
      sign(run, signature, (run[run.length - 1] as MutableEntry).id);
      run = [];
    }
    if (run.length > 0) await this.#signTrailing(run, block.maxLsn);
    return out;
  }

  /** Signs a run of entries whose head lies after `after`: in the next cold blocks, or the tail. */
  async #signTrailing(run: MutableEntry[], after: number): Promise<void> {
    let lastId = (run[run.length - 1] as MutableEntry).id;
    if (after < this.cut.lsn) {
      const next = await this.tier.blocks({ kinds: AUDIT_COLD_KINDS, lsn: [after + 1, this.cut.lsn] });
      for (const block of next) {
        for (const r of await this.records(block)) {
          if (r.lsn <= after) continue;
          if (r.kind === RecordKind.AuditEvent) {
            if (decodeEntry(r.lsn, r.payload) !== undefined) lastId = r.lsn;
            continue;
          }
          const signature = headSignature(r.payload);
          if (signature === undefined) continue;
          sign(run, signature, lastId);
          return;
        }
      }
    }
    if (this.tail.signature !== null && this.tail.signedHeadId !== null) sign(run, this.tail.signature, this.tail.signedHeadId);
  }

  /** The LSN of the cut this reader reads at or below. */
  get cutLsn(): number {
    return this.cut.lsn;
  }

  /** Every cold audit record (entries and heads) after `after`, in LSN order, a block's records at a time (one block in memory). */
  async *all(after = 0): AsyncGenerator<readonly ColdRecord[]> {
    for (const block of await this.tier.blocks({ kinds: AUDIT_COLD_KINDS, lsn: [after + 1, this.cut.lsn] })) {
      const records = (await this.records(block)).filter((r) => r.lsn > after);
      this.#cache.clear();
      yield records;
    }
  }

  /** The cold audit record `lsn`, or undefined when the tier holds none. */
  async record(lsn: number): Promise<ColdRecord | undefined> {
    if (lsn > this.cut.lsn) return undefined;
    for (const block of await this.tier.blocks({ kinds: AUDIT_COLD_KINDS, lsn: [lsn, lsn] })) {
      const found = (await this.records(block)).find((r) => r.lsn === lsn);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /**
   * Writes the Merkle leaf hash of every cold entry (sequences `0 .. count - 1`) into `into`
   * (32 bytes each, from byte 0), from the hashes the cold entries store (the signed root then
   * checks them). Reads every cold block of entries.
   * @throws CORRUPTION when the cold entries are not exactly sequences 0 .. count - 1.
   */
  async coldLeaves(into: Uint8Array, count: number): Promise<void> {
    let expected = 0;
    for (const block of await this.blocks({})) {
      for (const r of await this.records(block)) {
        if (r.kind !== RecordKind.AuditEvent) continue;
        const entry = sequenceAndHash(r.payload);
        if (entry === undefined || entry.sequence !== expected) {
          throw new ConsensusStoreError('CORRUPTION', `cold audit entry ${r.lsn} in ${block.file} at offset ${block.offset} is not entry ${expected} of the chain`, {
            details: { lsn: r.lsn, file: block.file, offset: block.offset },
          });
        }
        if (expected < count) into.set(merkleLeafHash(entry.hash), expected * HASH_BYTES);
        expected++;
      }
      this.#cache.clear();
    }
    if (expected < count) throw new ConsensusStoreError('CORRUPTION', `the cold tier holds ${expected} audit entries, the chain has ${count} below the cut`);
  }
}

function sign(run: readonly MutableEntry[], signature: Uint8Array, signedHeadId: Lsn): void {
  for (const e of run) {
    e.signature = signature;
    e.signedHeadId = signedHeadId;
  }
}

/** How a merge orders entries by a key (height or time) and which blocks may hold a match. */
export interface KeyOrder {
  readonly limit: number;
  readonly descending: boolean;
  /** The entry's key (defined for every entry `match` accepts). */
  readonly key: (e: MutableEntry) => number;
  /** A block's range of that key. */
  readonly range: (b: ColdBlockRef) => readonly [number, number];
  readonly match: (e: MutableEntry) => boolean;
}

/**
 * The first `o.limit` entries by (key, id) (descending: both reversed) of `hot` (the hot
 * matches, already in that order, at most the limit) and the cold matches. A block is read
 * only when the limit is not reached yet or its range may hold an entry that sorts before the
 * last one kept.
 */
export async function mergeByKey(reader: ColdAuditReader, blocks: readonly ColdBlockRef[], hot: readonly MutableEntry[], o: KeyOrder): Promise<FoundEntry[]> {
  const dir = o.descending ? -1 : 1;
  const order = (a: FoundEntry, b: FoundEntry): number => dir * (o.key(a.entry) - o.key(b.entry) || a.entry.id - b.entry.id);
  let best: FoundEntry[] = hot.map((entry) => ({ entry }));
  for (const block of blocks) {
    const last = best.length >= o.limit ? best[o.limit - 1] : undefined;
    if (last !== undefined) {
      const [lo, hi] = o.range(block);
      const bound = o.key(last.entry);
      if (o.descending ? hi < bound : lo > bound) continue;
    }
    for (const found of await reader.entriesOf(block)) if (o.match(found.entry)) best.push(found);
    best.sort(order);
    if (best.length > o.limit) best = best.slice(0, o.limit);
  }
  return best;
}

/**
 * The first `limit` matches by id (LSN; descending: newest first) of the cold blocks and `hot`
 * (the first `limit` hot matches in that order). Cold entries all sort before hot ones:
 * ascending reads blocks until the limit is reached, descending only when the hot matches fall
 * short of it (then the tier is not touched at all).
 */
export async function mergeByLsn(
  reader: ColdAuditReader,
  blocks: () => Promise<readonly ColdBlockRef[]>,
  hot: readonly MutableEntry[],
  o: { readonly limit: number; readonly descending: boolean; readonly match: (e: MutableEntry) => boolean },
): Promise<FoundEntry[]> {
  const out: FoundEntry[] = [];
  const fromHot = (): void => {
    for (const entry of hot) if (out.length < o.limit) out.push({ entry });
  };
  const fromCold = async (): Promise<void> => {
    const list = await blocks();
    for (const block of o.descending ? list.slice().reverse() : list) {
      const found = await reader.entriesOf(block);
      for (const f of o.descending ? found.reverse() : found) {
        if (out.length >= o.limit) return;
        if (o.match(f.entry)) out.push(f);
      }
    }
  };
  if (o.descending) {
    fromHot();
    if (out.length < o.limit) await fromCold();
  } else {
    await fromCold();
    fromHot();
  }
  return out;
}

/**
 * A dispute bundle's matches across tiers (docs/audit.md, "Dispute evidence"), in the order the
 * hot query takes them: by id for a validator or no key, by (height, id) for a height range.
 * `hot` holds the first `limit` hot matches in that order.
 */
export async function evidenceMatches(
  reader: ColdAuditReader,
  hot: readonly MutableEntry[],
  q: { readonly limit: number; readonly match: (e: MutableEntry) => boolean; readonly validatorId: string | undefined; readonly heights: readonly [number, number] | undefined },
): Promise<FoundEntry[]> {
  const height = q.heights === undefined ? {} : { height: q.heights };
  if (q.validatorId === undefined && q.heights !== undefined) {
    const order = { limit: q.limit, descending: false, match: q.match, key: (e: MutableEntry) => e.height as number };
    return mergeByKey(reader, await reader.blocks(height), hot, { ...order, range: (b) => [b.minHeight, b.maxHeight] });
  }
  const filter = q.validatorId === undefined ? {} : { validator: q.validatorId, ...height };
  return mergeByLsn(reader, () => reader.blocks(filter), hot, { limit: q.limit, descending: false, match: q.match });
}

/**
 * The leaf hashes of a tree of `treeSize` entries, packed: the cold ones recomputed from the
 * cold blocks (`coldLeaves`: every block of entries read, one SHA-256 per cold entry), then
 * the hot ones (`hotLeaves`, from sequence `leafBase`).
 */
export async function proofLeaves(reader: ColdAuditReader, hotLeaves: Uint8Array, leafBase: number, treeSize: number): Promise<Uint8Array> {
  const out = new Uint8Array(Math.max(treeSize, leafBase) * HASH_BYTES);
  await reader.coldLeaves(out, Math.min(leafBase, treeSize));
  if (treeSize > leafBase) out.set(hotLeaves.subarray(0, (treeSize - leafBase) * HASH_BYTES), leafBase * HASH_BYTES);
  return out;
}
