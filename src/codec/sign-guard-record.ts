/**
 * Payloads of the sign guard's records: a signed (height, round, step) with its sign bytes and
 * signature (kind SignGuardEntry), and an imported watermark (kind SignGuardImport). Fixed
 * little-endian layouts (docs/stores.md, "Records").
 *
 * A decoder must never return a value it did not fully check: a bad version, step, length or
 * range is CORRUPTION. An entry may legally decode with an empty signature (the format can say
 * "signed, signature lost"); the guard treats that as corruption when it matters, never as a
 * licence to sign again.
 */
import { ConsensusStoreError } from '../errors.ts';
import { readU64, writeU64 } from './bytes.ts';
import type { LogRecord } from '../model/log-record.ts';
import { ED25519_KEY_BYTES, SIGNATURE_BYTES } from '../model/vote.ts';
import { SIGN_STEPS } from '../model/sign.ts';
import type { SignStep } from '../model/sign.ts';

/** Layout version of sign-guard payloads. */
export const SIGN_GUARD_RECORD_VERSION = 1;

/** Largest sign-bytes string an entry may carry. */
export const MAX_SIGN_BYTES = 1024;

const O_STEP = 1;
const O_SIG_LENGTH = 2;
const O_SIGN_BYTES_LENGTH = 4;
const O_HEIGHT = 8;
const O_ROUND = 16;
const O_KEY = 20;
const HEADER = O_KEY + ED25519_KEY_BYTES;

/** A decoded sign-guard record. `signBytes` and `signature` are null for an import. */
export interface SignGuardRecord {
  readonly imported: boolean;
  readonly publicKey: Uint8Array;
  readonly height: number;
  readonly round: number;
  readonly step: SignStep;
  readonly signBytes: Uint8Array | null;
  readonly signature: Uint8Array | null;
}

/** A step's code: propose 1, prevote 2, precommit 3, commit 4. */
export function stepCode(step: SignStep): number {
  return SIGN_STEPS.indexOf(step) + 1;
}

function bad(record: LogRecord, problem: string): ConsensusStoreError {
  return new ConsensusStoreError('CORRUPTION', `record ${record.lsn} (kind ${record.kind}): ${problem}`, {
    details: { lsn: record.lsn, kind: record.kind },
  });
}

function header(out: Uint8Array, w: { publicKey: Uint8Array; height: number; round: number; step: SignStep }): DataView {
  const view = new DataView(out.buffer);
  out[0] = SIGN_GUARD_RECORD_VERSION;
  out[O_STEP] = stepCode(w.step);
  writeU64(out, O_HEIGHT, w.height);
  view.setUint32(O_ROUND, w.round, true);
  out.set(w.publicKey, O_KEY);
  return view;
}

/**
 * Encodes a signed entry. Layout: version u8, step u8, signature length u8 (0 or 64), pad u8,
 * sign-bytes length u16, pad u16, height u64, round u32, public key 32, signature, sign bytes.
 */
export function encodeSignGuardEntry(e: {
  publicKey: Uint8Array;
  height: number;
  round: number;
  step: SignStep;
  signBytes: Uint8Array;
  signature: Uint8Array;
}): Uint8Array {
  const out = new Uint8Array(HEADER + e.signature.length + e.signBytes.length);
  const view = header(out, e);
  out[O_SIG_LENGTH] = e.signature.length;
  view.setUint16(O_SIGN_BYTES_LENGTH, e.signBytes.length, true);
  out.set(e.signature, HEADER);
  out.set(e.signBytes, HEADER + e.signature.length);
  return out;
}

/** Encodes an imported watermark: the entry header with both lengths zero, nothing after it. */
export function encodeSignGuardImport(w: { publicKey: Uint8Array; height: number; round: number; step: SignStep }): Uint8Array {
  const out = new Uint8Array(HEADER);
  header(out, w);
  return out;
}

/** Decodes either sign-guard record (by `record.kind`: entry unless `imported`). Throws CORRUPTION. */
export function decodeSignGuardRecord(record: LogRecord, imported: boolean): SignGuardRecord {
  const p = record.payload;
  if (p.length < HEADER) throw bad(record, `sign-guard payload of ${p.length} bytes is shorter than ${HEADER}`);
  if (p[0] !== SIGN_GUARD_RECORD_VERSION) throw bad(record, `unknown sign-guard payload version ${p[0]}`);
  const step = SIGN_STEPS[(p[O_STEP] as number) - 1];
  if (step === undefined) throw bad(record, `unknown step code ${p[O_STEP]}`);
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const height = readU64(p, O_HEIGHT);
  if (height < 0) throw bad(record, 'height exceeds 2^53-1');
  const sigLength = p[O_SIG_LENGTH] as number;
  const signBytesLength = view.getUint16(O_SIGN_BYTES_LENGTH, true);
  if (sigLength !== 0 && sigLength !== SIGNATURE_BYTES) throw bad(record, `signature length ${sigLength}`);
  if (signBytesLength > MAX_SIGN_BYTES) throw bad(record, `sign bytes length ${signBytesLength}`);
  if (imported && (sigLength !== 0 || signBytesLength !== 0)) throw bad(record, 'an imported watermark carries no signature');
  if (!imported && signBytesLength === 0) throw bad(record, 'a signed entry without sign bytes');
  if (p.length !== HEADER + sigLength + signBytesLength) throw bad(record, `payload length ${p.length} does not match its lengths`);
  return {
    imported,
    publicKey: p.slice(O_KEY, HEADER),
    height,
    round: view.getUint32(O_ROUND, true),
    step,
    signature: imported || sigLength === 0 ? null : p.slice(HEADER, HEADER + sigLength),
    signBytes: imported ? null : p.slice(HEADER + sigLength),
  };
}

