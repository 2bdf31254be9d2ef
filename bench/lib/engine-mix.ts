/**
 * The reference engine's per-block writes (src/consensus/engine.ts, engine-storage.ts,
 * engine-intake.ts, accountability-sinks.ts), rebuilt call for call for one node of a chain of
 * `validators` validators, one round per height, every vote for the proposed block (the happy
 * path). The node is validator 0; its store was opened with that validator as signer.
 *
 * Per height H in round R, in the engine's order (each "wave" is what the engine issues
 * before it waits):
 * - propose: the round-state checkpoint (propose phase, `checkpointOf`), `RoundStarted`; the
 *   node's proposal through the sign guard when it is R's proposer, else `ProposalReceived`
 *   for the proposer's signed proposal;
 * - prevote, precommit: the checkpoint of the phase (the precommit one carries the lock and
 *   valid block), `PhaseChanged`, the node's vote through the sign guard and `appendVote`, the
 *   other validators' votes as `VerifiedVote`s (verified with `verifiedVoteFast`, as the
 *   intake does) and, as each append resolves, one `VoteReceived` per vote;
 * - commit: the commit checkpoint (with the decision), `PhaseChanged` precommit -> commit,
 *   the node's commit vote through the sign guard, the other validators' commit votes (stored,
 *   not audited: the tally ignores commit votes), then together the finalization mark, the
 *   reward distribution (`computeDistribution`: proposer, every precommit's validator, the
 *   whole set by stake) and `RoundCompleted`; then the finalize checkpoint.
 * The audit log forms its commit batches from these calls and signs a head per batch; how
 * many is what the store did, counted afterwards from the disk.
 *
 * Every signature is real ed25519 under the validator's key, over the sign bytes of
 * codec/vote-sign.ts (signed with node:crypto, `signAs`: the same deterministic signature as
 * `signVote`'s @noble path, faster). What this
 * does not write: equivocations, peer events, timeouts and nil votes (a healthy chain), and
 * the `VoteReceived` entries the engine writes a second time for a vote that arrives
 * again after its height was pruned from the tally (src/consensus/tally.ts, `pruneBelow`).
 *
 * Must never: write a record the engine would not write on the happy path, or hand the peer
 * (`MixSink`) anything other than what the store acknowledged.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { proposalSignBytes, publicKeyOf, voteSignBytes } from '../../src/codec/vote-sign.ts';
import { blockHash, GENESIS_PARENT_HASH } from '../../src/consensus/block.ts';
import { checkpointOf, countsOf } from '../../src/consensus/engine-storage.ts';
import type { EnginePosition } from '../../src/consensus/engine-types.ts';
import { computeDistribution } from '../../src/consensus/rewards.ts';
import type { Block, ProposalMessage } from '../../src/consensus/types.ts';
import { ValidatorSet } from '../../src/consensus/validator-set.ts';
import { verifiedVoteFast } from '../../src/consensus/verify.ts';
import type { ConsensusEvent } from '../../src/model/audit.ts';
import type { RewardDistribution } from '../../src/model/reward.ts';
import type { RoundState } from '../../src/model/round.ts';
import type { SignedProposal, UnsignedVote, ValidatorVote, VoteType } from '../../src/model/vote.ts';
import type { ConsensusStore } from '../../src/store.ts';
import type { LogEntry } from '../../src/stores/audit-types.ts';

/** Every validator's stake (equal stakes: the quorum is floor(2n/3) + 1). */
export const MIX_STAKE = 100n;
const BASE_TIME = 1_700_000_000_000;

/** A validator of the mix: id and ed25519 key pair. */
export interface MixValidator {
  readonly validatorId: string;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** The private key as a node:crypto key object, made once (making one per signature costs more than the signature). */
  readonly keyObject: KeyObject;
}

/** ed25519 signature of `message` by `v` (node:crypto: the same deterministic signature as codec/vote-sign.ts's `signBytes`). */
export function signAs(v: MixValidator, message: Uint8Array): Uint8Array {
  const sig = sign(null, message, v.keyObject);
  return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
}

/** What the peer is handed, once the store acknowledged it: the same records. */
export interface MixSink {
  /** A validator registered at height 0 with stake `MIX_STAKE`. */
  registered(validator: MixValidator): void;
  vote(vote: ValidatorVote): void;
  checkpoint(state: RoundState): void;
  /** Audit entries of one of the store's audit commit batches (one signed head each). */
  auditBatch(entries: readonly LogEntry[]): void;
  /** A sign-guard entry: what the node signed (sign bytes and signature). */
  signed(entry: { height: number; round: number; step: 'propose' | VoteType; signBytes: Uint8Array; signature: Uint8Array; publicKey: Uint8Array }): void;
  finalized(height: number, round: number): void;
  reward(distribution: RewardDistribution & { readonly round: number }): void;
  /** Ends one wave: the peer commits what it was handed since the last one as one write. */
  flush(): Promise<void>;
}

