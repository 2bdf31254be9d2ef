/**
 * Audit events as values (docs/audit.md): the events the audit log records (a discriminated
 * union on `type`), their type codes, the limits of their fields, and `checkAuditEvent`, the
 * check every event passes at the API boundary (it returns a private copy). The canonical bytes
 * of an event are in src/codec/audit-event.ts; the stored entry, heads and queries stay in
 * src/stores/audit-types.ts.
 *
 * model/ holds plain values, their limits and their checks: it does no I/O and imports nothing
 * but model/ itself and src/errors.ts.
 */
import { invalidArgument } from '../errors.ts';
import { checkBytes, checkObject, checkOneOf, checkSafeUint, checkU32 } from './check.ts';
import { checkBlockHash, checkSignedProposal, checkValidatorId, checkVote, ED25519_KEY_BYTES, isWellFormedString, SIGNATURE_BYTES } from './vote.ts';
import type { SignedProposal, ValidatorVote } from './vote.ts';

/** Steps of a round, as `PhaseChanged` reports them. */
export type ConsensusPhase = 'propose' | 'prevote' | 'precommit' | 'commit';

/** All phases, in order (their codes in the canonical bytes are index + 1). */
export const CONSENSUS_PHASES: readonly ConsensusPhase[] = ['propose', 'prevote', 'precommit', 'commit'];

/** A round began. `proposer` is the round's proposer, when known. */
export interface RoundStarted {
  readonly type: 'RoundStarted';
  readonly height: number;
  readonly round: number;
  readonly proposer: string | null;
}

/** A signed proposal arrived (the signature is kept as supporting data). */
export interface ProposalReceived {
  readonly type: 'ProposalReceived';
  readonly height: number;
  readonly round: number;
  readonly proposer: string;
  /** 32 bytes. */
  readonly blockHash: Uint8Array;
  readonly polRound: number | null;
  /** 64-byte ed25519 signature of the proposal. */
  readonly signature: Uint8Array;
}

/** A signed vote arrived. */
export interface VoteReceived {
  readonly type: 'VoteReceived';
  readonly vote: ValidatorVote;
}

/** The node's round state machine moved from one phase to another. */
export interface PhaseChanged {
  readonly type: 'PhaseChanged';
  readonly height: number;
  readonly round: number;
  readonly from: ConsensusPhase;
  readonly to: ConsensusPhase;
}

/** A round ended: with a committed block (its hash) or nil. */
export interface RoundCompleted {
  readonly type: 'RoundCompleted';
  readonly height: number;
  readonly round: number;
  readonly blockHash: Uint8Array | null;
  /** How long the round took, ms. */
  readonly durationMs: number;
}

/** Consensus made no progress for a while. */
export interface Stalled {
  readonly type: 'Stalled';
  readonly height: number;
  readonly round: number;
  readonly stalledForMs: number;
  /** 1..256 characters. */
  readonly reason: string;
}

/** Two votes of one validator for the same (round, vote type) with another block hash or height. */
export interface EquivocationDetected {
  readonly type: 'EquivocationDetected';
  readonly voteA: ValidatorVote;
  readonly voteB: ValidatorVote;
}

/** A message whose signature did not verify (the message and signature are kept). */
export interface InvalidSignature {
  readonly type: 'InvalidSignature';
  readonly validatorId: string;
  readonly height: number;
  readonly round: number;
  /** The signed bytes as received, at most `MAX_AUDIT_BLOB_BYTES`. */
  readonly message: Uint8Array;
  /** The signature as received, at most 64 bytes (a wrong length is part of the offense). */
  readonly signature: Uint8Array;
}

/** A vote replayed outside its context (e.g. from another chain or an old height). */
export interface ReplayAttack {
  readonly type: 'ReplayAttack';
  readonly vote: ValidatorVote;
  /** 1..256 characters: what made it a replay. */
  readonly detail: string;
}

/**
 * Two votes of one validator that may not coexist under the protocol's rules as the caller
 * judges them (for example two precommits at one height in different rounds against a lock).
 * For the same (round, type) use `EquivocationDetected`.
 */
