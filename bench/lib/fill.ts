/**
 * Filling a system with a synthetic vote history fast, for the open, query and storage
 * scenarios: consensus-store through its own log (the vote store's record codec, kind Vote,
 * 4,096 records per call, durability 'none', as bench/scenarios/stores.ts does), the peers in
 * large transactions with their sync turned off (synchronous=OFF, sync: false). What ends up
 * on disk is what the durable modes would leave; only the time to get there is shorter.
 *
 * Must never: be timed as part of what a scenario measures.
 */
import { RecordKind } from '../../src/codec/kinds.ts';
import { encodeVoteRecord } from '../../src/codec/vote-record.ts';
import type { RecordInput } from '../../src/log/types.ts';
import type { PeerStore } from './peer-stores.ts';
import { openEngine } from './systems.ts';
import { VoteFactory } from './workload.ts';
import { writableLogOf } from '../../src/store.ts';

const FILL_BATCH = 4096;
const IN_FLIGHT = 4;

/** Writes `votes` votes of `validators` validators into a consensus-store in `dir`; resolves with the ms taken. */
export async function fillEngine(dir: string, votes: number, validators: number): Promise<number> {
  const started = performance.now();
  const store = await openEngine(dir, 'none');
  try {
    const factory = new VoteFactory(validators);
    const recordedAt = Date.now();
    const inFlight = new Set<Promise<unknown>>();
    for (let first = 0; first < votes; first += FILL_BATCH) {
      const batch: RecordInput[] = [];
      for (let i = first; i < Math.min(votes, first + FILL_BATCH); i++) batch.push({ kind: RecordKind.Vote, payload: encodeVoteRecord(factory.next(), recordedAt) });
      const p = writableLogOf(store).append(batch);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p)).catch(() => undefined);
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    await store.close();
  }
  return performance.now() - started;
}

/** Writes `votes` votes into a peer (opened in its fast mode) in transactions of `batch`; resolves with the ms taken. */
export async function fillPeer(peer: PeerStore, votes: number, validators: number, batch = 10_000): Promise<number> {
  const started = performance.now();
  const factory = new VoteFactory(validators);
  for (let first = 0; first < votes; first += batch) {
    const n = Math.min(batch, votes - first);
    await peer.appendVotes(Array.from({ length: n }, () => factory.next()));
  }
  return performance.now() - started;
}