/** The validators of a mix: `validator-000`... with keys derived from their index. */
export function mixValidators(count: number): MixValidator[] {
  if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new RangeError(`validators must be an integer 1..10000, got ${String(count)}`);
  return Array.from({ length: count }, (_, i) => {
    const privateKey = sha256(new TextEncoder().encode(`bench-engine-mix-key-${i}`));
    const publicKey = publicKeyOf(privateKey);
    const keyObject = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(privateKey).toString('base64url'), x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
    return { validatorId: `validator-${String(i).padStart(3, '0')}`, privateKey, publicKey, keyObject };
  });
}

/** Writes the engine's per-block mix for one node into an open store, height after height. */
export class EngineMixWriter {
  readonly chainId: string;
  readonly validators: readonly MixValidator[];
  readonly set: ValidatorSet;
  /** The node: validator 0. */
  readonly node: MixValidator;
  /** The fewest validators whose precommits decide a block (floor(2n/3) + 1 with equal stakes). */
  readonly quorum: number;
  readonly #store: ConsensusStore;
  readonly #sink: MixSink | undefined;
  #height = 1;
  #parentHash: Uint8Array = GENESIS_PARENT_HASH;
  /** What was written so far, by kind (for the census check). */
  readonly written = { votes: 0, checkpoints: 0, auditEntries: 0, voteReceived: 0, signGuardEntries: 0, finalized: 0, rewards: 0, rewardLines: 0 };

  /**
   * @param store opened with `signer: { validatorId: validators[0].validatorId, privateKey: validators[0].privateKey }`.
   * @param sink the peer that receives the same records (optional).
   */
  constructor(store: ConsensusStore, chainId: string, validators: readonly MixValidator[], sink?: MixSink) {
    if (validators.length < 1) throw new RangeError('the mix needs at least one validator');
    this.#store = store;
    this.chainId = chainId;
    this.validators = validators;
    this.set = new ValidatorSet(validators.map((v) => ({ validatorId: v.validatorId, publicKey: v.publicKey, stake: MIX_STAKE })), chainId);
    this.node = validators[0] as MixValidator;
    const counts = countsOf(this.set);
    this.quorum = 'quorumSize' in counts ? counts.quorumSize : validators.length;
    this.#sink = sink;
  }

  /** Registers every validator at height 0 (the engine reads its sets from the registry). */
  async registerValidators(): Promise<void> {
    for (const v of this.validators) {
      await this.#store.validators.registerValidator({ validatorId: v.validatorId, publicKey: v.publicKey, stake: MIX_STAKE }, 0);
      this.#sink?.registered(v);
    }
    await this.#sink?.flush();
  }

