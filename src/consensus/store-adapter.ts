/**
 * The storage port over the real stores (`openStore`): votes, sign guard, round state,
 * recovery and the validator registry directly; the audit log, evidence store and reward
 * history through `AccountabilitySinks`, which the host wires to those stores
 * (`sinksFromStores(store, ...)`). An equivocating vote's evidence and audit entry are already
 * in its own batch (D3); the slash goes through a block: `applyValidatorTxs` records it in the
 * registry, in effect two heights after its block, with a reason that marks it as decided
 * through a block (`BLOCK_DECIDED_REASON`); `validatorsAt` counts only such changes, so every
 * node derives the same set at every height (docs/devnet.md, "Validator-set changes"). A sink
 * that is not given is a no-op, and `missingSinks` says which ones are missing, so a devnet
 * can print it instead of pretending.
 *
 * It must never swallow a storage error: every call resolves only when the store's write did.
 */
import type { ConsensusStore } from '../store.ts';
import { SerialQueue } from '../stores/context.ts';
import { voteSignBytes } from '../codec/vote-sign.ts';
import type { RoundState } from '../model/round.ts';
import type { SignedProposal, UnsignedProposal, UnsignedVote, ValidatorVote } from '../model/vote.ts';
import { sha256 } from '@noble/hashes/sha2.js';
import { compareBytes, toHex } from '../codec/bytes.ts';
import { ConsensusStoreError } from '../errors.ts';
import { checkSafeUint } from '../model/check.ts';
import { MAX_HISTORY_LIMIT, type ValidatorChange } from '../stores/validator-types.ts';
import { bondStake, SET_CHANGE_DELAY, txValidator } from './block.ts';
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
import type { ConsensusValidator, ValidatorTx } from './types.ts';

/** Where the accountability records go: the audit log, evidence store and reward history, where wired. */
export interface AccountabilitySinks {
  /** Records self-proving evidence of an equivocation (ByzantineEvidenceStore + its audit entry). */
  readonly recordEvidence?: (report: EquivocationReport, evidenceId: string) => Promise<void>;
  /** Records self-proving evidence of a proposal equivocation (ByzantineEvidenceStore + its audit entry). */
  readonly recordProposalEvidence?: (report: ProposalEquivocationReport) => Promise<void>;
  /** Appends a consensus event to the audit log. */
  readonly logAudit?: (event: ConsensusAuditEvent) => Promise<void>;
  /** Records a reward distribution (RewardHistory), at most once per height. */
  readonly recordReward?: (distribution: RewardDistribution) => Promise<void>;
  /** Records evidence carried by a finalized block, as verified by a quorum (`verifiedByQuorum: true`). */
  readonly recordCommittedEvidence?: (report: EquivocationReport, evidenceId: string) => Promise<void>;
}

/**
 * How a registry change decided through a block begins its reason: `decided in block <H>: `.
 * Only such changes weigh in the consensus set (`validatorsAt`); a slash an earlier version
 * recorded at its own detection height does not, as nodes recorded it at different heights.
 */
export const BLOCK_DECIDED_REASON = 'decided in block ';

/** True when a registry change was decided through a block. */
export function decidedThroughBlock(change: ValidatorChange): boolean {
  return change.reason?.startsWith(BLOCK_DECIDED_REASON) === true;
}

/**
 * A validator as the consensus set sees it at `height`, from its registry history (in (height,
 * LSN) order): its registration, then only the changes decided through blocks. Undefined when it
 * was not registered by then.
 */
export function consensusStanding(history: readonly ValidatorChange[], height: number): { stake: bigint; active: boolean } | undefined {
  let standing: { stake: bigint; active: boolean } | undefined;
  for (const c of history) {
    if (c.height > height) break;
    if (c.kind === 'register') standing = { stake: c.after.stake, active: c.after.status === 'active' };
    else if (standing !== undefined && decidedThroughBlock(c)) {
      if (c.kind === 'stake') standing = { ...standing, stake: c.after.stake };
      else if (c.kind === 'status') standing = { ...standing, active: c.after.status === 'active' };
      else {
        const left = standing.stake - (c.slash?.amount ?? 0n);
        standing = { stake: left > 0n ? left : 0n, active: c.after.status === 'active' };
      }
    }
  }
  return standing;
}

/** The slash for equivocation: 5% of the stake, and the validator tombstoned (CometBFT's double-sign rule). */
export const EQUIVOCATION_SLASH = { numerator: 5n, denominator: 100n } as const;

