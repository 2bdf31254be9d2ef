/**
 * The sign guard's interface (D8, docs/durability.md; semantics in docs/stores.md): what every
 * backend's guard offers, and the identity it signs with. The guard over the log implements it
 * in `sign-guard.ts`.
 */
import type { SignStep, SignWatermark } from '../model/sign.ts';
import type { SignedProposal, UnsignedProposal, UnsignedVote, ValidatorVote } from '../model/vote.ts';

/** The node's signing identity. */
export interface SignIdentity {
  /** 32-byte ed25519 private key (seed). */
  readonly privateKey: Uint8Array;
  /** 32-byte public key; derived when absent, INVALID_ARGUMENT when it does not match. */
  readonly publicKey?: Uint8Array;
  /** The node's validator id: the only id it signs for. */
  readonly validatorId: string;
}

/**
 * Whether the identity's key is new. `existing-key` (the default) means it may have signed
 * before, elsewhere: a log without its watermark then needs `signer.allowFreshState` or an
 * imported watermark, or the open fails with FRESH_SIGN_STATE.
 */
export type SignState = 'new-key' | 'existing-key';

/**
 * The only place the node's key signs a vote or a proposal: it keeps a durable watermark (the
 * last signed height, round and step) and never signs twice for one of them with other data.
 */
export interface SignGuard {
  /** The node's public key, or undefined without an identity. */
  readonly publicKey: Uint8Array | undefined;
  /** The node key's watermark, or undefined if none is recorded. */
  watermark(): SignWatermark | undefined;
  /**
   * Signs the node's own vote if the watermark allows it, after persisting it.
   * @throws INVALID_ARGUMENT, CONFLICT (regression or conflicting request), CORRUPTION, CLOSED,
   *   IO_FAILED, DISK_FULL.
   */
  signVote(vote: UnsignedVote): Promise<ValidatorVote>;
  /** Signs the node's own proposal under the same rules (step `propose`). */
  signProposal(proposal: UnsignedProposal): Promise<SignedProposal>;
  /**
   * Records a watermark carried over from the key's previous home, so that nothing at or below
   * it is ever signed here.
   * @returns the watermark in force afterwards.
   */
  importWatermark(watermark: SignWatermark): Promise<SignWatermark>;
}

export type { SignStep, SignWatermark };
