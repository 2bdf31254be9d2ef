/**
 * The reference BFT engine's data: blocks, wire messages, validators as consensus sees them,
 * and the events the engine reports. Plain data only: no behaviour and no I/O here.
 *
 * Votes and proposals are the package's own `ValidatorVote` and `SignedProposal`, so that what
 * travels on the wire is exactly what the stores persist and the sign bytes cover.
 */
import type { ConsensusPhase } from '../model/round.ts';
import type { SignedProposal, ValidatorVote } from '../model/vote.ts';

/**
 * The two conflicting signed votes of one validator (same round and vote type, another block
 * or height): self-proving evidence of equivocation that every node can verify with the
 * validator's public key.
 */
export interface EquivocationPair {
  readonly voteA: ValidatorVote;
  readonly voteB: ValidatorVote;
}

/**
 * A validator-set transaction carried by a block (docs/devnet.md, "Validator-set changes").
 * Decided in the block at height H, it takes effect at H + 2.
 * - `slash`: the equivocation evidence of `evidence.voteA.validatorId`; the validator is slashed
 *   (5%) and tombstoned: removed from the set. (`BondTx` and `UnbondTx` below.)
 */
export interface SlashTx {
  readonly type: 'slash';
  readonly evidence: EquivocationPair;
}

/**
 * `bond`: a new validator joins the set with `stake` (a decimal string of a positive amount
 * below 2^128). `signature` is the new validator's, over `bondSignBytes` (block.ts): only the key
 * holder bonds it.
 */
export interface BondTx {
  readonly type: 'bond';
  readonly validatorId: string;
  /** 32-byte ed25519 public key. */
  readonly publicKey: Uint8Array;
  readonly stake: string;
  readonly signature: Uint8Array;
}

/** `unbond`: the validator leaves the set (status `inactive`); signed by it over `unbondSignBytes` (block.ts). */
export interface UnbondTx {
  readonly type: 'unbond';
  readonly validatorId: string;
  readonly signature: Uint8Array;
}

/** Every validator-set transaction a block may carry. */
export type ValidatorTx = SlashTx | BondTx | UnbondTx;

/**
 * A block. Its content is fully determined by these fields, so a proposer that restarts
 * rebuilds the identical block (and the sign guard re-releases the identical signature instead
 * of refusing a conflicting one), except for `txs`, which come from the proposer's evidence
 * pool (docs/devnet.md).
 */
export interface Block {
  readonly height: number;
  /** The global round the block was first proposed in. */
  readonly round: number;
  readonly proposer: string;
  /** 32-byte hash of the block at `height - 1` (all zero for height 1). */
  readonly parentHash: Uint8Array;
  /**
   * Validator-set transactions; absent (never empty) in a block that carries none, whose hash
   * is then the version-1 hash of the blocks written before transactions existed (block.ts).
   */
  readonly txs?: readonly ValidatorTx[];
}

/** A proposal on the wire: the signed proposal and the block it names. */
export interface ProposalMessage {
  readonly type: 'proposal';
  readonly proposal: SignedProposal;
  readonly block: Block;
}

/** A vote on the wire. */
export interface VoteMessage {
  readonly type: 'vote';
  readonly vote: ValidatorVote;
}

/** A periodic heartbeat: where the sender is. A peer behind answers nothing; a peer ahead answers with a certificate. */
export interface StatusMessage {
  readonly type: 'status';
  readonly validatorId: string;
  readonly height: number;
  readonly round: number;
}

/** Proof that `block` was decided at its height: 2/3+ of the stake precommitted it in `round`. */
export interface CertificateMessage {
  readonly type: 'certificate';
  readonly round: number;
  readonly block: Block;
  readonly precommits: readonly ValidatorVote[];
}

/** Every message the engines exchange. */
export type ConsensusMessage = ProposalMessage | VoteMessage | StatusMessage | CertificateMessage;

/** A validator as the engine weighs it. */
export interface ConsensusValidator {
  /** The id its votes carry (`ValidatorVote.validatorId`). */
  readonly validatorId: string;
  /** 32-byte ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Voting power; positive. */
  readonly stake: bigint;
}

/** What the engine reports to its host (devnet status, tests). Never awaited: must not throw. */
export type EngineEvent =
  | { readonly type: 'resumed'; readonly height: number; readonly round: number; readonly phase: ConsensusPhase; readonly votes: number }
  | { readonly type: 'round-started'; readonly height: number; readonly round: number; readonly proposer: string }
  | { readonly type: 'finalized'; readonly height: number; readonly round: number; readonly blockHash: Uint8Array; readonly viaCertificate: boolean }
  | { readonly type: 'vote-persisted'; readonly ms: number }
  | { readonly type: 'equivocation'; readonly validatorId: string; readonly round: number; readonly voteType: string; readonly pair?: EquivocationPair }
  | { readonly type: 'validators-changed'; readonly decidedAt: number; readonly effectiveAt: number; readonly added: readonly string[]; readonly removed: readonly string[] }
  | { readonly type: 'stalled'; readonly height: number; readonly round: number; readonly sinceMs: number }
  | { readonly type: 'error'; readonly where: string; readonly error: unknown };
