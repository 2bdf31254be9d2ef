/**
 * Once a store is closed (docs/stores.md, Opening), every public method of every store rejects (async) or
 * throws (sync) CLOSED, and writes nothing. Reached with arguments that would succeed on an
 * open store, including the calls that write nothing when open (a duplicate distribution, the
 * latest round state again, evidence already recorded, a prune that expires nothing): those
 * are the ones that used to answer after close. The call table is typed to hold exactly the
 * public methods of each store class (`keyof` sees public members only), so a method added
 * later fails `tsc` until it is covered here.
 */
import { describe, expect, it } from 'vitest';
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { isStoreError } from '../../src/errors.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { openStore, openStoreOnLog, type ConsensusStore } from '../../src/store.ts';
import { equivocation } from '../../src/testing/conformance/evidence-store.conformance.ts';
import { distribution } from '../../src/testing/conformance/reward-history.conformance.ts';
import { roundState } from '../../src/testing/conformance/round-state-store.conformance.ts';
import { privateKeyFor, signedVote, TEST_CHAIN_ID } from '../support/evidence-test-log.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';
import { outcomeOf } from '../support/outcome.ts';

const NODE_KEY = { privateKey: new Uint8Array(32).fill(3) };
const ME = 'val-1';

/** Methods that are wiring between stores (called by openStore while opening, never by users), not the public API. */
type Internal = 'apply' | 'setBatchContributors' | 'voteBatchPart' | 'voteBatchEvents' | 'checkSignState' | 'repairBarrierRecord' | 'hasRecordedRepair' | 'checkRepairBarrier' | 'checkCopy';

/** The names of T's public methods (getters and data properties excluded), wiring excluded. */
type PublicMethods<T> = Exclude<{ [K in keyof T]: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T], Internal>;

/** One call per public method of T: no more, no fewer (checked by tsc). */
type CallsOf<T> = { readonly target: T; readonly calls: Record<PublicMethods<T>, () => unknown> };

/** Calls `call`; undefined when it threw or rejected CLOSED, else what it did instead. */
async function notClosed(label: string, call: () => unknown): Promise<string | undefined> {
  const outcome = await outcomeOf(call);
  return isStoreError(outcome, 'CLOSED') ? undefined : `${label}: ${String(outcome)}`;
}

/** Every method of every store in `store` (closed): the list of those that did not give CLOSED. */
async function callsNotClosed(store: ConsensusStore): Promise<string[]> {
  const wrong: string[] = [];
  for (const [name, { calls }] of Object.entries(callsOf(store))) {
    for (const [method, call] of Object.entries(calls)) {
      const problem = await notClosed(`${name}.${method}`, call);
      if (problem !== undefined) wrong.push(problem);
    }
  }
  return wrong;
}

type StoreName = 'votes' | 'signGuard' | 'rounds' | 'recovery' | 'validators' | 'audit' | 'evidence' | 'rewards';

