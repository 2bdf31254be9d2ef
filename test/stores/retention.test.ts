/**
 * Bounded history through `openStore` on the simulated disk (src/stores/compactor.ts, the cold
 * tier under src/cold/, each store's part of it):
 * - model-based: a random chain of blocks (votes, late and conflicting votes, audit events,
 *   round checkpoints, reward distributions, finalization) written to two stores, one keeping
 *   everything hot and one with a small window and small segments, compacted at random points
 *   and reopened: every query answers exactly alike, before and after each compaction and each
 *   reopen, across the tiers; the compacted store's hot log really shrinks;
 * - a power cut at every I/O call of a compaction: the directory opens, every query answers as
 *   the store that never compacted;
 * - a byte flipped in a cold file: the queries that read it fail with CORRUPTION naming the file,
 *   the others answer;
 * - bad `retention` options are INVALID_ARGUMENT and create nothing; `compact()` of a store that
 *   keeps everything hot is INVALID_ARGUMENT; an open whose log was released and whose images
 *   are all gone refuses with CORRUPTION.
 *
 * Prints its fast-check seed; set FC_SEED to replay one.
 */
import { expectSameAnswers as expectSame } from '../support/canonical.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../src/errors.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { FileSystem } from '../../src/io/types.ts';
import type { VoteType } from '../../src/model/vote.ts';
import { openStore, type ConsensusStore, type OpenStoreOptions } from '../../src/store.ts';
import { AUDIT_CHAIN, signedVote, validatorKey } from '../support/audit-test-log.ts';
import { AUDIT_KEY, outcome } from '../support/store-workload.ts';

const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
console.log(`retention: fast-check seed ${seed}`);

const VALIDATORS = 4;
const ids = Array.from({ length: VALIDATORS }, (_, v) => `val-${v}`);
const T0 = 1_700_000_000_000;

