// Model-based test of VoteStore: random sequences of appends (new, duplicate,
// equivocating), finalization marks, close/reopen and power cuts with an append in flight, run
// against a plain in-memory model; after every step every query must agree with the model.
// fast-check prints the seed and the shrunk command list of a failure, for replay.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../src/errors.ts';
import { openStoreOnLog } from '../../src/store.ts';
import type { ConsensusStore } from '../../src/store.ts';
import { VOTE_TYPES } from '../../src/model/vote.ts';
import type { ValidatorVote, VoteType } from '../../src/model/vote.ts';
import { hashOf } from '../../src/testing/conformance/vote-store.conformance.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';

const VALIDATORS = ['a', 'b', 'c'];
const ROUNDS = [0, 1, 2, 3, 4];

interface ModelEntry {
  readonly id: number;
  readonly vote: ValidatorVote;
}

interface Model {
  entries: ModelEntry[];
  finalized: Map<number, number>;
  last: { height: number; round: number } | null;
}

interface Real {
  disk: MemoryDisk;
  log: MemoryLog;
  store: ConsensusStore;
}

const typeCode = (t: VoteType): number => VOTE_TYPES.indexOf(t);
const sameBlock = (a: ValidatorVote, b: ValidatorVote): boolean =>
  a.height === b.height && (a.blockHash === null || b.blockHash === null ? a.blockHash === b.blockHash : a.blockHash[0] === b.blockHash[0]);
const cmp = (a: number | string, b: number | string): number => (a < b ? -1 : a > b ? 1 : 0);
const byRoundOrder = (x: ModelEntry, y: ModelEntry): number =>
  cmp(x.vote.round, y.vote.round) || cmp(typeCode(x.vote.voteType), typeCode(y.vote.voteType)) || cmp(x.vote.validatorId, y.vote.validatorId) || x.id - y.id;
const byHeightOrder = (x: ModelEntry, y: ModelEntry): number => cmp(x.vote.height, y.vote.height) || x.id - y.id;
const ids = (entries: readonly { id: number }[]): number[] => entries.map((e) => e.id);

async function openReal(disk: MemoryDisk): Promise<Real> {
  const log = MemoryLog.open(disk);
  let clock = 1_000;
  return { disk, log, store: await openStoreOnLog(log, { chainId: 'model', now: () => clock++, voteVerification: 'off' }) };
}

function earliestOpen(m: Model): number | undefined {
  const open = m.entries.filter(
    (e) => m.last === null || e.vote.round > m.last.round || (e.vote.round === m.last.round && e.vote.height > m.last.height),
  );
  return open.length === 0 ? undefined : Math.min(...open.map((e) => e.vote.round));
}

async function checkAgreement(m: Model, r: Real): Promise<void> {
  const votes = r.store.votes;
  const sorted = [...m.entries].sort(byRoundOrder);
  for (const round of ROUNDS) {
    const inRound = sorted.filter((e) => e.vote.round === round);
    expect(ids(await votes.getVotesForRound(round))).toEqual(ids(inRound));
    expect(await votes.countVotesForRound(round)).toBe(inRound.length);
    for (const t of VOTE_TYPES) {
      expect(await votes.countVotesForRound(round, t)).toBe(inRound.filter((e) => e.vote.voteType === t).length);
    }
  }
  for (const v of VALIDATORS) {
    const mine = sorted.filter((e) => e.vote.validatorId === v);
    expect(ids(await votes.getValidatorVotes(v))).toEqual(ids(mine));
    expect(ids(await votes.getValidatorVotes(v, { startRound: 2, endRound: 3, limit: 2 }))).toEqual(
      ids(mine.filter((e) => e.vote.round >= 2 && e.vote.round <= 3).slice(0, 2)),
    );
    expect(await votes.voteExists(v, 1, 'prevote')).toBe(mine.some((e) => e.vote.round === 1 && e.vote.voteType === 'prevote'));
  }
  const newest = [...m.entries].sort((x, y) => y.id - x.id).slice(0, 4);
  expect(ids(await votes.getRecentVotes(4))).toEqual(ids(newest));
  const heightRange = [...m.entries].filter((e) => e.vote.height >= 2 && e.vote.height <= 4).sort(byHeightOrder);
  expect(ids(await votes.queryVotes({ startHeight: 2, endHeight: 4 }))).toEqual(ids(heightRange));
  const precommitsOfB = sorted.filter((e) => e.vote.validatorId === 'b' && e.vote.voteType === 'precommit');
  expect(ids(await votes.queryVotes({ validatorId: 'b', voteType: 'precommit' }))).toEqual(ids(precommitsOfB));
  expect(await votes.getEarliestOpenRound()).toBe(earliestOpen(m));
}

class AppendCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly vote: ValidatorVote) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const result = await r.store.votes.appendVote(this.vote);
    const slot = m.entries.filter(
      (e) => e.vote.validatorId === this.vote.validatorId && e.vote.round === this.vote.round && e.vote.voteType === this.vote.voteType,
    );
    const twin = slot.find((e) => sameBlock(e.vote, this.vote));
    if (twin !== undefined) {
      expect(result.outcome).toBe('duplicate');
      expect(result.id).toBe(twin.id);
    } else {
      expect(result.outcome).toBe(slot.length === 0 ? 'stored' : 'equivocation');
      expect(ids(result.conflictsWith)).toEqual(ids(slot));
      expect(m.entries.every((e) => e.id < result.id)).toBe(true);
      m.entries.push({ id: result.id, vote: this.vote });
    }
    await checkAgreement(m, r);
  }
  toString(): string {
    const v = this.vote;
    return `append(${v.validatorId}, h${v.height}, r${v.round}, ${v.voteType}, ${v.blockHash === null ? 'nil' : v.blockHash[0]}, t${v.timestamp})`;
  }
}

class FinalizeCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly height: number,
    readonly round: number,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const known = m.finalized.get(this.height);
    const allowed =
      known === undefined ? m.last === null || (this.height >= m.last.height && this.round >= m.last.round) : known === this.round;
    const outcome = await r.store.votes.markFinalized(this.height, this.round).then(
      () => 'ok',
      (err: unknown) => (isStoreError(err, 'CONFLICT') ? 'conflict' : String(err)),
    );
    expect(outcome).toBe(allowed ? 'ok' : 'conflict');
    if (allowed && known === undefined) {
      m.finalized.set(this.height, this.round);
      m.last = { height: this.height, round: this.round };
    }
    await checkAgreement(m, r);
  }
  toString(): string {
    return `finalize(h${this.height}, r${this.round})`;
  }
}

class ReopenCommand implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    await r.store.close();
    Object.assign(r, await openReal(r.disk));
    await checkAgreement(m, r);
  }
  toString(): string {
    return 'reopen';
  }
}

/** Power cut while an append is in flight: it was never acknowledged, so it must be gone. */
class CrashCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly vote: ValidatorVote) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    void r.store.votes.appendVote(this.vote);
    r.log.crash();
    Object.assign(r, await openReal(r.disk));
    await checkAgreement(m, r);
  }
  toString(): string {
    return `crash-during-append(${this.vote.validatorId}, r${this.vote.round})`;
  }
}

const voteArb: fc.Arbitrary<ValidatorVote> = fc
  .record({
    validatorId: fc.constantFrom(...VALIDATORS),
    round: fc.constantFrom(...ROUNDS),
    heightSkew: fc.constantFrom(0, 0, 0, 1),
    voteType: fc.constantFrom<VoteType>(...VOTE_TYPES),
    block: fc.constantFrom<number | null>(1, 1, 2, null),
    timestamp: fc.integer({ min: 0, max: 3 }),
  })
  .map((v) => ({
    validatorId: v.validatorId,
    height: v.round + v.heightSkew,
    round: v.round,
    voteType: v.voteType,
    blockHash: v.block === null ? null : hashOf(v.block),
    timestamp: v.timestamp,
    signature: new Uint8Array(64).fill(3),
  }));

const commands = fc.commands(
  [
    voteArb.map((v) => new AppendCommand(v)),
    fc.tuple(fc.integer({ min: 0, max: 5 }), fc.constantFrom(...ROUNDS)).map(([h, r]) => new FinalizeCommand(h, r)),
    fc.constant(new ReopenCommand()),
    voteArb.map((v) => new CrashCommand(v)),
  ],
  { maxCommands: 60, size: 'large' },
);

describe('VoteStore against an in-memory model', () => {
  it('agrees with the model after every append, finalization, reopen and crash', async () => {
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const real = await openReal(new MemoryDisk());
        const model: Model = { entries: [], finalized: new Map(), last: null };
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds);
        } finally {
          await real.store.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