/** Every public method of every store, with arguments that succeed on an open store (checked below). */
function callsOf(s: ConsensusStore): { [N in StoreName]: CallsOf<ConsensusStore[N]> } {
  const a = signedVote(ME, { height: 10, round: 3, hash: 0xaa });
  const b = signedVote(ME, { height: 10, round: 3, hash: 0xbb });
  const ev = equivocation(a, b);
  const d = distribution(5, [{ validatorId: ME, reason: 'BlockProposal', amount: 9n }]);
  const event = { type: 'Pruned' as const, store: 'votes', belowHeight: 1, entriesRemoved: 0 };
  return {
    votes: {
      target: s.votes,
      calls: {
        appendVote: () => s.votes.appendVote(a),
        appendVotes: () => s.votes.appendVotes([a]),
        verify: () => s.votes.verify(a),
        getVotesForRound: () => s.votes.getVotesForRound(3),
        getValidatorVotes: () => s.votes.getValidatorVotes(ME),
        getRecentVotes: () => s.votes.getRecentVotes(5),
        queryVotes: () => s.votes.queryVotes({ round: 3 }),
        countVotesForRound: () => s.votes.countVotesForRound(3),
        voteExists: () => s.votes.voteExists(ME, 3, 'prevote'),
        getEarliestOpenRound: () => s.votes.getEarliestOpenRound(),
        markFinalized: () => s.votes.markFinalized(10, 3),
        getLastFinalized: () => s.votes.getLastFinalized(),
      },
    },
    signGuard: {
      target: s.signGuard,
      calls: {
        signVote: () => s.signGuard.signVote({ validatorId: ME, height: 20, round: 30, voteType: 'prevote', blockHash: new Uint8Array(32).fill(1), timestamp: 1 }),
        signProposal: () => s.signGuard.signProposal({ validatorId: ME, height: 21, round: 31, blockHash: new Uint8Array(32).fill(1), polRound: null, timestamp: 1 }),
        importWatermark: () => s.signGuard.importWatermark({ height: 1, round: 1, step: 'prevote' }),
        watermark: () => s.signGuard.watermark(),
      },
    },
    rounds: {
      target: s.rounds,
      calls: {
        saveRoundState: () => s.rounds.saveRoundState(roundState(10, 3, 'prevote')),
        loadRoundState: () => s.rounds.loadRoundState(),
        getRoundStateAt: () => s.rounds.getRoundStateAt(10),
        listRoundStates: () => s.rounds.listRoundStates({}),
        pruneBeforeHeight: () => s.rounds.pruneBeforeHeight(1),
        shouldCheckpoint: () => s.rounds.shouldCheckpoint(roundState(10, 3, 'precommit')),
      },
    },
    recovery: {
      target: s.recovery,
      calls: {
        recover: () => s.recovery.recover(),
        resumePoint: () => s.recovery.resumePoint(),
      },
    },
    validators: {
      target: s.validators,
      calls: {
        registerValidator: () => s.validators.registerValidator({ validatorId: 'val-9', publicKey: publicKeyOf(privateKeyFor('val-9')), stake: 1n }, 0),
        updateStake: () => s.validators.updateStake(ME, 50n, 2),
        updateStatus: () => s.validators.updateStatus(ME, 'jailed', 2, 'test'),
        recordSlash: () => s.validators.recordSlash({ validatorId: ME, height: 2, amount: 1n, reason: 'test' }),
        getValidatorsAtHeight: () => s.validators.getValidatorsAtHeight(1),
        getValidator: () => s.validators.getValidator(ME),
        getValidatorHistory: () => s.validators.getValidatorHistory(ME),
        publicKeyAt: () => s.validators.publicKeyAt(ME, 1),
      },
    },
    audit: {
      target: s.audit,
      calls: {
        logEvent: () => s.audit.logEvent(event),
        logByzantineEvent: () => s.audit.logByzantineEvent({ type: 'DoubleVote', voteA: a, voteB: b }),
        appendWithEvents: () => s.audit.appendWithEvents([event], []),
        queryByHeight: () => s.audit.queryByHeight(1),
        queryByValidator: () => s.audit.queryByValidator(ME),
        queryByDateRange: () => s.audit.queryByDateRange(0, Date.now()),
        getEvidence: () => s.audit.getEvidence({ types: ['Pruned'] }),
        verifyIntegrity: () => s.audit.verifyIntegrity(),
        export: () => s.audit.export('/closed-export.jsonl'),
      },
    },
    evidence: {
      target: s.evidence,
      calls: {
        recordEvidence: () => s.evidence.recordEvidence(ev),
        getEvidence: () => s.evidence.getEvidence('00'.repeat(32)),
        queryByValidator: () => s.evidence.queryByValidator(ME),
        queryByType: () => s.evidence.queryByType('Equivocation'),
        getOffenseCount: () => s.evidence.getOffenseCount(ME),
        verifyEvidence: () => s.evidence.verifyEvidence(ev),
        pruneExpired: () => s.evidence.pruneExpired({ currentHeight: 11, now: 1, maxAgeBlocks: 100, maxAgeMs: 100 }),
      },
    },
    rewards: {
      target: s.rewards,
      calls: {
        recordDistribution: () => s.rewards.recordDistribution(d),
        getValidatorRewards: () => s.rewards.getValidatorRewards(ME, { startHeight: 0, endHeight: 10 }),
        getTotalDistributed: () => s.rewards.getTotalDistributed(5),
        getCumulativeDistributed: () => s.rewards.getCumulativeDistributed(5),
        queryDistributions: () => s.rewards.queryDistributions({}),
        exportRewards: () => s.rewards.exportRewards({}),
      },
    },
  };
}

