/**
 * Building the tier scenario's directories fast (bench/scenarios/tier.ts): a consensus-store
 * with a long vote history of `validators` validators (prevote and precommit, one round per
 * height, a finalization mark per height), written in chunks of heights through the store's
 * own log (the vote store's record codecs, durability 'none', unverified votes), each chunk
 * followed by a reopen (the replay folds the chunk into the stores) and a compaction (or, when
 * compaction is off, a local image), so that the history goes cold as it grows (docs/architecture.md, "The path of a compaction"). The
 * same votes (the same objects) can be handed to a peer as they are made.
 *
 * Must never: be timed as part of what the scenario measures, or hand a peer a vote the store
 * was not given.
 */
import { randomBytes } from 'node:crypto';
import { RecordKind } from '../../src/codec/kinds.ts';
import { encodeFinalizedRecord, encodeVoteRecord } from '../../src/codec/vote-record.ts';
import type { RecordInput } from '../../src/log/types.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import type { ConsensusStore, OpenStoreOptions } from '../../src/store.ts';
import { takeImage, writableLogOf } from '../../src/store.ts';
import { CHAIN_ID, loadOpenStore } from './systems.ts';
import { VoteFactory } from './workload.ts';

const APPEND_BATCH = 4096;

/** The options every tier-scenario open uses: unverified votes, no automatic snapshots (their window would keep 2,000+ heights hot), the given retention. */
export function tierOptions(dir: string, hotHeights: number, durability: 'fsync' | 'none', compactEvery?: number): OpenStoreOptions {
  return {
    dir,
    chainId: CHAIN_ID,
    voteVerification: 'off',
    log: { durability },
    snapshots: { interval: 0 },
    retention: compactEvery === undefined ? { hotHeights } : { hotHeights, compactEvery },
  };
}

/** Opens a consensus-store with `tierOptions`. */
export async function openTier(dir: string, hotHeights: number, durability: 'fsync' | 'none', compactEvery?: number): Promise<ConsensusStore> {
  const open = await loadOpenStore();
  if (typeof open === 'string') throw new Error(open);
  return open(tierOptions(dir, hotHeights, durability, compactEvery));
}

/**
 * The votes of heights `from..to` (inclusive; height h is round h - 1) of `validators`
 * validators, from one factory, each with its own random signature (a real signature does not
 * compress: the factory's one signature for every vote would make the cold files far smaller
 * than a chain's).
 */
export function votesOfHeights(factory: VoteFactory, from: number, to: number): ValidatorVote[] {
  const first = (from - 1) * factory.perRound;
  const n = (to - from + 1) * factory.perRound;
  const signatures = randomBytes(64 * n);
  const out: ValidatorVote[] = [];
  for (let k = 0; k < n; k++) out.push({ ...factory.at(first + k), signature: new Uint8Array(signatures.buffer, signatures.byteOffset + 64 * k, 64) });
  return out;
}

/** Appends `votes` and a finalization mark for each of heights `from..to` through the store's log (bypassing the stores: a reopen folds them in). */
export async function appendHeights(store: ConsensusStore, votes: readonly ValidatorVote[], from: number, to: number): Promise<void> {
  const log = writableLogOf(store);
  const recordedAt = Date.now();
  const records: RecordInput[] = votes.map((v) => ({ kind: RecordKind.Vote, payload: encodeVoteRecord(v, recordedAt) }));
  for (let h = from; h <= to; h++) records.push({ kind: RecordKind.Finalized, payload: encodeFinalizedRecord(h, h - 1, recordedAt) });
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < records.length; i += APPEND_BATCH) pending.push(log.append(records.slice(i, i + APPEND_BATCH)));
  await Promise.all(pending);
}

/** What a build made. */
export interface TierBuild {
  readonly heights: number;
  readonly votes: number;
  /** The cold cut's height after the last compaction. */
  readonly cutHeight: number;
  readonly ms: number;
  readonly compactions: number;
}

/**
 * Writes heights `fromHeight..toHeight` into `dir` in chunks of `chunk` heights, each written,
 * reopened and compacted (`compact` false: no compaction, every height stays hot). `sink` is
 * handed each chunk's votes (the same objects) after the store took them.
 */
export async function buildTierDir(
  dir: string,
  o: { validators: number; fromHeight: number; toHeight: number; chunk: number; hotHeights: number; compact: boolean; sink?: (votes: readonly ValidatorVote[]) => Promise<void> | void; progress?: (m: string) => void },
): Promise<TierBuild> {
  const started = performance.now();
  const factory = new VoteFactory(o.validators);
  let cutHeight = 0;
  let compactions = 0;
  for (let from = o.fromHeight; from <= o.toHeight; from += o.chunk) {
    const to = Math.min(o.toHeight, from + o.chunk - 1);
    const votes = votesOfHeights(factory, from, to);
    const writer = await openTier(dir, o.hotHeights, 'none', 1_000_000_000);
    try {
      await appendHeights(writer, votes, from, to);
    } finally {
      await writer.close();
    }
    await o.sink?.(votes);
    // Reopened: the replay folds the chunk into the stores; then a compaction (which ends with
    // a local image) or, without one, an image, so that every directory built here opens from
    // an image and a short hot log after it, as a running node's does.
    const store = await openTier(dir, o.hotHeights, 'none', 1_000_000_000);
    try {
      if (o.compact) {
        const report = await store.compact();
        cutHeight = report.to.height;
        compactions++;
      } else if ((await takeImage(store)) === undefined) throw new Error(`tier build: no image taken in ${dir}`);
    } finally {
      await store.close();
    }
    o.progress?.(`  heights ${from}..${to} written${o.compact ? `, cut at ${cutHeight}` : ''} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  const heights = o.toHeight - o.fromHeight + 1;
  return { heights, votes: heights * o.validators * 2, cutHeight, ms: performance.now() - started, compactions };
}