export interface DoubleVote {
  readonly type: 'DoubleVote';
  readonly voteA: ValidatorVote;
  readonly voteB: ValidatorVote;
}

/**
 * Why a peer's message was rejected (docs/audit.md, "Peer events"); the code in the canonical
 * bytes is the index in `PEER_REJECT_REASONS` + 1 (never reorder: it is hashed).
 * - `Malformed`: the bytes do not decode as a message;
 * - `UnknownValidator`: the message names a validator that is not in the set;
 * - `BadSignature`: the signature does not verify under the named validator's key for this
 *   chain (a message signed for another chain fails here too: its chain id is not on the wire);
 * - `Replay`: a validly signed vote for a height below the intake's window (an old message sent again);
 * - `NotProposer`: a proposal by a validator that is not the round's proposer;
 * - `Inconsistent`: a proposal whose block does not match it (another height, another hash);
 * - `Flood`: not one message but the count of rejections from the peer at one height that
 *   went over the per-height bound and were not recorded one by one (`suppressed`).
 */
export type PeerRejectReason = 'Malformed' | 'UnknownValidator' | 'BadSignature' | 'Replay' | 'NotProposer' | 'Inconsistent' | 'Flood';

/** Every peer rejection reason, in code order. */
export const PEER_REJECT_REASONS: readonly PeerRejectReason[] = ['Malformed', 'UnknownValidator', 'BadSignature', 'Replay', 'NotProposer', 'Inconsistent', 'Flood'];

/** Most bytes of a rejected message a `PeerMessageRejected` event keeps (its first bytes). */
export const MAX_PEER_MESSAGE_COPY = 2048;

/** What a rejected message claimed to be: its validator, height and round. */
export interface PeerMessageClaim {
  readonly validatorId: string;
  readonly height: number;
  readonly round: number;
}

/**
 * A peer delivered a message the node rejected (docs/audit.md, "Peer events"). It names the
 * peer that relayed the bytes, never accuses the validator the message names: anyone can forge
 * bytes, and a replay is the relayer's act. It is never evidence and never a slash.
 */
export interface PeerMessageRejected {
  readonly type: 'PeerMessageRejected';
  /** The peer the transport received the bytes from (1..128 characters). */
  readonly peer: string;
  readonly reason: PeerRejectReason;
  /** The node's own height when it rejected the message (the bound's bucket). */
  readonly atHeight: number;
  /** What the message claimed, when it decoded far enough to say; null otherwise (and for `Flood`). */
  readonly claimed: PeerMessageClaim | null;
  /** The length of the message as received, 0..2^32-1 (0 for `Flood`). */
  readonly messageLength: number;
  /** Its first min(messageLength, MAX_PEER_MESSAGE_COPY) bytes. */
  readonly message: Uint8Array;
  /** For `Flood`: the rejections not recorded one by one (at least 1); 0 for every other reason. */
  readonly suppressed: number;
}

/**
 * Two validly signed proposals of one proposer for the same (height, round) naming different
 * blocks: the proposer signed both (docs/evidence-and-rewards.md, `ProposalEquivocation`).
 */
export interface ProposalEquivocationDetected {
  readonly type: 'ProposalEquivocationDetected';
  readonly proposalA: SignedProposal;
  readonly proposalB: SignedProposal;
}

/**
 * Open-time repair dropped damaged data (D5, docs/durability.md): what `openReport.repair`
 * said. The fields after `brokenCopy` were added with the repair that keeps the batches after
 * the damage; entries written before have none of them (undefined), later ones all (null where
 * there is nothing to say).
 */
export interface StoreRepaired {
  readonly type: 'StoreRepaired';
  readonly file: string;
  readonly offset: number;
  readonly firstLostLsn: number | null;
  readonly bytesDropped: number;
  readonly brokenCopy: string;
  /** The last LSN lost (null: none, or unknown). */
  readonly lastLostLsn?: number | null;
  /** Records lost (null: unknown). */
  readonly recordsDropped?: number | null;
  /** The end of the range rewritten as filler when the batches after it were kept (null: a cut). */
  readonly gapEnd?: number | null;
  /**
   * The audit sequence numbers lost in the gap, inclusive (null: none). The audit chain verifier
   * accepts a break in the chain only where a StoreRepaired entry after it names exactly it.
   */
  readonly lostAuditSequences?: { readonly first: number; readonly last: number } | null;
}

