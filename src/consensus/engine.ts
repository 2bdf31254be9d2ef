/**
 * The reference BFT engine: Tendermint's propose, prevote, precommit rounds with a global,
 * never-resetting round (docs/devnet.md), then commit and finalize, over the storage port.
 *
 * How it uses storage (the point of this engine): a received vote counts only after
 * `appendVote` resolved; the node's own proposals and votes are signed through the sign guard
 * before they are sent; round state is checkpointed before the phase acts, at the phase changes
 * the store's `checkpointInterval` asks for, and always before a signature when the lock or
 * valid value changed (docs/stores-rounds-validators.md); an equivocation becomes evidence and
 * an audit entry, and a slash through a block; a finalized height gets a reward distribution
 * and a finalization mark.
 *
 * The validator set is the set of each height, read from storage (`validatorsAt`): the set of
 * height H + 1 is fixed when H starts, as a change decided in the block at H takes effect at
 * H + 2 (docs/devnet.md, "Validator-set changes"). Equivocation evidence this node detects goes
 * into its pool; as proposer it puts it into its block as slash transactions; a block whose
 * transactions do not hold (block.ts, `blockTxsProblem`) gets a nil prevote. A node outside
 * the set of its height follows the chain and signs nothing. `initializeWithRecovery` resumes a restarted
 * node at the recovered height, round and phase, re-releasing (never re-deciding) its votes.
 *
 * All state changes run one at a time on an internal queue; vote persistence runs beside it so
 * that concurrent appends share one fsync (group commit). This file holds the state machine, its
 * start, stop and resume; the checks of incoming messages are in engine-intake.ts, Tendermint's
 * rules in engine-rules.ts, what goes through the storage port in engine-storage.ts, the queue
 * and timers in engine-tasks.ts, the option and position shapes in engine-types.ts.
 *
 * It must never count a vote that is not durable, sign outside the sign guard (the equivocator
 * of byzantine.ts excepted), or move a checkpoint backwards.
 */
import { isStoreError } from '../errors.ts';
import type { ConsensusPhase } from '../model/round.ts';
import type { ValidatorVote, VoteType } from '../model/vote.ts';
import { equalBytes, toHex } from '../codec/bytes.ts';
import { blockHash, blockTxsProblem, bondProblem, GENESIS_PARENT_HASH, MAX_BLOCK_TXS, pairProblem, SET_CHANGE_DELAY, unbondProblem } from './block.ts';
import { buildCertificate } from './certificate.ts';
import type { Decision } from './checkpoint-data.ts';
import { checkTx, encodeMessage } from './codec.ts';
import { Intake } from './engine-intake.ts';
import { Certificates, CheckpointWriter, checkpointOf, persistVote, resumePointOf, storedVotesOf } from './engine-storage.ts';
import { decisionAt, polkaFor, prevoteFor, proposalBlock, roundToSkipTo } from './engine-rules.ts';
import { EngineTasks } from './engine-tasks.ts';
import type { EngineOptions, EnginePosition, EngineStatus, Lock, ResumeInfo, ValidBlock } from './engine-types.ts';
import { computeDistribution, DEFAULT_REWARD_POLICY } from './rewards.ts';
import type { ConsensusAuditEvent, RecoveredState } from './storage-port.ts';
import { VoteTally } from './tally.ts';
import { DEFAULT_TIMEOUTS, timeoutFor, type TimeoutConfig, type TimeoutStep } from './timeouts.ts';
import type { Block, BondTx, CertificateMessage, EngineEvent, EquivocationPair, ProposalMessage, UnbondTx, ValidatorTx } from './types.ts';
import { ValidatorSet } from './validator-set.ts';

export type { EngineOptions, EngineStatus, ResumeInfo } from './engine-types.ts';

