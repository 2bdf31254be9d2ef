/**
 * Canonical bytes of audit events: one deterministic, fixed-layout encoding per event type
 * (docs/audit.md, "Event bytes"). The boundary checks of every event field are in
 * src/model/audit.ts (`checkAuditEvent`).
 *
 * These bytes are hashed into the audit chain, so the encoding must be a bijection: the decoder
 * accepts exactly what the encoder produces (every flag 0 or 1, nothing after the last field,
 * strict UTF-8, no hash behind a nil flag), and `decode(encode(e))` re-encodes to the same
 * bytes. Big-endian, like the vote sign bytes. Never hash a msgpackr (or any object)
 * re-encoding instead.
 */
import {
  AUDIT_EVENT_CODES,
  CONSENSUS_PHASES,
  MAX_AUDIT_BLOB_BYTES,
  MAX_AUDIT_NAME_LENGTH,
  MAX_AUDIT_PATH_LENGTH,
  MAX_AUDIT_TEXT_LENGTH,
  MAX_PEER_MESSAGE_COPY,
  MAX_RESTORE_ATTESTATIONS,
  PEER_REJECT_REASONS,
} from '../model/audit.ts';
import type { AuditEvent, AuditEventType, ConsensusPhase, PeerMessageRejected, StoreRepaired } from '../model/audit.ts';
import { BLOCK_HASH_BYTES, MAX_VALIDATOR_ID_LENGTH, SIGNATURE_BYTES } from '../model/vote.ts';
import type { SignedProposal, ValidatorVote } from '../model/vote.ts';
import { ByteReader, ByteWriter } from './bytes.ts';
import { voteTypeCode, voteTypeOfCode, writeOptionalHash } from './vote-sign.ts';

const KEY_BYTES = 32;

/** Event type of a code, or undefined. */
export function auditEventTypeOfCode(code: number): AuditEventType | undefined {
  for (const [type, c] of Object.entries(AUDIT_EVENT_CODES)) if (c === code) return type as AuditEventType;
  return undefined;
}

function writeVote(w: ByteWriter, v: ValidatorVote): void {
  w.text(v.validatorId).u64(v.height).u32(v.round).u8(voteTypeCode(v.voteType));
  writeOptionalHash(w, v.blockHash);
  w.u64(v.timestamp).bytes(v.signature);
}

function readVote(r: ByteReader): ValidatorVote {
  const validatorId = r.text(MAX_VALIDATOR_ID_LENGTH);
  const height = r.u64();
  const round = r.u32();
  const voteType = voteTypeOfCode(r.u8());
  if (voteType === undefined) throw new Error('unknown vote type code');
  const nil = r.flag();
  const hash = r.bytes(BLOCK_HASH_BYTES);
  if (nil && hash.some((b) => b !== 0)) throw new Error('nil vote with a non-zero hash');
  return { validatorId, height, round, voteType, blockHash: nil ? null : hash, timestamp: r.u64(), signature: r.bytes(SIGNATURE_BYTES) };
}

/** A signed proposal: validatorId text, height u64, round u32, blockHash 32, flag + polRound u32, timestamp u64, signature 64. */
function writeProposal(w: ByteWriter, p: SignedProposal): void {
  w.text(p.validatorId).u64(p.height).u32(p.round).bytes(p.blockHash);
  writeOptionalU64(w, p.polRound, 'u32');
  w.u64(p.timestamp).bytes(p.signature);
}

function readProposal(r: ByteReader): SignedProposal {
  const validatorId = r.text(MAX_VALIDATOR_ID_LENGTH);
  const height = r.u64();
  const round = r.u32();
  const blockHash = r.bytes(BLOCK_HASH_BYTES);
  const polRound = readOptional(r, 'u32');
  if (polRound !== null && polRound >= round) throw new Error('polRound not below round');
  return { validatorId, height, round, blockHash, polRound, timestamp: r.u64(), signature: r.bytes(SIGNATURE_BYTES) };
}

/**
 * PeerMessageRejected: peer text, reason u8 (index + 1), atHeight u64, flag (1 = no claim) and,
 * when 0, the claim's validatorId text, height u64, round u32; messageLength u32, then the
 * first min(messageLength, MAX_PEER_MESSAGE_COPY) bytes; suppressed u32.
 */
