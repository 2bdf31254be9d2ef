// getRecentVotes' order option (docs/stores.md, "Votes"): newest first by default, the same votes
// oldest first with { order: 'chronological' } (the specification's order), through a reopen;
// a bad option is INVALID_ARGUMENT naming it, and a closed store is CLOSED.
import { describe, expect, it } from 'vitest';
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { isStoreError } from '../../src/errors.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';
import { openStoreOnLog } from '../../src/store.ts';
import { privateKeyFor, signedVote, TEST_CHAIN_ID } from '../../src/testing/conformance/fixtures.ts';
import { inRecentOrder, parseRecentVotesOrder, RECENT_VOTES_ORDERS } from '../../src/stores/recent-votes.ts';

const ids = ['val-1', 'val-2', 'val-3'];

async function open(disk: MemoryDisk) {
  const store = await openStoreOnLog(MemoryLog.open(disk), { chainId: TEST_CHAIN_ID });
  for (const id of ids) {
    if ((await store.validators.getValidator(id)) === undefined) {
      await store.validators.registerValidator({ validatorId: id, publicKey: publicKeyOf(privateKeyFor(id)), stake: 10n }, 0);
    }
  }
  return store;
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (isStoreError(e) ? e.code : `not a store error: ${String(e)}`),
  );
}

describe('getRecentVotes order', () => {
  it('newest first by default and when asked; the same votes oldest first when chronological, also after a reopen', async () => {
    const disk = new MemoryDisk();
    let store = await open(disk);
    const stored = [];
    for (let r = 1; r <= 5; r++) stored.push((await store.votes.appendVote(signedVote(ids[r % 3]!, { height: r, round: r, hash: r }))).id);
    for (let pass = 0; pass < 2; pass++) {
      expect((await store.votes.getRecentVotes(3)).map((e) => e.id)).toEqual(stored.slice(2).reverse());
      expect((await store.votes.getRecentVotes(3, {})).map((e) => e.id)).toEqual(stored.slice(2).reverse());
      expect((await store.votes.getRecentVotes(3, { order: 'newest-first' })).map((e) => e.id)).toEqual(stored.slice(2).reverse());
      expect((await store.votes.getRecentVotes(3, { order: 'chronological' })).map((e) => e.id)).toEqual(stored.slice(2));
      expect((await store.votes.getRecentVotes(undefined, { order: 'chronological' })).map((e) => e.id)).toEqual(stored);
      await store.close();
      store = await open(disk);
    }
    await store.close();
  });

  it('a bad option is INVALID_ARGUMENT naming it; a closed store is CLOSED', async () => {
    const store = await open(new MemoryDisk());
    await store.votes.appendVote(signedVote('val-1', { height: 1, round: 1, hash: 1 }));
    const bad: [unknown, RegExp][] = [
      [{ order: 'oldest-first' }, /options\.order/],
      [{ order: 1 }, /options\.order/],
      [{ ordr: 'chronological' }, /options\.ordr is not an option here \(did you mean order\?\)/],
      ['chronological', /options/],
      [null, /options/],
    ];
    for (const [options, message] of bad) {
      const call = store.votes.getRecentVotes(1, options as never);
      await expect(call).rejects.toThrow(message);
      expect(await codeOf(store.votes.getRecentVotes(1, options as never))).toBe('INVALID_ARGUMENT');
    }
    await store.close();
    expect(await codeOf(store.votes.getRecentVotes(1, { order: 'chronological' }))).toBe('CLOSED');
  });

  it('the helpers: the default is newest-first, and only the order changes', () => {
    expect(RECENT_VOTES_ORDERS[0]).toBe('newest-first');
    expect(parseRecentVotesOrder(undefined)).toBe('newest-first');
    expect(parseRecentVotesOrder({ order: 'chronological' })).toBe('chronological');
    expect(inRecentOrder([3, 2, 1], 'newest-first')).toEqual([3, 2, 1]);
    expect(inRecentOrder([3, 2, 1], 'chronological')).toEqual([1, 2, 3]);
  });
});
