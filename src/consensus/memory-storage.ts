/**
 * An in-memory `ConsensusStoragePort` for engine tests: the same rules as the real stores where
 * the engine depends on them (duplicate and equivocation outcomes of `appendVote`; the sign
 * guard's watermark, identical-request reuse and conflict refusal; forward-only finalization),
 * with state held in a `MemoryStorageState` that outlives one port, so a test can "restart" a
 * node by building a new port (and engine) on the same state. Its registry is the genesis
 * validators the state is built with and the slashes applied through blocks, each in effect
 * from two heights after its block, as over the real registry (store-adapter.ts).
 *
 * It is not durable and must never be used outside tests and simulations.
 */
import { ConsensusStoreError } from '../errors.ts';
import { checkAuditEvent, CONSENSUS_EVENT_TYPES } from '../model/audit.ts';
import { equalBytes } from '../codec/bytes.ts';
import { differOnlyInTimestamp, proposalSignBytes, signBytes, timestampOfSignBytes, voteSignBytes } from '../codec/vote-sign.ts';
import type { RoundState } from '../model/round.ts';
import { SIGN_STEPS } from '../model/sign.ts';
import { SerialQueue } from '../stores/context.ts';
import type { SignedProposal, UnsignedProposal, UnsignedVote, ValidatorVote } from '../model/vote.ts';
import type { SignStep } from '../model/sign.ts';
import { checkSafeUint } from '../model/check.ts';
import { bondProblem, bondStake, pairProblem, SET_CHANGE_DELAY, txValidator, unbondProblem } from './block.ts';
import type { RewardDistribution } from './rewards.ts';
import type {
  ConsensusAuditEvent,
  ConsensusStoragePort,
  EquivocationReport,
  ProposalEquivocationReport,
  RecoveredState,
  RegisteredValidator,
  SetChanges,
  VoteAppendResult,
} from './storage-port.ts';
import type { ConsensusValidator, EquivocationPair, ValidatorTx } from './types.ts';
import { ValidatorSet } from './validator-set.ts';

/** The sign guard's watermark. */
interface Watermark {
  readonly height: number;
  readonly round: number;
  readonly step: number;
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
}

/** Everything a memory port holds; survives the port (a node's "disk"). */
export class MemoryStorageState {
  readonly votes: ValidatorVote[] = [];
  readonly roundStates: RoundState[] = [];
  readonly finalized = new Map<number, number>();
  readonly evidence: EquivocationReport[] = [];
  /** Slashes applied through blocks: `height` is where each takes effect (its block's height + 2). */
  readonly slashes: { validatorId: string; height: number; decidedAt: number }[] = [];
  /** Validators bonded through blocks: `height` is where each joins (its block's height + 2). */
  readonly bonded: { validator: ConsensusValidator; height: number }[] = [];
  /** Validators unbonded through blocks: `height` is where each leaves. */
  readonly unbonded: { validatorId: string; height: number }[] = [];
  /** Evidence carried by finalized blocks (verified by a quorum), with its block's height. */
  readonly committedEvidence: { pair: EquivocationPair; height: number }[] = [];
  readonly audit: ConsensusAuditEvent[] = [];
  /** Proposal equivocations reported (evidence only). */
  readonly proposalEquivocations: ProposalEquivocationReport[] = [];
  readonly rewards = new Map<number, RewardDistribution>();
  /** Every signature the guard released, in order (tests check for conflicts). */
  readonly signed: ValidatorVote[] = [];
  watermark: Watermark | undefined;

  /** @param validators the genesis validators (registered at height 0, active); none by default. */
  constructor(readonly validators: readonly ConsensusValidator[] = []) {}
}

/** Node identity for the memory sign guard. */
export interface MemoryIdentity {
  readonly validatorId: string;
  readonly privateKey: Uint8Array;
}

/** The in-memory port. */
export class MemoryStoragePort implements ConsensusStoragePort {
  /** The state (shared with later ports of the same node). */
  readonly state: MemoryStorageState;
  readonly #identity: MemoryIdentity;
  readonly #chainId: string;
  /** Sign requests run one at a time, like the sign guard's. */
  readonly #guardQueue = new SerialQueue();