function writePeerMessageRejected(w: ByteWriter, e: PeerMessageRejected): void {
  w.text(e.peer).u8(PEER_REJECT_REASONS.indexOf(e.reason) + 1).u64(e.atHeight).u8(e.claimed === null ? 1 : 0);
  if (e.claimed !== null) w.text(e.claimed.validatorId).u64(e.claimed.height).u32(e.claimed.round);
  w.u32(e.messageLength).bytes(e.message).u32(e.suppressed);
}

function readPeerMessageRejected(r: ByteReader): PeerMessageRejected {
  const peer = r.text(MAX_VALIDATOR_ID_LENGTH);
  const reason = PEER_REJECT_REASONS[r.u8() - 1];
  if (reason === undefined) throw new Error('unknown peer rejection reason code');
  const atHeight = r.u64();
  const claimed = r.flag() ? null : { validatorId: r.text(MAX_VALIDATOR_ID_LENGTH), height: r.u64(), round: r.u32() };
  const messageLength = r.u32();
  const message = r.bytes(Math.min(messageLength, MAX_PEER_MESSAGE_COPY));
  const suppressed = r.u32();
  if (reason === 'Flood' ? suppressed === 0 || claimed !== null || messageLength !== 0 : suppressed !== 0) {
    throw new Error('PeerMessageRejected: a Flood entry counts at least one message and carries no claim or message; any other carries no count');
  }
  return { type: 'PeerMessageRejected', peer, reason, atHeight, claimed, messageLength, message, suppressed };
}

function readOptionalHash(r: ByteReader): Uint8Array | null {
  const nil = r.flag();
  const hash = r.bytes(BLOCK_HASH_BYTES);
  if (nil && hash.some((b) => b !== 0)) throw new Error('nil hash flag with non-zero bytes');
  return nil ? null : hash;
}

/**
 * StoreRepaired's later fields, after the first ones: nothing for an entry without them (so
 * entries written before them re-encode to the same bytes); else five u64, each 0 for null and
 * the value (+1 where 0 is a value: records, audit sequences) otherwise.
 */
function writeRepairExtension(w: ByteWriter, e: StoreRepaired): void {
  if (e.lastLostLsn === undefined && e.recordsDropped === undefined && e.gapEnd === undefined && e.lostAuditSequences === undefined) return;
  const plusOne = (n: number | null | undefined): number => (n === null || n === undefined ? 0 : n + 1);
  w.u64(e.lastLostLsn ?? 0).u64(plusOne(e.recordsDropped)).u64(e.gapEnd ?? 0);
  w.u64(plusOne(e.lostAuditSequences?.first)).u64(plusOne(e.lostAuditSequences?.last));
}

function readRepairExtension(r: ByteReader): Partial<Pick<StoreRepaired, 'lastLostLsn' | 'recordsDropped' | 'gapEnd' | 'lostAuditSequences'>> {
  if (r.remaining === 0) return {};
  const lastLostLsn = r.u64();
  const records = r.u64();
  const gapEnd = r.u64();
  const first = r.u64();
  const last = r.u64();
  if ((first === 0) !== (last === 0) || last < first) throw new Error('StoreRepaired lost audit sequences out of order');
  return {
    lastLostLsn: lastLostLsn === 0 ? null : lastLostLsn,
    recordsDropped: records === 0 ? null : records - 1,
    gapEnd: gapEnd === 0 ? null : gapEnd,
    lostAuditSequences: first === 0 ? null : { first: first - 1, last: last - 1 },
  };
}

function writeOptionalU64(w: ByteWriter, n: number | null, width: 'u32' | 'u64'): void {
  w.u8(n === null ? 1 : 0);
  if (width === 'u32') w.u32(n ?? 0);
  else w.u64(n ?? 0);
}

function readOptional(r: ByteReader, width: 'u32' | 'u64'): number | null {
  const none = r.flag();
  const n = width === 'u32' ? r.u32() : r.u64();
  if (none && n !== 0) throw new Error('absent number with non-zero bytes');
  return none ? null : n;
}

function phaseCode(p: ConsensusPhase): number {
  return CONSENSUS_PHASES.indexOf(p) + 1;
}

function readPhase(r: ByteReader): ConsensusPhase {
  const p = CONSENSUS_PHASES[r.u8() - 1];
  if (p === undefined) throw new Error('unknown phase code');
  return p;
}

/**
 * The canonical bytes of a checked event (the type code is not part of them: the entry body
 * carries it). Layouts per type in docs/audit.md.
 */