/** One step of a chain's history. */
type Step =
  | { kind: 'block'; round: number; equivocator: number | undefined; reward: boolean; event: boolean; checkpoint: boolean }
  | { kind: 'late'; v: number; back: number; type: VoteType; hash: number }
  | { kind: 'old-event'; back: number }
  | { kind: 'prune-rounds'; back: number }
  | { kind: 'compact' }
  | { kind: 'reopen' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('block' as const),
      round: fc.integer({ min: 0, max: 2 }),
      equivocator: fc.option(fc.integer({ min: 0, max: VALIDATORS - 1 }), { nil: undefined, freq: 6 }),
      reward: fc.boolean(),
      event: fc.boolean(),
      checkpoint: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('late' as const), v: fc.integer({ min: 0, max: VALIDATORS - 1 }), back: fc.integer({ min: 1, max: 30 }), type: fc.constantFrom<VoteType>('prevote', 'precommit'), hash: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('old-event' as const), back: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('prune-rounds' as const), back: fc.integer({ min: 0, max: 30 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'compact' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

/** Two stores fed one history: `hot` keeps everything hot, `cut` a small window. */
class Pair {
  readonly disk: SimulatedDisk;
  /** The disk's file system since its last power cut (a cut invalidates the old one). */
  fs: FileSystem;
  /** The clock both stores read: one value per step, so that their stamps agree. */
  clock = T0;
  hot!: ConsensusStore;
  cut!: ConsensusStore;
  height = 0;

  constructor(diskSeed: number, readonly window: number) {
    this.disk = new SimulatedDisk({ seed: diskSeed });
    this.fs = this.disk.fs();
  }

  options(dir: string, retention: NonNullable<OpenStoreOptions['retention']>): OpenStoreOptions {
    return {
      dir,
      fs: this.fs,
      chainId: AUDIT_CHAIN,
      audit: { nodeKey: AUDIT_KEY },
      now: () => this.clock,
      log: { segmentSize: 8 * 1024 },
      images: { everyRecords: 0, onClose: true },
      snapshots: { interval: 0 },
      retention,
    };
  }

  async open(): Promise<void> {
    this.fs = this.disk.fs();
    this.hot = await openStore(this.options('/hot', { hotHeights: 0 }));
    this.cut = await openStore(this.options('/cut', { hotHeights: this.window, compactEvery: 1_000_000 }));
  }

  async both(call: (s: ConsensusStore) => Promise<unknown>): Promise<void> {
    const a = await outcome(() => call(this.hot));
    const b = await outcome(() => call(this.cut));
    expect(b, 'the same write on both stores').toEqual(a);
  }

  async setup(): Promise<void> {
    await this.open();
    for (let v = 0; v < VALIDATORS; v++) await this.both((s) => s.validators.registerValidator({ validatorId: ids[v] as string, publicKey: validatorKey(v).publicKey, stake: 100n }, 0));
  }

  async step(step: Step): Promise<void> {
    this.clock += 1000;
    switch (step.kind) {
      case 'block': {
        const h = this.height++;
        for (let v = 0; v < VALIDATORS; v++) {
          for (const type of ['prevote', 'precommit'] as const) await this.both((s) => s.votes.appendVote(signedVote(v, h, step.round, type, 1)));
        }
        if (step.equivocator !== undefined) {
          const v = step.equivocator;
          await this.both((s) => s.votes.appendVote(signedVote(v, h, step.round, 'precommit', 2)));
        }
        if (step.event) await this.both((s) => s.audit.logEvent({ type: 'RoundStarted', height: h, round: step.round, proposer: ids[h % VALIDATORS] as string }));
        if (step.checkpoint) await this.both((s) => s.rounds.saveRoundState({ height: h, round: step.round, phase: 'commit', startedAt: this.clock, updatedAt: this.clock }));
        if (step.reward) {
          const lines = ids.map((id, i) => ({ validatorId: id, reason: 'BlockProposal' as const, amount: BigInt((h * 7 + i) % 11) }));
          const total = lines.reduce((sum, l) => sum + l.amount, 0n);
          await this.both((s) => s.rewards.recordDistribution({ height: h, timestamp: T0 + h * 1000, treasuryBefore: 1_000_000n, treasuryAfter: 1_000_000n - total, totalDistributed: total, lines }));
        }
        await this.both((s) => s.votes.markFinalized(h, step.round));
        return;
      }
      case 'late': {
        const h = Math.max(0, this.height - step.back);
        await this.both((s) => s.votes.appendVote(signedVote(step.v, h, (h + step.v) % 3, step.type, step.hash)));
        return;
      }
      case 'old-event': {
        const h = Math.max(0, this.height - step.back);
        await this.both((s) => s.audit.logEvent({ type: 'RoundStarted', height: h, round: 9, proposer: null }));
        return;
      }
      case 'prune-rounds':
        await this.both((s) => s.rounds.pruneBeforeHeight(Math.max(0, this.height - step.back)));
        return;
      case 'compact':
        await this.cut.compact();
        return;
      case 'reopen':
        await this.hot.close();
        await this.cut.close();
        await this.open();
        return;
    }
  }

  async close(): Promise<void> {
    await this.hot.close();
    await this.cut.close();
  }
}

/** Every query of the stores that history reaches, over every height and round the history has. */
async function tierReads(store: ConsensusStore, maxHeight: number): Promise<Record<string, unknown[]>> {
  const tVotes = performance.now();
  const heights = Array.from({ length: maxHeight + 2 }, (_, h) => h);
  const rounds = [0, 1, 2, 9];
  const votes: unknown[] = [store.votes.size, await store.votes.getRecentVotes(10_000), await store.votes.getRecentVotes(5), await store.votes.getRecentVotes(7, { order: 'chronological' })];
  votes.push(await store.votes.getEarliestOpenRound(), await store.votes.getLastFinalized());
  for (const r of rounds) {
    votes.push(await store.votes.getVotesForRound(r), await store.votes.getVotesForRound(r, { limit: 3 }), await store.votes.countVotesForRound(r), await store.votes.countVotesForRound(r, 'precommit'));
    votes.push(await store.votes.queryVotes({ round: r }), await store.votes.queryVotes({ round: r, voteType: 'prevote', limit: 4 }));
    for (const id of ids) votes.push(await store.votes.voteExists(id, r, 'prevote'), await store.votes.voteExists(id, r, 'precommit'));
  }
  for (const id of [...ids, 'val-9']) {
    votes.push(await store.votes.getValidatorVotes(id), await store.votes.getValidatorVotes(id, { limit: 3 }), await store.votes.getValidatorVotes(id, { startRound: 1, endRound: 2, limit: 5 }));
    votes.push(await store.votes.queryVotes({ validatorId: id }), await store.votes.queryVotes({ validatorId: id, startHeight: 2, endHeight: 9 }));
  }
  for (const h of heights) votes.push(await store.votes.queryVotes({ startHeight: h, endHeight: h }));
  votes.push(await store.votes.queryVotes({}), await store.votes.queryVotes({ startHeight: 3, voteType: 'precommit', limit: 6 }));

  const tAudit = performance.now();
  const audit: unknown[] = [];
  for (const descending of [false, true]) {
    audit.push(await store.audit.queryByHeight({ startHeight: 0, endHeight: maxHeight }, { limit: 10_000, descending }));
    audit.push(await store.audit.queryByDateRange(0, 2_000_000_000_000, { limit: 10_000, descending }));
    audit.push(await store.audit.queryByDateRange(0, 2_000_000_000_000, { limit: 5, descending }));
    for (const h of heights) audit.push(await store.audit.queryByHeight(h, { limit: 3, descending }));
    for (const id of ids) audit.push(await store.audit.queryByValidator(id, { limit: 10_000, descending }), await store.audit.queryByValidator(id, { limit: 2, descending }));
  }
  const tEvidence = performance.now();
  audit.push(await outcome(() => store.audit.getEvidence({ limit: 1000 })));
  audit.push(await outcome(() => store.audit.getEvidence({ validatorId: 'val-1' })));
  audit.push(await outcome(() => store.audit.getEvidence({ startHeight: 2, endHeight: 9, types: ['EquivocationDetected'] })));
  const tVerify = performance.now();
  audit.push(await store.audit.verifyIntegrity());
  const tRewards = performance.now();

  const rewards: unknown[] = [await store.rewards.queryDistributions({ limit: 10_000 }), await store.rewards.exportRewards({})];
  for (const id of ids) {
    rewards.push(await store.rewards.getValidatorRewards(id), await store.rewards.queryDistributions({ validatorId: id }), await store.rewards.exportRewards({ validatorId: id, startHeight: 2, endHeight: 9 }));
  }
  for (const h of heights) rewards.push(await store.rewards.getTotalDistributed(h), await store.rewards.getCumulativeDistributed(h));

  const tRounds = performance.now();
  const rounds_: unknown[] = [await store.rounds.loadRoundState(), await store.rounds.listRoundStates({ limit: 10_000 }), await store.rounds.listRoundStates({ startHeight: 3, endHeight: 8, limit: 2 })];
  for (const h of heights) rounds_.push(await store.rounds.getRoundStateAt(h));

  const evidence: unknown[] = [];
  for (const id of ids) evidence.push(await store.evidence.queryByValidator(id), await store.evidence.getOffenseCount(id));

  const recovered = await store.recovery.recover();
  if (process.env['RETENTION_PROFILE'] !== undefined) console.log(`retention: reads votes ${Math.round(tAudit - tVotes)} audit ${Math.round(tEvidence - tAudit)} evidence ${Math.round(tVerify - tEvidence)} verify ${Math.round(tRewards - tVerify)} rewards ${Math.round(tRounds - tRewards)} rest ${Math.round(performance.now() - tRounds)}`);
  return {
    votes,
    audit,
    rewards,
    rounds: rounds_,
    evidence,
    validators: [await store.validators.getValidatorsAtHeight(maxHeight)],
    recovery: [recovered.recovered, recovered.roundState, recovered.votes, recovered.integrity, await store.recovery.resumePoint()],
  };
}

/**
 * The answers that cover every record of every store taking part (the power-cut test asks them
 * after each cut; `tierReads` after some): each record is in one of them, once.
 */
async function lightReads(store: ConsensusStore, maxHeight: number): Promise<unknown[]> {
  const recovered = await store.recovery.recover();
  return [
    store.votes.size,
    await store.votes.queryVotes({ limit: 10_000 }),
    await store.votes.getLastFinalized(),
    await store.audit.queryByHeight({ startHeight: 0, endHeight: maxHeight }, { limit: 10_000 }),
    await store.audit.queryByDateRange(0, 2_000_000_000_000, { limit: 10_000 }),
    await store.audit.verifyIntegrity(),
    await store.rewards.queryDistributions({ limit: 10_000 }),
    await store.rounds.listRoundStates({ limit: 10_000 }),
    recovered.roundState,
    recovered.integrity,
  ];
}

/** Answers of the two stores, compared store by store (a difference names its store and query index). */
async function expectSameAnswers(pair: Pair, label: string): Promise<void> {
  const frozen = pair.clock;
  const a = await tierReads(pair.hot, pair.height);
  pair.clock = frozen;
  const b = await tierReads(pair.cut, pair.height);
  for (const name of Object.keys(a)) {
    const left = a[name] as unknown[];
    const right = b[name] as unknown[];
    expect(right.length, `${label}: ${name}`).toBe(left.length);
    for (let i = 0; i < left.length; i++) expectSame(right[i], left[i], `${label}: ${name} query ${i}`);
  }
}

describe('bounded history: every query answers alike across the tiers', () => {
  it('a random chain, compacted and reopened at random points, answers as the store that keeps everything hot', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 30, maxLength: 90 }), fc.integer({ min: 3, max: 12 }), async (steps, window) => {
        const pair = new Pair(seed, window);
        await pair.setup();
        try {
          let compactions = 0;
          for (const [i, step] of steps.entries()) {
            await pair.step(step);
            if (step.kind === 'compact' || step.kind === 'reopen') {
              if (step.kind === 'compact') compactions++;
              await expectSameAnswers(pair, `after step ${i} (${step.kind})`);
            }
          }
          await pair.cut.compact();
          await expectSameAnswers(pair, 'after the last compaction');
          const last = await pair.cut.votes.getLastFinalized();
          if (last !== undefined && last.height >= window + 2) {
            // Something went cold, and the compacted store's log no longer starts at 1 once segments were released.
            expect(compactions + 1).toBeGreaterThan(0);
          }
          await pair.close();
          await pair.open();
          await expectSameAnswers(pair, 'after the final reopen');
        } finally {
          await pair.close().catch(() => undefined);
        }
      }),
      { seed, numRuns: Number(process.env['FC_RUNS'] ?? 4) },
    );
  }, 600_000);

  it('a long chain with a small window: the hot log is released, the cold tier grows, and every query still agrees', async () => {
    const pair = new Pair(seed ^ 0x5a5a, 10);
    await pair.setup();
    try {
      for (let h = 0; h < 90; h++) {
        await pair.step({ kind: 'block', round: h % 3, equivocator: h % 17 === 5 ? h % VALIDATORS : undefined, reward: true, event: h % 2 === 0, checkpoint: true });
        if (h % 20 === 19) await pair.cut.compact();
      }
      const report = await pair.cut.compact();
      expect(report.to.height).toBeGreaterThan(70);
      expect(pair.cut.log.openReport).toBeDefined();
      await expectSameAnswers(pair, 'after 90 blocks');
      const hotSegments = (await pair.fs.readdir('/hot/wal')).length;
      const cutSegments = (await pair.fs.readdir('/cut/wal')).length;
      expect(cutSegments, 'the compacted store released most of its segments').toBeLessThan(hotSegments / 2);
      expect((await pair.fs.readdir('/cut/cold')).length).toBeGreaterThan(1);
      await pair.close();
      await pair.open();
      expect(pair.cut.replay.image.loaded, 'the reopen loads an image').toBeDefined();
      await expectSameAnswers(pair, 'after reopening 90 blocks');
    } finally {
      await pair.close().catch(() => undefined);
    }
  }, 600_000);
});

