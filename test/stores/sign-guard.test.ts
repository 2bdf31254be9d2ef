// The sign guard's rules (D8 in docs/durability.md, CometBFT privval adapted to global rounds): every
// regression and conflict case, signature reuse, persistence before release, the
// fresh-directory guard, and survival across reopen. Runs on the in-memory log.
import { describe, expect, it } from 'vitest';
import { RecordKind } from '../../src/codec/kinds.ts';
import { encodeSignGuardEntry } from '../../src/codec/sign-guard-record.ts';
import { publicKeyOf, verifyBytes, voteSignBytes } from '../../src/codec/vote-sign.ts';
import type { Lsn } from '../../src/log/types.ts';
import { openStoreOnLog } from '../../src/store.ts';
import type { ConsensusStore, SignerOptions } from '../../src/store.ts';
import type { UnsignedProposal, UnsignedVote } from '../../src/model/vote.ts';
import { expectCode, hashOf } from '../../src/testing/conformance/vote-store.conformance.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';

const chainId = 'guard-chain';
const privateKey = new Uint8Array(32).fill(42);
const identity = { privateKey, validatorId: 'me' };

function vote(overrides: Partial<UnsignedVote> = {}): UnsignedVote {
  return { validatorId: 'me', height: 10, round: 20, voteType: 'prevote', blockHash: hashOf(1), timestamp: 1000, ...overrides };
}

function proposal(overrides: Partial<UnsignedProposal> = {}): UnsignedProposal {
  return { validatorId: 'me', height: 10, round: 20, blockHash: hashOf(1), polRound: null, timestamp: 1000, ...overrides };
}

/** Opens the store that signs as `me` (a new key unless `signer` says otherwise) on `disk`. */
async function open(disk = new MemoryDisk(), signer: Partial<SignerOptions> = {}): Promise<ConsensusStore & { memLog: MemoryLog }> {
  const memLog = MemoryLog.open(disk);
  const store = await openStoreOnLog(memLog, { chainId, signer: { ...identity, state: 'new-key', ...signer } });
  return Object.assign(store, { memLog });
}

describe('sign guard: signing and reuse', () => {
  it('signs a vote, persists the entry before returning, and the signature verifies', async () => {
    const store = await open();
    const signed = await store.signGuard.signVote(vote());
    expect(store.memLog.disk.records.map((r) => r.kind)).toEqual([RecordKind.SignGuardEntry]);
    expect(verifyBytes(signed.signature, voteSignBytes(signed, chainId), publicKeyOf(privateKey))).toBe(true);
    expect(store.signGuard.watermark()).toEqual({ height: 10, round: 20, step: 'prevote' });
    await store.close();
  });

  it('an identical request returns the stored signature and writes nothing', async () => {
    const store = await open();
    const first = await store.signGuard.signVote(vote());
    const before = store.log.nextLsn;
    const again = await store.signGuard.signVote(vote());
    expect(again.signature).toEqual(first.signature);
    expect(store.log.nextLsn).toBe(before);
    await store.close();
  });

  it('a request differing only in timestamp gets the stored timestamp and signature (CometBFT rule)', async () => {
    const store = await open();
    const first = await store.signGuard.signVote(vote({ timestamp: 1000 }));
    const later = await store.signGuard.signVote(vote({ timestamp: 5000 }));
    expect(later.timestamp).toBe(1000);
    expect(later.signature).toEqual(first.signature);
    const p1 = await store.signGuard.signProposal(proposal({ round: 21, timestamp: 7 }));
    const p2 = await store.signGuard.signProposal(proposal({ round: 21, timestamp: 9 }));
    expect(p2.timestamp).toBe(7);
    expect(p2.signature).toEqual(p1.signature);
    await store.close();
  });

  it('refuses other data for an already signed (height, round, step) with CONFLICT', async () => {
    const store = await open();
    await store.signGuard.signVote(vote());
    await expectCode(store.signGuard.signVote(vote({ blockHash: hashOf(2) })), 'CONFLICT');
    await expectCode(store.signGuard.signVote(vote({ blockHash: null })), 'CONFLICT');
    await store.signGuard.signProposal(proposal({ round: 30 }));
    await expectCode(store.signGuard.signProposal(proposal({ round: 30, polRound: 3 })), 'CONFLICT');
    await store.close();
  });

  it('advances through steps, rounds and heights, and a new height may keep the round', async () => {
    const store = await open();
    await store.signGuard.signProposal(proposal());
    await store.signGuard.signVote(vote({ voteType: 'prevote' }));
    await store.signGuard.signVote(vote({ voteType: 'precommit' }));
    await store.signGuard.signVote(vote({ voteType: 'commit' }));
    await store.signGuard.signVote(vote({ round: 21 }));
    await store.signGuard.signVote(vote({ height: 11, round: 21 }));
    expect(store.signGuard.watermark()).toEqual({ height: 11, round: 21, step: 'prevote' });
    await store.close();
  });
});