export function encodeAuditEvent(event: AuditEvent): Uint8Array {
  const w = new ByteWriter();
  switch (event.type) {
    case 'RoundStarted':
      w.u64(event.height).u32(event.round).u8(event.proposer === null ? 1 : 0);
      if (event.proposer !== null) w.text(event.proposer);
      break;
    case 'ProposalReceived':
      w.u64(event.height).u32(event.round).text(event.proposer).bytes(event.blockHash);
      writeOptionalU64(w, event.polRound, 'u32');
      w.bytes(event.signature);
      break;
    case 'VoteReceived':
      writeVote(w, event.vote);
      break;
    case 'PhaseChanged':
      w.u64(event.height).u32(event.round).u8(phaseCode(event.from)).u8(phaseCode(event.to));
      break;
    case 'RoundCompleted':
      w.u64(event.height).u32(event.round);
      writeOptionalHash(w, event.blockHash);
      w.u64(event.durationMs);
      break;
    case 'Stalled':
      w.u64(event.height).u32(event.round).u64(event.stalledForMs).text(event.reason);
      break;
    case 'EquivocationDetected':
    case 'DoubleVote':
      writeVote(w, event.voteA);
      writeVote(w, event.voteB);
      break;
    case 'InvalidSignature':
      w.text(event.validatorId).u64(event.height).u32(event.round).blob(event.message).blob(event.signature);
      break;
    case 'ReplayAttack':
      writeVote(w, event.vote);
      w.text(event.detail);
      break;
    case 'PeerMessageRejected':
      writePeerMessageRejected(w, event);
      break;
    case 'ProposalEquivocationDetected':
      writeProposal(w, event.proposalA);
      writeProposal(w, event.proposalB);
      break;
    case 'StoreRepaired':
      w.text(event.file).u64(event.offset);
      writeOptionalU64(w, event.firstLostLsn, 'u64');
      w.u64(event.bytesDropped).text(event.brokenCopy);
      writeRepairExtension(w, event);
      break;
    case 'KeyRotated':
      w.text(event.keyName).bytes(event.oldPublicKey).bytes(event.newPublicKey);
      break;
    case 'Pruned':
      w.text(event.store).u64(event.belowHeight).u64(event.entriesRemoved);
      break;
    case 'NodeKeyRecorded':
      w.bytes(event.publicKey);
      break;
    case 'SnapshotRestored':
      w.u64(event.height).u32(event.round).bytes(event.root).u32(event.attestations.length);
      for (const a of event.attestations) w.text(a.validatorId).bytes(a.signature);
      break;
  }
  return w.finish();
}