  constructor(identity: MemoryIdentity, chainId: string, state: MemoryStorageState = new MemoryStorageState()) {
    this.#identity = identity;
    this.#chainId = chainId;
    this.state = state;
  }

  async recover(): Promise<RecoveredState> {
    const last = this.state.roundStates[this.state.roundStates.length - 1];
    if (last === undefined) return { votes: [] };
    return { roundState: last, votes: this.state.votes.filter((v) => v.round === last.round) };
  }

  async appendVote(vote: ValidatorVote): Promise<VoteAppendResult> {
    await Promise.resolve();
    const same = this.state.votes.filter((v) => v.validatorId === vote.validatorId && v.round === vote.round && v.voteType === vote.voteType);
    if (same.some((v) => v.height === vote.height && equalBytes(v.blockHash, vote.blockHash))) return { outcome: 'duplicate', conflictsWith: [] };
    this.state.votes.push(vote);
    return same.length === 0 ? { outcome: 'stored', conflictsWith: [] } : { outcome: 'equivocation', conflictsWith: same };
  }

  signVote(vote: UnsignedVote): Promise<ValidatorVote> {
    return this.#guard(vote.validatorId, vote.height, vote.round, vote.voteType, voteSignBytes(vote, this.#chainId)).then(({ signature, timestamp }) => {
      const signed = { ...vote, timestamp, signature };
      this.state.signed.push(signed);
      return signed;
    });
  }

  signProposal(proposal: UnsignedProposal): Promise<SignedProposal> {
    return this.#guard(proposal.validatorId, proposal.height, proposal.round, 'propose', proposalSignBytes(proposal, this.#chainId)).then(
      ({ signature, timestamp }) => ({ ...proposal, timestamp, signature }),
    );
  }

  async saveRoundState(state: RoundState): Promise<void> {
    await Promise.resolve();
    const last = this.state.roundStates[this.state.roundStates.length - 1];
    if (last !== undefined && (state.height < last.height || state.round < last.round)) {
      throw new ConsensusStoreError('CONFLICT', `round state regression (${state.height}, ${state.round})`);
    }
    this.state.roundStates.push(state);
  }

  async roundStateAt(height: number): Promise<RoundState | undefined> {
    return this.state.roundStates.filter((s) => s.height === height).pop();
  }

  async votesForRound(round: number): Promise<readonly ValidatorVote[]> {
    return this.state.votes.filter((v) => v.round === round);
  }

  async markFinalized(height: number, round: number): Promise<void> {
    const known = this.state.finalized.get(height);
    if (known !== undefined && known !== round) throw new ConsensusStoreError('CONFLICT', `height ${height} finalized in round ${known}`);
    this.state.finalized.set(height, round);
  }

  async recordEquivocation(report: EquivocationReport): Promise<void> {
    this.state.evidence.push(report);
  }

  async validatorsAt(height: number): Promise<readonly ConsensusValidator[]> {
    checkSafeUint('height', height);
    const gone = (id: string): boolean =>
      this.state.slashes.some((s) => s.validatorId === id && s.height <= height) || this.state.unbonded.some((u) => u.validatorId === id && u.height <= height);
    const joined = this.state.bonded.filter((b) => b.height <= height).map((b) => b.validator);
    return [...this.state.validators, ...joined].filter((v) => !gone(v.validatorId)).sort((a, b) => (a.validatorId < b.validatorId ? -1 : a.validatorId > b.validatorId ? 1 : 0));
  }

  async registeredValidators(): Promise<readonly RegisteredValidator[]> {
    return [...this.state.validators, ...this.state.bonded.map((b) => b.validator)].map((v) => ({ validatorId: v.validatorId, publicKey: v.publicKey }));
  }

  async applyValidatorTxs(height: number, txs: readonly ValidatorTx[]): Promise<SetChanges> {
    checkSafeUint('height', height);
    if (!Array.isArray(txs)) throw new ConsensusStoreError('INVALID_ARGUMENT', 'txs must be a list of validator-set transactions');
    const list: readonly ValidatorTx[] = txs;
    const added: string[] = [];
    const removed: string[] = [];
    const effective = height + SET_CHANGE_DELAY;
    for (const tx of list) {
      const id = txValidator(tx);
      const registered = new Map((await this.registeredValidators()).map((v) => [v.validatorId, v.publicKey]));
      if (tx.type === 'bond') {
        if (this.state.bonded.some((b) => b.validator.validatorId === id)) continue;
        const problem = bondProblem(tx, registered, this.#chainId);
        if (problem !== undefined) throw new ConsensusStoreError('INVALID_ARGUMENT', `bond of ${id} in block ${height}: ${problem}`);
        this.state.bonded.push({ validator: { validatorId: id, publicKey: tx.publicKey, stake: bondStake(tx.stake) as bigint }, height: effective });
        added.push(id);
        continue;
      }
      const all = [...this.state.validators, ...this.state.bonded.map((b) => b.validator)];
      const set = all.length === 0 ? undefined : new ValidatorSet(all, this.#chainId);
      const problem = set === undefined ? `${id} is not registered` : tx.type === 'unbond' ? unbondProblem(tx, set, this.#chainId) : pairProblem(tx.evidence, set, this.#chainId);
      if (problem !== undefined) throw new ConsensusStoreError('INVALID_ARGUMENT', `${tx.type} of ${id} in block ${height}: ${problem}`);
      if (this.state.slashes.some((s) => s.validatorId === id) || this.state.unbonded.some((u) => u.validatorId === id)) continue;
      if (tx.type === 'unbond') this.state.unbonded.push({ validatorId: id, height: effective });
      else {
        this.state.committedEvidence.push({ pair: tx.evidence, height });
        this.state.slashes.push({ validatorId: id, height: effective, decidedAt: height });
      }
      removed.push(id);
    }
    return { added, removed };
  }

  async recordProposalEquivocation(report: ProposalEquivocationReport): Promise<void> {
    this.state.proposalEquivocations.push(report);
  }

  /** Checks the event as the audit log would (INVALID_ARGUMENT), then keeps it. */
  async logAudit(event: ConsensusAuditEvent): Promise<void> {
    this.state.audit.push(checkAuditEvent('event', event, CONSENSUS_EVENT_TYPES) as ConsensusAuditEvent);
  }

  async recordReward(distribution: RewardDistribution): Promise<void> {
    if (!this.state.rewards.has(distribution.height)) this.state.rewards.set(distribution.height, distribution);
  }

  /** The sign guard's rules (stores/sign-guard.ts), serialized. */
  #guard(id: string, height: number, round: number, step: SignStep, bytes: Uint8Array): Promise<{ signature: Uint8Array; timestamp: number }> {
    return this.#guardQueue.run(async () => {
      if (id !== this.#identity.validatorId) throw new ConsensusStoreError('INVALID_ARGUMENT', 'not the node identity');
      const s = SIGN_STEPS.indexOf(step);
      const w = this.state.watermark;
      if (w !== undefined) {
        const regress = height < w.height || round < w.round || (height === w.height && round === w.round && s < w.step);
        if (regress) throw new ConsensusStoreError('CONFLICT', 'sign guard refused: regression');
        if (height === w.height && round === w.round && s === w.step) {
          if (equalBytes(bytes, w.bytes) || differOnlyInTimestamp(bytes, w.bytes)) return { signature: w.signature, timestamp: timestampOfSignBytes(w.bytes) };
          throw new ConsensusStoreError('CONFLICT', 'sign guard refused: conflicting data');
        }
      }
      const signature = signBytes(bytes, this.#identity.privateKey);
      this.state.watermark = { height, round, step: s, bytes, signature };
      return { signature, timestamp: timestampOfSignBytes(bytes) };
    });
  }
}