describe('bounded history: power cuts and damage', () => {
  it('a power cut at every I/O call of a compaction: the directory opens and answers as the store that never compacted', async () => {
    // The history is written once; each power cut runs on a fresh disk holding a copy of its files.
    const pair = new Pair(77, 5);
    await pair.setup();
    for (let h = 0; h < 24; h++) await pair.step({ kind: 'block', round: h % 2, equivocator: h === 9 ? 1 : undefined, reward: h % 3 === 0, event: true, checkpoint: true });
    await pair.cut.close();
    const files = pair.disk.listFiles().filter((f) => f.startsWith('/cut/')).map((f) => ({ path: f, bytes: pair.disk.readDurableNow(f) as Uint8Array }));
    const frozen = pair.clock;
    const expected = await tierReads(pair.hot, pair.height);
    const lightExpected = await lightReads(pair.hot, pair.height);
    await pair.hot.close();
    const options = pair.options('/cut', { hotHeights: 5, compactEvery: 1_000_000 });
    const fresh = async (): Promise<SimulatedDisk> => {
      const disk = new SimulatedDisk({ seed: 77 });
      const fs = disk.fs();
      const dirs = new Set<string>();
      for (const f of files) for (let d = f.path.lastIndexOf('/'); d > 0; d = f.path.lastIndexOf('/', d - 1)) dirs.add(f.path.slice(0, d));
      for (const d of [...dirs].sort((a, b) => a.length - b.length)) await fs.mkdir(d).catch(() => undefined);
      for (const f of files) {
        const h = await fs.open(f.path, 'create');
        await h.writeAndSync([f.bytes], 0);
        await h.close();
      }
      for (const d of dirs) await fs.syncDir(d);
      return disk;
    };
    const openOn = (disk: SimulatedDisk): Promise<ConsensusStore> => openStore({ ...options, fs: disk.fs(), now: () => frozen });
    const expectAnswers = async (store: ConsensusStore, label: string): Promise<void> => {
      const got = await tierReads(store, pair.height);
      for (const name of Object.keys(expected)) {
        const want = expected[name] as unknown[];
        const have = got[name] as unknown[];
        for (let i = 0; i < want.length; i++) expectSame(have[i], want[i], `${label}: ${name} query ${i}`);
      }
    };
    const probe = await fresh();
    const s0 = await openOn(probe);
    const before = probe.callCount;
    const report = await s0.compact();
    const total = probe.callCount - before;
    await s0.close();
    expect(report.to.height, 'the compaction moved something').toBeGreaterThan(0);
    expect(total).toBeGreaterThan(5);
    console.log(`retention: a compaction makes ${total} I/O calls`);
    // Every call with RETENTION_EXHAUSTIVE=1; else the first and last ten and a seeded one in twelve (about a minute).
    const exhaustive = process.env['RETENTION_EXHAUSTIVE'] !== undefined;
    const offset = seed % 12;
    const points = Array.from({ length: total }, (_, i) => i + 1).filter((at) => exhaustive || at <= 10 || at > total - 10 || (at + offset) % 12 === 0);
    console.log(`retention: power cuts at ${points.length} of the ${total} calls${exhaustive ? '' : ` (offset ${offset}; RETENTION_EXHAUSTIVE=1 for all)`}`);
    let cuts = 0;
    for (const [n, at] of points.entries()) {
      const disk = await fresh();
      const store = await openOn(disk);
      const crashes = disk.stats.crashes;
      disk.crashAtCall(at);
      await store.compact().catch(() => undefined);
      if (disk.stats.crashes > crashes) cuts++;
      else disk.crash();
      await store.close().catch(() => undefined);
      const reopened = await openOn(disk);
      try {
        // Every query after a few of the cuts; the answers that cover every record after the others.
        const full = n % 10 === 0;
        if (full) await expectAnswers(reopened, `power cut at call ${at} of ${total}`);
        else expectSame(await lightReads(reopened, pair.height), lightExpected, `power cut at call ${at} of ${total}`);
        // A compaction after the cut finishes the job.
        await reopened.compact();
        if (full) await expectAnswers(reopened, `compaction after a cut at call ${at}`);
        else expectSame(await lightReads(reopened, pair.height), lightExpected, `compaction after a cut at call ${at}`);
      } finally {
        await reopened.close();
      }
    }
    expect(cuts).toBe(points.length);
  }, 900_000);

  it('a byte flipped in a cold file: the queries that read it fail with CORRUPTION naming the file; the hot ones answer', async () => {
    const pair = new Pair(91, 4);
    await pair.setup();
    for (let h = 0; h < 20; h++) await pair.step({ kind: 'block', round: 0, equivocator: undefined, reward: true, event: true, checkpoint: true });
    await pair.cut.compact();
    await pair.close();
    const names = (await pair.fs.readdir('/cut/cold')).filter((n) => n.startsWith('votes-'));
    expect(names.length).toBeGreaterThan(0);
    const path = `/cut/cold/${names[0] as string}`;
    const bytes = await pair.fs.readFile(path);
    // A byte inside the first block (past the file's header).
    bytes[Math.min(64, bytes.length - 1)] = (bytes[Math.min(64, bytes.length - 1)] as number) ^ 0x40;
    const handle = await pair.fs.open(path, 'create');
    await handle.writeAndSync([bytes], 0);
    await handle.close();
    await pair.open();
    try {
      const failed = await pair.cut.votes.getValidatorVotes('val-1').then(() => undefined, (e: unknown) => e);
      expect(isStoreError(failed, 'CORRUPTION'), String(failed)).toBe(true);
      expect((failed as Error).message).toContain(names[0] as string);
      // The hot heights answer.
      expect(await pair.cut.votes.queryVotes({ startHeight: 19, endHeight: 19 })).toEqual(await pair.hot.votes.queryVotes({ startHeight: 19, endHeight: 19 }));
    } finally {
      await pair.close();
    }
  }, 120_000);
});

