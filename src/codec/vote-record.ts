/**
 * Payloads of the vote store's records: a stored vote (kind Vote) and a finalization mark (kind
 * Finalized). Fixed little-endian layouts (docs/stores.md, "Records"), chosen over msgpackr
 * because a million votes are decoded on every open and a fixed layout decodes without
 * allocating an object tree.
 *
 * A decoder must never return a value it did not fully check: any length, version, code or
 * range that is off is CORRUPTION (the log's CRC passed, so the bytes are what was written, and
 * what was written was wrong or is from an unknown format). These payloads are never signed:
 * signatures cover `voteSignBytes` (codec/vote-sign.ts) only.
 */
import { ConsensusStoreError } from '../errors.ts';
import type { LogRecord } from '../model/log-record.ts';
import { MAX_SAFE } from '../model/check.ts';
import { BLOCK_HASH_BYTES, isWellFormedString, MAX_VALIDATOR_ID_LENGTH, SIGNATURE_BYTES } from '../model/vote.ts';
import type { ValidatorVote } from '../model/vote.ts';
import { readU32, readU64, writeU64 } from './bytes.ts';
import { voteTypeCode, voteTypeOfCode } from './vote-sign.ts';

/** Layout version of vote and finalization payloads. */
export const VOTE_RECORD_VERSION = 1;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

// Vote payload offsets.
const V_VERSION = 0;
const V_TYPE = 1;
const V_NIL = 2;
const V_ID_LENGTH = 4;
const V_HEIGHT = 8;
const V_TIMESTAMP = 16;
const V_RECORDED_AT = 24;
const V_ROUND = 32;
const V_HASH = 36;
const V_SIGNATURE = V_HASH + BLOCK_HASH_BYTES;
const V_ID = V_SIGNATURE + SIGNATURE_BYTES;

// Finalized payload offsets.
const F_HEIGHT = 8;
const F_RECORDED_AT = 16;
const F_ROUND = 24;
const F_SIZE = 28;

/** A decoded vote record. */
export interface StoredVote {
  readonly vote: ValidatorVote;
  readonly recordedAt: number;
}

/** A decoded finalization record. */
export interface StoredFinalized {
  readonly height: number;
  readonly round: number;
  readonly recordedAt: number;
}

function bad(record: LogRecord, problem: string): ConsensusStoreError {
  return new ConsensusStoreError('CORRUPTION', `record ${record.lsn} (kind ${record.kind}): ${problem}`, {
    details: { lsn: record.lsn, kind: record.kind },
  });
}

/**
 * Encodes a vote (already validated) and the time it was recorded.
 * Layout: version u8, type u8, nil u8, pad u8, id length u16, pad u16, height u64,
 * timestamp u64, recordedAt u64, round u32, hash 32 (zero when nil), signature 64, id UTF-8.
 */
export function encodeVoteRecord(vote: ValidatorVote, recordedAt: number): Uint8Array {
  const id = utf8.encode(vote.validatorId);
  const out = new Uint8Array(V_ID + id.length);
  const view = new DataView(out.buffer);
  out[V_VERSION] = VOTE_RECORD_VERSION;
  out[V_TYPE] = voteTypeCode(vote.voteType);
  out[V_NIL] = vote.blockHash === null ? 1 : 0;
  view.setUint16(V_ID_LENGTH, id.length, true);
  writeU64(out, V_HEIGHT, vote.height);
  writeU64(out, V_TIMESTAMP, vote.timestamp);
  writeU64(out, V_RECORDED_AT, recordedAt);
  view.setUint32(V_ROUND, vote.round, true);
  if (vote.blockHash !== null) out.set(vote.blockHash, V_HASH);
  out.set(vote.signature, V_SIGNATURE);
  out.set(id, V_ID);
  return out;
}

/** Decodes a Vote record's payload. Throws CORRUPTION (with the LSN) if anything is off. Copies all bytes it keeps. */
export function decodeVoteRecord(record: LogRecord): StoredVote {
  const p = record.payload;
  if (p.length < V_ID) throw bad(record, `vote payload of ${p.length} bytes is shorter than ${V_ID}`);
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (p[V_VERSION] !== VOTE_RECORD_VERSION) throw bad(record, `unknown vote payload version ${p[V_VERSION]}`);
  const voteType = voteTypeOfCode(p[V_TYPE] as number);
  if (voteType === undefined) throw bad(record, `unknown vote type code ${p[V_TYPE]}`);
  const nil = p[V_NIL];
  if (nil !== 0 && nil !== 1) throw bad(record, `bad nil flag ${nil}`);
  const idLength = view.getUint16(V_ID_LENGTH, true);
  if (p.length !== V_ID + idLength) throw bad(record, `vote payload length ${p.length} does not match id length ${idLength}`);
  const height = readU64(p, V_HEIGHT);
  const timestamp = readU64(p, V_TIMESTAMP);
  const recordedAt = readU64(p, V_RECORDED_AT);
  if (height < 0 || timestamp < 0 || recordedAt < 0) throw bad(record, 'a u64 field exceeds 2^53-1');
  const hash = p.slice(V_HASH, V_HASH + BLOCK_HASH_BYTES);
  if (nil === 1 && hash.some((b) => b !== 0)) throw bad(record, 'nil vote with a non-zero hash');
  let validatorId: string;
  try {
    validatorId = utf8Strict.decode(p.subarray(V_ID));
  } catch {
    throw bad(record, 'validator id is not valid UTF-8');
  }
  if (validatorId.length === 0 || validatorId.length > MAX_VALIDATOR_ID_LENGTH || !isWellFormedString(validatorId)) {
    throw bad(record, 'validator id out of range');
  }
  const vote: ValidatorVote = {
    validatorId,
    height,
    round: view.getUint32(V_ROUND, true),
    voteType,
    blockHash: nil === 1 ? null : hash,
    timestamp,
    signature: p.slice(V_SIGNATURE, V_SIGNATURE + SIGNATURE_BYTES),
  };
  return { vote, recordedAt };
}

