/**
 * The consensus validator set: stake weights, the 2/3+ and 1/3+ thresholds, and the
 * stake-weighted proposer rotation.
 *
 * One set is the set of one height: the engine reads it, per height, from the registry through
 * its storage port (`ConsensusStoragePort.validatorsAt`): the registered validators that are
 * active at that height, weighed by their stake there, counting only the changes decided
 * through blocks, which take effect two heights after their block (docs/devnet.md,
 * "Validator-set changes"). So every node holds the same set at every height.
 * It must never compare stakes as numbers (bigint only).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ByteWriter } from '../codec/bytes.ts';
import type { ConsensusValidator } from './types.ts';

/** An immutable validator set with stake arithmetic in bigint. */
export class ValidatorSet {
  /** The validators, in `validatorId` order. */
  readonly validators: readonly ConsensusValidator[];
  /** Sum of every stake. */
  readonly totalStake: bigint;
  readonly #byId: ReadonlyMap<string, ConsensusValidator>;
  readonly #seed: Uint8Array;
  #lastProposer: { round: number; validatorId: string } | undefined;

  /**
   * @param validators at least one, unique ids, positive stakes.
   * @param chainId mixed into the proposer rotation.
   * @throws RangeError on an empty set, a duplicate id or a non-positive stake.
   */
  constructor(validators: readonly ConsensusValidator[], chainId: string) {
    if (validators.length === 0) throw new RangeError('a validator set needs at least one validator');
    const sorted = [...validators].sort((a, b) => (a.validatorId < b.validatorId ? -1 : a.validatorId > b.validatorId ? 1 : 0));
    const byId = new Map<string, ConsensusValidator>();
    let total = 0n;
    for (const v of sorted) {
      if (byId.has(v.validatorId)) throw new RangeError(`duplicate validator id ${v.validatorId}`);
      if (v.stake <= 0n) throw new RangeError(`validator ${v.validatorId} has a non-positive stake`);
      byId.set(v.validatorId, v);
      total += v.stake;
    }
    this.validators = sorted;
    this.totalStake = total;
    this.#byId = byId;
    this.#seed = new TextEncoder().encode(`CSTORE-PROPOSER-V1\0${chainId}`);
  }

  /** The validator with this id, or undefined. */
  get(validatorId: string): ConsensusValidator | undefined {
    return this.#byId.get(validatorId);
  }

  /** Stake of `validatorId` (0n when unknown). */
  stakeOf(validatorId: string): bigint {
    return this.#byId.get(validatorId)?.stake ?? 0n;
  }

  /** True when `stake` is more than two thirds of the total (the BFT quorum). */
  isQuorum(stake: bigint): boolean {
    return stake * 3n > this.totalStake * 2n;
  }

  /** True when `stake` is more than one third of the total (at least one honest validator). */
  isOneThirdPlus(stake: bigint): boolean {
    return stake * 3n > this.totalStake;
  }

  /**
   * The proposer of a global round: a stake-weighted draw, SHA-256(chain seed, round) modulo
   * the total stake, landing in a validator's stake interval (validators in id order). Every
   * node computes the same proposer; over many rounds each validator proposes in proportion
   * to its stake.
   */
  proposerOf(round: number): ConsensusValidator {
    const cached = this.#lastProposer;
    if (cached !== undefined && cached.round === round) return this.#byId.get(cached.validatorId) as ConsensusValidator;
    const digest = sha256(new ByteWriter(this.#seed.length + 4).bytes(this.#seed).u32(round).finish());
    let draw = 0n;
    for (let i = 0; i < 16; i++) draw = (draw << 8n) | BigInt(digest[i] as number);
    let point = draw % this.totalStake;
    let chosen = this.validators[this.validators.length - 1] as ConsensusValidator;
    for (const v of this.validators) {
      if (point < v.stake) {
        chosen = v;
        break;
      }
      point -= v.stake;
    }
    this.#lastProposer = { round, validatorId: chosen.validatorId };
    return chosen;
  }
}
