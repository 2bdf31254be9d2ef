/**
 * Payload encodings of the validator-registry records (RecordKind.ValidatorRegistered,
 * ValidatorStake, ValidatorStatus, ValidatorSlash) and the bigint checks they rely on.
 *
 * Payloads are msgpack arrays with a leading format version. Amounts of stake are written as
 * decimal strings (canonical: no sign, no leading zeros, below 2^128), never through `number`,
 * so that they round-trip exactly. Nothing here is hashed or signed. This module must never do
 * I/O, and a decoder must never return a value that fails the checks the API applies: a payload
 * that fails is CORRUPTION.
 */
import { Packr } from 'msgpackr';
import { ConsensusStoreError } from '../errors.ts';
import { RecordKind } from './kinds.ts';
import type { RecordInput } from '../model/log-record.ts';
import type { ValidatorStatus } from '../model/validator.ts';
import {
  MAX_EVIDENCE_ID_LENGTH,
  MAX_REASON_LENGTH,
  MAX_STAKE,
  MAX_VALIDATOR_ID_LENGTH,
  PUBLIC_KEY_LENGTH,
  VALIDATOR_STATUSES,
} from '../model/validator.ts';
import { checkBytes, checkSafeUint, checkString, checkU32 } from '../model/check.ts';

/** Format version of every validator payload. */
const VERSION = 1;

const packr = new Packr({ useRecords: false, moreTypes: false });

/** A validator registered. */
export interface RegisterRecord {
  readonly kind: 'register';
  readonly id: string;
  readonly publicKey: Uint8Array;
  readonly stake: bigint;
  readonly status: ValidatorStatus;
  readonly height: number;
  readonly recordedAt: number;
}

/** A validator's stake set to a new value. */
export interface StakeRecord {
  readonly kind: 'stake';
  readonly id: string;
  readonly stake: bigint;
  readonly height: number;
  readonly reason?: string;
  readonly recordedAt: number;
}

/** A validator's status changed. */
export interface StatusRecord {
  readonly kind: 'status';
  readonly id: string;
  readonly status: ValidatorStatus;
  readonly height: number;
  readonly reason: string;
  readonly recordedAt: number;
}

/** A validator slashed: `amount` (already capped at the stake) taken, status maybe changed. */
export interface SlashRecord {
  readonly kind: 'slash';
  readonly id: string;
  readonly height: number;
  readonly requested: bigint;
  readonly amount: bigint;
  readonly evidenceId?: string;
  readonly status?: 'jailed' | 'tombstoned';
  readonly reason: string;
  readonly recordedAt: number;
}

/** Any decoded validator record. */
export type ValidatorRecord = RegisterRecord | StakeRecord | StatusRecord | SlashRecord;

const KIND_OF = {
  register: RecordKind.ValidatorRegistered,
  stake: RecordKind.ValidatorStake,
  status: RecordKind.ValidatorStatus,
  slash: RecordKind.ValidatorSlash,
} as const;

/** The log kinds of validator records. */
export const VALIDATOR_RECORD_KINDS: readonly number[] = Object.values(KIND_OF);

/** Writes an amount as its canonical decimal string. */
function amountText(value: bigint): string {
  return value.toString(10);
}

/** Reads a canonical decimal amount in [0, MAX_STAKE]. */
function parseAmount(name: string, value: unknown): bigint {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,38})$/.test(value)) {
    throw new Error(`${name} is not a canonical decimal amount`);
  }
  const amount = BigInt(value);
  if (amount > MAX_STAKE) throw new Error(`${name} exceeds 2^128-1`);
  return amount;
}

function statusIndex(status: ValidatorStatus): number {
  return VALIDATOR_STATUSES.indexOf(status);
}

function parseStatus(name: string, value: unknown): ValidatorStatus {
  const status = VALIDATOR_STATUSES[checkU32(name, value)];
  if (status === undefined) throw new Error(`${name} ${String(value)} is not a status`);
  return status;
}

