/**
 * The content of a portable snapshot (docs/format.md, "Portable snapshot"): the finalized state
 * at a height H that every honest node holding the same finalized history writes byte for
 * byte, so that its Merkle root can be attested and compared across nodes.
 *
 * Canonical by construction: little-endian fixed-width integers; every list in a defined order
 * (validator ids sorted by code unit, changes in their history order, certificates by height,
 * precommits by validator index); bigints as u8 length + big-endian magnitude without leading
 * zero bytes; optional strings as u16 length (0: absent); nothing node-local (no LSN, no
 * recording time, no creation time).
 *
 *   magic "CSSNAPC1", u32 kind (1), u32 content version (1)
 *   u16 chain id length, chain id (UTF-8)
 *   u64 height H, u32 round of H's decision, u64 decidedAt (largest precommit time in H's certificate)
 *   u32 validator count at H, u8+bytes total voting power at H (the active stake),
 *   u32 certificate count
 *   section 1, ids:        u32 n, then n times u16 length + UTF-8 (sorted, unique)
 *   section 2, set at H:   u32 n, then per validator: u32 id index, 32-byte key, stake,
 *                          u8 status, u64 registered at, u64 updated at, total slashed
 *   section 3, history:    u32 n, then per change (changes at heights <= H): u32 id index,
 *                          u8 kind, u64 height, reason, the validator after (as in section 2
 *                          without its id index), u8 slash flag [requested, amount, evidence id]
 *   section 4, decisions:  u32 n, then per height (ascending): u64 height, u32 round, 32-byte
 *                          block hash, u32 m, then m times: u32 id index, u64 timestamp,
 *                          64-byte signature (ascending id index)
 *
 * Decoding checks every count against the bytes left before allocating, every index against
 * the id table, every order the encoding promises; it must never accept two encodings of one
 * state (so the root of a decoded snapshot re-encoded is the root it came with).
 */
import { equalBytes } from './bytes.ts';
import { VALIDATOR_STATUSES, MAX_REASON_LENGTH, MAX_STAKE, type Validator, type ValidatorStatus } from '../model/validator.ts';
import { BLOCK_HASH_BYTES, isWellFormedString, MAX_CHAIN_ID_LENGTH, MAX_VALIDATOR_ID_LENGTH, SIGNATURE_BYTES } from '../model/vote.ts';

export const SNAPSHOT_CONTENT_VERSION = 1;
const MAGIC = new TextEncoder().encode('CSSNAPC1');
const KIND_PORTABLE = 1;
const CHANGE_KINDS = ['register', 'stake', 'status', 'slash'] as const;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** One change of a validator's history, as a snapshot carries it (no LSN, no recording time). */
export interface SnapshotChange {
  readonly validatorId: string;
  readonly kind: (typeof CHANGE_KINDS)[number];
  readonly height: number;
  readonly reason?: string;
  readonly after: Validator;
  readonly slash?: { readonly requested: bigint; readonly amount: bigint; readonly evidenceId?: string };
}

/** One precommit of a decision certificate. */
export interface CertificateVote {
  readonly validatorId: string;
  readonly timestamp: number;
  readonly signature: Uint8Array;
}

/** A quorum of precommits for the block decided at one height. */
export interface DecisionCertificate {
  readonly height: number;
  readonly round: number;
  readonly blockHash: Uint8Array;
  /** Ascending by the validator's place in the snapshot's id table. */
  readonly precommits: readonly CertificateVote[];
}

/** What a portable snapshot holds. */
export interface SnapshotContent {
  readonly chainId: string;
  readonly height: number;
  readonly round: number;
  readonly decidedAt: number;
  /** The set at `height`, in id order, every status. */
  readonly validators: readonly Validator[];
  /** Total voting power at `height`: the stake of the active validators. */
  readonly totalVotingPower: bigint;
  /** Every change at a height <= `height`, per validator in id order, each validator's in history order. */
  readonly history: readonly SnapshotChange[];
  /** Ascending by height; the last one is `height`'s. */
  readonly certificates: readonly DecisionCertificate[];
}

