/**
 * A store compacted on disk for the tests of the tools and backups on a compacted directory
 * (test/cli/compacted-dir.test.ts, test/stores/backup-cold.test.ts): a chain of blocks (votes of
 * four registered validators, an equivocation now and then, audit events, round checkpoints,
 * reward distributions, finalization) written with a small hot window and small segments and
 * compacted as it goes, so that the cold tier holds most of it and the log's first segments are
 * released; and the answers of the queries that reach both tiers.
 */
import { openStore, type ConsensusStore, type OpenStoreOptions } from '../../src/store.ts';
import { AUDIT_CHAIN, signedVote, validatorKey } from './audit-test-log.ts';
import { AUDIT_KEY } from './store-workload.ts';

export const VALIDATOR_IDS = ['val-0', 'val-1', 'val-2', 'val-3'];
export const T0 = 1_700_000_000_000;

/** The options of a compacted store in `dir` (a fixed clock: answers of two stores compare). */
export function compactedOptions(dir: string, extra: Partial<OpenStoreOptions> = {}): OpenStoreOptions {
  return {
    dir,
    chainId: AUDIT_CHAIN,
    audit: { nodeKey: AUDIT_KEY },
    now: () => T0,
    log: { segmentSize: 8 * 1024 },
    images: { everyRecords: 0, onClose: true },
    snapshots: { interval: 0 },
    retention: { hotHeights: 5, compactEvery: 1_000_000 },
    ...extra,
  };
}

/** Writes `blocks` heights into a new store in `dir`, compacting every `every` heights and at the end (`every` 0: never); the store stays open. */
export async function buildCompacted(dir: string, blocks: number, every = 10, extra: Partial<OpenStoreOptions> = {}): Promise<ConsensusStore> {
  const store = await openStore(compactedOptions(dir, extra));
  for (let v = 0; v < VALIDATOR_IDS.length; v++) await store.validators.registerValidator({ validatorId: VALIDATOR_IDS[v] as string, publicKey: validatorKey(v).publicKey, stake: 100n }, 0);
  for (let h = 0; h < blocks; h++) {
    const round = h;
    for (let v = 0; v < VALIDATOR_IDS.length; v++) {
      for (const type of ['prevote', 'precommit'] as const) await store.votes.appendVote(signedVote(v, h, round, type, 1));
    }
    if (h % 13 === 6) await store.votes.appendVote(signedVote(h % 4, h, round, 'precommit', 2));
    if (h % 2 === 0) await store.audit.logEvent({ type: 'RoundStarted', height: h, round, proposer: VALIDATOR_IDS[h % 4] as string });
    await store.rounds.saveRoundState({ height: h, round, phase: 'commit', startedAt: T0 + h, updatedAt: T0 + h });
    const lines = VALIDATOR_IDS.map((id, i) => ({ validatorId: id, reason: 'BlockProposal' as const, amount: BigInt((h * 7 + i) % 11) }));
    const total = lines.reduce((sum, l) => sum + l.amount, 0n);
    await store.rewards.recordDistribution({ height: h, timestamp: T0 + h * 1000, treasuryBefore: 1_000_000n, treasuryAfter: 1_000_000n - total, totalDistributed: total, lines });
    await store.votes.markFinalized(h, round);
    if (every > 0 && h % every === every - 1) await store.compact();
  }
  if (every > 0) await store.compact();
  return store;
}

/** The answers of the queries that reach both tiers (each store, every height of the chain). */
export async function tierAnswers(store: ConsensusStore, blocks: number): Promise<Record<string, unknown>> {
  const heights = Array.from({ length: blocks + 1 }, (_, h) => h);
  const votes: unknown[] = [store.votes.size, await store.votes.getRecentVotes(10_000), await store.votes.getLastFinalized(), await store.votes.getEarliestOpenRound()];
  for (const r of [0, 3, 17, blocks - 1]) votes.push(await store.votes.getVotesForRound(r), await store.votes.countVotesForRound(r));
  for (const id of VALIDATOR_IDS) votes.push(await store.votes.getValidatorVotes(id), await store.votes.queryVotes({ validatorId: id, startHeight: 2, endHeight: 9 }));
  for (const h of heights) votes.push(await store.votes.queryVotes({ startHeight: h, endHeight: h }));
  const audit: unknown[] = [
    await store.audit.queryByHeight({ startHeight: 0, endHeight: blocks }, { limit: 10_000 }),
    await store.audit.queryByDateRange(0, 2_000_000_000_000, { limit: 10_000, descending: true }),
    await store.audit.getEvidence({ limit: 1000 }),
    await store.audit.verifyIntegrity(),
  ];
  const rewards: unknown[] = [await store.rewards.queryDistributions({ limit: 10_000 }), await store.rewards.exportRewards({})];
  for (const id of VALIDATOR_IDS) rewards.push(await store.rewards.getValidatorRewards(id));
  for (const h of heights) rewards.push(await store.rewards.getTotalDistributed(h), await store.rewards.getCumulativeDistributed(h));
  const rounds: unknown[] = [await store.rounds.loadRoundState(), await store.rounds.listRoundStates({ limit: 10_000 })];
  for (const h of heights) rounds.push(await store.rounds.getRoundStateAt(h));
  const evidence: unknown[] = [];
  for (const id of VALIDATOR_IDS) evidence.push(await store.evidence.queryByValidator(id), await store.evidence.getOffenseCount(id));
  const recovered = await store.recovery.recover();
  return {
    votes,
    audit,
    rewards,
    rounds,
    evidence,
    validators: [await store.validators.getValidatorsAtHeight(blocks)],
    recovery: [recovered.roundState, recovered.votes, recovered.integrity],
  };
}
