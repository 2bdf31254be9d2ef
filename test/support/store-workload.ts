/**
 * A random workload over every store of a `ConsensusStore`, and a fixed list of queries covering
 * every public read method of each store, shared by the image tests:
 * - `Op` / `opArb` / `run`: one operation of a random history (plain data, so fast-check can
 *   shrink it); `storeOpArb` adds finalization marks (the vote store's own records);
 * - `SUBJECTS`: each store of an image section (tags 1, 3..8) built fresh on a `World`'s
 *   read-only context, with its queries (reads first, then calls that would write: on a log
 *   that refuses appends they show how the store refuses or what it would do);
 * - `storeReads` / `storeProbes`: the same queries asked of a whole open `ConsensusStore`, the
 *   vote store and the recovery manager included; the probes may write, so they are asked only
 *   of a store whose writes nobody compares against.
 *
 * Test support only: it must never be imported by library code.
 */
import fc from 'fast-check';
import { ConsensusStoreError, isStoreError } from '../../src/errors.ts';
import type { ConsensusStore } from '../../src/store.ts';
import type { ImageSection, RecordApplier, StoreContext } from '../../src/stores/context.ts';
import { LogAuditLog } from '../../src/stores/audit-log.ts';
import { LogEvidenceStore } from '../../src/stores/evidence-store.ts';
import { LogRewardHistory } from '../../src/stores/reward-history.ts';
import { LogRoundStateStore } from '../../src/stores/round-state-store.ts';
import { LogSignGuard } from '../../src/stores/sign-guard.ts';
import { StoreIdentity } from '../../src/stores/store-identity.ts';
import { LogValidatorRegistry } from '../../src/stores/validator-registry.ts';
import type { LogVoteStore } from '../../src/stores/vote-store.ts';
import type { AuditLog } from '../../src/stores/audit-types.ts';
import type { ByzantineEvidenceStore } from '../../src/stores/evidence-types.ts';
import type { RewardHistory } from '../../src/stores/reward-types.ts';
import type { RoundStateStore } from '../../src/stores/round-types.ts';
import type { ValidatorRegistry } from '../../src/stores/validator-types.ts';
import { CONSENSUS_PHASES } from '../../src/model/round.ts';
import { EVIDENCE_TYPES } from '../../src/model/evidence.ts';
import { REWARD_REASONS } from '../../src/model/reward.ts';
import type { UnsignedVote, VoteType } from '../../src/model/vote.ts';
import { AUDIT_CHAIN, nodeKey, signedVote, validatorKey } from './audit-test-log.ts';

export const VALIDATORS = 4;
export const MAX_HEIGHT = 12;
/** The signer of the workload's sign requests. */
export const NODE = { ...nodeKey(9), validatorId: 'val-9' };
/** The audit (node) key of the workload's stores. */
export const AUDIT_KEY = nodeKey(7);

/** One operation of the random history (plain data, so fast-check can shrink it). */
export type Op =
  | { op: 'vote'; v: number; height: number; round: number; type: VoteType; hash: number }
  | { op: 'sign'; height: number; round: number; type: VoteType; hash: number; time: number }
  | { op: 'import'; height: number; round: number }
  | { op: 'round'; height: number; round: number; phase: number }
  | { op: 'prune-rounds'; height: number }
  | { op: 'register'; v: number; height: number; stake: number }
  | { op: 'stake'; v: number; height: number; stake: number }
  | { op: 'status'; v: number; height: number; status: number }
  | { op: 'slash'; v: number; height: number; amount: number; tombstone: boolean }
  | { op: 'event'; height: number; round: number }
  | { op: 'reward'; height: number; amounts: number[] }
  | { op: 'prune-evidence'; height: number; age: number }
  | { op: 'finalize'; height: number; round: number };

