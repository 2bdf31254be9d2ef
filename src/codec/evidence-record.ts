/**
 * Byzantine evidence on disk: the payloads of RecordKind.Evidence and RecordKind.EvidencePrune.
 * The argument check of submitted evidence (`checkEvidence`) is in src/model/evidence.ts.
 *
 * Payloads are msgpack arrays with a leading format version; votes and proposals are tuples of
 * their fields (hash and signature as bytes). Nothing here is hashed or signed: the content id
 * and every signature cover fixed-layout bytes (codec/evidence-verify.ts, codec/vote-sign.ts),
 * never this encoding. A decoder must never return a value the API checks would refuse: such a
 * payload is CORRUPTION. This module must never do I/O.
 */
import { Packr } from 'msgpackr';
import { ConsensusStoreError } from '../errors.ts';
import { checkBytes, checkSafeUint } from '../model/check.ts';
import { checkEvidenceCommon, EVIDENCE_FAILURES, EVIDENCE_TYPES } from '../model/evidence.ts';
import type { ByzantineEvidence, EvidenceFailure, EvidencePruneRule, EvidenceStatus, EvidenceType } from '../model/evidence.ts';
import type { Lsn, RecordInput } from '../model/log-record.ts';
import { checkSignedProposal, checkVote, SIGNATURE_BYTES } from '../model/vote.ts';
import type { SignedProposal, ValidatorVote } from '../model/vote.ts';
import { RecordKind } from './kinds.ts';
import { voteTypeCode, voteTypeOfCode } from './vote-sign.ts';

/** Format version of evidence payloads. */
const VERSION = 1;
/** Bytes of a content id. */
export const EVIDENCE_ID_BYTES = 32;

const packr = new Packr({ useRecords: false, moreTypes: false });

/** The log kinds of evidence records. */
export const EVIDENCE_RECORD_KINDS: readonly number[] = [RecordKind.Evidence, RecordKind.EvidencePrune];

/** The code of an evidence type on disk and in content ids: 1..5. */
export function evidenceTypeCode(type: EvidenceType): number {
  return EVIDENCE_TYPES.indexOf(type) + 1;
}

/** Evidence as one Evidence record holds it. */
export interface EvidenceRecord {
  /** The 32-byte content id. */
  readonly id: Uint8Array;
  readonly evidence: ByzantineEvidence;
  readonly status: EvidenceStatus;
  /** Present when `status` is `unverified`. */
  readonly failure: EvidenceFailure | undefined;
  readonly recordedAt: number;
}

function voteTuple(v: ValidatorVote): unknown[] {
  return [v.validatorId, v.height, v.round, voteTypeCode(v.voteType), v.blockHash, v.timestamp, v.signature];
}

function proposalTuple(p: SignedProposal): unknown[] {
  return [p.validatorId, p.height, p.round, p.polRound, p.blockHash, p.timestamp, p.signature];
}

function detailsTuple(e: ByzantineEvidence): unknown[] {
  switch (e.type) {
    case 'Equivocation':
    case 'DoubleSign':
      return [voteTuple(e.details.voteA), voteTuple(e.details.voteB)];
    case 'InvalidSignature':
      return [voteTuple(e.details.vote)];
    case 'ReplayAttack':
      return [voteTuple(e.details.vote), e.details.firstSeenAt, e.details.replayedAt];
    case 'ProposalEquivocation':
      return [proposalTuple(e.details.proposalA), proposalTuple(e.details.proposalB)];
  }
}

/** Encodes an Evidence record. The evidence must have passed `checkEvidence`. */
export function encodeEvidenceRecord(r: EvidenceRecord): RecordInput {
  const e = r.evidence;
  const fields = [
    VERSION,
    r.id,
    evidenceTypeCode(e.type),
    e.validatorId,
    e.height,
    e.detectedAt,
    e.submittedBy,
    e.verifiedByQuorum,
    r.status === 'verified' ? 0 : 1,
    r.failure === undefined ? null : EVIDENCE_FAILURES.indexOf(r.failure),
    r.recordedAt,
    detailsTuple(e),
  ];
  return { kind: RecordKind.Evidence, payload: packr.pack(fields) };
}

/** Encodes an EvidencePrune record: the rule, so that replay prunes exactly what the call pruned. */
export function encodeEvidencePruneRecord(rule: EvidencePruneRule, recordedAt: number): RecordInput {
  const fields = [VERSION, rule.currentHeight, rule.now, rule.maxAgeBlocks, rule.maxAgeMs, recordedAt];
  return { kind: RecordKind.EvidencePrune, payload: packr.pack(fields) };
}

function unpackTuple(payload: Uint8Array, length: number): unknown[] {
  const value: unknown = packr.unpack(payload);
  if (!Array.isArray(value) || value.length !== length) throw new Error(`not a ${length}-field tuple`);
  if (value[0] !== VERSION) throw new Error(`unknown payload version ${String(value[0])}`);
  return value;
}