/** Appends little-endian fields to a growing buffer. */
class Out {
  buf = new Uint8Array(1 << 16);
  view = new DataView(this.buf.buffer);
  pos = 0;
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    bigger.set(this.buf.subarray(0, this.pos));
    this.buf = bigger;
    this.view = new DataView(bigger.buffer);
  }
  u8(n: number): void {
    this.room(1);
    this.buf[this.pos++] = n;
  }
  u16(n: number): void {
    this.room(2);
    this.view.setUint16(this.pos, n, true);
    this.pos += 2;
  }
  u32(n: number): void {
    this.room(4);
    this.view.setUint32(this.pos, n, true);
    this.pos += 4;
  }
  u64(n: number): void {
    this.room(8);
    this.view.setBigUint64(this.pos, BigInt(n), true);
    this.pos += 8;
  }
  raw(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  text(s: string): void {
    const b = utf8.encode(s);
    this.u16(b.length);
    this.raw(b);
  }
  big(n: bigint): void {
    if (n < 0n) throw new RangeError('a snapshot bigint is never negative');
    let hex = n.toString(16);
    if (n === 0n) hex = '';
    if (hex.length % 2 === 1) hex = `0${hex}`;
    this.u8(hex.length / 2);
    for (let i = 0; i < hex.length; i += 2) this.u8(parseInt(hex.slice(i, i + 2), 16));
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/** Reads little-endian fields; every method throws `Error` naming the offset. */
class In {
  pos = 0;
  readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error(`snapshot content truncated at byte ${this.pos}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }
  u16(): number {
    this.need(2);
    const n = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return n;
  }
  u32(): number {
    this.need(4);
    const n = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return n;
  }
  u64(): number {
    this.need(8);
    const n = this.view.getBigUint64(this.pos, true);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`snapshot integer at byte ${this.pos} exceeds 2^53-1`);
    this.pos += 8;
    return Number(n);
  }
  raw(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  text(maxChars: number, allowEmpty = false): string {
    const at = this.pos;
    const b = this.raw(this.u16());
    let s: string;
    try {
      s = utf8Strict.decode(b);
    } catch {
      throw new Error(`snapshot text at byte ${at} is not UTF-8`);
    }
    if ((!allowEmpty && s.length === 0) || s.length > maxChars || !isWellFormedString(s)) throw new Error(`snapshot text at byte ${at} is out of range`);
    if (!equalBytes(utf8.encode(s), b)) throw new Error(`snapshot text at byte ${at} is not canonical`);
    return s;
  }
  big(max: bigint): bigint {
    const at = this.pos;
    const n = this.u8();
    const b = this.raw(n);
    if (n > 0 && b[0] === 0) throw new Error(`snapshot number at byte ${at} has a leading zero byte`);
    let v = 0n;
    for (const x of b) v = (v << 8n) | BigInt(x);
    if (v > max) throw new Error(`snapshot number at byte ${at} is out of range`);
    return v;
  }
  count(minBytesEach: number, what: string): number {
    const at = this.pos;
    const n = this.u32();
    if (n * minBytesEach > this.buf.length - this.pos) throw new Error(`snapshot ${what} count ${n} at byte ${at} exceeds the bytes left`);
    return n;
  }
}

function writeValidator(o: Out, v: Validator): void {
  o.raw(v.publicKey);
  o.big(v.stake);
  o.u8(VALIDATOR_STATUSES.indexOf(v.status));
  o.u64(v.registeredAtHeight);
  o.u64(v.updatedAtHeight);
  o.big(v.totalSlashed);
}

function readValidator(i: In, validatorId: string): Validator {
  const publicKey = i.raw(32);
  const stake = i.big(MAX_STAKE);
  const code = i.u8();
  const status = VALIDATOR_STATUSES[code];
  if (status === undefined) throw new Error(`snapshot validator status ${code} is unknown`);
  const registeredAtHeight = i.u64();
  const updatedAtHeight = i.u64();
  const totalSlashed = i.big(MAX_STAKE);
  return { validatorId, publicKey, stake, status: status as ValidatorStatus, registeredAtHeight, updatedAtHeight, totalSlashed };
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Encodes a snapshot's content (see the file comment). @throws RangeError on a value it cannot hold. */
export function encodeSnapshotContent(c: SnapshotContent): Uint8Array {
  const ids = new Set<string>();
  for (const v of c.validators) ids.add(v.validatorId);
  for (const ch of c.history) ids.add(ch.validatorId);
  for (const cert of c.certificates) for (const p of cert.precommits) ids.add(p.validatorId);
  const table = [...ids].sort(compareIds);
  const index = new Map(table.map((id, n) => [id, n]));
  const o = new Out();
  o.raw(MAGIC);
  o.u32(KIND_PORTABLE);
  o.u32(SNAPSHOT_CONTENT_VERSION);
  o.text(c.chainId);
  o.u64(c.height);
  o.u32(c.round);
  o.u64(c.decidedAt);
  o.u32(c.validators.length);
  o.big(c.totalVotingPower);
  o.u32(c.certificates.length);
  o.u32(table.length);
  for (const id of table) o.text(id);
  o.u32(c.validators.length);
  for (const v of c.validators) {
    o.u32(index.get(v.validatorId) as number);
    writeValidator(o, v);
  }
  o.u32(c.history.length);
  for (const ch of c.history) {
    o.u32(index.get(ch.validatorId) as number);
    o.u8(CHANGE_KINDS.indexOf(ch.kind));
    o.u64(ch.height);
    o.text(ch.reason ?? '');
    writeValidator(o, ch.after);
    o.u8(ch.slash === undefined ? 0 : 1);
    if (ch.slash !== undefined) {
      o.big(ch.slash.requested);
      o.big(ch.slash.amount);
      o.text(ch.slash.evidenceId ?? '');
    }
  }
  o.u32(c.certificates.length);
  for (const cert of c.certificates) {
    o.u64(cert.height);
    o.u32(cert.round);
    o.raw(cert.blockHash);
    o.u32(cert.precommits.length);
    for (const p of cert.precommits) {
      o.u32(index.get(p.validatorId) as number);
      o.u64(p.timestamp);
      o.raw(p.signature);
    }
  }
  return o.finish();
}

/** The header fields of a content, read without decoding the sections. */
export interface SnapshotContentHead {
  readonly chainId: string;
  readonly height: number;
  readonly round: number;
  readonly decidedAt: number;
  readonly validatorCount: number;
  readonly totalVotingPower: bigint;
  readonly certificateCount: number;
}

function readHead(i: In): SnapshotContentHead {
  if (!equalBytes(i.raw(8), MAGIC)) throw new Error('snapshot content has a bad magic');
  const kind = i.u32();
  if (kind !== KIND_PORTABLE) throw new Error(`snapshot content kind ${kind} is not portable`);
  const version = i.u32();
  if (version !== SNAPSHOT_CONTENT_VERSION) throw new Error(`snapshot content version ${version} is not ${SNAPSHOT_CONTENT_VERSION}`);
  const chainId = i.text(MAX_CHAIN_ID_LENGTH);
  const height = i.u64();
  const round = i.u32();
  const decidedAt = i.u64();
  const validatorCount = i.u32();
  const totalVotingPower = i.big(MAX_STAKE * 1_000_000n);
  const certificateCount = i.u32();
  return { chainId, height, round, decidedAt, validatorCount, totalVotingPower, certificateCount };
}

/** Reads the head of a content (its first bytes). @throws Error when malformed. */
export function decodeSnapshotHead(content: Uint8Array): SnapshotContentHead {
  return readHead(new In(content));
}

/**
 * Decodes and checks a whole content: counts against the bytes left, indexes against the id
 * table, the promised orders, the head's counts against the sections.
 * @throws Error naming the first problem.
 */
export function decodeSnapshotContent(content: Uint8Array): SnapshotContent {
  const i = new In(content);
  const head = readHead(i);
  const idCount = i.count(3, 'id');
  const table: string[] = [];
  for (let n = 0; n < idCount; n++) {
    const id = i.text(MAX_VALIDATOR_ID_LENGTH);
    if (n > 0 && compareIds(table[n - 1] as string, id) >= 0) throw new Error('snapshot ids are not sorted and unique');
    table.push(id);
  }
  const used = new Uint8Array(table.length);
  const idAt = (what: string): string => {
    const n = i.u32();
    const id = table[n];
    if (id === undefined) throw new Error(`snapshot ${what} names id index ${n}, beyond ${table.length}`);
    used[n] = 1;
    return id;
  };
  const setCount = i.count(4 + 32 + 1 + 1 + 16 + 1, 'validator');
  if (setCount !== head.validatorCount) throw new Error(`snapshot set has ${setCount} validators; its head says ${head.validatorCount}`);
  const validators: Validator[] = [];
  let power = 0n;
  for (let n = 0; n < setCount; n++) {
    const id = idAt('validator');
    if (n > 0 && compareIds((validators[n - 1] as Validator).validatorId, id) >= 0) throw new Error('snapshot set is not in id order');
    const v = readValidator(i, id);
    if (v.status === 'active') power += v.stake;
    validators.push(v);
  }
  if (power !== head.totalVotingPower) throw new Error(`snapshot set's active stake ${power} is not the head's ${head.totalVotingPower}`);
  const changeCount = i.count(4 + 1 + 8 + 2 + 32 + 1 + 16 + 1 + 1, 'change');
  const history: SnapshotChange[] = [];
  for (let n = 0; n < changeCount; n++) {
    const validatorId = idAt('change');
    if (n > 0 && compareIds((history[n - 1] as SnapshotChange).validatorId, validatorId) > 0) throw new Error('snapshot history is not in id order');
    const kind = CHANGE_KINDS[i.u8()];
    if (kind === undefined) throw new Error('snapshot change kind is unknown');
    const height = i.u64();
    if (height > head.height) throw new Error(`snapshot change at height ${height} is past the snapshot's ${head.height}`);
    const reason = i.text(MAX_REASON_LENGTH, true);
    const after = readValidator(i, validatorId);
    const flag = i.u8();
    if (flag > 1 || (flag === 1) !== (kind === 'slash')) throw new Error('snapshot change slash flag does not match its kind');
    let change: SnapshotChange = { validatorId, kind, height, after, ...(reason === '' ? {} : { reason }) };
    if (flag === 1) {
      const requested = i.big(MAX_STAKE);
      const amount = i.big(MAX_STAKE);
      const evidenceId = i.text(1024, true);
      change = { ...change, slash: { requested, amount, ...(evidenceId === '' ? {} : { evidenceId }) } };
    }
    history.push(change);
  }
  const certCount = i.count(8 + 4 + BLOCK_HASH_BYTES + 4, 'certificate');
  if (certCount !== head.certificateCount) throw new Error(`snapshot has ${certCount} certificates; its head says ${head.certificateCount}`);
  const certificates: DecisionCertificate[] = [];
  for (let n = 0; n < certCount; n++) {
    const height = i.u64();
    if (n > 0 && height <= (certificates[n - 1] as DecisionCertificate).height) throw new Error('snapshot certificates are not in height order');
    if (height > head.height) throw new Error(`snapshot certificate at height ${height} is past the snapshot's`);
    const round = i.u32();
    const blockHash = i.raw(BLOCK_HASH_BYTES);
    const m = i.count(4 + 8 + SIGNATURE_BYTES, 'precommit');
    const precommits: CertificateVote[] = [];
    let last = -1;
    for (let k = 0; k < m; k++) {
      const at = i.u32();
      if (at <= last) throw new Error('snapshot precommits are not in id order');
      last = at;
      const validatorId = table[at];
      if (validatorId === undefined) throw new Error(`snapshot precommit names id index ${at}, beyond ${table.length}`);
      used[at] = 1;
      precommits.push({ validatorId, timestamp: i.u64(), signature: i.raw(SIGNATURE_BYTES) });
    }
    certificates.push({ height, round, blockHash, precommits });
  }
  if (used.includes(0)) throw new Error('snapshot id table holds an id nothing names');
  if (i.pos !== content.length) throw new Error(`snapshot content has ${content.length - i.pos} trailing bytes`);
  const tip = certificates[certificates.length - 1];
  if (tip === undefined || tip.height !== head.height || tip.round !== head.round) throw new Error("snapshot has no certificate for its own height and round");
  return { chainId: head.chainId, height: head.height, round: head.round, decidedAt: head.decidedAt, validators, totalVotingPower: head.totalVotingPower, history, certificates };
}
