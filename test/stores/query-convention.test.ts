// The shared scaffolding of src/stores/context.ts (the clock check, the write serializer, the
// query parsing and the page) and the one query convention of the round-state store, the
// validator registry and the reward history (docs/stores-rounds-validators.md, "Queries"):
// `{ startHeight?, endHeight?, limit? }`, an unknown key named with its did-you-mean, a start
// after its end and a limit above the maximum refused, and `truncated` when a list was cut.
import { describe, expect, it } from 'vitest';
import { ConsensusStoreError, isStoreError, type ErrorCode } from '../../src/errors.ts';
import { MemoryLog } from '../../src/log/memory-log.ts';
import {
  checkQuery,
  parseHeightRange,
  parseLimit,
  parseRoundRange,
  readClock,
  SerialQueue,
  takePage,
} from '../../src/stores/context.ts';
import { distribution } from '../../src/testing/conformance/reward-history.conformance.ts';
import { roundState } from '../../src/testing/conformance/round-state-store.conformance.ts';
import { openMemoryRewards } from '../support/evidence-test-log.ts';
import { openMemoryRegistry, openMemoryRounds, testPublicKey, tickingClock } from '../support/round-test-log.ts';

/** The error `call` throws or rejects with; fails when it does neither. */
async function errorOf(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error, but the call succeeded');
}

async function expectError(call: () => unknown, code: ErrorCode, message: RegExp, argument?: string): Promise<void> {
  const err = await errorOf(call);
  expect(isStoreError(err, code), String(err)).toBe(true);
  expect((err as ConsensusStoreError).message).toMatch(message);
  if (argument !== undefined) expect((err as ConsensusStoreError).details).toMatchObject({ argument });
}

const LIMITS = { defaultLimit: 10, maxLimit: 100 };

describe('context.ts: the clock check', () => {
  it('passes a safe non-negative integer through', () => {
    expect(readClock({ log: MemoryLog.open(), now: () => 0 })).toBe(0);
    expect(readClock({ log: MemoryLog.open(), now: () => Number.MAX_SAFE_INTEGER })).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('a negative, fractional, NaN or unsafe reading is a RangeError naming it', () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) {
      expect(() => readClock({ log: MemoryLog.open(), now: () => bad })).toThrow(RangeError);
    }
    expect(() => readClock({ log: MemoryLog.open(), now: () => -7 })).toThrow(/StoreContext\.now\(\) returned -7/);
  });
});

describe('context.ts: SerialQueue', () => {
  it('runs tasks one at a time in call order, each after the one before settled', async () => {
    const queue = new SerialQueue();
    const events: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = queue.run(async () => {
      events.push('first start');
      await gate;
      events.push('first end');
      return 1;
    });
    const second = queue.run(() => {
      events.push('second');
      return 2;
    });
    await Promise.resolve();
    expect(events).toEqual(['first start']);
    release();
    expect(await Promise.all([first, second])).toEqual([1, 2]);
    expect(events).toEqual(['first start', 'first end', 'second']);
  });

  it('a rejection reaches its own caller only; the next task runs all the same', async () => {
    const queue = new SerialQueue();
    const failed = queue.run(async () => {
      throw new Error('boom');
    });
    const next = queue.run(async () => 'ran');
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe('ran');
  });

  it('a task that throws synchronously rejects (the queue does not throw)', async () => {
    const queue = new SerialQueue();
    const failed = queue.run(() => {
      throw new RangeError('sync');
    });
    await expect(failed).rejects.toBeInstanceOf(RangeError);
    expect(await queue.run(() => 3)).toBe(3);
  });
});