describe('sign guard: regressions are CONFLICT', () => {
  const cases: Array<[string, Partial<UnsignedVote>]> = [
    ['lower height', { height: 9, round: 25 }],
    ['lower round at the same height', { round: 19 }],
    ['lower round at a higher height (rounds are global)', { height: 11, round: 19 }],
    ['earlier step at the same height and round', { voteType: 'prevote' }],
  ];
  for (const [name, overrides] of cases) {
    it(`refuses a ${name}`, async () => {
      const store = await open();
      await store.signGuard.signVote(vote({ voteType: 'precommit' }));
      const before = store.log.nextLsn;
      await expectCode(store.signGuard.signVote(vote(overrides)), 'CONFLICT');
      expect(store.log.nextLsn).toBe(before);
      await store.close();
    });
  }

  it('refuses a proposal after a vote of the same height and round', async () => {
    const store = await open();
    await store.signGuard.signVote(vote());
    await expectCode(store.signGuard.signProposal(proposal()), 'CONFLICT');
    await store.close();
  });

  it('serializes concurrent requests: of two conflicting ones exactly one is signed', async () => {
    const store = await open();
    const results = await Promise.allSettled([
      store.signGuard.signVote(vote({ blockHash: hashOf(1) })),
      store.signGuard.signVote(vote({ blockHash: hashOf(2) })),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    await store.close();
  });
});

describe('sign guard: durability and bad state', () => {
  it('a failed persist releases no signature and leaves the watermark; a retry then signs', async () => {
    const store = await open();
    store.memLog.failNextAppends('DISK_FULL');
    await expectCode(store.signGuard.signVote(vote()), 'DISK_FULL');
    expect(store.signGuard.watermark()).toBeUndefined();
    const signed = await store.signGuard.signVote(vote({ blockHash: hashOf(3) }));
    expect(signed.blockHash).toEqual(hashOf(3));
    await store.close();
  });

  it('the watermark survives reopen: conflicts stay refused, identical requests get the same signature', async () => {
    const disk = new MemoryDisk();
    const first = await open(disk);
    const signed = await first.signGuard.signVote(vote());
    await first.close();
    const second = await open(disk, { state: 'existing-key' });
    expect((await second.signGuard.signVote(vote())).signature).toEqual(signed.signature);
    await expectCode(second.signGuard.signVote(vote({ blockHash: hashOf(9) })), 'CONFLICT');
    await second.close();
  });

  it('a stored entry without its signature is CORRUPTION, never a licence to sign', async () => {
    const disk = new MemoryDisk();
    const bytes = voteSignBytes(vote(), chainId);
    const payload = encodeSignGuardEntry({ publicKey: publicKeyOf(privateKey), height: 10, round: 20, step: 'prevote', signBytes: bytes, signature: new Uint8Array(0) });
    disk.records.push({ lsn: 1 as Lsn, kind: RecordKind.SignGuardEntry, payload });
    const store = await open(disk, { state: 'existing-key' });
    await expectCode(store.signGuard.signVote(vote()), 'CORRUPTION');
    await expectCode(store.signGuard.signVote(vote({ blockHash: hashOf(5) })), 'CORRUPTION');
    await store.signGuard.signVote(vote({ voteType: 'precommit' }));
    await store.close();
  });

  it('rejects requests for another validator or without identity with INVALID_ARGUMENT', async () => {
    const store = await open();
    await expectCode(store.signGuard.signVote(vote({ validatorId: 'someone-else' })), 'INVALID_ARGUMENT');
    await expectCode(store.signGuard.signVote({ ...vote(), round: -1 }), 'INVALID_ARGUMENT');
    await store.close();
    const anonymous = await openStoreOnLog(MemoryLog.open(), { chainId });
    await expectCode(anonymous.signGuard.signVote(vote()), 'INVALID_ARGUMENT');
    await anonymous.close();
  });

  it('rejects a public key that does not match the private key', async () => {
    await expectCode(open(new MemoryDisk(), { publicKey: new Uint8Array(32) }), 'INVALID_ARGUMENT');
  });

  it('rejects CLOSED after close', async () => {
    const store = await open();
    await store.close();
    await expectCode(store.signGuard.signVote(vote()), 'CLOSED');
  });
});

describe('sign guard: fresh data directory', () => {
  it('refuses to open for an existing key without a watermark (the default)', async () => {
    await expectCode(openStoreOnLog(MemoryLog.open(), { chainId, signer: identity }), 'FRESH_SIGN_STATE');
  });

  it('opens with allowFreshState or state new-key', async () => {
    const a = await openStoreOnLog(MemoryLog.open(), { chainId, signer: { ...identity, allowFreshState: true } });
    await a.close();
    const b = await openStoreOnLog(MemoryLog.open(), { chainId, signer: { ...identity, state: 'new-key' } });
    await b.close();
  });

  it('opens with an imported watermark, then refuses at and below it and signs above it', async () => {
    const disk = new MemoryDisk();
    const store = await open(disk, { state: 'existing-key', importWatermark: { height: 10, round: 20, step: 'precommit' } });
    expect(disk.records.map((r) => r.kind)).toEqual([RecordKind.SignGuardImport]);
    await expectCode(store.signGuard.signVote(vote({ voteType: 'precommit' })), 'CONFLICT');
    await expectCode(store.signGuard.signVote(vote({ voteType: 'prevote' })), 'CONFLICT');
    await store.signGuard.signVote(vote({ voteType: 'commit' }));
    await store.close();
    const again = await open(disk, { state: 'existing-key', importWatermark: { height: 10, round: 20, step: 'precommit' } });
    expect(disk.records).toHaveLength(2);
    await expectCode(again.signGuard.importWatermark({ height: 11, round: 5, step: 'prevote' }), 'CONFLICT');
    await expectCode(again.signGuard.importWatermark({ height: 11, round: 5, step: 'vote' as 'prevote' }), 'INVALID_ARGUMENT');
    await again.close();
  });
});