  /** The next height, every wave awaited in turn. */
  async writeBlock(): Promise<void> {
    const height = this.#height++;
    const round = height - 1;
    const t0 = BASE_TIME + round * 1000;
    const proposer = this.set.proposerOf(round).validatorId;
    const block: Block = { height, round, proposer, parentHash: this.#parentHash };
    const hash = blockHash(block, this.chainId);
    const base: EnginePosition = {
      height,
      round,
      phase: 'propose',
      heightStartRound: round,
      roundStartedAt: t0,
      parentHash: this.#parentHash,
      locked: undefined,
      valid: undefined,
      intent: undefined,
      decision: undefined,
    };

    // propose: checkpoint (no proposal yet), RoundStarted, the proposal (signed here, or received).
    await this.#checkpoint(base, undefined, t0);
    const audits: Promise<LogEntry>[] = [this.#audit({ type: 'RoundStarted', height, round, proposer })];
    const unsigned = { validatorId: proposer, height, round, blockHash: hash, polRound: null, timestamp: t0 + 10 };
    let proposal: SignedProposal;
    if (proposer === this.node.validatorId) {
      proposal = await this.#store.signGuard.signProposal(unsigned);
      this.#signedBySelf('propose', height, round, proposalSignBytes(unsigned, this.chainId), proposal.signature);
    } else {
      const key = this.validators.find((v) => v.validatorId === proposer) as MixValidator;
      proposal = { ...unsigned, signature: signAs(key, proposalSignBytes(unsigned, this.chainId)) };
      audits.push(this.#audit({ type: 'ProposalReceived', height, round, proposer, blockHash: hash, polRound: null, signature: proposal.signature }));
    }
    await this.#endWave(audits);
    const message: ProposalMessage = { type: 'proposal', proposal, block };

    // prevote
    const prevote: EnginePosition = { ...base, phase: 'prevote', intent: hash };
    await this.#votePhase(prevote, message, 'propose', t0 + 100, hash, true);
    // precommit: the polka locks the block and makes it the valid one.
    const precommit: EnginePosition = { ...prevote, phase: 'precommit', locked: { round, hash }, valid: { round, block } };
    await this.#votePhase(precommit, message, 'prevote', t0 + 200, hash, true);

    // commit: the block is decided; every validator's commit vote is stored, none audited.
    const commit: EnginePosition = { ...precommit, phase: 'commit', decision: { round, block } };
    await this.#votePhase(commit, message, 'precommit', t0 + 300, hash, false);
    // The engine decides at the first quorum of precommits: those validators are the reward's voters.
    const voters = this.validators.slice(0, this.quorum).map((v) => v.validatorId);
    const distribution = computeDistribution({ height, round, timestamp: t0 + 400, proposer, voters }, this.set);
    const reward = {
      height: distribution.height,
      round: distribution.round,
      timestamp: distribution.timestamp,
      treasuryBefore: distribution.treasuryBefore,
      treasuryAfter: distribution.treasuryAfter,
      totalDistributed: distribution.totalDistributed,
      lines: distribution.lines,
    };
    const completed = this.#audit({ type: 'RoundCompleted', height, round, blockHash: hash, durationMs: 400 });
    await Promise.all([this.#store.votes.markFinalized(height, round), this.#store.rewards.recordDistribution(reward), completed]);
    this.#sink?.finalized(height, round);
    this.#sink?.reward(reward);
    this.written.finalized++;
    this.written.rewards++;
    this.written.rewardLines += reward.lines.length;
    await this.#endWave([completed]);
    await this.#checkpoint({ ...commit, phase: 'finalize' }, message, t0 + 450);
    await this.#sink?.flush();
    this.#parentHash = hash;
  }

  /** A vote phase: checkpoint, PhaseChanged, the node's vote (sign guard), the others' votes (and their VoteReceived). */
  async #votePhase(p: EnginePosition, message: ProposalMessage, from: 'propose' | 'prevote' | 'precommit', at: number, hash: Uint8Array, audited: boolean): Promise<void> {
    const type: VoteType = p.phase === 'prevote' || p.phase === 'precommit' ? p.phase : 'commit';
    await this.#checkpoint(p, message, at);
    const audits: Promise<LogEntry>[] = [this.#audit({ type: 'PhaseChanged', height: p.height, round: p.round, from, to: type })];
    const unsigned = (validatorId: string, i: number): UnsignedVote => ({ validatorId, height: p.height, round: p.round, voteType: type, blockHash: hash, timestamp: at + 1 + i });
    const others: Promise<void>[] = [];
    for (let i = 1; i < this.validators.length; i++) {
      const v = this.validators[i] as MixValidator;
      const u = unsigned(v.validatorId, i);
      const verified = verifiedVoteFast({ ...u, signature: signAs(v, voteSignBytes(u, this.chainId)) }, v.publicKey, this.chainId);
      if (verified === undefined) throw new Error(`the vote of ${v.validatorId} did not verify`);
      others.push(
        this.#store.votes.appendVote(verified).then((r) => {
          if (r.outcome !== 'stored') throw new Error(`vote of ${v.validatorId} at ${p.height}: ${r.outcome}`);
          this.#sink?.vote(verified);
          this.written.votes++;
          if (audited) {
            audits.push(this.#audit({ type: 'VoteReceived', vote: verified }));
            this.written.voteReceived++;
          }
        }),
      );
    }
    const own = unsigned(this.node.validatorId, 0);
    const mine = await this.#store.signGuard.signVote(own);
    this.#signedBySelf(type, p.height, p.round, voteSignBytes(own, this.chainId), mine.signature);
    const r = await this.#store.votes.appendVote(mine);
    if (r.outcome !== 'stored') throw new Error(`own ${type} at ${p.height}: ${r.outcome}`);
    this.#sink?.vote(mine);
    this.written.votes++;
    await Promise.all(others);
    await this.#endWave(audits);
  }

  /** A checkpoint as the engine's CheckpointWriter saves it (`checkpointOf` plus `isProposer`). */
  async #checkpoint(p: EnginePosition, message: ProposalMessage | undefined, now: number): Promise<void> {
    const state: RoundState = { ...checkpointOf(p, message, this.chainId, this.set, now), isProposer: this.set.proposerOf(p.round).validatorId === this.node.validatorId };
    await this.#store.rounds.saveRoundState(state);
    this.#sink?.checkpoint(state);
    this.written.checkpoints++;
  }

  #audit(event: ConsensusEvent): Promise<LogEntry> {
    this.written.auditEntries++;
    return this.#store.audit.logEvent(event);
  }

  #signedBySelf(step: 'propose' | VoteType, height: number, round: number, bytes: Uint8Array, signature: Uint8Array): void {
    this.#sink?.signed({ height, round, step, signBytes: bytes, signature, publicKey: this.node.publicKey });
    this.written.signGuardEntries++;
  }

  /** Waits for a wave's audit entries; hands the peer each of the store's audit batches among them. */
  async #endWave(audits: Promise<LogEntry>[]): Promise<void> {
    // VoteReceived calls are added as votes resolve: wait until the list stops growing.
    let seen = -1;
    while (seen !== audits.length) {
      seen = audits.length;
      await Promise.all(audits);
    }
    const entries = await Promise.all(audits);
    const byHead = new Map<number, LogEntry[]>();
    for (const e of entries) {
      const head = e.signedHeadId ?? -1;
      byHead.set(head, [...(byHead.get(head) ?? []), e]);
    }
    for (const group of [...byHead.values()].sort((a, b) => (a[0] as LogEntry).sequence - (b[0] as LogEntry).sequence)) {
      this.#sink?.auditBatch(group.sort((a, b) => a.sequence - b.sequence));
    }
    await this.#sink?.flush();
  }
}