function readEvent(type: AuditEventType, r: ByteReader): AuditEvent {
  switch (type) {
    case 'RoundStarted': {
      const height = r.u64();
      const round = r.u32();
      return { type, height, round, proposer: r.flag() ? null : r.text(MAX_VALIDATOR_ID_LENGTH) };
    }
    case 'ProposalReceived': {
      const height = r.u64();
      const round = r.u32();
      const proposer = r.text(MAX_VALIDATOR_ID_LENGTH);
      const blockHash = r.bytes(BLOCK_HASH_BYTES);
      const polRound = readOptional(r, 'u32');
      if (polRound !== null && polRound >= round) throw new Error('polRound not below round');
      return { type, height, round, proposer, blockHash, polRound, signature: r.bytes(SIGNATURE_BYTES) };
    }
    case 'VoteReceived':
      return { type, vote: readVote(r) };
    case 'PhaseChanged':
      return { type, height: r.u64(), round: r.u32(), from: readPhase(r), to: readPhase(r) };
    case 'RoundCompleted':
      return { type, height: r.u64(), round: r.u32(), blockHash: readOptionalHash(r), durationMs: r.u64() };
    case 'Stalled':
      return { type, height: r.u64(), round: r.u32(), stalledForMs: r.u64(), reason: r.text(MAX_AUDIT_TEXT_LENGTH) };
    case 'EquivocationDetected':
    case 'DoubleVote':
      return { type, voteA: readVote(r), voteB: readVote(r) };
    case 'InvalidSignature':
      return {
        type,
        validatorId: r.text(MAX_VALIDATOR_ID_LENGTH),
        height: r.u64(),
        round: r.u32(),
        message: r.blob(MAX_AUDIT_BLOB_BYTES),
        signature: r.blob(SIGNATURE_BYTES),
      };
    case 'ReplayAttack':
      return { type, vote: readVote(r), detail: r.text(MAX_AUDIT_TEXT_LENGTH) };
    case 'PeerMessageRejected':
      return readPeerMessageRejected(r);
    case 'ProposalEquivocationDetected': {
      const proposalA = readProposal(r);
      const proposalB = readProposal(r);
      const sameSlot = proposalA.validatorId === proposalB.validatorId && proposalA.height === proposalB.height && proposalA.round === proposalB.round;
      if (!sameSlot || proposalA.blockHash.every((b, i) => b === proposalB.blockHash[i])) throw new Error('ProposalEquivocationDetected: not two proposals of one slot for different blocks');
      return { type, proposalA, proposalB };
    }
    case 'StoreRepaired':
      return {
        type,
        file: r.text(MAX_AUDIT_PATH_LENGTH),
        offset: r.u64(),
        firstLostLsn: readOptional(r, 'u64'),
        bytesDropped: r.u64(),
        brokenCopy: r.text(MAX_AUDIT_PATH_LENGTH),
        ...readRepairExtension(r),
      };
    case 'KeyRotated':
      return { type, keyName: r.text(MAX_AUDIT_NAME_LENGTH), oldPublicKey: r.bytes(KEY_BYTES), newPublicKey: r.bytes(KEY_BYTES) };
    case 'Pruned':
      return { type, store: r.text(MAX_AUDIT_NAME_LENGTH), belowHeight: r.u64(), entriesRemoved: r.u64() };
    case 'NodeKeyRecorded':
      return { type, publicKey: r.bytes(KEY_BYTES) };
    case 'SnapshotRestored': {
      const height = r.u64();
      const round = r.u32();
      const root = r.bytes(KEY_BYTES);
      const n = r.u32();
      if (n > MAX_RESTORE_ATTESTATIONS || n * (3 + SIGNATURE_BYTES) > r.remaining) throw new Error(`${n} attestations do not fit`);
      const attestations: { validatorId: string; signature: Uint8Array }[] = [];
      for (let i = 0; i < n; i++) attestations.push({ validatorId: r.text(MAX_VALIDATOR_ID_LENGTH), signature: r.bytes(SIGNATURE_BYTES) });
      return { type, height, round, root, attestations };
    }
  }
}

/**
 * Decodes the canonical bytes of an event of type code `code`, strictly (see the top comment).
 * @throws Error with the reason when the bytes are not exactly a canonical encoding.
 */
export function decodeAuditEvent(code: number, bytes: Uint8Array): AuditEvent {
  const type = auditEventTypeOfCode(code);
  if (type === undefined) throw new Error(`unknown event type code ${code}`);
  const r = new ByteReader(bytes);
  const event = readEvent(type, r);
  r.end();
  return event;
}

/** The height an event concerns, if any (indexed as `LogEntry.height`). */
export function heightOfEvent(event: AuditEvent): number | undefined {
  switch (event.type) {
    case 'VoteReceived':
    case 'ReplayAttack':
      return event.vote.height;
    case 'EquivocationDetected':
    case 'DoubleVote':
      return event.voteA.height;
    case 'ProposalEquivocationDetected':
      return event.proposalA.height;
    case 'PeerMessageRejected':
      return event.atHeight;
    case 'StoreRepaired':
    case 'KeyRotated':
    case 'Pruned':
    case 'NodeKeyRecorded':
      return undefined;
    default:
      return event.height;
  }
}

/**
 * The validator an event concerns (voter, proposer, offender), if any. A PeerMessageRejected
 * concerns the peer that relayed the message, never the validator the message names (it
 * proves nothing about that one): it is indexed under `peer`.
 */
export function validatorOfEvent(event: AuditEvent): string | undefined {
  switch (event.type) {
    case 'RoundStarted':
      return event.proposer ?? undefined;
    case 'ProposalReceived':
      return event.proposer;
    case 'VoteReceived':
    case 'ReplayAttack':
      return event.vote.validatorId;
    case 'EquivocationDetected':
    case 'DoubleVote':
      return event.voteA.validatorId;
    case 'InvalidSignature':
      return event.validatorId;
    case 'ProposalEquivocationDetected':
      return event.proposalA.validatorId;
    case 'PeerMessageRejected':
      return event.peer;
    default:
      return undefined;
  }
}
