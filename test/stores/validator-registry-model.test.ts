/**
 * Model-based test of ValidatorRegistry: random registrations, stake and status changes and
 * slashes (some refused), with reopens and crashes, against a plain model: the list of accepted
 * changes, where the set at height h is found by filtering the changes at or below h and folding
 * them in order. Every query must agree after every step. A failure prints its seed; set FC_SEED
 * to replay it.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { isStoreError } from '../../src/errors.ts';
import type { ValidatorRegistry } from '../../src/stores/validator-types.ts';
import type { ValidatorStatus } from '../../src/model/validator.ts';
import { MemoryDisk } from '../../src/log/memory-log.ts';
import type { MemoryLog } from '../../src/log/memory-log.ts';
import { openMemoryRegistry, testPublicKey } from '../support/round-test-log.ts';

interface ModelValidator {
  stake: bigint;
  status: ValidatorStatus;
  totalSlashed: bigint;
}

interface ModelChange {
  readonly id: string;
  readonly height: number;
  readonly fold: (before: ModelValidator | undefined) => ModelValidator;
}

interface Model {
  changes: ModelChange[];
}

interface Real {
  store: ValidatorRegistry;
  log: MemoryLog;
  disk: MemoryDisk;
}

type Cmd = fc.AsyncCommand<Model, Real>;

const IDS = 3;
const MAX_HEIGHT = 12;

function stateAt(model: Model, id: string, height: number): ModelValidator | undefined {
  let v: ModelValidator | undefined;
  for (const c of model.changes) if (c.id === id && c.height <= height) v = c.fold(v);
  return v;
}

function latestChange(model: Model, id: string): ModelChange | undefined {
  return model.changes.filter((c) => c.id === id).at(-1);
}

async function agree(model: Model, real: Real): Promise<void> {
  for (let height = 0; height <= MAX_HEIGHT + 1; height += 3) {
    const set = await real.store.getValidatorsAtHeight(height);
    const expected: Array<[string, ModelValidator]> = [];
    for (let n = 0; n < IDS; n++) {
      const v = stateAt(model, `v${n}`, height);
      if (v !== undefined) expected.push([`v${n}`, v]);
    }
    expect(set.validators.map((v) => [v.validatorId, { stake: v.stake, status: v.status, totalSlashed: v.totalSlashed }])).toEqual(expected);
    expect(set.totalStake).toBe(expected.reduce((sum, [, v]) => sum + v.stake, 0n));
    expect(set.activeStake).toBe(expected.reduce((sum, [, v]) => sum + (v.status === 'active' ? v.stake : 0n), 0n));
  }
  for (let n = 0; n < IDS; n++) {
    const id = `v${n}`;
    const count = model.changes.filter((c) => c.id === id).length;
    if (count === 0) await expect(real.store.getValidatorHistory(id)).rejects.toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    else expect((await real.store.getValidatorHistory(id)).items).toHaveLength(count);
  }
}

/** Runs `call`; expects it to succeed exactly when `refusal` is undefined, else to reject with that code. */
async function attempt(real: Real, refusal: 'CONFLICT' | 'NOT_FOUND' | undefined, call: () => Promise<unknown>): Promise<boolean> {
  const lsn = real.log.nextLsn;
  try {
    await call();
  } catch (err) {
    expect(isStoreError(err, refusal), `expected ${refusal ?? 'success'}, got ${String(err)}`).toBe(true);
    expect(real.log.nextLsn).toBe(lsn);
    return false;
  }
  expect(refusal).toBeUndefined();
  return true;
}

function refusalFor(model: Model, id: string, height: number): 'CONFLICT' | 'NOT_FOUND' | undefined {
  const latest = latestChange(model, id);
  if (latest === undefined) return 'NOT_FOUND';
  return height < latest.height ? 'CONFLICT' : undefined;
}

class RegisterCommand implements Cmd {
  constructor(readonly n: number, readonly height: number, readonly stake: bigint, readonly status: 'active' | 'inactive') {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const id = `v${this.n}`;
    const refusal = latestChange(model, id) === undefined ? undefined : 'CONFLICT';
    const { stake, status } = this;
    if (await attempt(real, refusal, () => real.store.registerValidator({ validatorId: id, publicKey: testPublicKey(this.n), stake, status }, this.height))) {
      model.changes.push({ id, height: this.height, fold: () => ({ stake, status, totalSlashed: 0n }) });
    }
    await agree(model, real);
  }
  toString = (): string => `register(v${this.n}, h${this.height}, ${this.stake}, ${this.status})`;
}