/**
 * The `keyName` of a rotation of the node key itself (the key that signs the audit chain's
 * heads): reserved; only the audit log writes it (docs/audit.md, "Rotating the node key").
 */
export const NODE_KEY_NAME = 'cstore.node-key';

/** An operator rotated a key (e.g. the validator's consensus key; `NODE_KEY_NAME`: the node key). */
export interface KeyRotated {
  readonly type: 'KeyRotated';
  /** 1..64 characters naming the key. */
  readonly keyName: string;
  readonly oldPublicKey: Uint8Array;
  readonly newPublicKey: Uint8Array;
}

/** Data of some store below a height was pruned. */
export interface Pruned {
  readonly type: 'Pruned';
  /** 1..64 characters naming the store. */
  readonly store: string;
  readonly belowHeight: number;
  readonly entriesRemoved: number;
}

/** Most attestations a `SnapshotRestored` event carries. */
export const MAX_RESTORE_ATTESTATIONS = 10_000;

/** This directory was restored from a portable snapshot: which one, and who attested it (the restore writes it). */
export interface SnapshotRestored {
  readonly type: 'SnapshotRestored';
  readonly height: number;
  readonly round: number;
  /** The snapshot's Merkle root (32 bytes). */
  readonly root: Uint8Array;
  /** The attestations the restore checked the root against (empty when the operator gave the root). */
  readonly attestations: readonly { readonly validatorId: string; readonly signature: Uint8Array }[];
}

/** The node's audit public key, recorded as the chain's first entry (written by the log itself). */
export interface NodeKeyRecorded {
  readonly type: 'NodeKeyRecorded';
  readonly publicKey: Uint8Array;
}

/** Consensus events (`logEvent`). */
export type ConsensusEvent = RoundStarted | ProposalReceived | VoteReceived | PhaseChanged | RoundCompleted | Stalled | PeerMessageRejected;
/** Byzantine events (`logByzantineEvent`). */
export type ByzantineEvent = EquivocationDetected | InvalidSignature | ReplayAttack | DoubleVote | ProposalEquivocationDetected;
/** The store's own operational events (`logEvent`, except `NodeKeyRecorded`, which the log writes). */
export type OperationalEvent = StoreRepaired | KeyRotated | Pruned | NodeKeyRecorded | SnapshotRestored;
/** Every event the audit log records. */
export type AuditEvent = ConsensusEvent | ByzantineEvent | OperationalEvent;
/** The `type` of an event. */
export type AuditEventType = AuditEvent['type'];

/** Every event type with its code in the canonical bytes (never renumber: it is hashed). */
export const AUDIT_EVENT_CODES: Readonly<Record<AuditEventType, number>> = {
  RoundStarted: 1,
  ProposalReceived: 2,
  VoteReceived: 3,
  PhaseChanged: 4,
  RoundCompleted: 5,
  Stalled: 6,
  EquivocationDetected: 32,
  InvalidSignature: 33,
  ReplayAttack: 34,
  DoubleVote: 35,
  PeerMessageRejected: 36,
  ProposalEquivocationDetected: 37,
  StoreRepaired: 64,
  KeyRotated: 65,
  Pruned: 66,
  NodeKeyRecorded: 67,
  SnapshotRestored: 68,
};

/** Every event type. */
export const AUDIT_EVENT_TYPES: readonly AuditEventType[] = Object.keys(AUDIT_EVENT_CODES) as AuditEventType[];
/** The consensus event types (`logEvent`, and the engine's storage port `logAudit`). */
export const CONSENSUS_EVENT_TYPES: readonly AuditEventType[] = ['RoundStarted', 'ProposalReceived', 'VoteReceived', 'PhaseChanged', 'RoundCompleted', 'Stalled', 'PeerMessageRejected'];
/** The Byzantine event types. */
export const BYZANTINE_EVENT_TYPES: readonly AuditEventType[] = ['EquivocationDetected', 'InvalidSignature', 'ReplayAttack', 'DoubleVote', 'ProposalEquivocationDetected'];

