/**
 * Model test (fast-check `asyncModelRun`, sorted-btree style): random sequences of append
 * (single and multi-record, concurrent groups), get, scan from a random LSN, close and reopen,
 * and power cuts, against a plain array of records. Prints its seed; replay with
 * `fc.assert(..., { seed, path })`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { Lsn, RecordInput } from '../../src/log/types.ts';
import type { WriteAheadLog } from '../../src/log/wal.ts';
import { collect, openSim } from './wal-helpers.ts';

interface Model {
  records: { kind: number; payload: Uint8Array }[];
}

interface Real {
  disk: SimulatedDisk;
  log: WriteAheadLog;
}

const recordArb: fc.Arbitrary<RecordInput> = fc.record({
  kind: fc.integer({ min: 1, max: 199 }),
  payload: fc.uint8Array({ maxLength: 700 }),
});

class AppendCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly calls: RecordInput[][]) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const first = m.records.length + 1;
    const results = await Promise.all(this.calls.map((c) => r.log.append(c)));
    let expected = first;
    for (const lsns of results) for (const lsn of lsns) expect(lsn).toBe(expected++);
    for (const c of this.calls) for (const rec of c) m.records.push({ kind: rec.kind, payload: rec.payload.slice() });
    expect(r.log.nextLsn).toBe(m.records.length + 1);
  }
  toString(): string {
    return `append(${this.calls.map((c) => c.length).join(',')})`;
  }
}

class GetCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const lsn = m.records.length === 0 ? 1 : 1 + (this.pick % (m.records.length + 1));
    const got = await r.log.get(lsn as Lsn);
    const want = m.records[lsn - 1];
    if (want === undefined) expect(got).toBeUndefined();
    else expect({ kind: got?.kind, payload: got?.payload }).toEqual(want);
  }
  toString(): string {
    return `get(${this.pick})`;
  }
}

class ScanCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const from = 1 + (this.pick % (m.records.length + 1));
    const seen: { kind: number; payload: Uint8Array }[] = [];
    await r.log.scan((rec) => {
      expect(rec.lsn).toBe(from + seen.length);
      seen.push({ kind: rec.kind, payload: rec.payload.slice() });
    }, from as Lsn);
    expect(seen).toEqual(m.records.slice(from - 1));
  }
  toString(): string {
    return `scan(${this.pick})`;
  }
}

class ReopenCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly crash: boolean) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    if (this.crash) r.disk.crash();
    else await r.log.close();
    r.log = await openSim(r.disk);
    // Every append was acknowledged before the cut, so nothing may be lost.
    expect(r.log.openReport.recordsScanned).toBe(m.records.length);
    expect((await collect(r.log)).map((x) => ({ kind: x.kind, payload: x.payload }))).toEqual(m.records);
  }
  toString(): string {
    return this.crash ? 'crash+reopen' : 'close+reopen';
  }
}

const commands = [
  fc.array(fc.array(recordArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }).map((c) => new AppendCommand(c)),
  fc.nat().map((n) => new GetCommand(n)),
  fc.nat().map((n) => new ScanCommand(n)),
  fc.boolean().map((b) => new ReopenCommand(b)),
];

describe('model', () => {
  it('append / get / scan / close / reopen / crash behave like a plain array', async () => {
    const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
    console.log(`wal-model: fast-check seed ${seed}`);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1e6 }), fc.commands(commands, { maxCommands: 40 }), async (diskSeed, cmds) => {
        const disk = new SimulatedDisk({ seed: diskSeed });
        const real: Real = { disk, log: await openSim(disk) };
        await fc.asyncModelRun(() => ({ model: { records: [] }, real }), cmds);
        await real.log.close();
      }),
      { seed, numRuns: 150 },
    );
  });
});
