/**
 * The audit log's section of the local state image (tag 6; docs/format.md, "Local state
 * image"): the chain tip (sequence, last hash, Merkle frontier), the latest signed head, the
 * recorded node key, the first damage replay met, the entries not yet signed by a head, and
 * every indexed entry as columns (one typed array per field, not one object per entry), with
 * the leaf hashes as the index holds them.
 *
 * Layout after the u32 version: tip sequence (i64) and hash (bytes); the frontier: i64 leaf
 * count, u32 subtree count, each i64 size and its root (bytes); head (flag; i64 id, i64 tree
 * size, last entry hash, root, signature); recorded key (flag, bytes); damage (flag, i64 LSN,
 * text); unsigned entries (u32 count, i64 LSN each); then arrays: LSN (f64), sequence (f64),
 * timestamp (f64), event code (u8), event byte offsets (u32, count + 1) and the events' canonical
 * bytes (u8), entry hashes (u8, 32 each), the entries whose previous hash is not the hash of
 * the entry before them (u32 index, u8 32 each), the signing head per entry (f64 LSN of the
 * head's last entry, 0 for none) and the heads' signatures (f64 id, u8 64 each), and the leaf
 * hashes (u8). Then, only in an image of a store with a cold tier (docs/audit.md, "What lives
 * where"): flag 1, the cut's LSN (i64), the sequence of the first leaf hash held (i64), the
 * LSN of the newest entry no head signed yet (i64, 0 for none), and the tail (the newest cold
 * entry's signature): pending flag, flag, then i64 signing-head id and the signature. The
 * entries and leaf hashes are then the hot ones only.
 *
 * It must never hand back an entry whose event does not decode, nor allocate more than the
 * section's bytes can hold.
 */
import type { ImageReader, ImageWriter } from '../codec/image-section.ts';
import { decodeAuditEvent, encodeAuditEvent } from '../codec/audit-event.ts';
import { GENESIS_PREV_HASH } from '../codec/audit-record.ts';
import { equalBytes } from '../codec/bytes.ts';
import { HASH_BYTES, MerkleFrontier } from '../codec/merkle.ts';
import { AUDIT_EVENT_CODES } from '../model/audit.ts';
import type { Lsn } from '../log/types.ts';
import type { AuditHead } from './audit-types.ts';
import { makeEntry, withRoom, type MutableEntry } from './audit-index.ts';
import { maxElements, readCount, readSectionVersion, readUint, writeSectionVersion } from './image-common.ts';
import { NO_TAIL, tailOf, type ColdTail } from './audit-cold.ts';

const SIGNATURE_BYTES = 64;
/** The least room the restored leaf-hash buffer gets (the index starts with as much). */
const MIN_LEAF_CAPACITY = 32 * 1024;

/** The state the audit log captured (entries by reference: the first `count` of `entries`). */
export interface AuditImageState {
  readonly tipSequence: number;
  readonly tipHash: Uint8Array;
  /** A clone of the tip's frontier, taken at capture. */
  readonly frontier: MerkleFrontier;
  readonly head: AuditHead | undefined;
  readonly recordedKey: Uint8Array | undefined;
  readonly damage: { readonly id: Lsn; readonly reason: string } | undefined;
  /** LSNs of the entries no head had signed at capture, in order. */
  readonly unsigned: readonly Lsn[];
  /** The indexed entries, oldest first (at least `count`). */
  readonly entries: Iterable<MutableEntry>;
  readonly count: number;
  /** The index's leaf-hash buffer and how many of its bytes hold leaf hashes. */
  readonly leafHashes: Uint8Array;
  readonly leafBytes: number;
  /** Present once the store has a cold tier. */
  readonly cold?: ImageColdState | undefined;
}

/** The cold tier's part of the section (module comment). */
export interface ImageColdState {
  readonly cutLsn: number;
  /** The sequence of the first leaf hash the section holds. */
  readonly leafBase: number;
  /** The newest entry (hot or cold) no head has signed yet. */
  readonly lastUnsignedId: Lsn | undefined;
  readonly tail: ColdTail;
}

