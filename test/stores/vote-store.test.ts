// VoteStore behaviour beyond the conformance suite: what this backend adds or must guarantee
// internally (index only after durable, failed appends, the batch hook for evidence, signature
// verification, configurable limits, corrupt payloads on replay).
import { describe, expect, it } from 'vitest';
import { RecordKind } from '../../src/codec/kinds.ts';
import { publicKeyOf, signVote } from '../../src/codec/vote-sign.ts';
import type { LogRecord, Lsn } from '../../src/log/types.ts';
import { openStoreOnLog } from '../../src/store.ts';
import type { StoreOptions } from '../../src/store.ts';
import { expectCode, hashOf, makeVote } from '../../src/testing/conformance/vote-store.conformance.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';
import { writableLogOf } from '../../src/store.ts';
import type { LogVoteStore } from '../../src/stores/vote-store.ts';

const chainId = 'votes-unit';

async function open(disk = new MemoryDisk(), options: Partial<StoreOptions> = {}) {
  const log = MemoryLog.open(disk);
  // makeVote's signatures are fake (storage semantics under test): unverified unless a test says otherwise.
  return Object.assign(await openStoreOnLog(log, { chainId, voteVerification: 'off', ...options }), { memLog: log });
}

describe('VoteStore internals', () => {
  it('does not show a vote to queries until its append is durable', async () => {
    const store = await open();
    const pending = store.votes.appendVote(makeVote());
    expect(await store.votes.voteExists('val-a', 100, 'prevote')).toBe(false);
    expect(await store.votes.countVotesForRound(100)).toBe(0);
    await pending;
    expect(await store.votes.voteExists('val-a', 100, 'prevote')).toBe(true);
    await store.close();
  });

  it('a failed append indexes nothing, and the next vote for the slot is a plain store', async () => {
    const store = await open();
    store.memLog.failNextAppends('DISK_FULL');
    await expectCode(store.votes.appendVote(makeVote()), 'DISK_FULL');
    expect(await store.votes.getRecentVotes()).toEqual([]);
    const next = await store.votes.appendVote(makeVote({ blockHash: hashOf(2) }));
    expect(next.outcome).toBe('stored');
    await store.close();
  });

  it('a conflicting vote queued behind a failing one is decided against what is durable', async () => {
    const store = await open();
    store.memLog.failNextAppends('DISK_FULL');
    const [a, b] = await Promise.allSettled([store.votes.appendVote(makeVote()), store.votes.appendVote(makeVote({ blockHash: hashOf(2) }))]);
    expect(a.status).toBe('rejected');
    expect(b.status === 'fulfilled' && b.value.outcome).toBe('stored');
    await store.close();
  });

  it('lets batch contributors add parts to a new vote batch, atomically, and reports their LSNs in part order', async () => {
    const store = await open();
    const seen: LogRecord[][] = [];
    (store.votes as LogVoteStore).setBatchContributors([
      (event) =>
        event.outcome === 'equivocation'
          ? { records: [{ kind: RecordKind.Evidence, payload: Uint8Array.of(event.conflictsWith.length) }], onDurable: (r) => seen.push([...r]) }
          : undefined,
      () => undefined,
    ]);
    const first = await store.votes.appendVote(makeVote());
    const second = await store.votes.appendVote(makeVote({ blockHash: hashOf(2) }));
    expect(seen).toHaveLength(1);
    expect(seen[0]?.[0]?.lsn).toBe(second.id + 1);
    expect(store.memLog.disk.records.map((r) => r.kind)).toEqual([RecordKind.Vote, RecordKind.Vote, RecordKind.Evidence]);
    expect(first.id).toBe(1);
    await store.close();
  });

  it('verifies signatures against a given publicKeyOf: bad signature and unknown validator are INVALID_ARGUMENT', async () => {
    const key = new Uint8Array(32).fill(5);
    const publicKey = publicKeyOf(key);
    const store = await open(new MemoryDisk(), { voteVerification: { publicKeyOf: (id) => (id === 'val-a' ? publicKey : undefined) } });
    const { signature: _, ...unsigned } = makeVote();
    const good = signVote(unsigned, key, chainId);
    expect((await store.votes.appendVote(good)).outcome).toBe('stored');
    await expectCode(store.votes.appendVote({ ...good, round: 101 }), 'INVALID_ARGUMENT');
    await expectCode(store.votes.appendVote({ ...good, validatorId: 'val-b' }), 'INVALID_ARGUMENT');
    expect(store.log.nextLsn).toBe(2);
    await store.close();
  });

  it('applies configured limits and rejects limits above them', async () => {
    const store = await open(new MemoryDisk(), { limits: { votes: { defaultQueryLimit: 2, maxQueryLimit: 3, maxRoundVotes: 2 } } });
    for (const v of ['a', 'b', 'c', 'd']) await store.votes.appendVote(makeVote({ validatorId: v }));
    expect(await store.votes.getRecentVotes()).toHaveLength(2);
    expect(await store.votes.getRecentVotes(3)).toHaveLength(3);
    expect(await store.votes.getVotesForRound(100)).toHaveLength(2);
    await expectCode(store.votes.getRecentVotes(4), 'INVALID_ARGUMENT');
    await expectCode(store.votes.queryVotes({ limit: 4 }), 'INVALID_ARGUMENT');
    await store.close();
    await expectCode(open(new MemoryDisk(), { limits: { votes: { defaultQueryLimit: 5, maxQueryLimit: 3 } } }), 'INVALID_ARGUMENT');
  });

  it('fails the open with CORRUPTION when a vote payload does not decode', async () => {
    const disk = new MemoryDisk();
    disk.records.push({ lsn: 1 as Lsn, kind: RecordKind.Vote, payload: Uint8Array.of(1, 2, 3) });
    await expectCode(open(disk), 'CORRUPTION');
    disk.records[0] = { lsn: 1 as Lsn, kind: RecordKind.Finalized, payload: new Uint8Array(28).fill(9) };
    await expectCode(open(disk), 'CORRUPTION');
  });

  it('reports the replay and skips kinds no store here owns', async () => {
    const disk = new MemoryDisk();
    const first = await open(disk);
    await first.votes.appendVote(makeVote());
    await writableLogOf(first).append([{ kind: 199, payload: Uint8Array.of(1) }]); // a kind no store owns (70, RewardDistribution, is owned by the reward history)
    await first.close();
    const second = await open(disk);
    expect(second.replay.records).toBe(2);
    expect(second.replay.unknownKindRecords).toBe(1);
    expect(second.votes.size).toBe(1);
    await second.close();
  });
});
