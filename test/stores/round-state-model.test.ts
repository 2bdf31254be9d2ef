/**
 * Model-based test of RoundStateStore: random saves (forward and backward), prunes, reopens and
 * crashes against a plain model (an array of the latest checkpoint per (height, round) and a
 * prune floor); every query must agree with the model after every step. A failure prints its
 * seed; set FC_SEED to replay it.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { isStoreError } from '../../src/errors.ts';
import type { ConsensusPhase, RoundState } from '../../src/model/round.ts';
import { CONSENSUS_PHASES } from '../../src/model/round.ts';
import type { RoundStateStore } from '../../src/stores/round-types.ts';
import { roundState } from '../../src/testing/conformance/round-state-store.conformance.ts';
import { MemoryDisk } from '../../src/log/memory-log.ts';
import type { MemoryLog } from '../../src/log/memory-log.ts';
import { openMemoryRounds } from '../support/round-test-log.ts';

interface Model {
  states: RoundState[];
  floor: number;
}

interface Real {
  store: RoundStateStore;
  log: MemoryLog;
  disk: MemoryDisk;
}

type Cmd = fc.AsyncCommand<Model, Real>;

function mayFollow(model: Model, next: RoundState): boolean {
  if (next.height < model.floor) return false;
  const latest = model.states.at(-1);
  if (latest === undefined) return true;
  if (next.height < latest.height || next.round < latest.round) return false;
  if (next.height > latest.height) return next.round > latest.round;
  if (next.round > latest.round) return true;
  return CONSENSUS_PHASES.indexOf(next.phase) >= CONSENSUS_PHASES.indexOf(latest.phase);
}

async function agree(model: Model, real: Real): Promise<void> {
  const latest = model.states.at(-1);
  expect((await real.store.loadRoundState())?.state).toEqual(latest);
  const listed = await real.store.listRoundStates({ limit: 10_000 });
  expect(listed.items.map((s) => s.state)).toEqual(model.states);
  expect(listed.truncated).toBe(false);
  const heights = new Set(model.states.map((s) => s.height));
  for (const height of [...heights, model.floor - 1, (latest?.height ?? 0) + 1]) {
    if (height < 0) continue;
    const atHeight = model.states.filter((s) => s.height === height).at(-1);
    expect((await real.store.getRoundStateAt(height))?.state).toEqual(atHeight);
  }
}

class SaveCommand implements Cmd {
  constructor(readonly dh: number, readonly dr: number, readonly phase: ConsensusPhase) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const latest = model.states.at(-1);
    const next = roundState(Math.max(0, (latest?.height ?? 0) + this.dh), Math.max(0, (latest?.round ?? 0) + this.dr), this.phase);
    const ok = mayFollow(model, next);
    const lsn = real.log.nextLsn;
    try {
      await real.store.saveRoundState(next);
      expect(ok).toBe(true);
      if (latest !== undefined && latest.height === next.height && latest.round === next.round) model.states.pop();
      model.states.push(next);
    } catch (err) {
      expect(ok).toBe(false);
      expect(isStoreError(err, 'CONFLICT')).toBe(true);
      expect(real.log.nextLsn).toBe(lsn);
    }
    await agree(model, real);
  }
  toString(): string {
    return `save(+${this.dh}, +${this.dr}, ${this.phase})`;
  }
}

class PruneCommand implements Cmd {
  constructor(readonly back: number) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const latest = model.states.at(-1);
    const height = Math.max(0, (latest?.height ?? model.floor) - this.back);
    const refused = latest !== undefined && height > latest.height && height > model.floor;
    try {
      const dropped = await real.store.pruneBeforeHeight(height);
      expect(refused).toBe(false);
      const kept = height > model.floor ? model.states.filter((s) => s.height >= height) : model.states;
      expect(dropped).toBe(model.states.length - kept.length);
      model.states = kept;
      model.floor = Math.max(model.floor, height);
    } catch (err) {
      expect(refused).toBe(true);
      expect(isStoreError(err, 'CONFLICT')).toBe(true);
    }
    await agree(model, real);
  }
  toString(): string {
    return `prune(latest - ${this.back})`;
  }
}

class ReopenCommand implements Cmd {
  constructor(readonly crash: boolean) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    if (this.crash) real.log.crash();
    else await real.log.close();
    const reopened = await openMemoryRounds(real.disk);
    real.store = reopened.store;
    real.log = reopened.log;
    await agree(model, real);
  }
  toString(): string {
    return this.crash ? 'crash+reopen' : 'reopen';
  }
}

it('RoundStateStore agrees with a plain model across saves, prunes, reopens and crashes', async () => {
  const seed = process.env['FC_SEED'] === undefined ? Date.now() : Number(process.env['FC_SEED']);
  const commands = fc.commands(
    [
      fc.tuple(fc.integer({ min: -1, max: 2 }), fc.integer({ min: -1, max: 2 }), fc.constantFrom(...CONSENSUS_PHASES)).map(
        ([dh, dr, phase]) => new SaveCommand(dh, dr, phase),
      ),
      fc.integer({ min: -1, max: 3 }).map((back) => new PruneCommand(back)),
      fc.boolean().map((crash) => new ReopenCommand(crash)),
    ],
    { maxCommands: 60, size: 'medium' },
  );
  await fc.assert(
    fc.asyncProperty(commands, async (cmds) => {
      const disk = new MemoryDisk();
      const opened = await openMemoryRounds(disk);
      const real: Real = { store: opened.store, log: opened.log, disk };
      await fc.asyncModelRun(() => ({ model: { states: [], floor: 0 }, real }), cmds);
      await real.log.close();
    }),
    { seed, numRuns: 150, reporter: (details) => {
      if (details.failed) throw new Error(`${fc.defaultReportMessage(details)}\n(replay with FC_SEED=${seed})`);
    } },
  );
});
