/**
 * The reference BFT engine: Tendermint's propose, prevote, precommit rounds with a global,
 * never-resetting round (docs/devnet.md), then commit and finalize, over the storage port.
 *
 * How it uses storage (the point of this engine): a received vote counts only after
 * `appendVote` resolved; the node's own proposals and votes are signed through the sign guard
 * before they are sent; round state is checkpointed at every phase change, before the phase
 * acts; an equivocation becomes evidence, an audit entry and a slash; a finalized height gets a
 * reward distribution and a finalization mark. `initializeWithRecovery` resumes a restarted
 * node at the recovered height, round and phase, re-releasing (never re-deciding) its votes.
 *
 * All state changes run one at a time on an internal queue; vote persistence runs beside it so
 * that concurrent appends share one fsync (group commit). It must never count a vote that is
 * not durable, sign outside the sign guard (the equivocator of byzantine.ts excepted), or move
 * a checkpoint backwards.
 */
import { isStoreError } from '../errors.ts';
import type { ConsensusPhase, RoundState } from '../model/round.ts';
import type { ValidatorVote, VoteType } from '../model/vote.ts';
import { equalBytes, toHex } from '../codec/bytes.ts';
import { blockHash, GENESIS_PARENT_HASH } from './block.ts';
import type { Equivocator } from './byzantine.ts';
import { buildCertificate, checkCertificate } from './certificate.ts';
import { decodeCheckpointData, encodeCheckpointData, type Decision } from './checkpoint-data.ts';
import { decodeMessage, encodeMessage } from './codec.ts';
import { computeDistribution, DEFAULT_REWARD_POLICY, type RewardPolicy } from './rewards.ts';
import type { ConsensusAuditEvent, ConsensusStoragePort, RecoveredState } from './storage-port.ts';
import { VoteTally } from './tally.ts';
import { DEFAULT_TIMEOUTS, timeoutFor, type TimeoutConfig, type TimeoutStep } from './timeouts.ts';
import type { Transport } from './transport.ts';
import type { Block, CertificateMessage, EngineEvent, ProposalMessage, StatusMessage } from './types.ts';
import type { ValidatorSet } from './validator-set.ts';
import { verifyProposalFast, verifyVoteFast } from './verify.ts';

/** Options of `ConsensusEngine`. */
export interface EngineOptions {
  readonly chainId: string;
  /** This node's validator id (must be in `validators`). */
  readonly validatorId: string;
  readonly validators: ValidatorSet;
  readonly storage: ConsensusStoragePort;
  readonly transport: Transport;
  readonly timeouts?: Partial<TimeoutConfig>;
  /** Wall clock, ms since the epoch; default `Date.now`. */
  readonly now?: () => number;
  /** Progress and problems; must not throw. */
  readonly onEvent?: (event: EngineEvent) => void;
  /** Makes this node byzantine (devnet `--byzantine`, tests). */
  readonly equivocator?: Equivocator;
  readonly rewardPolicy?: RewardPolicy;
  /** No finalized height for this long is a stall (audited once per stall). Default 10 s. */
  readonly stallAfterMs?: number;
}

/** Where `initializeWithRecovery` put the node. */
export interface ResumeInfo {
  readonly recovered: boolean;
  readonly height: number;
  readonly round: number;
  readonly phase: ConsensusPhase;
  /** Votes of the recovered round handed back by recovery. */
  readonly votes: number;
}

/** A snapshot of where the engine is. */
export interface EngineStatus {
  readonly height: number;
  readonly round: number;
  readonly phase: ConsensusPhase;
  /** Last finalized height (height - 1). */
  readonly finalizedHeight: number;
}

/** Votes kept below the current height (late precommits still prove equivocation). */
const LOW_HEIGHT_WINDOW = 64;
/** Rounds above the current one a vote may be in (a bound on what one peer can make us store). */
const HIGH_ROUND_WINDOW = 100_000;
/** Rounds of the current height whose votes are reloaded on resume. */
const RESUME_ROUNDS = 64;
/** Decision certificates kept in memory for peers catching up. */
const CERTIFICATE_CACHE = 256;
/** Least time between two certificates for one (peer, height). */
const CERTIFICATE_RESEND_MS = 200;

