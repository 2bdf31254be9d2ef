/**
 * The image sections of every store but the vote store (tags 1, 3..8; docs/format.md, "Local
 * state image"), against the contract of `ImageSection` (src/stores/context.ts): a random history
 * of store operations runs through `openStoreOnLog` on a MemoryLog; at a random cut L, a store
 * fed records 1..L captures its section (encoded after it was fed the rest), a fresh store loads it and is fed L+1..N, and it must
 * answer every query (a fixed list covering each public read method, and its own image again)
 * as a store fed 1..N does. The live stores also capture mid-history, and their sections,
 * encoded after the rest of the history ran, must be what a store fed 1..L encodes. Truncated
 * sections, another format version and oversized counts are refused.
 *
 * Prints its fast-check seed; set FC_SEED to replay one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImageReader, ImageWriter } from '../../src/codec/image-section.ts';
import { ConsensusStoreError, isStoreError } from '../../src/errors.ts';
import { MemoryLog } from '../../src/log/memory-log.ts';
import type { LogRecord } from '../../src/log/types.ts';
import { RecordKind } from '../../src/codec/kinds.ts';
import { openStoreOnLog, type ConsensusStore } from '../../src/store.ts';
import type { ImageSection, RecordApplier, StoreContext } from '../../src/stores/context.ts';
import { LogAuditLog } from '../../src/stores/audit-log.ts';
import { LogEvidenceStore } from '../../src/stores/evidence-store.ts';
import { LogRewardHistory } from '../../src/stores/reward-history.ts';
import { LogRoundStateStore } from '../../src/stores/round-state-store.ts';
import { LogSignGuard } from '../../src/stores/sign-guard.ts';
import { encodeStoreIdentity, StoreIdentity } from '../../src/stores/store-identity.ts';
import { LogValidatorRegistry } from '../../src/stores/validator-registry.ts';
import { CONSENSUS_PHASES } from '../../src/model/round.ts';
import { EVIDENCE_TYPES } from '../../src/model/evidence.ts';
import { REWARD_REASONS } from '../../src/model/reward.ts';
import type { UnsignedVote, VoteType } from '../../src/model/vote.ts';
import { AUDIT_CHAIN, nodeKey, signedVote, validatorKey } from '../support/audit-test-log.ts';

const VALIDATORS = 4;
const MAX_HEIGHT = 12;
const NODE = { ...nodeKey(9), validatorId: 'val-9' };
const AUDIT_KEY = nodeKey(7);

/** One operation of the random history (plain data, so fast-check can shrink it). */
type Op =
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
  | { op: 'prune-evidence'; height: number; age: number };

const voteType = fc.constantFrom<VoteType>('prevote', 'precommit');
const height = fc.integer({ min: 0, max: MAX_HEIGHT });
const round = fc.integer({ min: 0, max: 20 });
const validator = fc.integer({ min: 0, max: VALIDATORS - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
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
);

const STATUSES = ['active', 'jailed', 'tombstoned', 'inactive'] as const;

function unsignedVote(o: Extract<Op, { op: 'sign' }>): UnsignedVote {
  return { validatorId: NODE.validatorId, height: o.height, round: o.round, voteType: o.type, blockHash: new Uint8Array(32).fill(o.hash), timestamp: 1_700_000_000_000 + o.time };
}

/** Runs one operation; refusals (CONFLICT, NOT_FOUND, INVALID_ARGUMENT) are part of a random history. */
async function run(store: ConsensusStore, o: Op): Promise<void> {
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
    }
  } catch (err) {
    if (isStoreError(err, 'CONFLICT') || isStoreError(err, 'NOT_FOUND') || isStoreError(err, 'INVALID_ARGUMENT')) return;
    throw err;
  }
}

/** A value or the error code a call ended with (so that two stores' refusals compare too). */
async function outcome(call: () => unknown): Promise<unknown> {
  try {
    const value = await call();
    return { value: value !== null && typeof value === 'object' && 'toJSON' in value && typeof value.toJSON === 'function' ? value.toJSON() : value };
  } catch (err) {
    if (err instanceof ConsensusStoreError) return { error: err.code };
    throw err;
  }
}

/** A store under test: a fresh one, and the queries that must answer alike. */
interface Subject {
  readonly store: RecordApplier & ImageSection;
  readonly queries: () => Promise<unknown[]>;
}

