/**
 * The storage port over the real stores (`openStore`): votes, sign guard, round state,
 * recovery and the validator registry directly; the audit log, evidence store and reward
 * history through `AccountabilitySinks`, which the host wires to those stores
 * (`sinksFromStores(store, ...)`). An equivocating vote's evidence and audit entry are already
 * in its own batch (D3); `recordEquivocation` adds the slash. A sink
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
import type { RewardDistribution } from './rewards.ts';
import type { ConsensusAuditEvent, ConsensusStoragePort, EquivocationReport, RecoveredState, VoteAppendResult } from './storage-port.ts';

/** Where the accountability records go: the audit log, evidence store and reward history, where wired. */
export interface AccountabilitySinks {
  /** Records self-proving evidence of an equivocation (ByzantineEvidenceStore + its audit entry). */
  readonly recordEvidence?: (report: EquivocationReport, evidenceId: string) => Promise<void>;
  /** Appends a consensus event to the audit log. */
  readonly logAudit?: (event: ConsensusAuditEvent) => Promise<void>;
  /** Records a reward distribution (RewardHistory), at most once per height. */
  readonly recordReward?: (distribution: RewardDistribution) => Promise<void>;
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
  /** Equivocations are handled one at a time (each sees the slash of the one before). */
  readonly #slashes = new SerialQueue();

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
    return (['recordEvidence', 'logAudit', 'recordReward'] as const).filter((k) => this.#sinks[k] === undefined);
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
   * Evidence (through the sink) and the slash in the registry: 5% and tombstoned, once per
   * validator (a tombstoned validator is not slashed again, as in CometBFT).
   */
  recordEquivocation(report: EquivocationReport): Promise<void> {
    return this.#slashes.run(() => this.#equivocation(report));
  }

  async #equivocation(report: EquivocationReport): Promise<void> {
    const evidenceId = equivocationId(report, this.#chainId);
    await this.#sinks.recordEvidence?.(report, evidenceId);
    const current = await this.#store.validators.getValidator(report.validatorId);
    if (current === undefined || current.status === 'tombstoned') return;
    await this.#store.validators.recordSlash({
      validatorId: report.validatorId,
      height: Math.max(report.detectedAtHeight, current.updatedAtHeight),
      fraction: EQUIVOCATION_SLASH,
      reason: `equivocation: two ${report.second.voteType}s in round ${report.second.round}`,
      evidenceId,
      status: 'tombstoned',
    });
  }

  async logAudit(event: ConsensusAuditEvent): Promise<void> {
    await this.#sinks.logAudit?.(event);
  }

  async recordReward(distribution: RewardDistribution): Promise<void> {
    await this.#sinks.recordReward?.(distribution);
  }
}
