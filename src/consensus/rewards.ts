/**
 * The block reward: how much each finalized height pays, and to whom (proposer, the validators
 * whose precommits decided it, every validator by stake). Exact bigint arithmetic: the lines
 * always sum to the block reward, and the treasury before and after are a function of the
 * height alone, so every node records the same treasury trajectory.
 *
 * It must never use a floating-point number for an amount.
 */
import type { ValidatorSet } from './validator-set.ts';

/** Why a reward line was paid (the reward history's reasons). */
export type RewardReason = 'BlockProposal' | 'SuccessfulVote' | 'ValidatorStaking';

/** One payment. */
export interface RewardLine {
  readonly validatorId: string;
  readonly reason: RewardReason;
  readonly amount: bigint;
}

/** One height's distribution, as the engine hands it to storage. */
export interface RewardDistribution {
  readonly height: number;
  readonly round: number;
  /** ms since the epoch. */
  readonly timestamp: number;
  readonly treasuryBefore: bigint;
  readonly treasuryAfter: bigint;
  readonly totalDistributed: bigint;
  readonly lines: readonly RewardLine[];
}

/** The reward policy: treasury at genesis and the per-block split (basis points of 10,000). */
export interface RewardPolicy {
  readonly genesisTreasury: bigint;
  readonly perBlock: bigint;
  readonly proposerBps: bigint;
  readonly votersBps: bigint;
}

/** 10^24 units in the treasury; 10^6 per block: 20% proposer, 50% voters, 30% staking. */
export const DEFAULT_REWARD_POLICY: RewardPolicy = {
  genesisTreasury: 10n ** 24n,
  perBlock: 1_000_000n,
  proposerBps: 2_000n,
  votersBps: 5_000n,
};

/** Splits `amount` over `ids` by stake, rounding down; returns the lines and what rounding left over. */
function byStake(amount: bigint, ids: readonly string[], set: ValidatorSet, reason: RewardReason): { lines: RewardLine[]; left: bigint } {
  let weight = 0n;
  for (const id of ids) weight += set.stakeOf(id);
  const lines: RewardLine[] = [];
  let paid = 0n;
  if (weight > 0n) {
    for (const id of ids) {
      const share = (amount * set.stakeOf(id)) / weight;
      if (share > 0n) lines.push({ validatorId: id, reason, amount: share });
      paid += share;
    }
  }
  return { lines, left: amount - paid };
}

/**
 * The distribution of `height` (>= 1): the proposer's share plus every rounding remainder to
 * the proposer, the voters' share over `voters` by stake, the staking share over the whole set
 * by stake. `treasuryBefore = genesis - (height - 1) * perBlock`.
 * @throws RangeError when the treasury cannot pay the block.
 */
export function computeDistribution(
  input: { height: number; round: number; timestamp: number; proposer: string; voters: readonly string[] },
  set: ValidatorSet,
  policy: RewardPolicy = DEFAULT_REWARD_POLICY,
): RewardDistribution {
  const treasuryBefore = policy.genesisTreasury - BigInt(input.height - 1) * policy.perBlock;
  if (treasuryBefore < policy.perBlock) throw new RangeError(`the treasury cannot pay height ${input.height}`);
  const proposerShare = (policy.perBlock * policy.proposerBps) / 10_000n;
  const votersShare = (policy.perBlock * policy.votersBps) / 10_000n;
  const stakingShare = policy.perBlock - proposerShare - votersShare;
  const voters = byStake(votersShare, [...new Set(input.voters)].sort(), set, 'SuccessfulVote');
  const staking = byStake(stakingShare, set.validators.map((v) => v.validatorId), set, 'ValidatorStaking');
  const proposerAmount = proposerShare + voters.left + staking.left;
  const lines = [{ validatorId: input.proposer, reason: 'BlockProposal' as const, amount: proposerAmount }, ...voters.lines, ...staking.lines];
  return {
    height: input.height,
    round: input.round,
    timestamp: input.timestamp,
    treasuryBefore,
    treasuryAfter: treasuryBefore - policy.perBlock,
    totalDistributed: policy.perBlock,
    lines,
  };
}