/** What the queries may ask about: the history's ids and sign requests. */
interface World {
  readonly live: ConsensusStore;
  readonly ctx: StoreContext;
  readonly signRequests: readonly UnsignedVote[];
  readonly evidenceIds: () => Promise<string[]>;
}

const ids = Array.from({ length: VALIDATORS }, (_, v) => `val-${v}`);
const heights = Array.from({ length: MAX_HEIGHT + 2 }, (_, h) => h);

/** The stores of this file's sections, built fresh on the world's read-only context, each with its queries. */
const SUBJECTS: Record<string, (w: World) => Subject> = {
  identity: () => {
    const store = new StoreIdentity(AUDIT_CHAIN);
    return { store, queries: async () => [store.recorded] };
  },
  'sign guard': (w) => {
    const store = new LogSignGuard(w.ctx, { chainId: AUDIT_CHAIN, identity: NODE });
    return {
      store,
      queries: async () => {
        const out: unknown[] = [await outcome(() => store.watermark())];
        out.push(await outcome(() => store.checkSignState('existing-key', false)));
        out.push(await outcome(() => store.checkRepairBarrier(false)));
        out.push([1, 2, 3].map((id) => store.hasRecordedRepair(id)));
        // Re-asking earlier requests: the same ones get the stored signature back; any other is refused or would write (IO_FAILED here).
        for (const req of w.signRequests.slice(-4)) {
          out.push(await outcome(() => store.signVote(req)));
          out.push(await outcome(() => store.signVote({ ...req, timestamp: req.timestamp + 7 })));
          out.push(await outcome(() => store.signVote({ ...req, blockHash: new Uint8Array(32).fill(9) })));
        }
        return out;
      },
    };
  },
  'round states': (w) => {
    const store = new LogRoundStateStore(w.ctx);
    return {
      store,
      queries: async () => [
        store.pruneFloor,
        await store.loadRoundState(),
        await store.listRoundStates({ limit: 10_000 }),
        await store.listRoundStates({ startHeight: 3, endHeight: 8, limit: 2 }),
        ...(await Promise.all(heights.map((h) => store.getRoundStateAt(h)))),
        ...(await Promise.all(heights.map((h) => store.getRoundStateAt(h, h)))),
        await outcome(() => store.saveRoundState({ height: MAX_HEIGHT, round: 0, phase: 'propose', startedAt: 1, updatedAt: 1 })),
      ],
    };
  },
  validators: (w) => {
    const store = new LogValidatorRegistry(w.ctx);
    return {
      store,
      queries: async () => {
        const out: unknown[] = [];
        for (const h of heights) out.push(await store.getValidatorsAtHeight(h));
        for (const id of [...ids, 'val-9']) {
          out.push(await store.getValidator(id), await outcome(() => store.getValidatorHistory(id)), await outcome(() => store.getValidatorHistory(id, { startHeight: 2, endHeight: 6, limit: 1 })));
          for (const h of heights) out.push(await store.getValidator(id, h), store.publicKeyAt(id, h));
        }
        out.push(await outcome(() => store.registerValidator({ validatorId: 'val-0', publicKey: validatorKey(0).publicKey, stake: 1n }, 1)));
        out.push(await outcome(() => store.updateStake('val-1', 5n, 0)));
        return out;
      },
    };
  },
  audit: (w) => {
    const store = new LogAuditLog(w.ctx, { ...AUDIT_KEY, chainId: AUDIT_CHAIN });
    return {
      store,
      queries: async () => {
        const out: unknown[] = [store.size, store.head];
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
  },
  evidence: (w) => {
    const store = new LogEvidenceStore(w.ctx, { chainId: AUDIT_CHAIN, publicKeyAt: (id, h) => w.live.validators.publicKeyAt(id, h) });
    return {
      store,
      queries: async () => {
        const out: unknown[] = [store.size];
        for (const id of ids) out.push(await store.queryByValidator(id), await store.queryByValidator(id, { startHeight: 2, endHeight: 7, limit: 1 }), await store.getOffenseCount(id));
        for (const type of EVIDENCE_TYPES) out.push(await store.queryByType(type));
        for (const id of await w.evidenceIds()) out.push(await store.getEvidence(id), await outcome(() => store.verifyEvidence(id)));
        out.push(await outcome(() => store.pruneExpired({ currentHeight: MAX_HEIGHT + 100, now: 2_000_000_000_000, maxAgeBlocks: 0, maxAgeMs: 0 })));
        return out;
      },
    };
  },
  rewards: (w) => {
    const store = new LogRewardHistory(w.ctx);
    return {
      store,
      queries: async () => {
        const out: unknown[] = [store.size, await store.queryDistributions({ limit: 10_000 }), await store.exportRewards({})];
        for (const id of ids) {
          out.push(await store.getValidatorRewards(id), await store.queryDistributions({ validatorId: id }), await store.exportRewards({ validatorId: id, startHeight: 2, endHeight: 9 }));
        }
        for (const reason of REWARD_REASONS) out.push(await store.queryDistributions({ reason }));
        for (const h of heights) out.push(await store.getTotalDistributed(h), await store.getCumulativeDistributed(h));
        out.push(await store.exportRewards({ startDate: 1_700_000_003_000, endDate: 1_700_000_009_000 }));
        return out;
      },
    };
  },
};

/** The records of `log` in LSN order. */
async function recordsOf(log: MemoryLog): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  await log.scan((r) => {
    out.push(r);
  });
  return out;
}

function feed(store: RecordApplier, records: readonly LogRecord[]): void {
  for (const r of records) if (store.kinds.includes(r.kind)) store.apply(r);
}

function encode(thunk: (w: ImageWriter) => void): Uint8Array {
  const w = new ImageWriter();
  thunk(w);
  return w.finish();
}

/** Runs a history on a fresh MemoryLog; `onStep(i)` runs between operations, at a quiescent moment. */
async function runHistory(ops: readonly Op[], onStep: (i: number, live: ConsensusStore, log: MemoryLog) => void = () => undefined): Promise<{ live: ConsensusStore; log: MemoryLog; signRequests: UnsignedVote[] }> {
  const log = MemoryLog.open();
  // What openStore writes first (openStoreOnLog does not): the identity section has something to hold.
  await log.append([{ kind: RecordKind.StoreIdentity, payload: encodeStoreIdentity(AUDIT_CHAIN) }]);
  let clock = 1_700_000_000_000;
  const live = await openStoreOnLog(log, { chainId: AUDIT_CHAIN, now: () => clock++, signer: { ...NODE, state: 'new-key' }, audit: { nodeKey: AUDIT_KEY } });
  const signRequests: UnsignedVote[] = [];
  for (let i = 0; i < ops.length; i++) {
    onStep(i, live, log);
    const o = ops[i] as Op;
    if (o.op === 'sign') signRequests.push(unsignedVote(o));
    await run(live, o);
  }
  return { live, log, signRequests };
}

/** A context on `log` that reads but refuses every append, and a fixed clock. */
function readOnlyContext(log: MemoryLog): StoreContext {
  const readOnly = Object.create(log) as MemoryLog;
  readOnly.append = () => Promise.reject(new ConsensusStoreError('IO_FAILED', 'read-only test log'));
  return { log: readOnly, now: () => 1_750_000_000_000 };
}

function worldOf(live: ConsensusStore, log: MemoryLog, signRequests: readonly UnsignedVote[]): World {
  return {
    live,
    ctx: readOnlyContext(log),
    signRequests,
    evidenceIds: async () => {
      const found = new Set<string>();
      for (const id of ids) for (const e of await live.evidence.queryByValidator(id)) found.add(e.id);
      return [...found, 'f'.repeat(64)];
    },
  };
}

const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
console.log(`image-sections: fast-check seed ${seed}`);

describe('image sections (tags 1, 3..8)', () => {
  it('a store loaded from its section at a cut L and fed the records after L answers as one fed every record', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 80, size: 'max' }), fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000), async (ops, cutAt) => {
        const { live, log, signRequests } = await runHistory(ops);
        const records = await recordsOf(log);
        const cut = Math.floor(cutAt * records.length);
        const world = worldOf(live, log, signRequests);
        for (const [name, make] of Object.entries(SUBJECTS)) {
          const full = make(world);
          feed(full.store, records);
          const before = make(world);
          feed(before.store, records.slice(0, cut));
          const thunk = before.store.captureImage();
          // Replay folds in place what live writes replace: the section must still be the state at capture.
          feed(before.store, records.slice(cut));
          const section = encode(thunk);
          const loaded = make(world);
          loaded.store.loadImage(new ImageReader(section));
          feed(loaded.store, records.slice(cut));
          expect(await loaded.queries(), `${name}, cut after ${cut} of ${records.length} records`).toEqual(await full.queries());
          expect(encode(loaded.store.captureImage()), `${name}: its image again`).toEqual(encode(full.store.captureImage()));
        }
        await live.close();
      }),
      { seed, numRuns: 40 },
    );
  }, 300_000);

  it('a section captured from the live stores mid-history encodes, after the rest ran, the state at capture', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 80, size: 'max' }), fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000), async (ops, captureAt) => {
        const at = Math.floor(captureAt * ops.length);
        let captured: { lsn: number; thunks: Map<string, (w: ImageWriter) => void> } | undefined;
        const { live, log, signRequests } = await runHistory(ops, (i, store, l) => {
          if (i !== at) return;
          const sections: Record<string, unknown> = {
            'sign guard': store.signGuard,
            'round states': store.rounds,
            validators: store.validators,
            audit: store.audit,
            evidence: store.evidence,
            rewards: store.rewards,
          };
          const thunks = new Map(Object.entries(sections).map(([name, s]) => [name, (s as ImageSection).captureImage()]));
          captured = { lsn: l.nextLsn - 1, thunks };
        });
        const records = await recordsOf(log);
        const world = worldOf(live, log, signRequests);
        expect(captured).toBeDefined();
        for (const [name, thunk] of captured?.thunks ?? []) {
          const fresh = (SUBJECTS[name] as (w: World) => Subject)(world);
          feed(fresh.store, records.filter((r) => r.lsn <= (captured?.lsn ?? 0)));
          expect(encode(thunk), `${name} captured at LSN ${captured?.lsn}`).toEqual(encode(fresh.store.captureImage()));
        }
        await live.close();
      }),
      { seed: seed + 1, numRuns: 25 },
    );
  }, 300_000);

  describe('malformed sections are refused', async () => {
    const ops: Op[] = [
      { op: 'register', v: 1, height: 1, stake: 100 },
      { op: 'vote', v: 1, height: 2, round: 2, type: 'prevote', hash: 1 },
      { op: 'vote', v: 1, height: 2, round: 2, type: 'prevote', hash: 2 },
      { op: 'sign', height: 3, round: 3, type: 'prevote', hash: 1, time: 0 },
      { op: 'round', height: 3, round: 3, phase: 1 },
      { op: 'reward', height: 3, amounts: [5, 6] },
      { op: 'event', height: 4, round: 4 },
    ];
    /** Where each section's first count (or length) lies: overwriting it with 2^32-1 must be refused. */
    const firstCount: Record<string, number> = {
      identity: 5,
      'sign guard': 5,
      'round states': 20,
      validators: 12,
      audit: 56,
      evidence: 4,
      rewards: 12,
    };
    for (const name of Object.keys(SUBJECTS)) {
      it(name, async () => {
        const { live, log, signRequests } = await runHistory(ops);
        const records = await recordsOf(log);
        const world = worldOf(live, log, signRequests);
        const make = SUBJECTS[name] as (w: World) => Subject;
        const full = make(world);
        feed(full.store, records);
        const good = encode(full.store.captureImage());
        expect(() => make(world).store.loadImage(new ImageReader(good))).not.toThrow();
        for (let cut = 0; cut < good.length; cut += Math.max(1, Math.floor(good.length / 40))) {
          expect(() => make(world).store.loadImage(new ImageReader(good.subarray(0, cut))), `${name} cut at ${cut}`).toThrow();
        }
        const wrongVersion = good.slice();
        new DataView(wrongVersion.buffer).setUint32(0, 2, true);
        expect(() => make(world).store.loadImage(new ImageReader(wrongVersion))).toThrow(/version/);
        const oversized = good.slice();
        new DataView(oversized.buffer).setUint32(firstCount[name] as number, 0xffff_ffff, true);
        expect(() => make(world).store.loadImage(new ImageReader(oversized))).toThrow(/count|more than|exceeds/);
        const trailing = new Uint8Array(good.length + 1);
        trailing.set(good);
        expect(() => make(world).store.loadImage(new ImageReader(trailing))).toThrow(/trailing/);
        await live.close();
      });
    }
  });
});