/** A decoded SignGuardRepairBarrier. */
export interface RepairBarrier {
  /** First LSN the repair dropped, or undefined when it dropped no record. */
  readonly firstLostLsn: number | undefined;
  /** The log's id of the repair (`PendingRepairReport.id`); undefined in version-1 payloads. */
  readonly repairId: number | undefined;
}

/**
 * Payload of a SignGuardRepairBarrier record, version 2: u8 version (2), 7 zero bytes, u64 first
 * lost LSN (0: none), u64 repair id. Version 1 (read only) had 16 bytes: no repair id, and the
 * LSN always set.
 */
export function encodeRepairBarrier(firstLostLsn: number | undefined, repairId: number): Uint8Array {
  const out = new Uint8Array(24);
  out[0] = 2;
  writeU64(out, 8, firstLostLsn ?? 0);
  writeU64(out, 16, repairId);
  return out;
}

/** Decodes a SignGuardRepairBarrier payload (version 1 or 2). @throws CORRUPTION when malformed. */
export function decodeRepairBarrier(record: LogRecord): RepairBarrier {
  const p = record.payload;
  const v1 = p.length === 16 && p[0] === 1;
  if (!v1 && !(p.length === 24 && p[0] === 2)) throw bad(record, 'repair barrier payload malformed');
  for (let i = 1; i < 8; i++) if (p[i] !== 0) throw bad(record, 'repair barrier payload malformed');
  const lost = readU64(p, 8);
  if (lost < 0) throw bad(record, 'repair barrier field exceeds 2^53-1');
  if (v1) {
    if (lost === 0) throw bad(record, 'repair barrier without a lost LSN');
    return { firstLostLsn: lost, repairId: undefined };
  }
  const repairId = readU64(p, 16);
  if (repairId < 0) throw bad(record, 'repair barrier field exceeds 2^53-1');
  if (repairId === 0) throw bad(record, 'repair barrier without a repair id');
  return { firstLostLsn: lost === 0 ? undefined : lost, repairId };
}


/**
 * A restore fence (docs/format.md, "Sign guard fence"): `snapshot` (version 1), restored from a
 * portable snapshot at `height`; `backup` (version 2, mode 1), restored from a backup taken at
 * `lsn`, signing nothing until lifted; `floor` (version 2, mode 2), lifted by the operator at
 * `height`: nothing at or below it is signed.
 */
export type SignFence =
  | { readonly kind: 'snapshot'; readonly height: number }
  | { readonly kind: 'backup'; readonly lsn: number }
  | { readonly kind: 'floor'; readonly height: number };

const FENCE_MODE_BACKUP = 1;
const FENCE_MODE_FLOOR = 2;

/**
 * Encodes a SignGuardFence payload (16 bytes): a snapshot fence as u8 version 1, 7 zero bytes,
 * u64 height; a backup or floor fence as u8 version 2, u8 mode (1 backup, 2 floor), 6 zero
 * bytes, u64 LSN (backup) or height (floor). A bare number is a snapshot fence at that height.
 */
export function encodeSignFence(fence: number | SignFence): Uint8Array {
  const f: SignFence = typeof fence === 'number' ? { kind: 'snapshot', height: fence } : fence;
  const out = new Uint8Array(16);
  if (f.kind === 'snapshot') {
    out[0] = 1;
    writeU64(out, 8, f.height);
    return out;
  }
  out[0] = 2;
  out[1] = f.kind === 'backup' ? FENCE_MODE_BACKUP : FENCE_MODE_FLOOR;
  writeU64(out, 8, f.kind === 'backup' ? f.lsn : f.height);
  return out;
}

/** Decodes a SignGuardFence payload. @throws CORRUPTION when malformed. */
export function decodeSignFence(record: LogRecord): SignFence {
  const p = record.payload;
  const version = p[0];
  if (p.length !== 16 || (version !== 1 && version !== 2)) throw bad(record, 'sign fence payload malformed');
  const mode = p[1] as number;
  if (version === 2 && mode !== FENCE_MODE_BACKUP && mode !== FENCE_MODE_FLOOR) throw bad(record, `sign fence mode ${mode} unknown`);
  for (let i = version === 1 ? 1 : 2; i < 8; i++) if (p[i] !== 0) throw bad(record, 'sign fence payload malformed');
  const value = readU64(p, 8);
  if (value < 0) throw bad(record, 'sign fence value exceeds 2^53-1');
  if (version === 1) return { kind: 'snapshot', height: value };
  return mode === FENCE_MODE_BACKUP ? { kind: 'backup', lsn: value } : { kind: 'floor', height: value };
}