/** Writes what the calls above need to succeed, and the state whose no-write paths they take. */
async function populate(s: ConsensusStore): Promise<void> {
  await s.validators.registerValidator({ validatorId: ME, publicKey: publicKeyOf(privateKeyFor(ME)), stake: 100n }, 0);
  await s.votes.appendVote(signedVote(ME, { height: 10, round: 3, hash: 0xaa }));
  await s.rounds.saveRoundState(roundState(10, 3, 'prevote'));
  await s.evidence.recordEvidence(equivocation(signedVote(ME, { height: 10, round: 3, hash: 0xaa }), signedVote(ME, { height: 10, round: 3, hash: 0xbb })));
  await s.rewards.recordDistribution(distribution(5, [{ validatorId: ME, reason: 'BlockProposal', amount: 9n }]));
  await s.audit.logEvent({ type: 'Pruned', store: 'votes', belowHeight: 1, entriesRemoved: 0 });
}

/** Every open signs as ME with a key that never signed before. */
const signer = { privateKey: privateKeyFor(ME), validatorId: ME, state: 'new-key' as const };

async function memoryStore(disk: MemoryDisk): Promise<ConsensusStore> {
  return openStoreOnLog(MemoryLog.open(disk), { chainId: TEST_CHAIN_ID, audit: { nodeKey: NODE_KEY }, signer });
}

describe('every method of every store rejects CLOSED after close', () => {
  it('the call table has a function for every public method, each of which exists on its store', async () => {
    const store = await memoryStore(new MemoryDisk());
    for (const [name, { target, calls }] of Object.entries(callsOf(store))) {
      for (const method of Object.keys(calls)) expect(typeof (target as unknown as Record<string, unknown>)[method], `${name}.${method}`).toBe('function');
    }
    await store.close();
  });

  it('each call succeeds on an open store (so CLOSED after close is not a validation error in disguise)', async () => {
    const disk = new MemoryDisk();
    const store = await memoryStore(disk);
    await populate(store);
    for (const [name, { calls }] of Object.entries(callsOf(store))) {
      for (const [method, call] of Object.entries(calls)) {
        if (name === 'audit' && method === 'export') continue; // writes a real file: covered by the audit tests
        try {
          await call();
        } catch (err) {
          throw new Error(`${name}.${method} failed on an open store: ${String(err)}`);
        }
      }
    }
    await store.close();
  });

  it('in-memory log: after close every method rejects or throws CLOSED and nothing is written', async () => {
    const disk = new MemoryDisk();
    const store = await memoryStore(disk);
    await populate(store);
    await store.close();
    const records = disk.records.length;
    expect(await callsNotClosed(store)).toEqual([]);
    expect(disk.records.length).toBe(records);
  });

  it('openStore on the WAL (simulated disk): the same after close, and the directory reopens intact', async () => {
    const sim = new SimulatedDisk({ seed: 31 });
    const open = (): Promise<ConsensusStore> =>
      openStore({ dir: '/data', fs: sim.fs(), chainId: TEST_CHAIN_ID, audit: { nodeKey: NODE_KEY }, signer, log: { segmentSize: 64 * 1024 } });
    const store = await open();
    await populate(store);
    await store.close();
    expect(await callsNotClosed(store)).toEqual([]);
    const again = await open();
    expect(await again.rewards.getTotalDistributed(5)).toBe(9n);
    expect(await again.evidence.queryByValidator(ME)).toHaveLength(1);
    expect((await again.audit.verifyIntegrity()).ok).toBe(true);
    await again.close();
  });

  it('a write queued before close and run after it rejects CLOSED too', async () => {
    const disk = new MemoryDisk();
    const store = await memoryStore(disk);
    await populate(store);
    // Queue behind a pending write, then close before the queue reaches them.
    const pending = [
      store.rounds.saveRoundState(roundState(11, 4, 'propose')),
      store.rounds.saveRoundState(roundState(10, 3, 'prevote')),
      store.rewards.recordDistribution(distribution(6, [{ validatorId: ME, reason: 'BlockProposal', amount: 1n }])),
      store.rewards.recordDistribution(distribution(5, [{ validatorId: ME, reason: 'BlockProposal', amount: 9n }])),
    ];
    const closing = store.close();
    const settled = await Promise.allSettled(pending);
    await closing;
    // Including the two that would write nothing (the latest state again, the same distribution).
    expect(settled.map((s) => s.status === 'rejected' && isStoreError(s.reason, 'CLOSED'))).toEqual([true, true, true, true]);
  });
});
