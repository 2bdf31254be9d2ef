/**
 * Reward distributions on disk: the payload of RecordKind.RewardDistribution. The argument check
 * of a distribution (`checkDistribution`: bounds, the treasury equation, the sum of the lines) is
 * in src/model/reward.ts; a decoded distribution passes it too.
 *
 * The payload is a msgpack array with a leading format version; every amount is its canonical
 * decimal string (no sign, no leading zeros, below 2^128), never a number, so it round-trips
 * exactly. Nothing here is hashed or signed. A decoder must never return a distribution the API
 * would refuse: such a payload is CORRUPTION. This module must never do I/O.
 */
import { Packr } from 'msgpackr';
import { ConsensusStoreError } from '../errors.ts';
import { checkSafeUint } from '../model/check.ts';
import type { Lsn, RecordInput } from '../model/log-record.ts';
import { checkAmount, checkDistribution, REWARD_REASONS } from '../model/reward.ts';
import type { RewardDistribution, RewardReason } from '../model/reward.ts';
import { RecordKind } from './kinds.ts';

/** Format version of distribution payloads. */
const VERSION = 1;

const packr = new Packr({ useRecords: false, moreTypes: false });

/** The log kinds of reward records. */
export const REWARD_RECORD_KINDS: readonly number[] = [RecordKind.RewardDistribution];

/** The code of a reason on disk: its index in REWARD_REASONS. */
export function rewardReasonCode(reason: RewardReason): number {
  return REWARD_REASONS.indexOf(reason);
}

/**
 * Encodes a distribution (already checked) and the time it was recorded: 8 fields, and a
 * ninth, the round, when the distribution has one (docs/evidence-and-rewards.md, "Record").
 */
export function encodeDistributionRecord(d: RewardDistribution, recordedAt: number): RecordInput {
  const fields = [
    VERSION,
    d.height,
    d.timestamp,
    d.treasuryBefore.toString(10),
    d.treasuryAfter.toString(10),
    d.totalDistributed.toString(10),
    d.lines.map((l) => [l.validatorId, rewardReasonCode(l.reason), l.amount.toString(10)]),
    recordedAt,
  ];
  if (d.round !== undefined) fields.push(d.round);
  return { kind: RecordKind.RewardDistribution, payload: packr.pack(fields) };
}

/** Reads a canonical decimal amount in [0, 2^128-1]. */
function parseAmount(name: string, value: unknown): bigint {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,38})$/.test(value)) throw new Error(`${name} is not a canonical decimal amount`);
  return checkAmount(name, BigInt(value));
}

/** A decoded distribution record. */
export interface DistributionRecord {
  readonly distribution: RewardDistribution;
  readonly recordedAt: number;
}

/**
 * Decodes a RewardDistribution record. Throws CORRUPTION naming `lsn` when it does not decode
 * or holds a distribution the API would refuse (the equations included).
 */
export function decodeDistributionRecord(payload: Uint8Array, lsn: Lsn): DistributionRecord {
  try {
    const f: unknown = packr.unpack(payload);
    if (!Array.isArray(f) || (f.length !== 8 && f.length !== 9)) throw new Error('not an 8- or 9-field tuple');
    if (f[0] !== VERSION) throw new Error(`unknown payload version ${String(f[0])}`);
    const rawLines: unknown = f[6];
    if (!Array.isArray(rawLines)) throw new Error('lines is not an array');
    const lines = rawLines.map((raw: unknown, i) => {
      if (!Array.isArray(raw) || raw.length !== 3) throw new Error(`line ${i} is not a 3-field tuple`);
      const reason = REWARD_REASONS[checkSafeUint(`line ${i} reason`, raw[1])];
      if (reason === undefined) throw new Error(`line ${i} has an unknown reason ${String(raw[1])}`);
      return { validatorId: raw[0] as unknown, reason, amount: parseAmount(`line ${i} amount`, raw[2]) };
    });
    const distribution = checkDistribution('distribution', {
      height: f[1],
      // A ninth field is the round; it is never written as undefined (an 8-field record has none).
      ...(f.length === 9 ? { round: f[8] === undefined ? null : f[8] } : {}),
      timestamp: f[2],
      treasuryBefore: parseAmount('treasuryBefore', f[3]),
      treasuryAfter: parseAmount('treasuryAfter', f[4]),
      totalDistributed: parseAmount('totalDistributed', f[5]),
      lines,
    });
    return { distribution, recordedAt: checkSafeUint('recordedAt', f[7]) };
  } catch (err) {
    const problem = err instanceof Error ? err.message : String(err);
    throw new ConsensusStoreError('CORRUPTION', `reward record at LSN ${lsn} does not decode: ${problem}`, {
      cause: err,
      details: { lsn, kind: RecordKind.RewardDistribution },
    });
  }
}