/** Encodes a validator record as a log record input. Fields must have passed the API checks. */
export function encodeValidatorRecord(r: ValidatorRecord): RecordInput {
  let fields: unknown[];
  switch (r.kind) {
    case 'register':
      fields = [r.id, r.publicKey, amountText(r.stake), statusIndex(r.status), r.height];
      break;
    case 'stake':
      fields = [r.id, amountText(r.stake), r.height, r.reason ?? null];
      break;
    case 'status':
      fields = [r.id, statusIndex(r.status), r.height, r.reason];
      break;
    case 'slash':
      fields = [
        r.id,
        r.height,
        amountText(r.requested),
        amountText(r.amount),
        r.evidenceId ?? null,
        r.status === undefined ? null : statusIndex(r.status),
        r.reason,
      ];
      break;
  }
  return { kind: KIND_OF[r.kind], payload: packr.pack([VERSION, ...fields, r.recordedAt]) };
}

/** Unpacks a versioned tuple of exactly `length` fields (version and recordedAt included). */
function unpackTuple(payload: Uint8Array, length: number): unknown[] {
  const value: unknown = packr.unpack(payload);
  if (!Array.isArray(value) || value.length !== length) throw new Error(`not a ${length}-field tuple`);
  if (value[0] !== VERSION) throw new Error(`unknown payload version ${String(value[0])}`);
  return value.map((v: unknown) => (v === null ? undefined : v));
}

function decodeFields(kind: number, payload: Uint8Array): ValidatorRecord {
  const reason = (v: unknown): string => checkString('reason', v, MAX_REASON_LENGTH);
  const id = (v: unknown): string => checkString('id', v, MAX_VALIDATOR_ID_LENGTH);
  switch (kind) {
    case RecordKind.ValidatorRegistered: {
      const f = unpackTuple(payload, 7);
      return {
        kind: 'register',
        id: id(f[1]),
        publicKey: new Uint8Array(checkBytes('publicKey', f[2], PUBLIC_KEY_LENGTH)),
        stake: parseAmount('stake', f[3]),
        status: parseStatus('status', f[4]),
        height: checkSafeUint('height', f[5]),
        recordedAt: checkSafeUint('recordedAt', f[6]),
      };
    }
    case RecordKind.ValidatorStake: {
      const f = unpackTuple(payload, 6);
      const base = {
        kind: 'stake' as const,
        id: id(f[1]),
        stake: parseAmount('stake', f[2]),
        height: checkSafeUint('height', f[3]),
        recordedAt: checkSafeUint('recordedAt', f[5]),
      };
      return f[4] === undefined ? base : { ...base, reason: reason(f[4]) };
    }
    case RecordKind.ValidatorStatus: {
      const f = unpackTuple(payload, 6);
      return {
        kind: 'status',
        id: id(f[1]),
        status: parseStatus('status', f[2]),
        height: checkSafeUint('height', f[3]),
        reason: reason(f[4]),
        recordedAt: checkSafeUint('recordedAt', f[5]),
      };
    }
    case RecordKind.ValidatorSlash:
      return decodeSlash(unpackTuple(payload, 9), reason, id);
    default:
      throw new Error(`kind ${kind} is not a validator record kind`);
  }
}

function decodeSlash(f: unknown[], reason: (v: unknown) => string, id: (v: unknown) => string): SlashRecord {
  const requested = parseAmount('requested', f[3]);
  const amount = parseAmount('amount', f[4]);
  if (amount > requested) throw new Error('slashed amount exceeds the requested amount');
  let record: SlashRecord = {
    kind: 'slash',
    id: id(f[1]),
    height: checkSafeUint('height', f[2]),
    requested,
    amount,
    reason: reason(f[7]),
    recordedAt: checkSafeUint('recordedAt', f[8]),
  };
  if (f[5] !== undefined) record = { ...record, evidenceId: checkString('evidenceId', f[5], MAX_EVIDENCE_ID_LENGTH) };
  if (f[6] !== undefined) {
    const status = parseStatus('status', f[6]);
    if (status !== 'jailed' && status !== 'tombstoned') throw new Error(`slash status ${status} is not jailed or tombstoned`);
    record = { ...record, status };
  }
  return record;
}

/**
 * Decodes a validator record of log kind `kind`. Throws CORRUPTION naming `lsn` when the payload
 * does not decode, or holds a value the API would have refused.
 */
export function decodeValidatorRecord(kind: number, payload: Uint8Array, lsn: number): ValidatorRecord {
  try {
    return decodeFields(kind, payload);
  } catch (err) {
    const problem = err instanceof Error ? err.message : String(err);
    throw new ConsensusStoreError('CORRUPTION', `validator record at LSN ${lsn} does not decode: ${problem}`, {
      cause: err,
      details: { lsn, kind },
    });
  }
}