/** Heights below the current one whose validator sets stay in memory (late votes, certificates for peers). */
const SET_CACHE_HEIGHTS = 128;

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
  #locked: Lock | undefined;
  #valid: ValidBlock | undefined;
  #intent: Uint8Array | null | undefined;
  #decision: Decision | undefined;
  readonly #blocks = new Map<string, Block>();
  readonly #proposals = new Map<number, ProposalMessage>();
  #own: Uint8Array[] = [];
  readonly #tasks = new EngineTasks((where, error) => this.#fail(where, error));
  readonly #certificates: Certificates;
  /** Which checkpoints are written: the store's `checkpointInterval`, and the lock before each signature. */
  readonly #checkpoints: CheckpointWriter;
  readonly #intake: Intake;
  #certificateHash: string | undefined;
  #gossip: NodeJS.Timeout | undefined;
  #resume: 'fresh-round' | 'continue' = 'fresh-round';
  #recoveredOwn: ValidatorVote[] = [];
  #lastProgressAt = 0;
  #stallReported = false;
  #running = false;
  /** The validator sets of heights up to the current one + 1 (fixed), by height. */
  readonly #sets = new Map<number, ValidatorSet>();
  /** Equivocations this node detected, by validator: the slash transactions it proposes. */
  readonly #pool = new Map<string, EquivocationPair>();
  /** Bonds and unbonds submitted to this node (`submitValidatorTx`), by validator: proposed as it proposes. */
  readonly #txPool = new Map<string, BondTx | UnbondTx>();
  /** Every validator ever registered, by id (a bond must bring a new id and key). */
  #registered = new Map<string, Uint8Array>();
  /** Whether each proposed block (by hex hash) of the current height passes `blockTxsProblem`. */
  readonly #validBlocks = new Map<string, boolean>();

  constructor(options: EngineOptions) {
    this.#o = options;
    this.#t = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.#now = options.now ?? Date.now;
    this.#checkpoints = new CheckpointWriter(options.storage, options.validatorId, options.chainId);
    this.#tally = new VoteTally((h) => this.#sets.get(h));
    this.#certificates = new Certificates({ storage: options.storage, chainId: options.chainId, setAt: (h) => this.#setAt(h) });
    this.#intake = new Intake({
      options,
      setOf: (h) => this.#setNear(h),
      now: this.#now,
      tasks: this.#tasks,
      certificates: this.#certificates,
      height: () => this.#height,
      round: () => this.#round,
      parentHash: () => this.#parentHash,
      persist: (vote) => this.#persist(vote),
      count: (votes, audit) => this.#count(votes, audit),
      takeProposal: (message) => this.#takeProposal(message),
      takeCertificate: (cert, hash) => this.#takeCertificate(cert, hash),
    });
  }

  /** Where the engine is. */
  get status(): EngineStatus {
    const validators = this.#sets.get(this.#height)?.validators.map((v) => v.validatorId) ?? [];
    return { height: this.#height, round: this.#round, phase: this.#phase, finalizedHeight: this.#height - 1, validators };
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
    if (rec.roundState === undefined) {
      await this.#loadSets();
      return this.#resumed(false, 0);
    }
    this.#checkpoints.recovered(rec.roundState);
    const at = resumePointOf(rec.roundState, this.#o.chainId);
    for (const [key, block] of at.blocks) this.#blocks.set(key, block);
    const p = at.position;
    this.#height = p.height;
    this.#round = p.round;
    this.#phase = p.phase;
    this.#heightStartRound = p.heightStartRound;
    this.#roundStartedAt = p.roundStartedAt;
    this.#parentHash = p.parentHash;
    this.#locked = p.locked;
    this.#valid = p.valid;
    this.#intent = p.intent;
    this.#decision = p.decision;
    await this.#loadSets();
    if (!at.fresh) {
      await this.#reloadVotes(rec);
      this.#resume = 'continue';
    }
    return this.#resumed(true, rec.votes.length);
  }

  /** Starts taking messages, timers and the gossip tick, and continues from where recovery left off. */
  start(): void {
    if (this.#running || this.#tasks.stopped) return;
    this.#running = true;
    this.#lastProgressAt = this.#now();
    this.#o.transport.setHandler((bytes, from) => this.#intake.onBytes(bytes, from));
    this.#gossip = setInterval(() => this.#onGossipTick(), this.#t.gossipMs);
    this.#enqueue('resume', async () => {
      if (this.#resume === 'fresh-round') await this.#startRound(this.#round);
      else await this.#continuePhase();
      await this.#evaluate();
    });
  }

  /** Stops: no more messages or timers; waits for the queue and every write in flight. Idempotent. */
  async stop(): Promise<void> {
    this.#tasks.stop();
    this.#running = false;
    this.#o.transport.setHandler(undefined);
    if (this.#gossip !== undefined) clearInterval(this.#gossip);
    await this.#tasks.drain();
  }

  /** Appends a verified vote; reports equivocation, whose pair goes into the pool. True when the vote may count (stored or duplicate). */
  #persist(vote: ValidatorVote): Promise<boolean> {
    return persistVote(this.#o.storage, vote, () => this.#height, (event) => {
      if (event.type === 'equivocation' && event.pair !== undefined && !this.#pool.has(event.validatorId)) this.#pool.set(event.validatorId, event.pair);
      this.#emit(event);
    });
  }

  // ---- the validator set of each height ----

  /** The set of the current height (always loaded: `#loadSets`, `#decide`). */
  #current(): ValidatorSet {
    const set = this.#sets.get(this.#height);
    if (set === undefined) throw new RangeError(`the validator set of height ${this.#height} is not loaded`);
    return set;
  }

  /**
   * The set of `height` when held; else, above the next height, the next height's set, and below
   * the held ones, the lowest held (the intake's synchronous checks: keys never change, and a
   * vote counts only through the tally, which weighs each height by its exact set).
   */
  #setNear(height: number): ValidatorSet {
    const exact = this.#sets.get(height);
    if (exact !== undefined) return exact;
    if (height > this.#height) return this.#sets.get(this.#height + 1) ?? this.#current();
    let best: number | undefined;
    for (const h of this.#sets.keys()) if (h > height && (best === undefined || h < best)) best = h;
    return best === undefined ? this.#current() : (this.#sets.get(best) as ValidatorSet);
  }

  /** Loads the sets of the current height and the next (both fixed once the current height started), and the registered validators. */
  async #loadSets(): Promise<void> {
    for (const h of [this.#height, this.#height + 1]) if (!this.#sets.has(h)) this.#sets.set(h, await this.#readSet(h));
    await this.#loadRegistered();
  }

  async #loadRegistered(): Promise<void> {
    this.#registered = new Map((await this.#o.storage.registeredValidators()).map((v) => [v.validatorId, v.publicKey]));
  }

  /**
   * Hands the node a validator-set transaction to propose (docs/devnet.md, "Validator-set
   * changes"): a bond or unbond signed by its validator, or a slash. It goes into the block this
   * node proposes next, if it still holds then; a block carries it only once.
   * @throws ConsensusStoreError INVALID_ARGUMENT when it is malformed (codec.ts `checkTx`).
   */
  submitValidatorTx(tx: ValidatorTx): void {
    const checked = checkTx('tx', tx);
    if (checked.type === 'slash') this.#pool.set(checked.evidence.voteA.validatorId, checked.evidence);
    else this.#txPool.set(checked.validatorId, checked);
  }

  /** The set of `height` from storage. @throws RangeError when no validator is in it. */
  async #readSet(height: number): Promise<ValidatorSet> {
    return new ValidatorSet(await this.#o.storage.validatorsAt(height), this.#o.chainId);
  }

  /** The set of `height`: from memory, else from storage (kept when the height is at most the current one + 1, which no block can change any more). */
  async #setAt(height: number): Promise<ValidatorSet> {
    const known = this.#sets.get(height);
    if (known !== undefined) return known;
    const fixed = height <= this.#height + 1;
    const set = await this.#readSet(height);
    if (fixed && !this.#sets.has(height)) this.#sets.set(height, set);
    return set;
  }

  /** The slash transactions this node proposes at the current height: its pool's evidence against validators still in the next height's set. */
  #txsToPropose(): ValidatorTx[] {
    const next = this.#sets.get(this.#height + 1);
    const txs: ValidatorTx[] = [];
    if (next === undefined) return txs;
    for (const [id, pair] of this.#pool) {
      if (txs.length >= MAX_BLOCK_TXS) break;
      if (next.get(id) === undefined || pairProblem(pair, next, this.#o.chainId) !== undefined) {
        this.#pool.delete(id);
        continue;
      }
      // A block never removes the whole set (blockTxsProblem).
      if (txs.length + 1 >= next.validators.length) continue;
      if (pair.voteA.height <= this.#height && pair.voteB.height <= this.#height) txs.push({ type: 'slash', evidence: pair });
    }
    const ids = new Set(txs.map((t) => (t.type === 'slash' ? t.evidence.voteA.validatorId : t.validatorId)));
    const keys = new Set<string>();
    let removed = txs.length;
    for (const [id, tx] of this.#txPool) {
      if (txs.length >= MAX_BLOCK_TXS) break;
      const problem = tx.type === 'bond' ? bondProblem(tx, this.#registered, this.#o.chainId) : unbondProblem(tx, next, this.#o.chainId);
      if (problem !== undefined) {
        this.#txPool.delete(id);
        continue;
      }
      if (ids.has(id) || (tx.type === 'bond' && keys.has(toHex(tx.publicKey))) || (tx.type === 'unbond' && removed + 1 >= next.validators.length)) continue;
      ids.add(id);
      if (tx.type === 'bond') keys.add(toHex(tx.publicKey));
      else removed++;
      txs.push(tx);
    }
    return txs;
  }

  /** True when the block's transactions hold against the next height's set (cached per block). */
  #blockValid(block: Block, hash: Uint8Array): boolean {
    if (block.txs === undefined) return true;
    const key = toHex(hash);
    let valid = this.#validBlocks.get(key);
    if (valid === undefined) {
      const next = this.#sets.get(block.height + 1);
      valid = next !== undefined && blockTxsProblem(block, next, this.#o.chainId, this.#registered) === undefined;
      this.#validBlocks.set(key, valid);
    }
    return valid;
  }

  // ---- the state machine (runs on the queue) ----

  /** A proposal the intake checked: kept (the first of its round), audited, evaluated. */
  async #takeProposal(message: ProposalMessage): Promise<void> {
    const p = message.proposal;
    if (this.#proposals.has(p.round) || p.height < this.#height) return;
    this.#proposals.set(p.round, message);
    this.#blocks.set(toHex(p.blockHash), message.block);
    if (p.height === this.#height) {
      this.#audit({ type: 'ProposalReceived', height: p.height, round: p.round, proposer: p.validatorId, blockHash: p.blockHash, polRound: p.polRound, signature: p.signature });
    }
    await this.#evaluate();
  }

  /**
   * A certificate the intake checked, for block `hash` of the current height, its precommits
   * durable: it decides the height on its own signatures (2/3+ of the stake for this block,
   * each validator once). It is not counted through the tally, which keeps each validator's
   * first vote of a step: after an equivocator's twin arrived first, the tally never reaches
   * the quorum the certificate proves, and the node would wait for it forever.
   */
  async #takeCertificate(cert: CertificateMessage, hash: Uint8Array): Promise<void> {
    if (cert.block.height !== this.#height || this.#decision !== undefined) return;
    this.#certificateHash = toHex(hash);
    await this.#decide(cert.round, cert.block, cert.precommits);
  }

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
    for (let guard = 0; guard < 1000 && !this.#tasks.stopped; guard++) {
      if (!(await this.#step())) return;
    }
  }

  /** One rule (engine-rules.ts), if one applies; true when it changed something. */
  async #step(): Promise<boolean> {
    const h = this.#height;
    const decided = decisionAt(this.#tally, this.#blocks, h);
    if (decided !== undefined) {
      await this.#decide(decided.round, decided.block);
      return true;
    }
    const skipTo = roundToSkipTo(this.#tally, h, this.#round);
    if (skipTo !== undefined) {
      await this.#startRound(skipTo);
      return true;
    }
    const r = this.#round;
    const prevotes = this.#tally.summary(h, r, 'prevote');
    const proposed = proposalBlock(this.#proposals, r, h, this.#parentHash);
    const polka = polkaFor(prevotes, proposed);
    if (this.#phase === 'propose' && proposed !== undefined) {
      // A block whose validator-set transactions do not hold is not valid: nil, as for any invalid proposal.
      const valid = this.#blockValid(proposed.message.block, proposed.hash);
      const vote = valid ? prevoteFor(proposed.message, this.#locked, this.#tally, h, this.#heightStartRound) : null;
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

  async #startRound(round: number): Promise<void> {
    this.#round = round;
    this.#phase = 'propose';
    this.#intent = undefined;
    this.#own = [];
    this.#roundStartedAt = this.#now();
    const proposer = this.#current().proposerOf(round).validatorId;
    await this.#checkpoint();
    this.#audit({ type: 'RoundStarted', height: this.#height, round, proposer });
    this.#emit({ type: 'round-started', height: this.#height, round, proposer });
    if (proposer === this.#o.validatorId) await this.#propose();
    this.#schedule('propose', timeoutFor(this.#t, 'propose', round - this.#heightStartRound));
  }

  async #propose(): Promise<void> {
    const txs = this.#txsToPropose();
    const fresh: Block = { height: this.#height, round: this.#round, proposer: this.#o.validatorId, parentHash: this.#parentHash, ...(txs.length === 0 ? {} : { txs }) };
    const block: Block = this.#valid?.block ?? fresh;
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
    const twin = this.#o.equivocator?.conflictingProposal?.(message);
    if (twin !== undefined) this.#o.transport.broadcast(encodeMessage(twin));
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

  /** Signs (sign guard), sends, persists and counts the node's own vote; nothing when the node is not in the set of its height. */
  async #castVote(type: VoteType, hash: Uint8Array | null): Promise<void> {
    if (this.#current().get(this.#o.validatorId) === undefined) return;
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

  /**
   * Runs a sign-guard call; a refusal (CONFLICT) is reported and means "do not send". First, a
   * lock or valid value not yet durable is checkpointed, whatever the checkpoint interval
   * (docs/stores-rounds-validators.md, "`checkpointInterval`").
   */
  async #signed<T>(sign: () => Promise<T>): Promise<T | undefined> {
    if (this.#checkpoints.mustCheckpointBeforeSigning(this.#position())) await this.#checkpoint(undefined, true);
    try {
      return await sign();
    } catch (error) {
      if (!isStoreError(error, 'CONFLICT')) throw error;
      this.#emit({ type: 'error', where: 'sign guard refused', error });
      return undefined;
    }
  }

  /**
   * Commit and finalize `block`, decided by the precommits of `round`: `certified` when a
   * certificate brought them, else the tally's for the block.
   */
  async #decide(round: number, block: Block, certified?: readonly ValidatorVote[]): Promise<void> {
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
    const set = this.#current();
    const precommits = certified ?? this.#tally.votes(h, round, 'precommit').filter((v) => equalBytes(v.blockHash, hash));
    const distribution = computeDistribution(
      { height: h, round, timestamp: this.#now(), proposer: block.proposer, voters: precommits.map((v) => v.validatorId) },
      set,
      this.#o.rewardPolicy ?? DEFAULT_REWARD_POLICY,
    );
    await Promise.all([
      this.#o.storage.markFinalized(h, round),
      this.#o.storage.recordReward(distribution),
      this.#o.storage.logAudit({ type: 'RoundCompleted', height: h, round, blockHash: hash, durationMs: Math.max(0, this.#now() - this.#roundStartedAt) }),
    ]);
    // The block's validator-set changes, in effect at h + 2, before the finalize checkpoint (a
    // restart before it applies them again: idempotent); then the set of h + 2, fixed from now.
    if (block.txs !== undefined) {
      const { added, removed } = await this.#o.storage.applyValidatorTxs(h, block.txs);
      if (added.length + removed.length > 0) this.#emit({ type: 'validators-changed', decidedAt: h, effectiveAt: h + SET_CHANGE_DELAY, added, removed });
      await this.#loadRegistered();
    }
    const afterNext = await this.#readSet(h + SET_CHANGE_DELAY);
    this.#phase = 'finalize';
    await this.#checkpoint('commit');
    this.#certificates.remember(h, buildCertificate(block, round, precommits, set, this.#o.chainId));
    const viaCertificate = this.#certificateHash === toHex(hash);
    this.#emit({ type: 'finalized', height: h, round, blockHash: hash, viaCertificate });
    this.#advanceHeight(hash);
    this.#sets.set(h + SET_CHANGE_DELAY, afterNext);
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
    this.#validBlocks.clear();
    for (const h of this.#sets.keys()) if (h < this.#height - SET_CACHE_HEIGHTS) this.#sets.delete(h);
  }

  /** After recovery into the middle of a round: re-release what was signed, or sign what was decided. */
  async #continuePhase(): Promise<void> {
    const ownInRound = (type: VoteType): boolean => this.#recoveredOwn.some((v) => v.voteType === type);
    const roundsTried = this.#round - this.#heightStartRound;
    if (this.#phase === 'propose') {
      if (this.#current().proposerOf(this.#round).validatorId === this.#o.validatorId) await this.#propose();
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
    for (const v of await storedVotesOf(this.#o.storage, rec, this.#position())) this.#tally.add(v);
    this.#recoveredOwn = rec.votes.filter((v) => v.validatorId === this.#o.validatorId && v.height === this.#height);
    this.#own = this.#recoveredOwn.map((vote) => encodeMessage({ type: 'vote', vote }));
  }

  #resumed(recovered: boolean, votes: number): ResumeInfo {
    const info = { recovered, height: this.#height, round: this.#round, phase: this.#phase, votes };
    if (recovered) this.#emit({ type: 'resumed', height: info.height, round: info.round, phase: info.phase, votes });
    return info;
  }

  /** Where the engine is (what a checkpoint records). */
  #position(): EnginePosition {
    return {
      height: this.#height,
      round: this.#round,
      phase: this.#phase,
      heightStartRound: this.#heightStartRound,
      roundStartedAt: this.#roundStartedAt,
      parentHash: this.#parentHash,
      locked: this.#locked,
      valid: this.#valid,
      intent: this.#intent,
      decision: this.#decision,
    };
  }

  /**
   * Records where the engine is, at every phase change: durably when the checkpoint policy asks
   * for it or `force` is set (CheckpointWriter, engine-storage.ts).
   */
  async #checkpoint(from?: ConsensusPhase, force = false): Promise<void> {
    const state = checkpointOf(this.#position(), this.#proposals.get(this.#round), this.#o.chainId, this.#current(), this.#now());
    await this.#checkpoints.save(state, force);
    const to = this.#phase;
    // The audit log's phases end at commit: finalize is recorded as RoundCompleted.
    if (from !== undefined && from !== to && from !== 'finalize' && to !== 'finalize') this.#audit({ type: 'PhaseChanged', height: this.#height, round: this.#round, from, to });
  }

  // ---- timers, gossip, plumbing ----

  #schedule(step: TimeoutStep, ms: number): void {
    const h = this.#height;
    const r = this.#round;
    this.#tasks.schedule(`${step}:${h}:${r}`, ms, () => this.#enqueue(`timeout ${step}`, () => this.#onTimeout(step, h, r)));
  }

  async #onTimeout(step: TimeoutStep, height: number, round: number): Promise<void> {
    if (height !== this.#height || round !== this.#round) return;
    if (step === 'propose' && this.#phase === 'propose') await this.#enterVotePhase('prevote', null);
    else if (step === 'prevote' && this.#phase === 'prevote') await this.#enterVotePhase('precommit', null);
    else if (step === 'precommit' && (this.#phase === 'prevote' || this.#phase === 'precommit')) await this.#startRound(round + 1);
    await this.#evaluate();
  }

  #onGossipTick(): void {
    if (this.#tasks.stopped) return;
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
    this.#tasks.enqueue(where, task);
  }

  #track(work: Promise<void>): void {
    this.#tasks.track(work);
  }

  #audit(event: ConsensusAuditEvent): void {
    this.#track(this.#o.storage.logAudit(event));
  }

  #fail(where: string, error: unknown): void {
    if (this.#tasks.stopped && isStoreError(error, 'CLOSED')) return;
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