/**
 * A stable id for one equivocation: hex SHA-256 of the two votes' sign bytes, in byte order, so
 * every node names the same offense the same way.
 */
export function equivocationId(report: EquivocationReport, chainId: string): string {
  const a = voteSignBytes(report.first, chainId);
  const b = voteSignBytes(report.second, chainId);
  const [x, y] = compareBytes(a, b) <= 0 ? [a, b] : [b, a];
  const both = new Uint8Array(x.length + y.length);
  both.set(x);
  both.set(y, x.length);
  return toHex(sha256(both));
}

/** The port over an open `ConsensusStore`. */
export class StoreStoragePort implements ConsensusStoragePort {
  readonly #store: ConsensusStore;
  readonly #chainId: string;
  readonly #sinks: AccountabilitySinks;
  /** Blocks' slashes are applied one at a time (each sees the slash of the one before). */
  readonly #slashes = new SerialQueue();
  /** Registry histories by validator (`#historyOf`). */
  readonly #histories = new Map<string, readonly ValidatorChange[]>();

  /**
   * @param store an open store whose sign guard has the node's identity.
   * @param chainId the chain id the store was opened with.
   * @param sinks the accountability stores, where wired.
   */
  constructor(store: ConsensusStore, chainId: string, sinks: AccountabilitySinks = {}) {
    this.#store = store;
    this.#chainId = chainId;
    this.#sinks = sinks;
  }