/** What the section loads into a fresh audit log. */
export interface LoadedAuditImage {
  readonly tipSequence: number;
  readonly tipHash: Uint8Array;
  readonly frontier: MerkleFrontier;
  readonly head: AuditHead | undefined;
  readonly recordedKey: Uint8Array | undefined;
  readonly damage: { readonly id: Lsn; readonly reason: string } | undefined;
  readonly unsigned: MutableEntry[];
  /** The entries, oldest first. */
  readonly entries: readonly MutableEntry[];
  /** The leaf hashes, in a buffer with room to grow. */
  readonly leafHashes: Uint8Array;
  readonly cold: ImageColdState | undefined;
}

/** A MerkleFrontier's subtree roots and sizes (largest first) and leaf count. */
function frontierParts(f: MerkleFrontier): { roots: readonly Uint8Array[]; sizes: readonly number[]; count: number } {
  // The frontier keeps its parts private; element access reads them without a copy of codec/merkle.ts.
  return { roots: f['roots'], sizes: f['sizes'], count: f.size };
}

/** Writes the section (module comment). Runs after the capture: reads only what capture pinned. */
export function writeAuditImage(w: ImageWriter, s: AuditImageState): void {
  const n = s.count;
  const lsn = new Float64Array(n);
  const sequence = new Float64Array(n);
  const timestamp = new Float64Array(n);
  const codes = new Uint8Array(n);
  const offsets = new Uint32Array(n + 1);
  const hashes = new Uint8Array(n * HASH_BYTES);
  const headOf = new Float64Array(n);
  const events: Uint8Array[] = [];
  const prevAt: number[] = [];
  const prevHashes: Uint8Array[] = [];
  const headIds: number[] = [];
  const signatures: Uint8Array[] = [];
  const unsigned = new Set<number>(s.unsigned);
  let eventBytes = 0;
  let i = 0;
  let previous = GENESIS_PREV_HASH;
  for (const e of s.entries) {
    if (i >= n) break;
    lsn[i] = e.id;
    sequence[i] = e.sequence;
    timestamp[i] = e.timestamp;
    codes[i] = AUDIT_EVENT_CODES[e.event.type];
    const bytes = encodeAuditEvent(e.event);
    events.push(bytes);
    eventBytes += bytes.length;
    offsets[i + 1] = eventBytes;
    hashes.set(e.hash, i * HASH_BYTES);
    if (!equalBytes(e.prevHash, previous)) {
      prevAt.push(i);
      prevHashes.push(e.prevHash);
    }
    previous = e.hash;
    // Signed after the capture: written as it was then, unsigned.
    if (e.signedHeadId !== null && e.signature !== null && !unsigned.has(e.id)) {
      headOf[i] = e.signedHeadId;
      if (headIds[headIds.length - 1] !== e.signedHeadId) {
        headIds.push(e.signedHeadId);
        signatures.push(e.signature);
      }
    }
    i++;
  }
  if (i !== n) throw new Error(`audit image: ${i} entries found of the ${n} captured`);

  writeSectionVersion(w);
  w.i64(s.tipSequence).bytes(s.tipHash);
  const f = frontierParts(s.frontier);
  w.i64(f.count).u32(f.roots.length);
  f.roots.forEach((root, k) => w.i64(f.sizes[k] as number).bytes(root));
  w.flag(s.head !== undefined);
  if (s.head !== undefined) w.i64(s.head.id).i64(s.head.treeSize).bytes(s.head.lastEntryHash).bytes(s.head.root).bytes(s.head.signature);
  w.flag(s.recordedKey !== undefined);
  if (s.recordedKey !== undefined) w.bytes(s.recordedKey);
  w.flag(s.damage !== undefined);
  if (s.damage !== undefined) w.i64(s.damage.id).text(s.damage.reason);
  w.u32(s.unsigned.length);
  for (const id of s.unsigned) w.i64(id);
  w.array(lsn).array(sequence).array(timestamp).array(codes).array(offsets).array(concat(events, eventBytes)).array(hashes);
  w.array(Uint32Array.from(prevAt)).array(concat(prevHashes, prevHashes.length * HASH_BYTES));
  w.array(headOf).array(Float64Array.from(headIds)).array(concat(signatures, signatures.length * SIGNATURE_BYTES));
  w.array(s.leafHashes, s.leafBytes);
  const c = s.cold;
  if (c === undefined) return;
  w.flag(true).i64(c.cutLsn).i64(c.leafBase).i64(c.lastUnsignedId ?? 0).flag(c.tail.pending).flag(c.tail.signature !== null);
  if (c.tail.signature !== null) w.i64(c.tail.signedHeadId ?? 0).bytes(c.tail.signature);
}