/** The engine. One per validator node. */
export class ConsensusEngine {
  readonly #o: EngineOptions;
  readonly #t: TimeoutConfig;
  readonly #now: () => number;
  readonly #tally: VoteTally;
  #height = 1;
  #round = 0;
  #phase: ConsensusPhase = 'propose';
  #heightStartRound = 0;
  #roundStartedAt = 0;
  #parentHash: Uint8Array = GENESIS_PARENT_HASH;
  #locked: { round: number; hash: Uint8Array } | undefined;
  #valid: { round: number; block: Block } | undefined;
  #intent: Uint8Array | null | undefined;
  #decision: Decision | undefined;
  readonly #blocks = new Map<string, Block>();
  readonly #proposals = new Map<number, ProposalMessage>();
  #own: Uint8Array[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #scheduled = new Set<string>();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #certificates = new Map<number, CertificateMessage>();
  readonly #certificateSentAt = new Map<string, number>();
  #certificateHash: string | undefined;
  #queue: Promise<void> = Promise.resolve();
  #gossip: NodeJS.Timeout | undefined;
  #resume: 'fresh-round' | 'continue' = 'fresh-round';
  #recoveredOwn: ValidatorVote[] = [];
  #lastProgressAt = 0;
  #stallReported = false;
  #running = false;
  #stopped = false;

  constructor(options: EngineOptions) {
    if (options.validators.get(options.validatorId) === undefined) throw new RangeError(`${options.validatorId} is not in the validator set`);
    this.#o = options;
    this.#t = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.#now = options.now ?? Date.now;
    this.#tally = new VoteTally(options.validators);
  }

  /** Where the engine is. */
  get status(): EngineStatus {
    return { height: this.#height, round: this.#round, phase: this.#phase, finalizedHeight: this.#height - 1 };
  }

  /**
   * Recovers from storage and positions the engine: a fresh node at height 1, round 0; after a
   * `finalize` checkpoint the next height in the next round; otherwise the checkpoint's own
   * height, round and phase, with its lock, valid block, the vote it had decided to sign, and
   * the stored votes of its height's recent rounds. Call once, before `start`.
   * @throws CORRUPTION-like errors when the checkpoint's engine data does not decode.
   */
  async initializeWithRecovery(): Promise<ResumeInfo> {
    const rec = await this.#o.storage.recover();
    const s = rec.roundState;
    if (s === undefined) return this.#resumed(false, 0);
    if (s.appData === undefined) throw new RangeError('the latest checkpoint carries no engine data');
    const data = decodeCheckpointData(s.appData);
    for (const b of data.blocks) this.#blocks.set(toHex(blockHash(b, this.#o.chainId)), b);
    this.#roundStartedAt = s.startedAt;
    if (s.phase === 'finalize') {
      if (data.decision === undefined) throw new RangeError('a finalize checkpoint without its decision');
      this.#height = s.height + 1;
      this.#round = s.round + 1;
      this.#heightStartRound = s.round + 1;
      this.#parentHash = blockHash(data.decision.block, this.#o.chainId);
      return this.#resumed(true, rec.votes.length);
    }
    this.#height = s.height;
    this.#round = s.round;
    this.#phase = s.phase;
    this.#heightStartRound = data.heightStartRound;
    this.#parentHash = data.parentHash;
    this.#intent = data.intent;
    this.#decision = data.decision;
    if (s.lockedRound !== undefined && s.lockedBlockHash !== undefined) this.#locked = { round: s.lockedRound, hash: s.lockedBlockHash };
    const validBlock = s.validBlockHash === undefined ? undefined : this.#blocks.get(toHex(s.validBlockHash));
    if (s.validRound !== undefined && validBlock !== undefined) this.#valid = { round: s.validRound, block: validBlock };
    await this.#reloadVotes(rec);
    this.#resume = 'continue';
    return this.#resumed(true, rec.votes.length);
  }

  /** Starts taking messages, timers and the gossip tick, and continues from where recovery left off. */
  start(): void {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    this.#lastProgressAt = this.#now();
    this.#o.transport.setHandler((bytes) => this.#onBytes(bytes));
    this.#gossip = setInterval(() => this.#onGossipTick(), this.#t.gossipMs);
    this.#enqueue('resume', async () => {
      if (this.#resume === 'fresh-round') await this.#startRound(this.#round);
      else await this.#continuePhase();
      await this.#evaluate();
    });
  }