function tuple(name: string, value: unknown, length: number): unknown[] {
  if (!Array.isArray(value) || value.length !== length) throw new Error(`${name} is not a ${length}-field tuple`);
  return value;
}

function voteOf(name: string, value: unknown): ValidatorVote {
  const f = tuple(name, value, 7);
  const voteType = voteTypeOfCode(checkSafeUint(`${name}.type`, f[3]));
  if (voteType === undefined) throw new Error(`${name} has an unknown vote type`);
  return checkVote(name, {
    validatorId: f[0],
    height: f[1],
    round: f[2],
    voteType,
    blockHash: f[4] === null ? null : new Uint8Array(checkBytes(`${name}.blockHash`, f[4], 32)),
    timestamp: f[5],
    signature: new Uint8Array(checkBytes(`${name}.signature`, f[6], SIGNATURE_BYTES)),
  });
}

function proposalOf(name: string, value: unknown): SignedProposal {
  const f = tuple(name, value, 7);
  return checkSignedProposal(name, {
    validatorId: f[0],
    height: f[1],
    round: f[2],
    polRound: f[3],
    blockHash: new Uint8Array(checkBytes(`${name}.blockHash`, f[4], 32)),
    timestamp: f[5],
    signature: new Uint8Array(checkBytes(`${name}.signature`, f[6], SIGNATURE_BYTES)),
  });
}

function evidenceOf(f: unknown[]): ByzantineEvidence {
  const type = EVIDENCE_TYPES[checkSafeUint('type', f[2]) - 1];
  if (type === undefined) throw new Error(`unknown evidence type ${String(f[2])}`);
  const common = checkEvidenceCommon('evidence', {
    validatorId: f[3],
    height: f[4],
    detectedAt: f[5],
    submittedBy: f[6],
    verifiedByQuorum: f[7],
  });
  const d = f[11];
  switch (type) {
    case 'Equivocation':
    case 'DoubleSign': {
      const t = tuple('details', d, 2);
      return { ...common, type, details: { voteA: voteOf('voteA', t[0]), voteB: voteOf('voteB', t[1]) } };
    }
    case 'InvalidSignature':
      return { ...common, type, details: { vote: voteOf('vote', tuple('details', d, 1)[0]) } };
    case 'ReplayAttack': {
      const t = tuple('details', d, 3);
      return {
        ...common,
        type,
        details: { vote: voteOf('vote', t[0]), firstSeenAt: checkSafeUint('firstSeenAt', t[1]), replayedAt: checkSafeUint('replayedAt', t[2]) },
      };
    }
    case 'ProposalEquivocation': {
      const t = tuple('details', d, 2);
      return { ...common, type, details: { proposalA: proposalOf('proposalA', t[0]), proposalB: proposalOf('proposalB', t[1]) } };
    }
  }
}

function corrupt(lsn: Lsn, kind: number, err: unknown): ConsensusStoreError {
  const problem = err instanceof Error ? err.message : String(err);
  return new ConsensusStoreError('CORRUPTION', `evidence record at LSN ${lsn} does not decode: ${problem}`, {
    cause: err,
    details: { lsn, kind },
  });
}

/** Decodes an Evidence record. Throws CORRUPTION naming `lsn` when it does not decode or holds a value the API refuses. */
export function decodeEvidenceRecord(payload: Uint8Array, lsn: Lsn): EvidenceRecord {
  try {
    const f = unpackTuple(payload, 12);
    const id = new Uint8Array(checkBytes('id', f[1], EVIDENCE_ID_BYTES));
    const statusCode = f[8];
    if (statusCode !== 0 && statusCode !== 1) throw new Error(`unknown status ${String(statusCode)}`);
    const failure = f[9] === null ? undefined : EVIDENCE_FAILURES[checkSafeUint('failure', f[9])];
    if ((statusCode === 1) !== (failure !== undefined)) throw new Error('failure code does not match the status');
    return {
      id,
      evidence: evidenceOf(f),
      status: statusCode === 0 ? 'verified' : 'unverified',
      failure,
      recordedAt: checkSafeUint('recordedAt', f[10]),
    };
  } catch (err) {
    throw corrupt(lsn, RecordKind.Evidence, err);
  }
}

/** A decoded EvidencePrune record. */
export interface EvidencePruneRecord {
  readonly rule: EvidencePruneRule;
  readonly recordedAt: number;
}

/** Decodes an EvidencePrune record. Throws CORRUPTION naming `lsn`. */
export function decodeEvidencePruneRecord(payload: Uint8Array, lsn: Lsn): EvidencePruneRecord {
  try {
    const f = unpackTuple(payload, 6);
    return {
      rule: {
        currentHeight: checkSafeUint('currentHeight', f[1]),
        now: checkSafeUint('now', f[2]),
        maxAgeBlocks: checkSafeUint('maxAgeBlocks', f[3]),
        maxAgeMs: checkSafeUint('maxAgeMs', f[4]),
      },
      recordedAt: checkSafeUint('recordedAt', f[5]),
    };
  } catch (err) {
    throw corrupt(lsn, RecordKind.EvidencePrune, err);
  }
}