function readColdState(r: ImageReader): ImageColdState {
  if (!r.flag()) throw new Error('audit image: trailing bytes that are not a cold part (its flag is not set)');
  const cutLsn = readUint(r, 'cold cut LSN');
  const leafBase = readUint(r, 'leaf base');
  const unsignedId = readUint(r, 'last unsigned entry');
  const pending = r.flag();
  let tail: ColdTail = { pending, signature: null, signedHeadId: null };
  if (r.flag()) {
    const signedHeadId = readUint(r, 'cold tail head') as Lsn;
    const signature = r.bytes(SIGNATURE_BYTES);
    if (signature.length !== SIGNATURE_BYTES || pending) throw new Error('audit image: the cold tail is malformed');
    tail = { pending, signature, signedHeadId };
  }
  return { cutLsn, leafBase, lastUnsignedId: unsignedId === 0 ? undefined : (unsignedId as Lsn), tail };
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function readHash(r: ImageReader, what: string): Uint8Array {
  const h = r.bytes(HASH_BYTES);
  if (h.length !== HASH_BYTES) throw new Error(`audit image: ${what} is not ${HASH_BYTES} bytes`);
  return h;
}

function readFrontier(r: ImageReader): MerkleFrontier {
  const count = readUint(r, 'frontier size');
  const k = readCount(r, 12 + HASH_BYTES, 'frontier subtrees');
  if (k > 64) throw new Error(`audit image: ${k} frontier subtrees`);
  const roots: Uint8Array[] = [];
  const sizes: number[] = [];
  let sum = 0;
  for (let i = 0; i < k; i++) {
    const size = readUint(r, 'frontier subtree size');
    // Perfect subtrees, strictly decreasing powers of two.
    if (size < 1 || (i > 0 && size >= (sizes[i - 1] as number)) || 2 ** Math.round(Math.log2(size)) !== size) {
      throw new Error(`audit image: frontier subtree ${i} has ${size} leaves`);
    }
    sizes.push(size);
    roots.push(readHash(r, 'frontier root'));
    sum += size;
  }
  if (sum !== count) throw new Error(`audit image: frontier subtrees hold ${sum} leaves, not ${count}`);
  return new MerkleFrontier(roots, sizes, count);
}

/** Reads the section. @throws Error on malformed bytes. */
export function readAuditImage(r: ImageReader): LoadedAuditImage {
  readSectionVersion(r, 'audit log');
  const tipSequence = readUint(r, 'tip sequence');
  const tipHash = readHash(r, 'tip hash');
  const frontier = readFrontier(r);
  let head: AuditHead | undefined;
  if (r.flag()) {
    const id = readUint(r, 'head id') as Lsn;
    const treeSize = readUint(r, 'head tree size');
    const lastEntryHash = readHash(r, 'head hash');
    const root = readHash(r, 'head root');
    const signature = r.bytes(SIGNATURE_BYTES);
    if (signature.length !== SIGNATURE_BYTES || treeSize < 1) throw new Error('audit image: the head is malformed');
    head = { id, treeSize, lastEntryHash, root, signature };
  }
  let recordedKey: Uint8Array | undefined;
  if (r.flag()) {
    recordedKey = r.bytes(32);
    if (recordedKey.length !== 32) throw new Error('audit image: the recorded key is not 32 bytes');
  }
  const damage = r.flag() ? { id: readUint(r, 'damage LSN') as Lsn, reason: r.text(1 << 16) } : undefined;
  const unsignedIds: number[] = [];
  const unsignedCount = readCount(r, 8, 'unsigned entries');
  for (let i = 0; i < unsignedCount; i++) unsignedIds.push(readUint(r, 'unsigned entry LSN'));

  const column = <T extends Float64Array | Uint32Array | Uint8Array>(Kind: { new (n: number): T; readonly BYTES_PER_ELEMENT: number }, expected: number | undefined, what: string): T => {
    const { array, count } = r.array(Kind, maxElements(r, Kind.BYTES_PER_ELEMENT));
    if (expected !== undefined && count !== expected) throw new Error(`audit image: ${what} has ${count} elements, expected ${expected}`);
    return array;
  };
  const lsnCol = r.array(Float64Array, maxElements(r, 8));
  const n = lsnCol.count;
  const lsn = lsnCol.array;
  const sequence = column(Float64Array, n, 'sequences');
  const timestamp = column(Float64Array, n, 'timestamps');
  const codes = column(Uint8Array, n, 'event codes');
  const offsets = column(Uint32Array, n + 1, 'event offsets');
  const events = r.array(Uint8Array, maxElements(r, 1));
  const hashes = column(Uint8Array, n * HASH_BYTES, 'entry hashes');
  const prevAtCol = r.array(Uint32Array, Math.min(n, maxElements(r, 4)));
  const prevHashes = column(Uint8Array, prevAtCol.count * HASH_BYTES, 'previous hashes');
  const headOf = column(Float64Array, n, 'signing heads');
  const headIdsCol = r.array(Float64Array, maxElements(r, 8));
  const signatures = column(Uint8Array, headIdsCol.count * SIGNATURE_BYTES, 'head signatures');
  const leafCol = r.array(Uint8Array, maxElements(r, 1), MIN_LEAF_CAPACITY);
  const cold = r.remaining > 0 ? readColdState(r) : undefined;
  r.end();
  if (cold !== undefined && (cold.leafBase > tipSequence || (n > 0 && (sequence[0] as number) < cold.leafBase) || (n > 0 && (lsn[0] as number) <= cold.cutLsn))) {
    throw new Error(`audit image: the cold part (cut ${cold.cutLsn}, leaf base ${cold.leafBase}) does not fit the entries held`);
  }
  if (leafCol.count % HASH_BYTES !== 0 || leafCol.count > n * HASH_BYTES) throw new Error(`audit image: ${leafCol.count} bytes of leaf hashes`);
  // A repair's gap leaves entries out of the index but not out of the tree (LOST_ENTRY_LEAF).
  if (frontier.size !== tipSequence || n > tipSequence) throw new Error(`audit image: the frontier holds ${frontier.size} leaves for ${n} entries`);
  if (head !== undefined && head.treeSize > tipSequence) throw new Error(`audit image: the head covers ${head.treeSize} entries of ${tipSequence}`);

  const signatureOf = new Map<number, Uint8Array>();
  for (let h = 0; h < headIdsCol.count; h++) {
    signatureOf.set(headIdsCol.array[h] as number, signatures.subarray(h * SIGNATURE_BYTES, (h + 1) * SIGNATURE_BYTES));
  }
  const unsignedSet = new Set(unsignedIds);
  const unsignedById = new Map<number, MutableEntry>();
  const entries: MutableEntry[] = [];
  let prevNext = 0;
  let previous = GENESIS_PREV_HASH;
  for (let i = 0; i < n; i++) {
    const id = lsn[i] as number;
    const seq = sequence[i] as number;
    const time = timestamp[i] as number;
    const from = offsets[i] as number;
    const to = offsets[i + 1] as number;
    if (!Number.isSafeInteger(id) || id < 1 || (i > 0 && id <= (lsn[i - 1] as number))) throw new Error(`audit image: entry ${i} has LSN ${id} out of order`);
    if (!Number.isSafeInteger(seq) || seq < 0 || !Number.isSafeInteger(time) || time < 0) throw new Error(`audit image: entry ${i} has a bad sequence or time`);
    if (from > to || to > events.count || (i === n - 1 && to !== events.count) || (i === 0 && from !== 0)) throw new Error(`audit image: entry ${i} has bad event offsets`);
    let event;
    try {
      event = decodeAuditEvent(codes[i] as number, events.array.slice(from, to));
    } catch (err) {
      throw new Error(`audit image: entry ${i}: ${(err as Error).message}`);
    }
    const hash = hashes.slice(i * HASH_BYTES, (i + 1) * HASH_BYTES);
    let prevHash = previous;
    if (prevNext < prevAtCol.count && prevAtCol.array[prevNext] === i) {
      prevHash = prevHashes.slice(prevNext * HASH_BYTES, (prevNext + 1) * HASH_BYTES);
      prevNext++;
    }
    previous = hash;
    const entry = makeEntry(id as Lsn, seq, event, time, prevHash, hash);
    const headId = headOf[i] as number;
    if (headId !== 0) {
      const signature = signatureOf.get(headId);
      if (signature === undefined || unsignedSet.has(id)) throw new Error(`audit image: entry ${i} names a head it cannot have`);
      entry.signature = signature;
      entry.signedHeadId = headId as Lsn;
    } else if (!unsignedSet.has(id)) {
      throw new Error(`audit image: entry ${i} is neither signed nor unsigned`);
    } else {
      unsignedById.set(id, entry);
    }
    entries.push(entry);
  }
  if (prevNext !== prevAtCol.count) throw new Error('audit image: previous hashes out of order');
  const unsigned = unsignedIds.map((id) => {
    const entry = unsignedById.get(id);
    if (entry === undefined) throw new Error(`audit image: unsigned entry ${id} is not held`);
    return entry;
  });
  return { tipSequence, tipHash, frontier, head, recordedKey, damage, unsigned, entries, leafHashes: leafCol.array, cold };
}

/** What a store whose cut is at `cutLsn` keeps of a loaded image (docs/audit.md, "What lives where"). */
export interface HotPartOfImage {
  /** The entries above the cut, oldest first. */
  readonly entries: readonly MutableEntry[];
  /** Their leaf hashes (a buffer with room to grow), the first of them of sequence `leafBase`. */
  readonly leafHashes: Uint8Array;
  readonly leafBase: number;
  readonly tail: ColdTail;
  readonly unsigned: MutableEntry[];
  readonly lastUnsignedId: Lsn | undefined;
}

/**
 * The part of `image` above the cut `cutLsn`: the entries the cut has reached since the image
 * was written (an image older than the cut) are the cold tier's now, their leaf hashes dropped,
 * and the newest of them gives the tail.
 * @throws Error when the image was written under a higher cut than `cutLsn`.
 */
export function hotPartOfImage(image: LoadedAuditImage, cutLsn: number): HotPartOfImage {
  const c = image.cold;
  if (c !== undefined && c.cutLsn > cutLsn) throw new Error(`audit image: written under cold cut ${c.cutLsn}, above this store's ${cutLsn}`);
  const entries = image.entries.filter((e) => e.id > cutLsn);
  const coldHeld = image.entries.length - entries.length;
  const lastCold = image.entries[coldHeld - 1];
  const lastUnsignedId = c !== undefined ? c.lastUnsignedId : image.unsigned[image.unsigned.length - 1]?.id;
  const unsigned = image.unsigned.filter((e) => e.id > cutLsn);
  const imageBase = c?.leafBase ?? 0;
  if (lastCold === undefined) return { entries, leafHashes: image.leafHashes, leafBase: imageBase, tail: c?.tail ?? NO_TAIL, unsigned, lastUnsignedId };
  const leafBase = entries[0]?.sequence ?? image.tipSequence;
  const from = Math.max(0, leafBase - imageBase) * HASH_BYTES;
  const leafHashes = withRoom(image.leafHashes.subarray(from, from + entries.length * HASH_BYTES));
  return { entries, leafHashes, leafBase, tail: tailOf(lastCold, image.unsigned), unsigned, lastUnsignedId };
}
