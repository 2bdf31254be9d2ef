/**
 * The engine's message handling, before its queue (engine.ts): decode what the transport
 * delivers; drop what is malformed, outside the height and round windows, not from the round's
 * proposer or badly signed; make votes durable, beside the queue, so that concurrent appends
 * share one fsync; answer a peer that is behind with the decision certificate of its height; and
 * hand what passes to the engine's queue, where the state machine takes it.
 *
 * What it rejects it records as a peer event naming the peer that relayed the bytes (a bad
 * signature, a replayed vote, malformed bytes, an unknown validator, a proposal out of turn or
 * not matching its block), bounded per peer and height (peer-events.ts; docs/audit.md, "Peer
 * events"): never as evidence against the validator the message names. Two validly signed
 * proposals of the round's proposer for one (height, round) and different blocks are evidence
 * (`recordProposalEquivocation`; docs/evidence-and-rewards.md).
 *
 * It must never hand the engine a vote that `appendVote` has not made durable, nor a proposal
 * or a certificate whose signatures it did not check; and it must never let one peer make the
 * node store votes far above its round, or resend certificates faster than
 * `CERTIFICATE_RESEND_MS`.
 */
import type { PeerMessageClaim } from '../model/audit.ts';
import type { SignedProposal, ValidatorVote } from '../model/vote.ts';
import { equalBytes } from '../codec/bytes.ts';
import { blockHash } from './block.ts';
import { checkCertificate } from './certificate.ts';
import { decodeMessage, encodeMessage } from './codec.ts';
import { CERTIFICATE_CACHE, type Certificates } from './engine-storage.ts';
import type { EngineTasks } from './engine-tasks.ts';
import type { EngineOptions } from './engine-types.ts';
import { PeerEventLimiter, peerEvent, peerName } from './peer-events.ts';
import type { PeerRejectReason } from '../model/audit.ts';
import type { ConsensusAuditEvent } from './storage-port.ts';
import type { CertificateMessage, ProposalMessage, StatusMessage } from './types.ts';
import type { ValidatorSet } from './validator-set.ts';
import { alreadyVerifiedVote, verifiedVoteFast, verifyProposalFast } from './verify.ts';

/** What the intake needs of its engine. */
export interface IntakeHost {
  /** The engine's chain id, validator set, transport and storage (peer events, proposal equivocation). */
  readonly options: Pick<EngineOptions, 'chainId' | 'transport' | 'storage'>;
  /**
   * The validator set of `height` (docs/devnet.md, "Validator-set changes"): exact for the heights
   * the engine holds (the current one, the next, recent ones); outside them the nearest held set.
   */
  setOf(height: number): ValidatorSet;
  readonly now: () => number;
  /** The engine's queue and the work beside it. */
  readonly tasks: EngineTasks;
  readonly certificates: Certificates;
  /** The height being decided (read as each check runs). */
  height(): number;
  round(): number;
  /** Hash of the block at `height() - 1`. */
  parentHash(): Uint8Array;
  /** Makes a verified vote durable; true when it may count (engine-storage.ts, `persistVote`). */
  persist(vote: ValidatorVote): Promise<boolean>;
  /** On the queue: counts durable votes (`audit`: each one received is audited). */
  count(votes: readonly ValidatorVote[], audit: boolean): Promise<void>;
  /** On the queue: takes a checked proposal. */
  takeProposal(message: ProposalMessage): Promise<void>;
  /** On the queue: takes a checked certificate for block `hash`, every precommit of which is durable. */
  takeCertificate(cert: CertificateMessage, hash: Uint8Array): Promise<void>;
}

/** Votes kept below the current height (late precommits still prove equivocation). */
const LOW_HEIGHT_WINDOW = 64;
/** Rounds above the current one a vote may be in (a bound on what one peer can make us store). */
const HIGH_ROUND_WINDOW = 100_000;
/** Least time between two certificates for one (peer, height). */
const CERTIFICATE_RESEND_MS = 200;
/** (height, round) slots whose first proposal is kept to detect a second one, before the oldest are pruned. */
const PROPOSAL_SLOTS = 256;