describe('context.ts: query parsing', () => {
  it('an absent query is {}; a non-object is INVALID_ARGUMENT', async () => {
    expect(checkQuery('query', undefined, ['limit'])).toEqual({});
    for (const bad of [null, 5, 'q', [], new Uint8Array(1)]) {
      await expectError(() => checkQuery('query', bad, ['limit']), 'INVALID_ARGUMENT', /query must be an object/, 'query');
    }
  });

  it('an unknown key is INVALID_ARGUMENT naming it, with the did-you-mean and the known keys', async () => {
    const keys = ['startHeight', 'endHeight', 'limit'];
    await expectError(() => checkQuery('query', { fromHeight: 3 }, keys), 'INVALID_ARGUMENT', /query\.fromHeight is not an option here; known: startHeight, endHeight, limit/, 'query.fromHeight');
    await expectError(() => checkQuery('query', { startheight: 3 }, keys), 'INVALID_ARGUMENT', /did you mean startHeight\?/);
    await expectError(() => checkQuery('query', { limt: 3 }, keys), 'INVALID_ARGUMENT', /did you mean limit\?/);
    // A key whose value is undefined counts too: the object is checked as written.
    await expectError(() => checkQuery('query', { toHeight: undefined }, keys), 'INVALID_ARGUMENT', /query\.toHeight is not an option/);
  });

  it('height ranges: absent ends are 0 and 2^53 - 1; a start after its end or a bad height is INVALID_ARGUMENT', async () => {
    expect(parseHeightRange('query', {})).toEqual({ startHeight: 0, endHeight: Number.MAX_SAFE_INTEGER });
    expect(parseHeightRange('query', { startHeight: 4, endHeight: 4 })).toEqual({ startHeight: 4, endHeight: 4 });
    await expectError(() => parseHeightRange('query', { startHeight: 5, endHeight: 4 }), 'INVALID_ARGUMENT', /query\.startHeight \(5\) must not exceed query\.endHeight \(4\)/, 'query.startHeight');
    await expectError(() => parseHeightRange('q', { startHeight: -1 }), 'INVALID_ARGUMENT', /q\.startHeight must be an integer/, 'q.startHeight');
    await expectError(() => parseHeightRange('q', { endHeight: '5' }), 'INVALID_ARGUMENT', /q\.endHeight must be an integer/, 'q.endHeight');
  });

  it('round ranges: absent ends are 0 and 2^32 - 1; a start after its end or a round past u32 is INVALID_ARGUMENT', async () => {
    expect(parseRoundRange('query', {})).toEqual({ startRound: 0, endRound: 0xffff_ffff });
    expect(parseRoundRange('query', { startRound: 2, endRound: 9 })).toEqual({ startRound: 2, endRound: 9 });
    await expectError(() => parseRoundRange('query', { startRound: 9, endRound: 2 }), 'INVALID_ARGUMENT', /query\.startRound \(9\) must not exceed query\.endRound \(2\)/);
    await expectError(() => parseRoundRange('query', { endRound: 2 ** 32 }), 'INVALID_ARGUMENT', /query\.endRound must be an integer in \[0, 4294967295\]/);
  });

  it('limits: the default when absent, 1..max otherwise, never clamped', async () => {
    expect(parseLimit('query.limit', undefined, LIMITS)).toBe(10);
    expect(parseLimit('query.limit', 1, LIMITS)).toBe(1);
    expect(parseLimit('query.limit', 100, LIMITS)).toBe(100);
    for (const bad of [0, 101, 1.5, '5', null]) {
      await expectError(() => parseLimit('query.limit', bad, LIMITS), 'INVALID_ARGUMENT', /query\.limit must be an integer in \[1, 100\]/, 'query.limit');
    }
  });

  it('takePage: truncated exactly when more items than the limit were there; it reads one past the limit, never more', () => {
    expect(takePage([1, 2, 3], 3)).toEqual({ items: [1, 2, 3], truncated: false });
    expect(takePage([1, 2, 3], 5)).toEqual({ items: [1, 2, 3], truncated: false });
    expect(takePage([1, 2, 3], 2, (n) => n * 10)).toEqual({ items: [10, 20], truncated: true });
    expect(takePage([], 1)).toEqual({ items: [], truncated: false });
    let read = 0;
    function* counting(): Generator<number> {
      for (let i = 0; ; i++) {
        read++;
        yield i;
      }
    }
    expect(takePage(counting(), 4)).toEqual({ items: [0, 1, 2, 3], truncated: true });
    expect(read).toBe(5);
  });
});

