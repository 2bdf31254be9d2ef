// The canonical bytes of audit events (docs/audit.md, "Event bytes"): every event type
// round-trips and re-encodes to the same bytes; the decoder takes exactly what the encoder
// writes (no trailing byte, no unknown code, no inconsistent field); the event check refuses bad
// input with INVALID_ARGUMENT. Mostly the two types the peer events brought: PeerMessageRejected
// (a message the node rejected, named by the peer that relayed it) and
// ProposalEquivocationDetected.
import { describe, expect, it } from 'vitest';
import { auditEventTypeOfCode, decodeAuditEvent, encodeAuditEvent, heightOfEvent, validatorOfEvent } from '../../src/codec/audit-event.ts';
import { proposalSignBytes, signBytes } from '../../src/codec/vote-sign.ts';
import { AUDIT_EVENT_CODES, AUDIT_EVENT_TYPES, BYZANTINE_EVENT_TYPES, checkAuditEvent, MAX_PEER_MESSAGE_COPY } from '../../src/model/audit.ts';
import type { AuditEvent, PeerMessageRejected, ProposalEquivocationDetected } from '../../src/model/audit.ts';
import type { SignedProposal } from '../../src/model/vote.ts';
import { AUDIT_CHAIN, signedVote, validatorKey } from '../support/audit-test-log.ts';

function proposal(hashByte: number, polRound: number | null = null): SignedProposal {
  const unsigned = { validatorId: 'val-2', height: 9, round: 4, blockHash: new Uint8Array(32).fill(hashByte), polRound, timestamp: 1_700_000_000_000 };
  return { ...unsigned, signature: signBytes(proposalSignBytes(unsigned, AUDIT_CHAIN), validatorKey(2).privateKey) };
}

const rejected: PeerMessageRejected = {
  type: 'PeerMessageRejected',
  peer: 'v7',
  reason: 'BadSignature',
  atHeight: 120,
  claimed: { validatorId: 'val-1', height: 119, round: 3 },
  messageLength: 5,
  message: Uint8Array.of(1, 2, 3, 4, 5),
  suppressed: 0,
};
const flood: PeerMessageRejected = { type: 'PeerMessageRejected', peer: 'v7', reason: 'Flood', atHeight: 120, claimed: null, messageLength: 0, message: new Uint8Array(0), suppressed: 4_000 };
const long = new Uint8Array(5000).map((_, i) => i & 0xff);
const truncated: PeerMessageRejected = { ...rejected, reason: 'Malformed', claimed: null, messageLength: long.length, message: long.slice(0, MAX_PEER_MESSAGE_COPY) };
const proposals: ProposalEquivocationDetected = { type: 'ProposalEquivocationDetected', proposalA: proposal(1), proposalB: proposal(2, 1) };

/** One event of every type. */
const EVERY: AuditEvent[] = [
  { type: 'RoundStarted', height: 1, round: 0, proposer: null },
  { type: 'ProposalReceived', height: 1, round: 2, proposer: 'val-1', blockHash: new Uint8Array(32).fill(3), polRound: 1, signature: new Uint8Array(64).fill(4) },
  { type: 'VoteReceived', vote: signedVote(1, 5, 5) },
  { type: 'PhaseChanged', height: 1, round: 0, from: 'propose', to: 'prevote' },
  { type: 'RoundCompleted', height: 1, round: 0, blockHash: null, durationMs: 10 },
  { type: 'Stalled', height: 1, round: 0, stalledForMs: 10_001, reason: 'no height finalized' },
  { type: 'EquivocationDetected', voteA: signedVote(1, 5, 5, 'prevote', 1), voteB: signedVote(1, 5, 5, 'prevote', 2) },
  { type: 'InvalidSignature', validatorId: 'val-1', height: 5, round: 5, message: Uint8Array.of(9), signature: new Uint8Array(3) },
  { type: 'ReplayAttack', vote: signedVote(1, 5, 5), detail: 'old height' },
  { type: 'DoubleVote', voteA: signedVote(1, 5, 5, 'commit', 1), voteB: signedVote(1, 5, 6, 'commit', 2) },
  rejected,
  proposals,
  { type: 'StoreRepaired', file: 'seg-1', offset: 10, firstLostLsn: null, bytesDropped: 0, brokenCopy: 'seg-1.broken' },
  { type: 'KeyRotated', keyName: 'consensus', oldPublicKey: new Uint8Array(32).fill(1), newPublicKey: new Uint8Array(32).fill(2) },
  { type: 'Pruned', store: 'votes', belowHeight: 10, entriesRemoved: 3 },
  { type: 'NodeKeyRecorded', publicKey: new Uint8Array(32).fill(5) },
  { type: 'SnapshotRestored', height: 10, round: 1, root: new Uint8Array(32).fill(6), attestations: [{ validatorId: 'val-1', signature: new Uint8Array(64).fill(7) }] },
];

function roundTrip(event: AuditEvent): AuditEvent {
  const bytes = encodeAuditEvent(event);
  const decoded = decodeAuditEvent(AUDIT_EVENT_CODES[event.type], bytes);
  expect(encodeAuditEvent(decoded), event.type).toEqual(bytes);
  return decoded;
}

