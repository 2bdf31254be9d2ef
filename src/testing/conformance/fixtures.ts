/**
 * Fixtures of the conformance suites: a chain id, deterministic validator keys, a key book that
 * answers `publicKeyAt`, and votes and proposals signed with those keys. For tests only: the keys
 * are derived from the validator ids and protect nothing.
 */
import { proposalSignBytes, publicKeyOf, signBytes, signVote } from '../../codec/vote-sign.ts';
import type { SignedProposal, UnsignedProposal, UnsignedVote, ValidatorVote, VoteType } from '../../model/vote.ts';

/** Chain id of the fixtures. */
export const TEST_CHAIN_ID = 'evidence-test-chain';

/** A deterministic 32-byte private key for a validator id. */
export function privateKeyFor(validatorId: string): Uint8Array {
  const key = new Uint8Array(32);
  const bytes = new TextEncoder().encode(validatorId);
  for (let i = 0; i < 32; i++) key[i] = ((bytes[i % bytes.length] as number) * 31 + i * 7 + bytes.length) & 0xff;
  return key;
}

/**
 * Which validator has which key from which height. `val-1`..`val-4` are known from height 0,
 * `val-late` from height 100; `val-unknown` has a private key but is never registered.
 */
export class KeyBook {
  readonly #entries = new Map<string, { fromHeight: number; publicKey: Uint8Array }>();

  constructor() {
    for (const id of ['val-1', 'val-2', 'val-3', 'val-4']) this.register(id, 0);
    this.register('val-late', 100);
  }

  /** Makes `validatorId`'s fixture key known from `fromHeight` on. */
  register(validatorId: string, fromHeight: number): void {
    this.#entries.set(validatorId, { fromHeight, publicKey: publicKeyOf(privateKeyFor(validatorId)) });
  }

  /** The `publicKeyAt` a store is given. */
  readonly publicKeyAt = (validatorId: string, height: number): Uint8Array | undefined => {
    const e = this.#entries.get(validatorId);
    return e !== undefined && height >= e.fromHeight ? e.publicKey : undefined;
  };
}

/** A vote signed with the validator's fixture key (or `signer`'s, to forge one). */
export function signedVote(
  validatorId: string,
  fields: { height: number; round: number; voteType?: VoteType; hash: number | null; timestamp?: number },
  options: { signer?: string; chainId?: string } = {},
): ValidatorVote {
  const vote: UnsignedVote = {
    validatorId,
    height: fields.height,
    round: fields.round,
    voteType: fields.voteType ?? 'prevote',
    blockHash: fields.hash === null ? null : new Uint8Array(32).fill(fields.hash),
    timestamp: fields.timestamp ?? 1_700_000_000_000,
  };
  return signVote(vote, privateKeyFor(options.signer ?? validatorId), options.chainId ?? TEST_CHAIN_ID);
}

/** A proposal signed with the validator's fixture key. */
export function signedProposal(validatorId: string, fields: { height: number; round: number; hash: number }): SignedProposal {
  const p: UnsignedProposal = {
    validatorId,
    height: fields.height,
    round: fields.round,
    blockHash: new Uint8Array(32).fill(fields.hash),
    polRound: null,
    timestamp: 1_700_000_000_000,
  };
  return { ...p, signature: signBytes(proposalSignBytes(p, TEST_CHAIN_ID), privateKeyFor(validatorId)) };
}
