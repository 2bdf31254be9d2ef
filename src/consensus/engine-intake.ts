/**
 * The engine's message handling, before its queue (engine.ts): decode what the transport
 * delivers; drop what is malformed, outside the height and round windows, not from the round's
 * proposer or badly signed; make votes durable, beside the queue, so that concurrent appends
 * share one fsync; answer a peer that is behind with the decision certificate of its height; and
 * hand what passes to the engine's queue, where the state machine takes it.
 *
 * It must never hand the engine a vote that `appendVote` has not made durable, nor a proposal
 * or a certificate whose signatures it did not check; and it must never let one peer make the
 * node store votes far above its round, or resend certificates faster than
 * `CERTIFICATE_RESEND_MS`.
 */
import type { ValidatorVote } from '../model/vote.ts';
import { equalBytes } from '../codec/bytes.ts';
import { blockHash } from './block.ts';
import { checkCertificate } from './certificate.ts';
import { decodeMessage, encodeMessage } from './codec.ts';
import { CERTIFICATE_CACHE, type Certificates } from './engine-storage.ts';
import type { EngineTasks } from './engine-tasks.ts';
import type { EngineOptions } from './engine-types.ts';
import type { CertificateMessage, ProposalMessage, StatusMessage } from './types.ts';
import type { ValidatorSet } from './validator-set.ts';
import { verifyProposalFast, verifyVoteFast } from './verify.ts';

/** What the intake needs of its engine. */
export interface IntakeHost {
  /** The engine's chain id and transport. */
  readonly options: Pick<EngineOptions, 'chainId' | 'transport'>;
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

/** The intake of one engine. */
export class Intake {
  /** When a certificate last went to a (peer, height). */
  readonly #certificateSentAt = new Map<string, number>();
  readonly #host: IntakeHost;

  /** @param host - the engine, as the intake sees it. */
  constructor(host: IntakeHost) {
    this.#host = host;
  }

  /** The transport's handler: one message from a peer. */
  onBytes(bytes: Uint8Array): void {
    const tasks = this.#host.tasks;
    if (tasks.stopped) return;
    let message;
    try {
      message = decodeMessage(bytes);
    } catch {
      return;
    }
    if (message.type === 'vote') tasks.track(this.#receiveVote(message.vote));
    else if (message.type === 'proposal') this.#receiveProposal(message);
    else if (message.type === 'status') tasks.track(this.#receiveStatus(message));
    else tasks.track(this.#receiveCertificate(message));
  }

  async #receiveVote(vote: ValidatorVote): Promise<void> {
    const host = this.#host;
    const validator = host.setOf(vote.height).get(vote.validatorId);
    if (validator === undefined || vote.height + LOW_HEIGHT_WINDOW < host.height() || vote.height > host.height() + 1) return;
    if (vote.round > host.round() + HIGH_ROUND_WINDOW || !verifyVoteFast(vote, validator.publicKey, host.options.chainId)) return;
    if (await host.persist(vote)) host.tasks.enqueue('vote', () => host.count([vote], true));
  }

  #receiveProposal(message: ProposalMessage): void {
    const host = this.#host;
    const p = message.proposal;
    const proposer = host.setOf(p.height).proposerOf(p.round);
    if (p.validatorId !== proposer.validatorId || p.height !== message.block.height || p.height < host.height() || p.height > host.height() + 1) return;
    if (!equalBytes(blockHash(message.block, host.options.chainId), p.blockHash)) return;
    if (!verifyProposalFast(p, proposer.publicKey, host.options.chainId)) return;
    host.tasks.enqueue('proposal', () => host.takeProposal(message));
  }

  async #receiveStatus(message: StatusMessage): Promise<void> {
    const host = this.#host;
    if (message.height >= host.height() || host.setOf(message.height).get(message.validatorId) === undefined) return;
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
    await Promise.all(cert.precommits.map((v) => host.persist(v)));
    host.tasks.enqueue('certificate', () => host.takeCertificate(cert, hash));
  }
}