describe('bounded history: bad input and refusals', () => {
  const bad: [string, unknown][] = [
    ['retention', 5],
    ['retention', { hotHeights: -1 }],
    ['retention', { hotHeights: 1.5 }],
    ['retention', { hotHeights: '10' }],
    ['retention', { compactEvery: 0 }],
    ['retention', { unknown: 1 }],
  ];
  for (const [key, value] of bad) {
    it(`${key}: ${JSON.stringify(value)} is INVALID_ARGUMENT and creates nothing`, async () => {
      const disk = new SimulatedDisk({ seed: 3 });
      const fs = disk.fs();
      const err = await openStore({ dir: '/x', fs, chainId: AUDIT_CHAIN, [key]: value } as unknown as OpenStoreOptions).then(() => undefined, (e: unknown) => e);
      expect(isStoreError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
      expect((err as Error).message).toContain('retention');
      expect(await fs.stat('/x')).toBeUndefined();
    });
  }

  it('compact() of a store that keeps everything hot is INVALID_ARGUMENT', async () => {
    const disk = new SimulatedDisk({ seed: 4 });
    const store = await openStore({ dir: '/x', fs: disk.fs(), chainId: AUDIT_CHAIN, audit: { nodeKey: AUDIT_KEY }, retention: { hotHeights: 0 } });
    try {
      const err = await store.compact().then(() => undefined, (e: unknown) => e);
      expect(isStoreError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('compact() after close rejects CLOSED; an I/O error in a compaction commits nothing, the store goes on and the next one succeeds', async () => {
    const pair = new Pair(21, 3);
    await pair.setup();
    try {
      for (let h = 0; h < 12; h++) await pair.step({ kind: 'block', round: 0, equivocator: undefined, reward: true, event: true, checkpoint: true });
      pair.disk.injectFault('write', 'EIO');
      const failed = await pair.cut.compact().then(() => undefined, (e: unknown) => e);
      expect(isStoreError(failed, 'IO_FAILED'), String(failed)).toBe(true);
      pair.disk.clearFaults();
      expect(pair.cut.status, 'a failed compaction does not poison the store').toBe('open');
      const coldFiles = (await pair.fs.stat('/cut/cold')) === undefined ? [] : (await pair.fs.readdir('/cut/cold')).filter((n) => n.endsWith('.cold'));
      expect(coldFiles, 'no cold file left behind').toEqual([]);
      await pair.step({ kind: 'block', round: 1, equivocator: undefined, reward: false, event: false, checkpoint: false });
      const report = await pair.cut.compact();
      expect(report.to.height).toBeGreaterThan(0);
      await expectSameAnswers(pair, 'after a failed and a successful compaction');
    } finally {
      await pair.close();
    }
    const err = await pair.cut.compact().then(() => undefined, (e: unknown) => e);
    expect(isStoreError(err, 'CLOSED'), String(err)).toBe(true);
  }, 120_000);

  it('a log whose old segments were released opens only from an image: with every image gone it refuses with CORRUPTION', async () => {
    const pair = new Pair(12, 3);
    await pair.setup();
    for (let h = 0; h < 40; h++) await pair.step({ kind: 'block', round: 0, equivocator: undefined, reward: true, event: true, checkpoint: true });
    const report = await pair.cut.compact();
    expect(report.segmentsReleased).toBeGreaterThan(0);
    await pair.close();
    for (const name of await pair.fs.readdir('/cut/images')) await pair.fs.unlink(`/cut/images/${name}`);
    const err = await openStore(pair.options('/cut', { hotHeights: 3 })).then(() => undefined, (e: unknown) => e);
    expect(isStoreError(err, 'CORRUPTION'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/released/);
  }, 120_000);
});