/** Largest byte field of an event (an `InvalidSignature` message). */
export const MAX_AUDIT_BLOB_BYTES = 16 * 1024;
/** Longest free-text field (`reason`, `detail`). */
export const MAX_AUDIT_TEXT_LENGTH = 256;
/** Longest name field (`keyName`, `store`). */
export const MAX_AUDIT_NAME_LENGTH = 64;
/** Longest path field (`file`, `brokenCopy`). */
export const MAX_AUDIT_PATH_LENGTH = 4096;

function checkText(name: string, value: unknown, maxLength: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength || !isWellFormedString(value)) {
    throw invalidArgument(name, `must be well-formed text of 1..${maxLength} characters`);
  }
  return value;
}

function checkNullable<T>(value: unknown, check: (v: unknown) => T): T | null {
  return value === null ? null : check(value);
}

/** The optional fields of StoreRepaired: all absent, or all present (null allowed). */
function checkRepairExtension(name: string, e: Record<string, unknown>): Partial<Pick<StoreRepaired, 'lastLostLsn' | 'recordsDropped' | 'gapEnd' | 'lostAuditSequences'>> {
  const keys = ['lastLostLsn', 'recordsDropped', 'gapEnd', 'lostAuditSequences'] as const;
  const given = keys.filter((k) => e[k] !== undefined);
  if (given.length === 0) return {};
  if (given.length !== keys.length) throw invalidArgument(`${name}.${keys.find((k) => e[k] === undefined)}`, 'must be given with the other repair fields (null for none)');
  const uint = (k: string) => (v: unknown): number => checkSafeUint(`${name}.${k}`, v);
  const lost = checkNullable(e.lostAuditSequences, (v) => {
    const r = checkObject(`${name}.lostAuditSequences`, v);
    const first = checkSafeUint(`${name}.lostAuditSequences.first`, r['first']);
    const last = checkSafeUint(`${name}.lostAuditSequences.last`, r['last']);
    if (last < first) throw invalidArgument(`${name}.lostAuditSequences`, 'must not end before it starts');
    return { first, last };
  });
  return {
    lastLostLsn: checkNullable(e.lastLostLsn, uint('lastLostLsn')),
    recordsDropped: checkNullable(e.recordsDropped, uint('recordsDropped')),
    gapEnd: checkNullable(e.gapEnd, uint('gapEnd')),
    lostAuditSequences: lost,
  };
}

function checkVotePair(name: string, e: Record<string, unknown>, sameSlot: boolean): { voteA: ValidatorVote; voteB: ValidatorVote } {
  const voteA = checkVote(`${name}.voteA`, e.voteA);
  const voteB = checkVote(`${name}.voteB`, e.voteB);
  if (voteA.validatorId !== voteB.validatorId) throw invalidArgument(`${name}.voteB.validatorId`, 'must equal voteA.validatorId');
  if (sameSlot) {
    if (voteA.round !== voteB.round || voteA.voteType !== voteB.voteType) {
      throw invalidArgument(`${name}.voteB`, 'must have the round and vote type of voteA');
    }
    if (voteA.height === voteB.height && sameHash(voteA.blockHash, voteB.blockHash)) {
      throw invalidArgument(`${name}.voteB`, 'must differ from voteA in block hash or height');
    }
  }
  return { voteA, voteB };
}