  /** Stops: no more messages or timers; waits for the queue and every write in flight. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#running = false;
    this.#o.transport.setHandler(undefined);
    if (this.#gossip !== undefined) clearInterval(this.#gossip);
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.#queue;
    await Promise.allSettled([...this.#inflight]);
  }

  // ---- intake (runs beside the queue, so appends overlap) ----

  #onBytes(bytes: Uint8Array): void {
    if (this.#stopped) return;
    let message;
    try {
      message = decodeMessage(bytes);
    } catch {
      return;
    }
    if (message.type === 'vote') this.#track(this.#receiveVote(message.vote));
    else if (message.type === 'proposal') this.#receiveProposal(message);
    else if (message.type === 'status') this.#track(this.#receiveStatus(message));
    else this.#track(this.#receiveCertificate(message));
  }

  async #receiveVote(vote: ValidatorVote): Promise<void> {
    const validator = this.#o.validators.get(vote.validatorId);
    if (validator === undefined || vote.height + LOW_HEIGHT_WINDOW < this.#height || vote.height > this.#height + 1) return;
    if (vote.round > this.#round + HIGH_ROUND_WINDOW || !verifyVoteFast(vote, validator.publicKey, this.#o.chainId)) return;
    if (await this.#persist(vote)) this.#enqueue('vote', () => this.#count([vote], true));
  }

  /** Appends a verified vote; reports equivocation. True when the vote may count (stored or duplicate). */
  async #persist(vote: ValidatorVote): Promise<boolean> {
    const started = performance.now();
    const result = await this.#o.storage.appendVote(vote);
    if (result.outcome !== 'duplicate') this.#emit({ type: 'vote-persisted', ms: performance.now() - started });
    if (result.outcome !== 'equivocation') return true;
    const first = result.conflictsWith[0];
    if (first !== undefined) {
      this.#emit({ type: 'equivocation', validatorId: vote.validatorId, round: vote.round, voteType: vote.voteType });
      await this.#o.storage.recordEquivocation({ validatorId: vote.validatorId, first, second: vote, detectedAtHeight: this.#height });
    }
    return false;
  }

  #receiveProposal(message: ProposalMessage): void {
    const p = message.proposal;
    const proposer = this.#o.validators.proposerOf(p.round);
    if (p.validatorId !== proposer.id || p.height !== message.block.height || p.height < this.#height || p.height > this.#height + 1) return;
    if (!equalBytes(blockHash(message.block, this.#o.chainId), p.blockHash)) return;
    if (!verifyProposalFast(p, proposer.publicKey, this.#o.chainId)) return;
    this.#enqueue('proposal', async () => {
      if (this.#proposals.has(p.round) || p.height < this.#height) return;
      this.#proposals.set(p.round, message);
      this.#blocks.set(toHex(p.blockHash), message.block);
      if (p.height === this.#height) {
        this.#audit({ type: 'ProposalReceived', height: p.height, round: p.round, proposer: p.validatorId, blockHash: p.blockHash, polRound: p.polRound, signature: p.signature });
      }
      await this.#evaluate();
    });
  }

  async #receiveStatus(message: StatusMessage): Promise<void> {
    if (message.height >= this.#height || this.#o.validators.get(message.validatorId) === undefined) return;
    const key = `${message.validatorId}:${message.height}`;
    const now = this.#now();
    if (now - (this.#certificateSentAt.get(key) ?? -Infinity) < CERTIFICATE_RESEND_MS) return;
    this.#certificateSentAt.set(key, now);
    if (this.#certificateSentAt.size > 4 * CERTIFICATE_CACHE) this.#certificateSentAt.clear();
    const cert = await this.#certificateFor(message.height);
    if (cert !== undefined && !this.#stopped) this.#o.transport.send(message.validatorId, encodeMessage(cert));
  }

  async #receiveCertificate(cert: CertificateMessage): Promise<void> {
    if (cert.block.height !== this.#height || !equalBytes(cert.block.parentHash, this.#parentHash)) return;
    const hash = checkCertificate(cert, this.#o.validators, this.#o.chainId);
    if (hash === undefined) return;
    const counted = await Promise.all(cert.precommits.map(async (v) => ((await this.#persist(v)) ? v : undefined)));
    this.#enqueue('certificate', async () => {
      if (cert.block.height !== this.#height) return;
      this.#blocks.set(toHex(hash), cert.block);
      this.#certificateHash = toHex(hash);
      await this.#count(counted.filter((v): v is ValidatorVote => v !== undefined), false);
    });
  }

  /** Decision certificate of a finalized `height`: from memory, else rebuilt from storage. */
  async #certificateFor(height: number): Promise<CertificateMessage | undefined> {
    const cached = this.#certificates.get(height);
    if (cached !== undefined) return cached;
    const state = await this.#o.storage.roundStateAt(height);
    if (state?.phase !== 'finalize' || state.appData === undefined) return undefined;
    const decision = decodeCheckpointData(state.appData).decision;
    if (decision === undefined) return undefined;
    const votes = await this.#o.storage.votesForRound(decision.round);
    return buildCertificate(decision.block, decision.round, votes, this.#o.validators, this.#o.chainId);
  }

  // ---- the state machine (runs on the queue) ----

  async #count(votes: readonly ValidatorVote[], audit: boolean): Promise<void> {
    let added = false;
    for (const v of votes) {
      if (!this.#tally.add(v)) continue;
      added = true;
      if (audit && v.validatorId !== this.#o.validatorId) this.#audit({ type: 'VoteReceived', vote: v });
    }
    if (added) await this.#evaluate();
  }

  /** Applies every rule that holds, until none does. */
  async #evaluate(): Promise<void> {
    for (let guard = 0; guard < 1000 && !this.#stopped; guard++) {
      if (!(await this.#step())) return;
    }
  }

  /** One rule, if one applies; true when it changed something. */
  async #step(): Promise<boolean> {
    const h = this.#height;
    for (const r of this.#tally.precommitRounds(h)) {
      const key = this.#tally.summary(h, r, 'precommit').quorumFor;
      const block = key === undefined || key === 'nil' ? undefined : this.#blocks.get(key);
      if (block !== undefined && block.height === h) {
        await this.#decide(r, block);
        return true;
      }
    }
    const ahead = this.#tally.roundsAheadWithOneThird(h, this.#round);
    const skipTo = ahead[ahead.length - 1];
    if (skipTo !== undefined) {
      await this.#startRound(skipTo);
      return true;
    }
    const r = this.#round;
    const prevotes = this.#tally.summary(h, r, 'prevote');
    const proposed = this.#proposalBlock(r);
    const polka = prevotes.quorumFor !== undefined && proposed !== undefined && prevotes.quorumFor === toHex(proposed.hash) ? proposed : undefined;
    if (this.#phase === 'propose' && proposed !== undefined) {
      const vote = this.#prevoteFor(proposed.message);
      if (vote !== 'wait') {
        await this.#enterVotePhase('prevote', vote);
        return true;
      }
    }
    if (this.#phase === 'prevote') {
      if (prevotes.quorumFor === 'nil') {
        await this.#enterVotePhase('precommit', null);
        return true;
      }
      if (polka !== undefined) {
        this.#locked = { round: r, hash: polka.hash };
        this.#valid = { round: r, block: polka.message.block };
        await this.#enterVotePhase('precommit', polka.hash);
        return true;
      }
      if (prevotes.quorumAny) this.#schedule('prevote', timeoutFor(this.#t, 'prevote', r - this.#heightStartRound));
    }
    if (this.#phase === 'precommit' && polka !== undefined && this.#valid?.round !== r) this.#valid = { round: r, block: polka.message.block };
    if (this.#tally.summary(h, r, 'precommit').quorumAny) this.#schedule('precommit', timeoutFor(this.#t, 'precommit', r - this.#heightStartRound));
    return false;
  }

  /** The valid proposal of round `r` at the current height, if one arrived. */
  #proposalBlock(r: number): { message: ProposalMessage; hash: Uint8Array } | undefined {
    const message = this.#proposals.get(r);
    if (message === undefined || message.block.height !== this.#height || !equalBytes(message.block.parentHash, this.#parentHash)) return undefined;
    return { message, hash: message.proposal.blockHash };
  }

  /** Tendermint's prevote rule: the block, nil, or wait (a proof-of-lock round not yet seen). */
  #prevoteFor(message: ProposalMessage): Uint8Array | null | 'wait' {
    const hash = message.proposal.blockHash;
    const vr = message.proposal.polRound;
    const lockAllows = (atRound: number): boolean => this.#locked === undefined || this.#locked.round <= atRound || equalBytes(this.#locked.hash, hash);
    if (vr === null) return lockAllows(-1) ? hash : null;
    if (vr < this.#heightStartRound) return null;
    if (this.#tally.summary(this.#height, vr, 'prevote').quorumFor !== toHex(hash)) return 'wait';
    return lockAllows(vr) ? hash : null;
  }

  async #startRound(round: number): Promise<void> {
    this.#round = round;
    this.#phase = 'propose';
    this.#intent = undefined;
    this.#own = [];
    this.#roundStartedAt = this.#now();
    const proposer = this.#o.validators.proposerOf(round).id;
    await this.#checkpoint();
    this.#audit({ type: 'RoundStarted', height: this.#height, round, proposer });
    this.#emit({ type: 'round-started', height: this.#height, round, proposer });
    if (proposer === this.#o.validatorId) await this.#propose();
    this.#schedule('propose', timeoutFor(this.#t, 'propose', round - this.#heightStartRound));
  }

  async #propose(): Promise<void> {
    const block: Block = this.#valid?.block ?? { height: this.#height, round: this.#round, proposer: this.#o.validatorId, parentHash: this.#parentHash };
    const hash = blockHash(block, this.#o.chainId);
    const proposal = await this.#signed(() =>
      this.#o.storage.signProposal({
        validatorId: this.#o.validatorId,
        height: this.#height,
        round: this.#round,
        blockHash: hash,
        polRound: this.#valid?.round ?? null,
        timestamp: this.#now(),
      }),
    );
    if (proposal === undefined) return;
    const message: ProposalMessage = { type: 'proposal', proposal, block };
    const bytes = encodeMessage(message);
    this.#own.push(bytes);
    this.#o.transport.broadcast(bytes);
    this.#proposals.set(this.#round, message);
    this.#blocks.set(toHex(hash), block);
  }

  async #enterVotePhase(phase: 'prevote' | 'precommit', hash: Uint8Array | null): Promise<void> {
    const from = this.#phase;
    this.#phase = phase;
    this.#intent = hash;
    await this.#checkpoint(from);
    await this.#castVote(phase, hash);
  }

  /** Signs (sign guard), sends, persists and counts the node's own vote. */
  async #castVote(type: VoteType, hash: Uint8Array | null): Promise<void> {
    const vote = await this.#signed(() =>
      this.#o.storage.signVote({ validatorId: this.#o.validatorId, height: this.#height, round: this.#round, voteType: type, blockHash: hash, timestamp: this.#now() }),
    );
    if (vote === undefined) return;
    const bytes = encodeMessage({ type: 'vote', vote });
    this.#own.push(bytes);
    this.#o.transport.broadcast(bytes);
    const twin = this.#o.equivocator?.conflictingVote(vote);
    if (twin !== undefined) this.#o.transport.broadcast(encodeMessage({ type: 'vote', vote: twin }));
    if (await this.#persist(vote)) this.#tally.add(vote);
  }

  /** Runs a sign-guard call; a refusal (CONFLICT) is reported and means "do not send". */
  async #signed<T>(sign: () => Promise<T>): Promise<T | undefined> {
    try {
      return await sign();
    } catch (error) {
      if (!isStoreError(error, 'CONFLICT')) throw error;
      this.#emit({ type: 'error', where: 'sign guard refused', error });
      return undefined;
    }
  }

  /** Commit and finalize `block`, decided by the precommits of `round`. */
  async #decide(round: number, block: Block): Promise<void> {
    const hash = blockHash(block, this.#o.chainId);
    const from = this.#phase;
    this.#round = Math.max(this.#round, round);
    if (this.#phase !== 'commit') {
      this.#phase = 'commit';
      this.#decision = { round, block };
      this.#intent = hash;
      this.#blocks.set(toHex(hash), block);
      await this.#checkpoint(from);
    }
    await this.#castVote('commit', hash);
    const h = this.#height;
    const precommits = this.#tally.votes(h, round, 'precommit').filter((v) => equalBytes(v.blockHash, hash));
    const distribution = computeDistribution(
      { height: h, round, timestamp: this.#now(), proposer: block.proposer, voters: precommits.map((v) => v.validatorId) },
      this.#o.validators,
      this.#o.rewardPolicy ?? DEFAULT_REWARD_POLICY,
    );
    await Promise.all([
      this.#o.storage.markFinalized(h, round),
      this.#o.storage.recordReward(distribution),
      this.#o.storage.logAudit({ type: 'RoundCompleted', height: h, round, blockHash: hash, durationMs: Math.max(0, this.#now() - this.#roundStartedAt) }),
    ]);
    this.#phase = 'finalize';
    await this.#checkpoint('commit');
    const cert = buildCertificate(block, round, precommits, this.#o.validators, this.#o.chainId);
    if (cert !== undefined) this.#certificates.set(h, cert);
    this.#certificates.delete(h - CERTIFICATE_CACHE);
    const viaCertificate = this.#certificateHash === toHex(hash);
    this.#emit({ type: 'finalized', height: h, round, blockHash: hash, viaCertificate });
    this.#advanceHeight(hash);
    if (viaCertificate) this.#sendStatus();
    await this.#startRound(this.#round + 1);
  }

  #advanceHeight(hash: Uint8Array): void {
    this.#parentHash = hash;
    this.#height++;
    this.#heightStartRound = this.#round + 1;
    this.#locked = undefined;
    this.#valid = undefined;
    this.#decision = undefined;
    this.#certificateHash = undefined;
    this.#lastProgressAt = this.#now();
    this.#stallReported = false;
    for (const [r, p] of this.#proposals) if (p.block.height < this.#height) this.#proposals.delete(r);
    for (const [k, b] of this.#blocks) if (b.height < this.#height) this.#blocks.delete(k);
    this.#tally.pruneBelow(this.#height);
  }

  /** After recovery into the middle of a round: re-release what was signed, or sign what was decided. */
  async #continuePhase(): Promise<void> {
    const ownInRound = (type: VoteType): boolean => this.#recoveredOwn.some((v) => v.voteType === type);
    const roundsTried = this.#round - this.#heightStartRound;
    if (this.#phase === 'propose') {
      if (this.#o.validators.proposerOf(this.#round).id === this.#o.validatorId) await this.#propose();
      this.#schedule('propose', timeoutFor(this.#t, 'propose', roundsTried));
    } else if (this.#phase === 'prevote' || this.#phase === 'precommit') {
      if (!ownInRound(this.#phase) && this.#intent !== undefined) await this.#castVote(this.#phase, this.#intent);
      const step: TimeoutStep = this.#phase;
      this.#schedule(step, timeoutFor(this.#t, step, roundsTried));
    } else if (this.#phase === 'commit' && this.#decision !== undefined) {
      await this.#decide(this.#decision.round, this.#decision.block);
    }
  }

  async #reloadVotes(rec: RecoveredState): Promise<void> {
    const from = Math.max(this.#heightStartRound, this.#round - RESUME_ROUNDS + 1);
    for (let r = from; r <= this.#round; r++) {
      const votes = r === this.#round ? rec.votes : await this.#o.storage.votesForRound(r);
      for (const v of votes) if (v.height === this.#height) this.#tally.add(v);
    }
    this.#recoveredOwn = rec.votes.filter((v) => v.validatorId === this.#o.validatorId && v.height === this.#height);
    this.#own = this.#recoveredOwn.map((vote) => encodeMessage({ type: 'vote', vote }));
  }

  #resumed(recovered: boolean, votes: number): ResumeInfo {
    const info = { recovered, height: this.#height, round: this.#round, phase: this.#phase, votes };
    if (recovered) this.#emit({ type: 'resumed', height: info.height, round: info.round, phase: info.phase, votes });
    return info;
  }

  /** Durably records where the engine is (every phase change). */
  async #checkpoint(from?: ConsensusPhase): Promise<void> {
    const blocks = [this.#proposals.get(this.#round)?.block, this.#valid?.block, this.#decision?.block].filter((b): b is Block => b !== undefined);
    const proposal = this.#proposals.get(this.#round)?.proposal;
    const state: RoundState = {
      height: this.#height,
      round: this.#round,
      phase: this.#phase,
      ...(this.#locked === undefined ? {} : { lockedRound: this.#locked.round, lockedBlockHash: this.#locked.hash }),
      ...(this.#valid === undefined ? {} : { validRound: this.#valid.round, validBlockHash: blockHash(this.#valid.block, this.#o.chainId) }),
      ...(proposal === undefined || proposal.height !== this.#height ? {} : { proposalBlockHash: proposal.blockHash }),
      proposer: this.#o.validators.proposerOf(this.#round).id,
      appData: encodeCheckpointData({
        heightStartRound: this.#heightStartRound,
        parentHash: this.#parentHash,
        ...(this.#intent === undefined ? {} : { intent: this.#intent }),
        blocks,
        ...(this.#decision === undefined ? {} : { decision: this.#decision }),
      }),
      startedAt: this.#roundStartedAt,
      updatedAt: Math.max(this.#roundStartedAt, this.#now()),
    };
    await this.#o.storage.saveRoundState(state);
    const to = this.#phase;
    // The audit log's phases end at commit: finalize is recorded as RoundCompleted.
    if (from !== undefined && from !== to && from !== 'finalize' && to !== 'finalize') this.#audit({ type: 'PhaseChanged', height: this.#height, round: this.#round, from, to });
  }

  // ---- timers, gossip, plumbing ----

  #schedule(step: TimeoutStep, ms: number): void {
    const h = this.#height;
    const r = this.#round;
    const key = `${step}:${h}:${r}`;
    if (this.#scheduled.has(key) || this.#stopped) return;
    this.#scheduled.add(key);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#scheduled.delete(key);
      this.#enqueue(`timeout ${step}`, () => this.#onTimeout(step, h, r));
    }, ms);
    this.#timers.add(timer);
  }

  async #onTimeout(step: TimeoutStep, height: number, round: number): Promise<void> {
    if (height !== this.#height || round !== this.#round) return;
    if (step === 'propose' && this.#phase === 'propose') await this.#enterVotePhase('prevote', null);
    else if (step === 'prevote' && this.#phase === 'prevote') await this.#enterVotePhase('precommit', null);
    else if (step === 'precommit' && (this.#phase === 'prevote' || this.#phase === 'precommit')) await this.#startRound(round + 1);
    await this.#evaluate();
  }

  #onGossipTick(): void {
    if (this.#stopped) return;
    this.#sendStatus();
    for (const bytes of this.#own) this.#o.transport.broadcast(bytes);
    const since = this.#now() - this.#lastProgressAt;
    if (!this.#stallReported && since > (this.#o.stallAfterMs ?? 10_000)) {
      this.#stallReported = true;
      this.#audit({ type: 'Stalled', height: this.#height, round: this.#round, stalledForMs: since, reason: 'no height finalized' });
      this.#emit({ type: 'stalled', height: this.#height, round: this.#round, sinceMs: since });
    }
  }

  #sendStatus(): void {
    this.#o.transport.broadcast(encodeMessage({ type: 'status', validatorId: this.#o.validatorId, height: this.#height, round: this.#round }));
  }

  #enqueue(where: string, task: () => Promise<void>): void {
    if (this.#stopped && where !== 'resume') return;
    this.#queue = this.#queue.then(() => (this.#stopped ? undefined : task())).catch((error: unknown) => this.#fail(where, error));
  }

  #track(work: Promise<void>): void {
    const p = work.catch((error: unknown) => this.#fail('intake', error));
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  #audit(event: ConsensusAuditEvent): void {
    this.#track(this.#o.storage.logAudit(event));
  }

  #fail(where: string, error: unknown): void {
    if (this.#stopped && isStoreError(error, 'CLOSED')) return;
    this.#emit({ type: 'error', where, error });
  }

  #emit(event: EngineEvent): void {
    try {
      this.#o.onEvent?.(event);
    } catch {
      // A host's handler must not break consensus.
    }
  }
}