/** Byte offset of the block hash (32 bytes, zero when nil) in a vote payload. */
export const VOTE_HASH_OFFSET = V_HASH;
/** Byte offset of the signature (64 bytes) in a vote payload. */
export const VOTE_SIGNATURE_OFFSET = V_SIGNATURE;
/** Byte offset of the validator id (UTF-8, `idLength` bytes, up to the end) in a vote payload. */
export const VOTE_ID_OFFSET = V_ID;

/**
 * The fixed fields of a vote payload, read in place by `readVoteRecord` (the replay path: one
 * reused object, nothing allocated per record). Byte fields stay in the payload at the
 * `VOTE_*_OFFSET`s; the validator id's bytes are checked by `decodeValidatorId` (the caller
 * interns ids and decodes each distinct byte string once).
 */
export interface VoteRecordFields {
  /** Vote type code, 1..3. */
  typeCode: number;
  nil: boolean;
  height: number;
  timestamp: number;
  recordedAt: number;
  round: number;
  /** Length in bytes of the UTF-8 validator id at `VOTE_ID_OFFSET`. */
  idLength: number;
}

/** A blank `VoteRecordFields` to reuse across `readVoteRecord` calls. */
export function newVoteRecordFields(): VoteRecordFields {
  return { typeCode: 0, nil: false, height: 0, timestamp: 0, recordedAt: 0, round: 0, idLength: 0 };
}

/**
 * Reads and checks a Vote record's fixed fields into `out` without allocating: the same checks
 * as `decodeVoteRecord` except the validator id's content, which the caller must pass through
 * `decodeValidatorId` unless it already holds a checked id with exactly these bytes.
 * Throws CORRUPTION (with the LSN) if anything is off.
 */
export function readVoteRecord(record: LogRecord, out: VoteRecordFields): void {
  const p = record.payload;
  if (p.length < V_ID) throw bad(record, `vote payload of ${p.length} bytes is shorter than ${V_ID}`);
  if (p[V_VERSION] !== VOTE_RECORD_VERSION) throw bad(record, `unknown vote payload version ${p[V_VERSION]}`);
  const typeCode = p[V_TYPE] as number;
  if (typeCode < 1 || typeCode > 3) throw bad(record, `unknown vote type code ${typeCode}`);
  const nil = p[V_NIL];
  if (nil !== 0 && nil !== 1) throw bad(record, `bad nil flag ${nil}`);
  const idLength = (p[V_ID_LENGTH] as number) | ((p[V_ID_LENGTH + 1] as number) << 8);
  if (p.length !== V_ID + idLength) throw bad(record, `vote payload length ${p.length} does not match id length ${idLength}`);
  const height = readU64(p, V_HEIGHT);
  const timestamp = readU64(p, V_TIMESTAMP);
  const recordedAt = readU64(p, V_RECORDED_AT);
  if (height < 0 || timestamp < 0 || recordedAt < 0) throw bad(record, 'a u64 field exceeds 2^53-1');
  if (nil === 1) {
    for (let i = V_HASH; i < V_HASH + BLOCK_HASH_BYTES; i++) if (p[i] !== 0) throw bad(record, 'nil vote with a non-zero hash');
  }
  out.typeCode = typeCode;
  out.nil = nil === 1;
  out.height = height;
  out.timestamp = timestamp;
  out.recordedAt = recordedAt;
  out.round = readU32(p, V_ROUND);
  out.idLength = idLength;
}

/** Decodes and checks the validator id of a Vote record (strict UTF-8, 1..128 code units, well-formed). Throws CORRUPTION. */
export function decodeValidatorId(record: LogRecord): string {
  let validatorId: string;
  try {
    validatorId = utf8Strict.decode(record.payload.subarray(V_ID));
  } catch {
    throw bad(record, 'validator id is not valid UTF-8');
  }
  if (validatorId.length === 0 || validatorId.length > MAX_VALIDATOR_ID_LENGTH || !isWellFormedString(validatorId)) {
    throw bad(record, 'validator id out of range');
  }
  return validatorId;
}

/** Encodes a finalization mark. Layout: version u8, pad 7, height u64, recordedAt u64, round u32. */
export function encodeFinalizedRecord(height: number, round: number, recordedAt: number): Uint8Array {
  const out = new Uint8Array(F_SIZE);
  const view = new DataView(out.buffer);
  out[0] = VOTE_RECORD_VERSION;
  writeU64(out, F_HEIGHT, height);
  writeU64(out, F_RECORDED_AT, recordedAt);
  view.setUint32(F_ROUND, round, true);
  return out;
}

/** Decodes a Finalized record's payload. Throws CORRUPTION if anything is off. */
export function decodeFinalizedRecord(record: LogRecord): StoredFinalized {
  const p = record.payload;
  if (p.length !== F_SIZE) throw bad(record, `finalized payload of ${p.length} bytes, expected ${F_SIZE}`);
  if (p[0] !== VOTE_RECORD_VERSION) throw bad(record, `unknown finalized payload version ${p[0]}`);
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const height = readU64(p, F_HEIGHT);
  const recordedAt = readU64(p, F_RECORDED_AT);
  if (height < 0 || recordedAt < 0 || height > MAX_SAFE) throw bad(record, 'a u64 field exceeds 2^53-1');
  return { height, round: view.getUint32(F_ROUND, true), recordedAt };
}