/** A PeerMessageRejected's fields after `type` (the rules are the decoder's too: src/codec/audit-event.ts). */
function checkPeerMessageRejected(name: string, e: Record<string, unknown>): Omit<PeerMessageRejected, 'type'> {
  const peer = checkValidatorId(`${name}.peer`, e.peer);
  const reason = checkOneOf(`${name}.reason`, e.reason, PEER_REJECT_REASONS);
  const atHeight = checkSafeUint(`${name}.atHeight`, e.atHeight);
  const claimed = checkNullable(e.claimed, (v) => {
    const c = checkObject(`${name}.claimed`, v);
    return {
      validatorId: checkValidatorId(`${name}.claimed.validatorId`, c['validatorId']),
      height: checkSafeUint(`${name}.claimed.height`, c['height']),
      round: checkU32(`${name}.claimed.round`, c['round']),
    };
  });
  const messageLength = checkU32(`${name}.messageLength`, e.messageLength);
  const message = checkBytes(`${name}.message`, e.message, { min: 0, max: MAX_PEER_MESSAGE_COPY }).slice();
  if (message.length !== Math.min(messageLength, MAX_PEER_MESSAGE_COPY)) {
    throw invalidArgument(`${name}.message`, `must be the first min(messageLength, ${MAX_PEER_MESSAGE_COPY}) bytes of the message (${Math.min(messageLength, MAX_PEER_MESSAGE_COPY)}), got ${message.length}`);
  }
  const suppressed = checkU32(`${name}.suppressed`, e.suppressed);
  if (reason === 'Flood') {
    if (suppressed === 0) throw invalidArgument(`${name}.suppressed`, 'must be at least 1 for Flood');
    if (claimed !== null || messageLength !== 0) throw invalidArgument(`${name}.claimed`, 'a Flood entry carries no claim and no message (null, messageLength 0)');
  } else if (suppressed !== 0) {
    throw invalidArgument(`${name}.suppressed`, 'must be 0 unless the reason is Flood');
  }
  return { peer, reason, atHeight, claimed, messageLength, message, suppressed };
}

function checkProposalPair(name: string, e: Record<string, unknown>): { proposalA: SignedProposal; proposalB: SignedProposal } {
  const proposalA = checkSignedProposal(`${name}.proposalA`, e.proposalA);
  const proposalB = checkSignedProposal(`${name}.proposalB`, e.proposalB);
  if (proposalA.validatorId !== proposalB.validatorId || proposalA.height !== proposalB.height || proposalA.round !== proposalB.round) {
    throw invalidArgument(`${name}.proposalB`, 'must have the proposer, height and round of proposalA');
  }
  if (sameHash(proposalA.blockHash, proposalB.blockHash)) throw invalidArgument(`${name}.proposalB.blockHash`, 'must differ from proposalA.blockHash');
  return { proposalA, proposalB };
}

