// D8 across power cuts: the sign guard's persist step is cut at every I/O call (simulated disk,
// real WAL), with several crash fates per point; after each cut the node restarts and is asked
// to sign a conflicting vote and the original again. No sequence may ever release two
// different signatures for one (height, round, step), and a released signature must survive.
import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../src/errors.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { openStore } from '../../src/store.ts';
import type { ConsensusStore } from '../../src/store.ts';
import type { UnsignedVote } from '../../src/model/vote.ts';
import { hashOf } from '../../src/testing/conformance/vote-store.conformance.ts';

const chainId = 'crash-chain';
/** The node's key, which never signed before the first open. */
const signer = { privateKey: new Uint8Array(32).fill(11), validatorId: 'me', state: 'new-key' as const };
const warmup: UnsignedVote = { validatorId: 'me', height: 10, round: 19, voteType: 'precommit', blockHash: hashOf(9), timestamp: 1 };
const voteA: UnsignedVote = { ...warmup, round: 20, voteType: 'prevote', blockHash: hashOf(1), timestamp: 2 };
const voteB: UnsignedVote = { ...voteA, blockHash: hashOf(2) };

/**
 * A disk whose data directory already exists durably. (A directory the WAL creates on first open
 * is not yet made durable in its parent: that is the log's concern, reported on its issue; this
 * test is about the sign guard's persist step.)
 */
async function newDisk(seed: number): Promise<SimulatedDisk> {
  const disk = new SimulatedDisk({ seed, tearInterruptedWrites: true });
  const fs = disk.fs();
  await fs.mkdir('/node');
  await fs.syncDir('/');
  return disk;
}

function openOn(disk: SimulatedDisk): Promise<ConsensusStore> {
  return openStore({ dir: '/node', fs: disk.fs(), chainId, signer, log: { segmentSize: 64 * 1024 } });
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Signs `vote`, returning the signature, or undefined when refused or failed (never another error kind). */
async function trySign(store: ConsensusStore, vote: UnsignedVote): Promise<Uint8Array | undefined> {
  try {
    return (await store.signGuard.signVote(vote)).signature;
  } catch (err) {
    const expected = isStoreError(err, 'CONFLICT') || isStoreError(err, 'IO_FAILED') || isStoreError(err, 'CLOSED');
    expect(expected, String(err)).toBe(true);
    return undefined;
  }
}

/** Calls the persist step of one signature makes on a healthy disk. */
async function persistStepCalls(): Promise<number> {
  const disk = await newDisk(1);
  const store = await openOn(disk);
  await store.signGuard.signVote(warmup);
  const before = disk.callCount;
  await store.signGuard.signVote(voteA);
  const calls = disk.callCount - before;
  await store.close();
  return calls;
}

describe('sign guard across power cuts', () => {
  it('never releases two signatures for one (height, round, step), whatever call the power cut hits', async () => {
    const steps = await persistStepCalls();
    expect(steps).toBeGreaterThan(0);
    let scenarios = 0;
    for (let k = 1; k <= steps + 3; k++) {
      for (const seed of [k, 1000 + k, 2000 + k]) {
        const disk = await newDisk(seed);
        const store = await openOn(disk);
        await store.signGuard.signVote(warmup);
        disk.crashAtCall(k);
        const released = new Map<string, string>(); // signature hex -> which vote
        const first = await trySign(store, voteA);
        if (first !== undefined) released.set(hex(first), 'A');
        await store.close().catch(() => undefined);
        disk.crash();

        const restarted = await openOn(disk);
        const b = await trySign(restarted, voteB);
        if (b !== undefined) released.set(hex(b), 'B');
        const again = await trySign(restarted, voteA);
        if (again !== undefined) released.set(hex(again), 'A');
        await restarted.close();

        const context = `crash at call ${k} of ${steps}, seed ${seed}`;
        expect(released.size, context).toBeLessThanOrEqual(1);
        if (first !== undefined) expect(again === undefined ? undefined : hex(again), context).toBe(hex(first));
        scenarios++;
      }
    }
    expect(scenarios).toBe((steps + 3) * 3);
  });
});
