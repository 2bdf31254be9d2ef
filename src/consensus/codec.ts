/**
 * Wire encoding of consensus messages (msgpackr) and the strict decoding of untrusted bytes:
 * every field is checked (types, ranges, byte lengths, counts) before a message reaches the
 * engine. Signatures are not checked here (the engine does that against the validator set).
 *
 * The wire bytes are never signed or hashed: what is signed is the canonical sign bytes of
 * codec/vote-sign.ts, recomputed from the decoded fields.
 */
import { Packr } from 'msgpackr';
import { BLOCK_HASH_BYTES, checkUnsignedProposal, checkValidatorId, checkVote, ED25519_KEY_BYTES, SIGNATURE_BYTES } from '../model/vote.ts';
import { checkBytes, checkObject, checkSafeUint, checkU32 } from '../model/check.ts';
import type { ValidatorVote } from '../model/vote.ts';
import { ConsensusStoreError } from '../errors.ts';
import { bondStake, MAX_BLOCK_TXS } from './block.ts';
import type { Block, ConsensusMessage, ValidatorTx } from './types.ts';

/** Largest encoded message accepted (a certificate of a large set is the biggest). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** Most precommits a certificate may carry. */
export const MAX_CERTIFICATE_VOTES = 10_000;

const packr = new Packr({ useRecords: false, moreTypes: false });

/** Encodes a message for the wire. */
export function encodeMessage(message: ConsensusMessage): Uint8Array {
  return packr.pack(message);
}

/**
 * Decodes and checks a message from the wire.
 * @throws ConsensusStoreError INVALID_ARGUMENT (or any decoding error) on malformed bytes; the
 *   caller drops the message.
 */
export function decodeMessage(bytes: Uint8Array): ConsensusMessage {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_MESSAGE_BYTES) throw new RangeError('message too large or not bytes');
  const raw = checkObject('message', packr.unpack(bytes));
  switch (raw.type) {
    case 'vote':
      return { type: 'vote', vote: plainVote(checkVote('vote', raw.vote)) };
    case 'proposal': {
      const p = checkObject('proposal', raw.proposal);
      const unsigned = checkUnsignedProposal('proposal', p);
      const signature = new Uint8Array(checkBytes('proposal.signature', p.signature, SIGNATURE_BYTES));
      return { type: 'proposal', proposal: { ...unsigned, blockHash: new Uint8Array(unsigned.blockHash), signature }, block: checkBlock('block', raw.block) };
    }
    case 'status':
      return {
        type: 'status',
        validatorId: checkValidatorId('validatorId', raw.validatorId),
        height: checkSafeUint('height', raw.height),
        round: checkU32('round', raw.round),
      };
    case 'certificate': {
      if (!Array.isArray(raw.precommits) || raw.precommits.length > MAX_CERTIFICATE_VOTES) {
        throw new RangeError('certificate precommits must be an array of bounded length');
      }
      return {
        type: 'certificate',
        round: checkU32('round', raw.round),
        block: checkBlock('block', raw.block),
        precommits: raw.precommits.map((v: unknown, i: number) => plainVote(checkVote(`precommits[${i}]`, v))),
      };
    }
    default:
      throw new RangeError(`unknown message type ${String(raw.type)}`);
  }
}

/**
 * Checks a block's fields and returns a private copy. `txs`, when present, must be a non-empty
 * list of at most `MAX_BLOCK_TXS` well-formed transactions (their signatures are checked by
 * the engine against the validator set, block.ts `blockTxsProblem`).
 */
export function checkBlock(name: string, value: unknown): Block {
  const b = checkObject(name, value);
  const block = {
    height: checkSafeUint(`${name}.height`, b.height),
    round: checkU32(`${name}.round`, b.round),
    proposer: checkValidatorId(`${name}.proposer`, b.proposer),
    parentHash: new Uint8Array(checkBytes(`${name}.parentHash`, b.parentHash, BLOCK_HASH_BYTES)),
  };
  if (b.txs === undefined || b.txs === null) return block;
  if (!Array.isArray(b.txs) || b.txs.length === 0 || b.txs.length > MAX_BLOCK_TXS) {
    throw new ConsensusStoreError('INVALID_ARGUMENT', `${name}.txs must be a list of 1 to ${MAX_BLOCK_TXS} transactions`);
  }
  return { ...block, txs: b.txs.map((t: unknown, i: number) => checkTx(`${name}.txs[${i}]`, t)) };
}

/**
 * Checks one validator-set transaction's shape and returns a private copy (signatures and the
 * rules against the set are the engine's: block.ts `blockTxsProblem`).
 * @throws ConsensusStoreError INVALID_ARGUMENT naming the field.
 */
export function checkTx(name: string, value: unknown): ValidatorTx {
  const t = checkObject(name, value);
  if (t.type === 'bond') {
    if (typeof t.stake !== 'string' || bondStake(t.stake) === undefined) {
      throw new ConsensusStoreError('INVALID_ARGUMENT', `${name}.stake must be a positive decimal string below 2^128`);
    }
    return {
      type: 'bond',
      validatorId: checkValidatorId(`${name}.validatorId`, t.validatorId),
      publicKey: new Uint8Array(checkBytes(`${name}.publicKey`, t.publicKey, ED25519_KEY_BYTES)),
      stake: t.stake,
      signature: new Uint8Array(checkBytes(`${name}.signature`, t.signature, SIGNATURE_BYTES)),
    };
  }
  if (t.type === 'unbond') {
    return { type: 'unbond', validatorId: checkValidatorId(`${name}.validatorId`, t.validatorId), signature: new Uint8Array(checkBytes(`${name}.signature`, t.signature, SIGNATURE_BYTES)) };
  }
  if (t.type !== 'slash') throw new ConsensusStoreError('INVALID_ARGUMENT', `${name}.type must be 'slash', 'bond' or 'unbond'`);
  const e = checkObject(`${name}.evidence`, t.evidence);
  return { type: 'slash', evidence: { voteA: plainVote(checkVote(`${name}.evidence.voteA`, e.voteA)), voteB: plainVote(checkVote(`${name}.evidence.voteB`, e.voteB)) } };
}

/** A copy of a decoded vote whose byte fields are plain Uint8Arrays (msgpackr gives Buffers sharing the message's memory). */
function plainVote(v: ValidatorVote): ValidatorVote {
  return { ...v, blockHash: v.blockHash === null ? null : new Uint8Array(v.blockHash), signature: new Uint8Array(v.signature) };
}