  /** Names of the sinks that are not wired (their records are not kept). */
  get missingSinks(): readonly string[] {
    return (['recordEvidence', 'recordProposalEvidence', 'logAudit', 'recordReward'] as const).filter((k) => this.#sinks[k] === undefined);
  }

  async recover(): Promise<RecoveredState> {
    const rec = await this.#store.recovery.recover();
    if (!rec.integrity.ok) throw new Error(`recovery integrity check failed: ${rec.integrity.problems.join('; ')}`);
    const votes = rec.votes.map((e) => e.vote);
    return rec.roundState === undefined ? { votes } : { roundState: rec.roundState.state, votes };
  }

  async appendVote(vote: ValidatorVote): Promise<VoteAppendResult> {
    const r = await this.#store.votes.appendVote(vote);
    return { outcome: r.outcome, conflictsWith: r.conflictsWith.map((e) => e.vote) };
  }

  signVote(vote: UnsignedVote): Promise<ValidatorVote> {
    return this.#store.signGuard.signVote(vote);
  }

  signProposal(proposal: UnsignedProposal): Promise<SignedProposal> {
    return this.#store.signGuard.signProposal(proposal);
  }

  async saveRoundState(state: RoundState): Promise<void> {
    await this.#store.rounds.saveRoundState(state);
  }

  shouldCheckpoint(state: RoundState): boolean {
    return this.#store.rounds.shouldCheckpoint(state);
  }

  async roundStateAt(height: number): Promise<RoundState | undefined> {
    return (await this.#store.rounds.getRoundStateAt(height))?.state;
  }

  async votesForRound(round: number): Promise<readonly ValidatorVote[]> {
    return (await this.#store.votes.getVotesForRound(round)).map((e) => e.vote);
  }

  async markFinalized(height: number, round: number): Promise<void> {
    await this.#store.votes.markFinalized(height, round);
  }

  /**
   * Evidence (through the sink); no slash: the slash goes through a block
   * (`applyValidatorTxs`), so that every node applies it at the same height.
   */
  async recordEquivocation(report: EquivocationReport): Promise<void> {
    await this.#sinks.recordEvidence?.(report, equivocationId(report, this.#chainId));
  }

  async validatorsAt(height: number): Promise<readonly ConsensusValidator[]> {
    checkSafeUint('height', height);
    const snapshot = await this.#store.validators.getValidatorsAtHeight(height);
    const out: ConsensusValidator[] = [];
    for (const v of snapshot.validators) {
      const standing = consensusStanding(await this.#historyOf(v.validatorId), height);
      if (standing !== undefined && standing.active && standing.stake > 0n) out.push({ validatorId: v.validatorId, publicKey: v.publicKey, stake: standing.stake });
    }
    return out;
  }

  /**
   * The transactions of the block finalized at `height`, each in effect at `height + 2`: a
   * slash takes 5% and tombstones the validator, once (a validator the consensus set no longer
   * holds, or whose slash for this evidence is recorded, is skipped), its evidence recorded as
   * verified by a quorum; a bond registers the validator from there (skipped when it is
   * registered with that key already); an unbond makes it `inactive` there (skipped when it is
   * out of the set already). The transactions' signatures were checked when the block was
   * proposed (engine.ts).
   * @throws NOT_FOUND for a slash or unbond of a validator it does not know; CONFLICT for a bond
   *   of an id registered with another key.
   */
  applyValidatorTxs(height: number, txs: readonly ValidatorTx[]): Promise<SetChanges> {
    try {
      checkSafeUint('height', height);
      if (!Array.isArray(txs)) throw new ConsensusStoreError('INVALID_ARGUMENT', 'txs must be a list of validator-set transactions');
    } catch (error) {
      return Promise.reject(error);
    }
    const list: readonly ValidatorTx[] = txs;
    return this.#slashes.run(async () => {
      const added: string[] = [];
      const removed: string[] = [];
      const effective = height + SET_CHANGE_DELAY;
      for (const tx of list) {
        const validatorId = txValidator(tx);
        const history = await this.#historyOf(validatorId);
        if (tx.type === 'bond') {
          const known = history.find((c) => c.kind === 'register');
          if (known !== undefined && toHex(known.after.publicKey) === toHex(tx.publicKey)) continue;
          if (known !== undefined) throw new ConsensusStoreError('CONFLICT', `bond in block ${height}: ${validatorId} is registered with another key`);
          this.#histories.delete(validatorId);
          await this.#store.validators.registerValidator({ validatorId, publicKey: tx.publicKey, stake: bondStake(tx.stake) ?? 0n }, effective);
          added.push(validatorId);
          continue;
        }
        if (history.length === 0) throw new ConsensusStoreError('NOT_FOUND', `${tx.type} in block ${height}: ${validatorId} is not registered`);
        if (tx.type === 'unbond') {
          if (consensusStanding(history, Number.MAX_SAFE_INTEGER)?.active !== true) continue;
          this.#histories.delete(validatorId);
          await this.#store.validators.updateStatus(validatorId, 'inactive', effective, `${BLOCK_DECIDED_REASON}${height}: unbond`);
          removed.push(validatorId);
          continue;
        }
        const report: EquivocationReport = { validatorId, first: tx.evidence.voteA, second: tx.evidence.voteB, detectedAtHeight: height };
        const evidenceId = equivocationId(report, this.#chainId);
        await this.#sinks.recordCommittedEvidence?.(report, evidenceId);
        if (history.some((c) => decidedThroughBlock(c) && c.slash?.evidenceId === evidenceId)) continue;
        if (consensusStanding(history, Number.MAX_SAFE_INTEGER)?.active !== true) continue;
        this.#histories.delete(validatorId);
        await this.#store.validators.recordSlash({
          validatorId,
          height: effective,
          fraction: EQUIVOCATION_SLASH,
          reason: `${BLOCK_DECIDED_REASON}${height}: equivocation, two ${report.second.voteType}s in round ${report.second.round}`,
          evidenceId,
          status: 'tombstoned',
        });
        removed.push(validatorId);
      }
      return { added, removed };
    });
  }

  async registeredValidators(): Promise<readonly RegisteredValidator[]> {
    const all = await this.#store.validators.getValidatorsAtHeight(Number.MAX_SAFE_INTEGER);
    return all.validators.map((v) => ({ validatorId: v.validatorId, publicKey: v.publicKey }));
  }

  /** A validator's whole registry history, cached until this port changes it (the port is the registry's only writer while the engine runs). */
  async #historyOf(validatorId: string): Promise<readonly ValidatorChange[]> {
    const cached = this.#histories.get(validatorId);
    if (cached !== undefined) return cached;
    const page = await this.#store.validators.getValidatorHistory(validatorId, { limit: MAX_HISTORY_LIMIT }).catch((error: unknown) => {
      if (error instanceof ConsensusStoreError && error.code === 'NOT_FOUND') return { items: [], truncated: false };
      throw error;
    });
    this.#histories.set(validatorId, page.items);
    return page.items;
  }

  async recordProposalEquivocation(report: ProposalEquivocationReport): Promise<void> {
    await this.#sinks.recordProposalEvidence?.(report);
  }

  async logAudit(event: ConsensusAuditEvent): Promise<void> {
    await this.#sinks.logAudit?.(event);
  }

  async recordReward(distribution: RewardDistribution): Promise<void> {
    await this.#sinks.recordReward?.(distribution);
  }
}