describe('audit event bytes', () => {
  it('round-trip every event type, and the list covers every type', () => {
    expect(new Set(EVERY.map((e) => e.type))).toEqual(new Set(AUDIT_EVENT_TYPES));
    for (const event of EVERY) {
      const checked = checkAuditEvent('event', event, AUDIT_EVENT_TYPES);
      expect(roundTrip(checked), event.type).toEqual(checked);
    }
  });

  it('keep the existing codes and give the new types 36 and 37', () => {
    expect(AUDIT_EVENT_CODES).toMatchObject({ EquivocationDetected: 32, InvalidSignature: 33, ReplayAttack: 34, DoubleVote: 35, PeerMessageRejected: 36, ProposalEquivocationDetected: 37, StoreRepaired: 64 });
    expect(auditEventTypeOfCode(36)).toBe('PeerMessageRejected');
    expect(new Set(Object.values(AUDIT_EVENT_CODES)).size).toBe(AUDIT_EVENT_TYPES.length);
    expect(BYZANTINE_EVENT_TYPES).toContain('ProposalEquivocationDetected');
    expect(BYZANTINE_EVENT_TYPES).not.toContain('PeerMessageRejected');
  });

  it('round-trip peer events: a claim, no claim, a Flood count, a message cut to its first bytes', () => {
    for (const e of [rejected, flood, truncated, { ...rejected, claimed: null }, { ...rejected, messageLength: 0, message: new Uint8Array(0) }]) {
      expect(roundTrip(e)).toEqual(e);
    }
    const bytes = encodeAuditEvent(truncated);
    expect(bytes.length).toBeLessThan(MAX_PEER_MESSAGE_COPY + 64);
    expect((decodeAuditEvent(36, bytes) as PeerMessageRejected).messageLength).toBe(5000);
  });

  it('index a peer event under the relaying peer and its own height, never under the validator it claims', () => {
    expect(validatorOfEvent(rejected)).toBe('v7');
    expect(heightOfEvent(rejected)).toBe(120);
    expect(validatorOfEvent(proposals)).toBe('val-2');
    expect(heightOfEvent(proposals)).toBe(9);
  });

  it('decode strictly: trailing or missing bytes, unknown reason, flags other than 0/1, inconsistent counts, one slot twice', () => {
    const bytes = encodeAuditEvent(rejected);
    expect(() => decodeAuditEvent(36, Uint8Array.of(...bytes, 0))).toThrow(/trailing/);
    expect(() => decodeAuditEvent(36, bytes.slice(0, -1))).toThrow(/truncated/);
    // peer text: u16 length (2) + 'v7' (2), then the reason code.
    const reasonAt = 4;
    for (const code of [0, 8, 255]) {
      const bad = bytes.slice();
      bad[reasonAt] = code;
      expect(() => decodeAuditEvent(36, bad), `reason code ${code}`).toThrow(/reason/);
    }
    const badFlag = bytes.slice();
    badFlag[reasonAt + 1 + 8] = 2;
    expect(() => decodeAuditEvent(36, badFlag)).toThrow(/flag/);
    // A Flood with no count, and a rejection with a count: both refused.
    const floodBytes = encodeAuditEvent(flood);
    const noCount = floodBytes.slice();
    noCount.fill(0, noCount.length - 4);
    expect(() => decodeAuditEvent(36, noCount)).toThrow(/Flood/);
    const counted = bytes.slice();
    counted[counted.length - 1] = 1;
    expect(() => decodeAuditEvent(36, counted)).toThrow(/Flood/);
    // A message length that says more bytes than follow.
    const longer = bytes.slice();
    longer[longer.length - 4 - 5 - 1] = 6;
    expect(() => decodeAuditEvent(36, longer)).toThrow();
    // Two proposals naming one block are not an equivocation; another round is not the same slot.
    const same = encodeAuditEvent({ ...proposals, proposalB: proposals.proposalA });
    expect(() => decodeAuditEvent(37, same)).toThrow(/different blocks/);
    const otherRound = encodeAuditEvent({ ...proposals, proposalB: { ...proposals.proposalB, round: 5 } });
    expect(() => decodeAuditEvent(37, otherRound)).toThrow(/one slot/);
    expect(() => decodeAuditEvent(38, new Uint8Array(0))).toThrow(/unknown event type code/);
  });

  it('refuse bad peer events and proposal pairs at the check with INVALID_ARGUMENT', () => {
    const bad: Record<string, unknown>[] = [
      { ...rejected, peer: '' },
      { ...rejected, peer: 'x'.repeat(129) },
      { ...rejected, peer: 7 },
      { ...rejected, reason: 'Forged' },
      { ...rejected, atHeight: -1 },
      { ...rejected, claimed: { validatorId: 'val-1', height: 1 } },
      { ...rejected, claimed: { validatorId: '', height: 1, round: 0 } },
      { ...rejected, claimed: 'val-1' },
      { ...rejected, messageLength: 2 ** 32 },
      { ...rejected, messageLength: 4 },
      { ...rejected, message: [1, 2, 3, 4, 5] },
      { ...truncated, message: long.slice(0, MAX_PEER_MESSAGE_COPY + 1) },
      { ...rejected, suppressed: 1 },
      { ...rejected, suppressed: -1 },
      { ...flood, suppressed: 0 },
      { ...flood, claimed: rejected.claimed },
      { ...flood, messageLength: 1, message: Uint8Array.of(1) },
      { ...proposals, proposalB: proposals.proposalA },
      { ...proposals, proposalB: { ...proposals.proposalB, validatorId: 'val-3' } },
      { ...proposals, proposalB: { ...proposals.proposalB, height: 10 } },
      { ...proposals, proposalB: { ...proposals.proposalB, signature: new Uint8Array(63) } },
      { ...proposals, proposalA: undefined },
    ];
    for (const event of bad) {
      expect(() => checkAuditEvent('event', event, AUDIT_EVENT_TYPES), JSON.stringify(event, (_, v: unknown) => (v instanceof Uint8Array ? v.length : v)).slice(0, 160)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
    expect(() => checkAuditEvent('event', proposals, ['PeerMessageRejected'])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