describe('the query convention in the stores', () => {
  it('listRoundStates: unknown key, start after end, limit above the maximum; truncated or not', async () => {
    const { store, log } = await openMemoryRounds();
    for (let h = 1; h <= 5; h++) await store.saveRoundState(roundState(h, h));
    const lsn = log.nextLsn;
    await expectError(() => store.listRoundStates({ fromHeight: 2 } as never), 'INVALID_ARGUMENT', /query\.fromHeight is not an option here/, 'query.fromHeight');
    await expectError(() => store.listRoundStates({ startHeight: 3, endHeight: 2 }), 'INVALID_ARGUMENT', /query\.startHeight \(3\) must not exceed/);
    await expectError(() => store.listRoundStates({ limit: 10_001 }), 'INVALID_ARGUMENT', /query\.limit must be an integer in \[1, 10000\]/);
    expect(log.nextLsn).toBe(lsn);
    const cut = await store.listRoundStates({ startHeight: 2, limit: 2 });
    expect(cut.items.map((s) => s.state.height)).toEqual([2, 3]);
    expect(cut.truncated).toBe(true);
    const whole = await store.listRoundStates({ startHeight: 2, endHeight: 5, limit: 4 });
    expect(whole.items.map((s) => s.state.height)).toEqual([2, 3, 4, 5]);
    expect(whole.truncated).toBe(false);
    // A cut at the range's end is no cut.
    expect((await store.listRoundStates({ endHeight: 3, limit: 3 })).truncated).toBe(false);
  });

  it('the round-state store options reject an unknown key', async () => {
    await expectError(() => openMemoryRounds(undefined, { checkpointIntervall: 2 } as never), 'INVALID_ARGUMENT', /options\.checkpointIntervall is not an option here \(did you mean checkpointInterval\?\)/);
  });

  it('getValidatorHistory: unknown key, start after end, limit above the maximum; truncated or not', async () => {
    const { store, log } = await openMemoryRegistry();
    await store.registerValidator({ validatorId: 'a', publicKey: testPublicKey(1), stake: 1n }, 1);
    for (let h = 2; h <= 4; h++) await store.updateStake('a', BigInt(h), h);
    const lsn = log.nextLsn;
    await expectError(() => store.getValidatorHistory('a', { toHeight: 2 } as never), 'INVALID_ARGUMENT', /query\.toHeight is not an option here/);
    await expectError(() => store.getValidatorHistory('a', { startHeight: 4, endHeight: 1 }), 'INVALID_ARGUMENT', /query\.startHeight \(4\) must not exceed/);
    await expectError(() => store.getValidatorHistory('a', { limit: 10_001 }), 'INVALID_ARGUMENT', /query\.limit must be an integer in \[1, 10000\]/);
    expect(log.nextLsn).toBe(lsn);
    const cut = await store.getValidatorHistory('a', { limit: 3 });
    expect(cut.items.map((c) => c.height)).toEqual([1, 2, 3]);
    expect(cut.truncated).toBe(true);
    const whole = await store.getValidatorHistory('a', { startHeight: 2, limit: 3 });
    expect(whole.items.map((c) => c.height)).toEqual([2, 3, 4]);
    expect(whole.truncated).toBe(false);
  });

  it('the registry says validatorId: in registrations, results and history; the old `id` key is refused by name', async () => {
    const { store, log, disk } = await openMemoryRegistry();
    const lsn = log.nextLsn;
    await expectError(
      () => store.registerValidator({ id: 'a', publicKey: testPublicKey(1), stake: 1n } as never, 1),
      'INVALID_ARGUMENT',
      /validator\.id is not an option here; known: validatorId, publicKey, stake, status/,
      'validator.id',
    );
    await expectError(() => store.recordSlash({ validatorId: 'a', height: 1, amount: 1n, reason: 'r', fraction: undefined, jailed: true } as never), 'INVALID_ARGUMENT', /slash\.jailed is not an option here/);
    expect(log.nextLsn).toBe(lsn);
    const change = await store.registerValidator({ validatorId: 'a', publicKey: testPublicKey(1), stake: 1n }, 1);
    expect(change.validatorId).toBe('a');
    expect(change.after).toMatchObject({ validatorId: 'a', stake: 1n });
    expect(change.after).not.toHaveProperty('id');
    await expectError(
      () => store.recordSlash({ validatorId: 'a', height: 2, fraction: { numerator: 1n, denominator: 2n, base: 1n }, reason: 'r' } as never),
      'INVALID_ARGUMENT',
      /slash\.fraction\.base is not an option here/,
    );
    expect((await store.getValidatorsAtHeight(1)).validators.map((v) => v.validatorId)).toEqual(['a']);
    expect(await store.getValidator('a')).toMatchObject({ validatorId: 'a' });
    // The record's bytes still say `id`: a reopen reads the same validator back.
    await log.close();
    const again = await openMemoryRegistry(disk);
    expect(await again.store.getValidator('a')).toMatchObject({ validatorId: 'a', stake: 1n, registeredAtHeight: 1 });
  });

  it('reward queries: unknown key, start after end, limit above the maximum; truncated or not', async () => {
    const { history, log } = await openMemoryRewards();
    const line = { validatorId: 'val-a', reason: 'BlockProposal' as const, amount: 1n };
    for (let h = 1; h <= 3; h++) await history.recordDistribution(distribution(h, [line, line]));
    const lsn = log.nextLsn;
    await expectError(() => history.queryDistributions({ fromHeight: 1 } as never), 'INVALID_ARGUMENT', /query\.fromHeight is not an option here/);
    await expectError(() => history.queryDistributions({ startHeight: 3, endHeight: 1 }), 'INVALID_ARGUMENT', /query\.startHeight \(3\) must not exceed/);
    await expectError(() => history.queryDistributions({ limit: 10_001 }), 'INVALID_ARGUMENT', /query\.limit must be an integer in \[1, 10000\]/);
    await expectError(() => history.getValidatorRewards('val-a', { maxEntries: 1 } as never), 'INVALID_ARGUMENT', /query\.maxEntries is not an option here/);
    await expectError(() => history.getValidatorRewards('val-a', { startHeight: 3, endHeight: 1 }), 'INVALID_ARGUMENT', /query\.startHeight \(3\) must not exceed/);
    await expectError(() => history.getValidatorRewards('val-a', { limit: 1_000_001 }), 'INVALID_ARGUMENT', /query\.limit must be an integer in \[1, 1000000\]/);
    await expectError(() => history.exportRewards({ fromHeight: 1 } as never), 'INVALID_ARGUMENT', /query\.fromHeight is not an option here/);
    await expectError(() => history.exportRewards({ toDate: 1 } as never), 'INVALID_ARGUMENT', /query\.toDate is not an option here/);
    await expectError(() => history.exportRewards({ maxEntries: 1_000_001 }), 'INVALID_ARGUMENT', /query\.maxEntries must be an integer in \[1, 1000000\]/);
    expect(log.nextLsn).toBe(lsn);

    const cut = await history.queryDistributions({ limit: 2 });
    expect(cut.items.map((d) => d.height)).toEqual([1, 2]);
    expect(cut.truncated).toBe(true);
    expect((await history.queryDistributions({ startHeight: 2, limit: 2 })).truncated).toBe(false);
    // Two lines of val-a per height: a distribution is listed once, and the cut counts distributions.
    expect((await history.queryDistributions({ validatorId: 'val-a', limit: 3 })).truncated).toBe(false);
    expect((await history.queryDistributions({ validatorId: 'val-a', limit: 2 })).truncated).toBe(true);

    const rewards = await history.getValidatorRewards('val-a', { startHeight: 2, limit: 3 });
    expect(rewards).toMatchObject({ startHeight: 2, endHeight: Number.MAX_SAFE_INTEGER, count: 4, total: 4n, truncated: true });
    expect(rewards.entries).toHaveLength(3);
    expect(await history.getValidatorRewards('val-a', { startHeight: 2, limit: 4 })).toMatchObject({ count: 4, truncated: false });
    expect(await history.getValidatorRewards('val-a')).toMatchObject({ startHeight: 0, count: 6, truncated: false });

    // A statement is never cut: over maxEntries it is refused, at maxEntries it is whole.
    await expectError(() => history.exportRewards({ startHeight: 1, maxEntries: 5 }), 'INVALID_ARGUMENT', /holds more than 5 rewards/);
    expect((await history.exportRewards({ startHeight: 1, maxEntries: 6 })).entries).toHaveLength(6);
    const byDate = await history.exportRewards({ startDate: 0, endDate: new Date(8.64e15) });
    expect(byDate.entries).toHaveLength(6);
  });

  it('a closed store still rejects CLOSED before it looks at the query', async () => {
    const { store, log } = await openMemoryRounds(undefined, {}, tickingClock());
    await log.close();
    await expectError(() => store.listRoundStates({ fromHeight: 1 } as never), 'CLOSED', /closed/);
  });
});