/** The first validly signed proposal of a (height, round), and whether an equivocation was already reported for it. */
interface ProposalSlot {
  readonly first: SignedProposal;
  reported: boolean;
}

/** The intake of one engine. */
export class Intake {
  /** When a certificate last went to a (peer, height). */
  readonly #certificateSentAt = new Map<string, number>();
  readonly #host: IntakeHost;
  readonly #peerEvents = new PeerEventLimiter();
  /** Per `height:round`, the first proposal of the round's proposer that verified. */
  readonly #proposalSlots = new Map<string, ProposalSlot>();

  /** @param host - the engine, as the intake sees it. */
  constructor(host: IntakeHost) {
    this.#host = host;
  }

  /** The transport's handler: one message, `from` the peer that delivered it (transport.ts). */
  onBytes(bytes: Uint8Array, from: string): void {
    const tasks = this.#host.tasks;
    if (tasks.stopped) return;
    for (const flood of this.#peerEvents.advance(this.#host.height())) this.#log(flood);
    const peer = peerName(from);
    let message;
    try {
      message = decodeMessage(bytes);
    } catch {
      this.#reject(peer, 'Malformed', null, bytes);
      return;
    }
    if (message.type === 'vote') tasks.track(this.#receiveVote(message.vote, bytes, peer));
    else if (message.type === 'proposal') this.#receiveProposal(message, bytes, peer);
    else if (message.type === 'status') tasks.track(this.#receiveStatus(message, bytes, peer));
    else tasks.track(this.#receiveCertificate(message));
  }

  /** Records a rejected message as a peer event, within the bound (peer-events.ts). */
  #reject(peer: string, reason: Exclude<PeerRejectReason, 'Flood'>, claimed: PeerMessageClaim | null, bytes: Uint8Array): void {
    const event = peerEvent(peer, reason, this.#host.height(), claimed === null ? null : { validatorId: claimed.validatorId, height: claimed.height, round: claimed.round }, bytes);
    if (this.#peerEvents.admit(event)) this.#log(event);
  }

  #log(event: ConsensusAuditEvent): void {
    this.#host.tasks.track(this.#host.options.storage.logAudit(event));
  }

  async #receiveVote(vote: ValidatorVote, bytes: Uint8Array, peer: string): Promise<void> {
    const host = this.#host;
    const validator = host.setOf(vote.height).get(vote.validatorId);
    if (validator === undefined) return this.#reject(peer, 'UnknownValidator', vote, bytes);
    // Ahead of the node: not a rejection (the node may be the one behind); dropped unrecorded.
    if (vote.height > host.height() + 1 || vote.round > host.round() + HIGH_ROUND_WINDOW) return;
    // Verified here, handed to the store as a VerifiedVote: not checked twice (docs/stores.md).
    const verified = verifiedVoteFast(vote, validator.publicKey, host.options.chainId);
    if (verified === undefined) return this.#reject(peer, 'BadSignature', vote, bytes);
    // A genuine vote below the window: an old message sent again, the relayer's act.
    if (vote.height + LOW_HEIGHT_WINDOW < host.height()) return this.#reject(peer, 'Replay', vote, bytes);
    if (await host.persist(verified)) host.tasks.enqueue('vote', () => host.count([vote], true));
  }

  #receiveProposal(message: ProposalMessage, bytes: Uint8Array, peer: string): void {
    const host = this.#host;
    const p = message.proposal;
    const signer = host.setOf(p.height).get(p.validatorId);
    if (signer === undefined) return this.#reject(peer, 'UnknownValidator', p, bytes);
    if (p.height > host.height() + 1) return;
    if (!verifyProposalFast(p, signer.publicKey, host.options.chainId)) return this.#reject(peer, 'BadSignature', p, bytes);
    if (p.height + LOW_HEIGHT_WINDOW < host.height()) return this.#reject(peer, 'Replay', p, bytes);
    if (p.height < host.height()) return;
    if (p.validatorId !== host.setOf(p.height).proposerOf(p.round).validatorId) return this.#reject(peer, 'NotProposer', p, bytes);
    if (this.#equivocates(p)) return;
    if (p.height !== message.block.height || !equalBytes(blockHash(message.block, host.options.chainId), p.blockHash)) return this.#reject(peer, 'Inconsistent', p, bytes);
    host.tasks.enqueue('proposal', () => host.takeProposal(message));
  }

  /**
   * True when `p` (validly signed by the round's proposer) names another block than the first
   * such proposal of its (height, round): reported once per slot as ProposalEquivocation
   * evidence, and not handed to the engine, which keeps the first.
   */
  #equivocates(p: SignedProposal): boolean {
    const host = this.#host;
    const key = `${p.height}:${p.round}`;
    const slot = this.#proposalSlots.get(key);
    if (slot === undefined) {
      if (this.#proposalSlots.size >= PROPOSAL_SLOTS) {
        for (const [k, s] of this.#proposalSlots) if (s.first.height < host.height()) this.#proposalSlots.delete(k);
        if (this.#proposalSlots.size >= PROPOSAL_SLOTS) this.#proposalSlots.delete(this.#proposalSlots.keys().next().value as string);
      }
      this.#proposalSlots.set(key, { first: p, reported: false });
      return false;
    }
    if (equalBytes(slot.first.blockHash, p.blockHash)) return false;
    if (!slot.reported) {
      slot.reported = true;
      host.tasks.track(host.options.storage.recordProposalEquivocation({ validatorId: p.validatorId, first: slot.first, second: p, detectedAtHeight: host.height() }));
    }
    return true;
  }

  async #receiveStatus(message: StatusMessage, bytes: Uint8Array, peer: string): Promise<void> {
    const host = this.#host;
    if (host.setOf(message.height).get(message.validatorId) === undefined) return this.#reject(peer, 'UnknownValidator', message, bytes);
    if (message.height >= host.height()) return;
    const key = `${message.validatorId}:${message.height}`;
    const now = host.now();
    if (now - (this.#certificateSentAt.get(key) ?? -Infinity) < CERTIFICATE_RESEND_MS) return;
    this.#certificateSentAt.set(key, now);
    if (this.#certificateSentAt.size > 4 * CERTIFICATE_CACHE) this.#certificateSentAt.clear();
    const cert = await host.certificates.of(message.height);
    if (cert !== undefined && !host.tasks.stopped) host.options.transport.send(message.validatorId, encodeMessage(cert));
  }

  async #receiveCertificate(cert: CertificateMessage): Promise<void> {
    const host = this.#host;
    if (cert.block.height !== host.height() || !equalBytes(cert.block.parentHash, host.parentHash())) return;
    const hash = checkCertificate(cert, host.setOf(cert.block.height), host.options.chainId);
    if (hash === undefined) return;
    // Every precommit is durable once its append resolved, whatever the outcome: a conflicting
    // one is stored beside the vote it conflicts with. The certificate then decides on its own
    // signatures, not through the tally, where a validator's first vote of the step may be
    // another one (an equivocator's twin that arrived first).
    // checkCertificate verified each precommit: handed over as VerifiedVotes (docs/stores.md).
    const keyOf = (v: ValidatorVote): Uint8Array | undefined => host.setOf(cert.block.height).get(v.validatorId)?.publicKey;
    await Promise.all(cert.precommits.map((v) => host.persist(alreadyVerifiedVote(v, keyOf(v) ?? new Uint8Array(32), host.options.chainId))));
    host.tasks.enqueue('certificate', () => host.takeCertificate(cert, hash));
  }
}
