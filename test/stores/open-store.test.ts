// openStore / openStoreOnLog: option checks, the one-pass replay into every store, the
// lifecycle (close idempotent, asyncDispose, CLOSED afterwards), a failed open releasing the
// log, and the same on a real directory (the WAL engine).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, openStoreOnLog } from '../../src/store.ts';
import { expectCode, makeVote } from '../../src/testing/conformance/vote-store.conformance.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';

const chainId = 'open-store';

describe('openStoreOnLog', () => {
  it('rejects bad options with INVALID_ARGUMENT and closes the log', async () => {
    const signer = { privateKey: new Uint8Array(32).fill(3), validatorId: 'me' };
    const bad: unknown[] = [
      null,
      {},
      { chainId: '' },
      { chainId, signer: { ...signer, state: 'maybe' } },
      { chainId, signer: { ...signer, allowFreshState: 'yes' } },
      { chainId, now: 5 },
      { chainId, signer: { privateKey: new Uint8Array(31), validatorId: 'me', state: 'new-key' } },
      { chainId, signer: { privateKey: new Uint8Array(32), validatorId: '', state: 'new-key' } },
      { chainId, signer: { ...signer, importWatermark: 3 } },
    ];
    for (const options of bad) {
      const log = MemoryLog.open();
      await expectCode(openStoreOnLog(log, options as never), 'INVALID_ARGUMENT');
      expect(log.status).toBe('closed');
    }
  });

  it('replays every store from one log and closes idempotently', async () => {
    const disk = new MemoryDisk();
    const first = await openStoreOnLog(MemoryLog.open(disk), { chainId, voteVerification: 'off' });
    const entry = await first.votes.appendVote(makeVote());
    await first.votes.markFinalized(5, 99);
    await Promise.all([first.close(), first.close()]);
    await first.close();
    expect(first.log.status).toBe('closed');
    await expectCode(first.votes.getRecentVotes(), 'CLOSED');

    await using second = await openStoreOnLog(MemoryLog.open(disk), { chainId, voteVerification: 'off' });
    expect(second.replay.records).toBe(2);
    expect((await second.votes.getRecentVotes())[0]?.id).toBe(entry.id);
    expect(await second.votes.getEarliestOpenRound()).toBe(100);
  });

  it('disposes with await using', async () => {
    const log = MemoryLog.open();
    {
      await using store = await openStoreOnLog(log, { chainId, voteVerification: 'off' });
      await store.votes.appendVote(makeVote());
    }
    expect(log.status).toBe('closed');
  });
});

describe('openStore on the write-ahead log', () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'cstore-open-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('persists votes and the sign watermark across close and reopen', async () => {
    const dir = tempDir();
    const signer = { privateKey: new Uint8Array(32).fill(3), validatorId: 'me' };
    // makeVote's signature is fake: stored unverified.
    const first = await openStore({ dir, chainId, voteVerification: 'off', signer: { ...signer, state: 'new-key' } });
    await first.votes.appendVote(makeVote());
    const { signature: _, ...unsigned } = makeVote({ validatorId: 'me', round: 7 });
    const signed = await first.signGuard.signVote(unsigned);
    await first.close();
    const second = await openStore({ dir, chainId, signer });
    expect(await second.votes.countVotesForRound(100)).toBe(1);
    expect((await second.signGuard.signVote(unsigned)).signature).toEqual(signed.signature);
    await expectCode(second.signGuard.signVote({ ...unsigned, blockHash: null }), 'CONFLICT');
    await second.close();
  });

  it('refuses a second opener of the same directory with LOCKED', async () => {
    const dir = tempDir();
    const first = await openStore({ dir, chainId });
    await expectCode(openStore({ dir, chainId }), 'LOCKED');
    await first.close();
  });

  it('fails FRESH_SIGN_STATE on an empty directory for an existing key, and releases the directory', async () => {
    const dir = tempDir();
    const signer = { privateKey: new Uint8Array(32).fill(4), validatorId: 'me' };
    await expectCode(openStore({ dir, chainId, signer }), 'FRESH_SIGN_STATE');
    const store = await openStore({ dir, chainId, signer: { ...signer, allowFreshState: true } });
    await store.close();
  });
});