function sameHash(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Checks an event of any type and returns a private copy (bytes copied, unknown fields
 * dropped). `allowed` restricts the types (INVALID_ARGUMENT otherwise).
 * @throws ConsensusStoreError INVALID_ARGUMENT naming the first bad field.
 */
export function checkAuditEvent(name: string, value: unknown, allowed: readonly AuditEventType[]): AuditEvent {
  const e = checkObject(name, value);
  const type = checkOneOf(`${name}.type`, e.type, allowed);
  const height = (): number => checkSafeUint(`${name}.height`, e.height);
  const round = (): number => checkU32(`${name}.round`, e.round);
  const key = (field: string): Uint8Array => checkBytes(`${name}.${field}`, e[field], ED25519_KEY_BYTES).slice();
  switch (type) {
    case 'RoundStarted':
      return { type, height: height(), round: round(), proposer: checkNullable(e.proposer, (v) => checkValidatorId(`${name}.proposer`, v)) };
    case 'ProposalReceived': {
      const r = round();
      const polRound = checkNullable(e.polRound, (v) => checkU32(`${name}.polRound`, v));
      if (polRound !== null && polRound >= r) throw invalidArgument(`${name}.polRound`, 'must be below round (or null)');
      return {
        type,
        height: height(),
        round: r,
        proposer: checkValidatorId(`${name}.proposer`, e.proposer),
        blockHash: (checkBlockHash(`${name}.blockHash`, e.blockHash, false) as Uint8Array).slice(),
        polRound,
        signature: checkBytes(`${name}.signature`, e.signature, SIGNATURE_BYTES).slice(),
      };
    }
    case 'VoteReceived':
      return { type, vote: checkVote(`${name}.vote`, e.vote) };
    case 'PhaseChanged':
      return {
        type,
        height: height(),
        round: round(),
        from: checkOneOf(`${name}.from`, e.from, CONSENSUS_PHASES),
        to: checkOneOf(`${name}.to`, e.to, CONSENSUS_PHASES),
      };
    case 'RoundCompleted': {
      const hash = checkBlockHash(`${name}.blockHash`, e.blockHash, true);
      return { type, height: height(), round: round(), blockHash: hash === null ? null : hash.slice(), durationMs: checkSafeUint(`${name}.durationMs`, e.durationMs) };
    }
    case 'Stalled':
      return {
        type,
        height: height(),
        round: round(),
        stalledForMs: checkSafeUint(`${name}.stalledForMs`, e.stalledForMs),
        reason: checkText(`${name}.reason`, e.reason, MAX_AUDIT_TEXT_LENGTH),
      };
    case 'EquivocationDetected':
      return { type, ...checkVotePair(name, e, true) };
    case 'DoubleVote':
      return { type, ...checkVotePair(name, e, false) };
    case 'InvalidSignature':
      return {
        type,
        validatorId: checkValidatorId(`${name}.validatorId`, e.validatorId),
        height: height(),
        round: round(),
        message: checkBytes(`${name}.message`, e.message, { min: 0, max: MAX_AUDIT_BLOB_BYTES }).slice(),
        signature: checkBytes(`${name}.signature`, e.signature, { min: 0, max: SIGNATURE_BYTES }).slice(),
      };
    case 'ReplayAttack':
      return { type, vote: checkVote(`${name}.vote`, e.vote), detail: checkText(`${name}.detail`, e.detail, MAX_AUDIT_TEXT_LENGTH) };
    case 'PeerMessageRejected':
      return { type, ...checkPeerMessageRejected(name, e) };
    case 'ProposalEquivocationDetected':
      return { type, ...checkProposalPair(name, e) };
    case 'StoreRepaired':
      return {
        type,
        file: checkText(`${name}.file`, e.file, MAX_AUDIT_PATH_LENGTH),
        offset: checkSafeUint(`${name}.offset`, e.offset),
        firstLostLsn: checkNullable(e.firstLostLsn, (v) => checkSafeUint(`${name}.firstLostLsn`, v)),
        bytesDropped: checkSafeUint(`${name}.bytesDropped`, e.bytesDropped),
        brokenCopy: checkText(`${name}.brokenCopy`, e.brokenCopy, MAX_AUDIT_PATH_LENGTH),
        ...checkRepairExtension(name, e),
      };
    case 'KeyRotated': {
      const keyName = checkText(`${name}.keyName`, e.keyName, MAX_AUDIT_NAME_LENGTH);
      if (keyName === NODE_KEY_NAME) throw invalidArgument(`${name}.keyName`, `${NODE_KEY_NAME} is reserved for the node key, which only a node key rotation records (cstore rotate-key)`);
      return { type, keyName, oldPublicKey: key('oldPublicKey'), newPublicKey: key('newPublicKey') };
    }
    case 'Pruned':
      return {
        type,
        store: checkText(`${name}.store`, e.store, MAX_AUDIT_NAME_LENGTH),
        belowHeight: checkSafeUint(`${name}.belowHeight`, e.belowHeight),
        entriesRemoved: checkSafeUint(`${name}.entriesRemoved`, e.entriesRemoved),
      };
    case 'NodeKeyRecorded':
      return { type, publicKey: key('publicKey') };
    case 'SnapshotRestored': {
      const list = e.attestations;
      if (!Array.isArray(list) || list.length > MAX_RESTORE_ATTESTATIONS) throw invalidArgument(`${name}.attestations`, `must be an array of at most ${MAX_RESTORE_ATTESTATIONS}`);
      return {
        type,
        height: height(),
        round: round(),
        root: checkBytes(`${name}.root`, e.root, 32).slice(),
        attestations: list.map((a: unknown, i: number) => {
          const o = checkObject(`${name}.attestations[${i}]`, a);
          return {
            validatorId: checkValidatorId(`${name}.attestations[${i}].validatorId`, o['validatorId']),
            signature: checkBytes(`${name}.attestations[${i}].signature`, o['signature'], SIGNATURE_BYTES).slice(),
          };
        }),
      };
    }
  }
}