describe('the vote store follows the convention', () => {
  it('names an unknown query key (queryVotes({ fromHeight }) used to return everything), a start after its end, and a limit above the maximum', async () => {
    const { LogVoteStore } = await import('../../src/stores/vote-store.ts');
    const votes = new LogVoteStore({ log: MemoryLog.open(), now: tickingClock() }, { verification: 'off' });
    await expectError(() => votes.queryVotes({ fromHeight: 3 } as never), 'INVALID_ARGUMENT', /query\.fromHeight is not an option here; known: round, validatorId, voteType, startHeight, endHeight, limit/, 'query.fromHeight');
    await expectError(() => votes.getValidatorVotes('v', { fromRound: 1 } as never), 'INVALID_ARGUMENT', /options\.fromRound is not an option here/, 'options.fromRound');
    await expectError(() => votes.getVotesForRound(1, { limt: 1 } as never), 'INVALID_ARGUMENT', /did you mean limit\?/, 'options.limt');
    await expectError(() => votes.queryVotes({ startHeight: 5, endHeight: 4 }), 'INVALID_ARGUMENT', /must not exceed/, 'query.startHeight');
    await expectError(() => votes.getValidatorVotes('v', { startRound: 5, endRound: 4 }), 'INVALID_ARGUMENT', /must not exceed/, 'options.startRound');
    await expectError(() => votes.queryVotes({ limit: votes.limits.maxQueryLimit + 1 }), 'INVALID_ARGUMENT', /query\.limit/, 'query.limit');
  });
});