class StakeCommand implements Cmd {
  constructor(readonly n: number, readonly height: number, readonly stake: bigint) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const id = `v${this.n}`;
    const { stake } = this;
    if (await attempt(real, refusalFor(model, id, this.height), () => real.store.updateStake(id, stake, this.height))) {
      model.changes.push({ id, height: this.height, fold: (b) => ({ ...(b as ModelValidator), stake }) });
    }
    await agree(model, real);
  }
  toString = (): string => `stake(v${this.n}, h${this.height}, ${this.stake})`;
}

class StatusCommand implements Cmd {
  constructor(readonly n: number, readonly height: number, readonly status: ValidatorStatus) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const id = `v${this.n}`;
    const { status } = this;
    let refusal = refusalFor(model, id, this.height);
    if (refusal === undefined && stateAt(model, id, Number.MAX_SAFE_INTEGER)?.status === 'tombstoned' && status !== 'tombstoned') {
      refusal = 'CONFLICT';
    }
    if (await attempt(real, refusal, () => real.store.updateStatus(id, status, this.height, 'model'))) {
      model.changes.push({ id, height: this.height, fold: (b) => ({ ...(b as ModelValidator), status }) });
    }
    await agree(model, real);
  }
  toString = (): string => `status(v${this.n}, h${this.height}, ${this.status})`;
}

class SlashCommand implements Cmd {
  constructor(readonly n: number, readonly height: number, readonly amount: bigint, readonly fraction: boolean, readonly jail: boolean) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const id = `v${this.n}`;
    const input = {
      validatorId: id,
      height: this.height,
      reason: 'model',
      ...(this.fraction ? { fraction: { numerator: this.amount % 5n, denominator: 4n + (this.amount % 5n) } } : { amount: this.amount }),
      ...(this.jail ? { status: 'jailed' as const } : {}),
    };
    const { fraction, amount, jail } = this;
    if (await attempt(real, refusalFor(model, id, this.height), () => real.store.recordSlash(input))) {
      model.changes.push({
        id,
        height: this.height,
        fold: (b) => {
          const before = b as ModelValidator;
          const requested = fraction ? (before.stake * (amount % 5n)) / (4n + (amount % 5n)) : amount;
          const taken = requested < before.stake ? requested : before.stake;
          const status = jail && before.status !== 'tombstoned' ? 'jailed' : before.status;
          return { stake: before.stake - taken, status, totalSlashed: before.totalSlashed + taken };
        },
      });
    }
    await agree(model, real);
  }
  toString = (): string => `slash(v${this.n}, h${this.height}, ${this.amount}${this.fraction ? ' frac' : ''}${this.jail ? ' jail' : ''})`;
}

class ReopenCommand implements Cmd {
  constructor(readonly crash: boolean) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    if (this.crash) real.log.crash();
    else await real.log.close();
    const reopened = await openMemoryRegistry(real.disk);
    real.store = reopened.store;
    real.log = reopened.log;
    await agree(model, real);
  }
  toString = (): string => (this.crash ? 'crash+reopen' : 'reopen');
}

it('ValidatorRegistry agrees with a list-of-changes model across writes, reopens and crashes', async () => {
  const seed = process.env['FC_SEED'] === undefined ? Date.now() : Number(process.env['FC_SEED']);
  const n = fc.integer({ min: 0, max: IDS - 1 });
  const height = fc.integer({ min: 0, max: MAX_HEIGHT });
  const stake = fc.bigInt({ min: 0n, max: 1000n });
  const commands = fc.commands(
    [
      fc.tuple(n, height, stake, fc.constantFrom('active' as const, 'inactive' as const)).map((a) => new RegisterCommand(...a)),
      fc.tuple(n, height, stake).map((a) => new StakeCommand(...a)),
      fc.tuple(n, height, fc.constantFrom<ValidatorStatus>('active', 'jailed', 'tombstoned', 'inactive')).map((a) => new StatusCommand(...a)),
      fc.tuple(n, height, stake, fc.boolean(), fc.boolean()).map((a) => new SlashCommand(...a)),
      fc.boolean().map((crash) => new ReopenCommand(crash)),
    ],
    { maxCommands: 60, size: 'medium' },
  );
  await fc.assert(
    fc.asyncProperty(commands, async (cmds) => {
      const disk = new MemoryDisk();
      const opened = await openMemoryRegistry(disk);
      const real: Real = { store: opened.store, log: opened.log, disk };
      await fc.asyncModelRun(() => ({ model: { changes: [] }, real }), cmds);
      await real.log.close();
    }),
    {
      seed,
      numRuns: 100,
      reporter: (details) => {
        if (details.failed) throw new Error(`${fc.defaultReportMessage(details)}\n(replay with FC_SEED=${seed})`);
      },
    },
  );
});