const voteType = fc.constantFrom<VoteType>('prevote', 'precommit');
const height = fc.integer({ min: 0, max: MAX_HEIGHT });
const round = fc.integer({ min: 0, max: 20 });
const validator = fc.integer({ min: 0, max: VALIDATORS - 1 });
const historyOps = [
  { weight: 6, arbitrary: fc.record({ op: fc.constant('vote' as const), v: validator, height: fc.integer({ min: 0, max: 3 }), round: fc.integer({ min: 0, max: 3 }), type: voteType, hash: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('sign' as const), height, round, type: voteType, hash: fc.integer({ min: 1, max: 2 }), time: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('import' as const), height, round }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('round' as const), height, round, phase: fc.integer({ min: 0, max: CONSENSUS_PHASES.length - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('prune-rounds' as const), height }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('register' as const), v: validator, height, stake: fc.integer({ min: 0, max: 1000 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('stake' as const), v: validator, height, stake: fc.integer({ min: 0, max: 1000 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('status' as const), v: validator, height, status: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('slash' as const), v: validator, height, amount: fc.integer({ min: 0, max: 500 }), tombstone: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('event' as const), height, round }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('reward' as const), height, amounts: fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('prune-evidence' as const), height, age: fc.integer({ min: 0, max: 6 }) }) },
] as const;

/** The operations of the image-section histories (no finalization marks). */
export const opArb: fc.Arbitrary<Op> = fc.oneof(...historyOps);

/** Every operation, finalization marks (the vote store's second record kind) included. */
export const storeOpArb: fc.Arbitrary<Op> = fc.oneof(
  ...historyOps,
  { weight: 1, arbitrary: fc.record({ op: fc.constant('finalize' as const), height: fc.integer({ min: 0, max: 4 }), round: fc.integer({ min: 0, max: 4 }) }) },
);

const STATUSES = ['active', 'jailed', 'tombstoned', 'inactive'] as const;

/** The sign request of a `sign` operation. */
export function unsignedVote(o: Extract<Op, { op: 'sign' }>): UnsignedVote {
  return { validatorId: NODE.validatorId, height: o.height, round: o.round, voteType: o.type, blockHash: new Uint8Array(32).fill(o.hash), timestamp: 1_700_000_000_000 + o.time };
}

/** Runs one operation; refusals (CONFLICT, NOT_FOUND, INVALID_ARGUMENT) are part of a random history. */
export async function run(store: ConsensusStore, o: Op): Promise<void> {
  const id = (v: number): string => `val-${v}`;
  try {
    switch (o.op) {
      case 'vote':
        await store.votes.appendVote(signedVote(o.v, o.height, o.round, o.type, o.hash));
        return;
      case 'sign':
        await store.signGuard.signVote(unsignedVote(o));
        return;
      case 'import':
        await store.signGuard.importWatermark({ height: o.height, round: o.round, step: 'prevote' });
        return;
      case 'round': {
        const t = 1_700_000_000_000 + o.height;
        await store.rounds.saveRoundState({ height: o.height, round: o.round, phase: CONSENSUS_PHASES[o.phase] ?? 'propose', startedAt: t, updatedAt: t });
        return;
      }
      case 'prune-rounds':
        await store.rounds.pruneBeforeHeight(o.height);
        return;
      case 'register':
        await store.validators.registerValidator({ validatorId: id(o.v), publicKey: validatorKey(o.v).publicKey, stake: BigInt(o.stake) }, o.height);
        return;
      case 'stake':
        await store.validators.updateStake(id(o.v), BigInt(o.stake), o.height, o.stake % 2 === 0 ? 'bond' : undefined);
        return;
      case 'status':
        await store.validators.updateStatus(id(o.v), STATUSES[o.status] ?? 'active', o.height, 'ops');
        return;
      case 'slash':
        await store.validators.recordSlash({
          validatorId: id(o.v),
          height: o.height,
          reason: 'double sign',
          amount: BigInt(o.amount),
          ...(o.tombstone ? { status: 'tombstoned' as const, evidenceId: 'e'.repeat(64) } : {}),
        });
        return;
      case 'event':
        await store.audit.logEvent({ type: 'RoundStarted', height: o.height, round: o.round, proposer: o.round % 2 === 0 ? null : id(o.round % VALIDATORS) });
        return;
      case 'reward': {
        const lines = o.amounts.map((a, i) => ({ validatorId: id(i), reason: REWARD_REASONS[(a + i) % REWARD_REASONS.length] ?? 'BlockProposal', amount: BigInt(a) }));
        const total = lines.reduce((s, l) => s + l.amount, 0n);
        await store.rewards.recordDistribution({ height: o.height, timestamp: 1_700_000_000_000 + o.height * 1000, treasuryBefore: 10_000n, treasuryAfter: 10_000n - total, totalDistributed: total, lines });
        return;
      }
      case 'prune-evidence':
        await store.evidence.pruneExpired({ currentHeight: o.height, now: 1_800_000_000_000, maxAgeBlocks: o.age, maxAgeMs: 0 });
        return;
      case 'finalize':
        await store.votes.markFinalized(o.height, o.round);
        return;
    }
  } catch (err) {
    if (isStoreError(err, 'CONFLICT') || isStoreError(err, 'NOT_FOUND') || isStoreError(err, 'INVALID_ARGUMENT')) return;
    throw err;
  }
}

/** A value or the error code a call ended with (so that two stores' refusals compare too). */
export async function outcome(call: () => unknown): Promise<unknown> {
  try {
    const value = await call();
    return { value: value !== null && typeof value === 'object' && 'toJSON' in value && typeof value.toJSON === 'function' ? value.toJSON() : value };
  } catch (err) {
    if (err instanceof ConsensusStoreError) return { error: err.code };
    throw err;
  }
}

/** What the queries may ask about: the history's sign requests and evidence ids. */
export interface QueryContext {
  readonly signRequests: readonly UnsignedVote[];
  readonly evidenceIds: () => Promise<string[]>;
}

/** A store under test: a fresh one, and the queries that must answer alike. */
export interface Subject {
  readonly store: RecordApplier & ImageSection;
  readonly queries: () => Promise<unknown[]>;
}

/** What the subjects are built on: the live store (evidence keys), a read-only context, and what to ask about. */
export interface World extends QueryContext {
  readonly live: ConsensusStore;
  readonly ctx: StoreContext;
}

export const ids = Array.from({ length: VALIDATORS }, (_, v) => `val-${v}`);
export const heights = Array.from({ length: MAX_HEIGHT + 2 }, (_, h) => h);

/** The queries of each store: `reads` never write; `probes` are calls that write unless refused. */
const signGuardQueries = {
  reads: async (store: LogSignGuard): Promise<unknown[]> => [
    await outcome(() => store.watermark()),
    await outcome(() => store.checkSignState('existing-key', false)),
    await outcome(() => store.checkRepairBarrier(false)),
    [1, 2, 3].map((id) => store.hasRecordedRepair(id)),
  ],
  // Re-asking earlier requests: the same ones get the stored signature back; any other is refused or writes.
  probes: async (store: LogSignGuard, q: QueryContext): Promise<unknown[]> => {
    const out: unknown[] = [];
    for (const req of q.signRequests.slice(-4)) {
      out.push(await outcome(() => store.signVote(req)));
      out.push(await outcome(() => store.signVote({ ...req, timestamp: req.timestamp + 7 })));
      out.push(await outcome(() => store.signVote({ ...req, blockHash: new Uint8Array(32).fill(9) })));
    }
    return out;
  },
};

const roundQueries = {
  reads: async (store: RoundStateStore): Promise<unknown[]> => [
    (store as LogRoundStateStore).pruneFloor,
    await store.loadRoundState(),
    await store.listRoundStates({ limit: 10_000 }),
    await store.listRoundStates({ startHeight: 3, endHeight: 8, limit: 2 }),
    ...(await Promise.all(heights.map((h) => store.getRoundStateAt(h)))),
    ...(await Promise.all(heights.map((h) => store.getRoundStateAt(h, h)))),
  ],
  probes: async (store: RoundStateStore): Promise<unknown[]> => [await outcome(() => store.saveRoundState({ height: MAX_HEIGHT, round: 0, phase: 'propose', startedAt: 1, updatedAt: 1 }))],
};

const validatorQueries = {
  reads: async (store: ValidatorRegistry): Promise<unknown[]> => {
    const out: unknown[] = [];
    for (const h of heights) out.push(await store.getValidatorsAtHeight(h));
    for (const id of [...ids, 'val-9']) {
      out.push(await store.getValidator(id), await outcome(() => store.getValidatorHistory(id)), await outcome(() => store.getValidatorHistory(id, { startHeight: 2, endHeight: 6, limit: 1 })));
      for (const h of heights) out.push(await store.getValidator(id, h), store.publicKeyAt(id, h));
    }
    return out;
  },
  probes: async (store: ValidatorRegistry): Promise<unknown[]> => [
    await outcome(() => store.registerValidator({ validatorId: 'val-0', publicKey: validatorKey(0).publicKey, stake: 1n }, 1)),
    await outcome(() => store.updateStake('val-1', 5n, 0)),
  ],
};

const auditQueries = {
  reads: async (store: AuditLog): Promise<unknown[]> => {
    const s = store as LogAuditLog;
    const out: unknown[] = [s.size, s.head];
    for (const descending of [false, true]) {
      out.push(await store.queryByHeight({ startHeight: 0, endHeight: MAX_HEIGHT }, { limit: 10_000, descending }));
      out.push(await store.queryByHeight(3, { limit: 2, descending }));
      out.push(await store.queryByDateRange(0, 2_000_000_000_000, { limit: 10_000, descending }));
      for (const id of ids) out.push(await store.queryByValidator(id, { limit: 10_000, descending }));
    }
    out.push(await outcome(() => store.getEvidence({ limit: 1000 })));
    out.push(await outcome(() => store.getEvidence({ validatorId: 'val-1' })));
    out.push(await outcome(() => store.getEvidence({ startHeight: 2, endHeight: 9, types: ['EquivocationDetected'] })));
    out.push(await store.verifyIntegrity());
    return out;
  },
};

const evidenceQueries = {
  reads: async (store: ByzantineEvidenceStore, q: QueryContext): Promise<unknown[]> => {
    const out: unknown[] = [(store as LogEvidenceStore).size];
    for (const id of ids) out.push(await store.queryByValidator(id), await store.queryByValidator(id, { startHeight: 2, endHeight: 7, limit: 1 }), await store.getOffenseCount(id));
    for (const type of EVIDENCE_TYPES) out.push(await store.queryByType(type));
    for (const id of await q.evidenceIds()) out.push(await store.getEvidence(id), await outcome(() => store.verifyEvidence(id)));
    return out;
  },
  probes: async (store: ByzantineEvidenceStore): Promise<unknown[]> => [
    await outcome(() => store.pruneExpired({ currentHeight: MAX_HEIGHT + 100, now: 2_000_000_000_000, maxAgeBlocks: 0, maxAgeMs: 0 })),
  ],
};

const rewardQueries = {
  reads: async (store: RewardHistory): Promise<unknown[]> => {
    const out: unknown[] = [(store as LogRewardHistory).size, await store.queryDistributions({ limit: 10_000 }), await store.exportRewards({})];
    for (const id of ids) {
      out.push(await store.getValidatorRewards(id), await store.queryDistributions({ validatorId: id }), await store.exportRewards({ validatorId: id, startHeight: 2, endHeight: 9 }));
    }
    for (const reason of REWARD_REASONS) out.push(await store.queryDistributions({ reason }));
    for (const h of heights) out.push(await store.getTotalDistributed(h), await store.getCumulativeDistributed(h));
    out.push(await store.exportRewards({ startDate: 1_700_000_003_000, endDate: 1_700_000_009_000 }));
    return out;
  },
};

/** The vote store's reads (the workload's votes are at heights and rounds 0..3). */
async function voteReads(store: LogVoteStore): Promise<unknown[]> {
  const rounds = [0, 1, 2, 3, 4];
  const out: unknown[] = [store.size, await store.getRecentVotes(10_000), await store.getRecentVotes(3), await store.getEarliestOpenRound(), await store.getLastFinalized()];
  out.push(store.finalizedMarks(0, MAX_HEIGHT + 1));
  for (const r of rounds) {
    out.push(await store.getVotesForRound(r), await store.getVotesForRound(r, { limit: 2 }), await store.countVotesForRound(r), await store.countVotesForRound(r, 'precommit'));
    out.push(await store.queryVotes({ round: r }), await store.queryVotes({ round: r, voteType: 'prevote', limit: 3 }));
    for (const h of rounds) out.push(store.precommitsAt(h, r));
  }
  for (const id of [...ids, 'val-9']) {
    out.push(await store.getValidatorVotes(id), await store.getValidatorVotes(id, { startRound: 1, endRound: 2, limit: 2 }), await store.queryVotes({ validatorId: id }));
    for (const r of rounds) out.push(await store.voteExists(id, r, 'prevote'), await store.voteExists(id, r, 'precommit'));
  }
  out.push(await store.queryVotes({}), await store.queryVotes({ startHeight: 1, endHeight: 2 }), await store.queryVotes({ startHeight: 2, voteType: 'precommit', limit: 1 }));
  return out;
}

/** The stores of the image sections, built fresh on the world's read-only context, each with its queries. */
export const SUBJECTS: Record<string, (w: World) => Subject> = {
  identity: () => {
    const store = new StoreIdentity(AUDIT_CHAIN);
    return { store, queries: async () => [store.recorded] };
  },
  'sign guard': (w) => {
    const store = new LogSignGuard(w.ctx, { chainId: AUDIT_CHAIN, identity: NODE });
    return { store, queries: async () => [...(await signGuardQueries.reads(store)), ...(await signGuardQueries.probes(store, w))] };
  },
  'round states': (w) => {
    const store = new LogRoundStateStore(w.ctx);
    return { store, queries: async () => [...(await roundQueries.reads(store)), ...(await roundQueries.probes(store))] };
  },
  validators: (w) => {
    const store = new LogValidatorRegistry(w.ctx);
    return { store, queries: async () => [...(await validatorQueries.reads(store)), ...(await validatorQueries.probes(store))] };
  },
  audit: (w) => {
    const store = new LogAuditLog(w.ctx, { ...AUDIT_KEY, chainId: AUDIT_CHAIN });
    return { store, queries: () => auditQueries.reads(store) };
  },
  evidence: (w) => {
    const store = new LogEvidenceStore(w.ctx, { chainId: AUDIT_CHAIN, publicKeyAt: (id, h) => w.live.validators.publicKeyAt(id, h) });
    return { store, queries: async () => [...(await evidenceQueries.reads(store, w)), ...(await evidenceQueries.probes(store))] };
  },
  rewards: (w) => {
    const store = new LogRewardHistory(w.ctx);
    return { store, queries: () => rewardQueries.reads(store) };
  },
};

/** The ids of the evidence `store` holds, and one it does not. */
export async function evidenceIdsOf(store: ConsensusStore): Promise<string[]> {
  const found = new Set<string>();
  for (const id of ids) for (const e of await store.evidence.queryByValidator(id)) found.add(e.id);
  return [...found, 'f'.repeat(64)];
}

/** The query context of a whole store: its own evidence ids. */
export function queryContextOf(store: ConsensusStore, signRequests: readonly UnsignedVote[]): QueryContext {
  return { signRequests, evidenceIds: () => evidenceIdsOf(store) };
}

/**
 * Every read of every store of `store`, by store name (the recovery manager without the open's
 * report and timings, which differ from open to open). Writes nothing.
 */
export async function storeReads(store: ConsensusStore, q: QueryContext): Promise<Record<string, unknown[]>> {
  const recovered = await store.recovery.recover();
  return {
    votes: await voteReads(store.votes as LogVoteStore),
    'sign guard': await signGuardQueries.reads(store.signGuard as LogSignGuard),
    'round states': await roundQueries.reads(store.rounds),
    validators: await validatorQueries.reads(store.validators),
    audit: await auditQueries.reads(store.audit),
    evidence: await evidenceQueries.reads(store.evidence, q),
    rewards: await rewardQueries.reads(store.rewards),
    recovery: [recovered.recovered, recovered.roundState, recovered.votes, recovered.integrity, await store.recovery.resumePoint()],
  };
}

/** The calls of the query list that write unless refused, by store name. They may write. */
export async function storeProbes(store: ConsensusStore, q: QueryContext): Promise<Record<string, unknown[]>> {
  return {
    'sign guard': await signGuardQueries.probes(store.signGuard as LogSignGuard, q),
    'round states': await roundQueries.probes(store.rounds),
    validators: await validatorQueries.probes(store.validators),
    evidence: await evidenceQueries.probes(store.evidence),
  };
}
