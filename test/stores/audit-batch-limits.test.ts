/**
 * The audit log merges concurrent calls (logEvent, logByzantineEvent, appendWithEvents, the
 * equivocation batches openStore routes to it) into one log append. The merge is bounded by the
 * log's limits in records AND bytes (D2 in docs/durability.md; docs/audit.md, Writing): with small segments or large events a merged
 * batch must never exceed `maxBatchBytes` (the WAL would refuse it BATCH_TOO_LARGE and fail every
 * merged caller, even those that fit alone). A call that alone is too big still gets
 * BATCH_TOO_LARGE (or RECORD_TOO_LARGE for one oversize record), and nothing else is harmed.
 */
import { describe, expect, it } from 'vitest';
import { COMMIT_RECORD_BYTES } from '../../src/codec/framing.ts';
import { publicKeyOf, signVote } from '../../src/codec/vote-sign.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { Log, Lsn, RecordInput } from '../../src/log/types.ts';
import { openStore, openStoreOnLog, type ConsensusStore } from '../../src/store.ts';
import type { LogEntry } from '../../src/stores/audit-types.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import { MemoryLog } from '../../src/log/memory-log.ts';

const CHAIN = 'batch-limit-chain';
const DIR = '/data';
const NODE_KEY = { privateKey: new Uint8Array(32).fill(9) };
/** The smallest segment: maxBatchBytes = 4096 - 32 = 4064, maxRecordSize 4008. */
const SEGMENT_SIZE = 4096;

function keyOf(n: number): Uint8Array {
  return new Uint8Array(32).fill(n);
}

function vote(validator: number, round: number, hashByte: number): ValidatorVote {
  return signVote(
    { validatorId: `val-${validator}`, height: 3, round, voteType: 'prevote', blockHash: new Uint8Array(32).fill(hashByte), timestamp: 1_700_000_000_000 + round },
    keyOf(validator),
    CHAIN,
  );
}

/** An InvalidSignature event whose message is `bytes` long: a large audit entry. */
function bigEvent(i: number, bytes: number) {
  return { type: 'InvalidSignature' as const, validatorId: `val-${i % 3}`, height: 3, round: i, message: new Uint8Array(bytes).fill(i & 0xff), signature: new Uint8Array(64) };
}

/** Wraps a log to record the size of every append that reached it (and whether it succeeded). */
function spying(log: Log): { log: Log; appends: { records: number; ok: boolean | undefined }[] } {
  const appends: { records: number; ok: boolean | undefined }[] = [];
  const spy: Log = Object.create(log) as Log;
  Object.defineProperty(spy, 'append', {
    value: (records: readonly RecordInput[]): Promise<Lsn[]> => {
      const row: { records: number; ok: boolean | undefined } = { records: records.length, ok: undefined };
      appends.push(row);
      const p = log.append(records);
      p.then(() => (row.ok = true), () => (row.ok = false));
      return p;
    },
  });
  return { log: spy, appends };
}

async function openSmall(disk: SimulatedDisk): Promise<ConsensusStore> {
  let clock = 1_760_000_000_000;
  return openStore({ dir: DIR, fs: disk.fs(), chainId: CHAIN, audit: { nodeKey: NODE_KEY }, now: () => clock++, log: { segmentSize: SEGMENT_SIZE } });
}

describe('audit batches are bounded by the log limits in bytes and records', () => {
  it('the WAL exposes its resolved limits read-only', async () => {
    const disk = new SimulatedDisk({ seed: 5 });
    const store = await openSmall(disk);
    expect(store.log.limits).toEqual({ maxBatchBytes: SEGMENT_SIZE - 32, maxBatchRecords: 4096, maxRecordSize: 4008, segmentSize: SEGMENT_SIZE });
    expect(Object.isFrozen(store.log.limits)).toBe(true);
    await store.close();
  });

  it('small segments: many concurrent large audit writers and an equivocation, none rejected, one valid chain', async () => {
    const disk = new SimulatedDisk({ seed: 6 });
    const store = await openSmall(disk);
    for (const n of [1, 2]) await store.validators.registerValidator({ validatorId: `val-${n}`, publicKey: publicKeyOf(keyOf(n)), stake: 10n }, 0);
    await store.votes.appendVote(vote(1, 4, 0xaa));
    const sizeBefore = store.audit.size;
    const writers = 40;
    // Each entry ~1.3 KB: any three merged overflow the 4064-byte batch; each fits alone.
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < writers; i++) {
      calls.push(i % 4 === 0 ? store.audit.logEvent({ type: 'Stalled', height: 3, round: i, stalledForMs: i, reason: 'r'.repeat(256) }) : store.audit.logByzantineEvent(bigEvent(i, 1200)));
      if (i === writers / 2) calls.push(store.votes.appendVote(vote(1, 4, 0xbb)));
    }
    const settled = await Promise.allSettled(calls);
    expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
    const equivocation = (await store.audit.queryByValidator('val-1')).filter((e) => e.event.type === 'EquivocationDetected');
    expect(equivocation).toHaveLength(1);
    expect(await store.evidence.queryByValidator('val-1')).toHaveLength(1);
    expect(store.audit.size).toBe(sizeBefore + writers + 1);
    expect(await store.audit.verifyIntegrity()).toMatchObject({ ok: true, checked: store.audit.size });
    await store.close();
    const reopened = await openSmall(disk);
    expect(reopened.audit.size).toBe(sizeBefore + writers + 1);
    expect(await reopened.audit.verifyIntegrity()).toMatchObject({ ok: true });
    await reopened.close();
  });

  it('a call too big alone gets BATCH_TOO_LARGE (RECORD_TOO_LARGE for an oversize record), writes nothing, and concurrent calls succeed', async () => {
    const disk = new SimulatedDisk({ seed: 7 });
    const store = await openSmall(disk);
    const lsn = store.log.nextLsn;
    const size = store.audit.size;
    const { maxBatchBytes, maxRecordSize } = store.log.limits!;
    // Three companions that each fit a record but together exceed the batch.
    const companion = { kind: 1, payload: new Uint8Array(Math.floor(maxBatchBytes / 3)) };
    const tooBig = store.audit.appendWithEvents([{ type: 'Pruned', store: 'votes', belowHeight: 1, entriesRemoved: 0 }], [companion, companion, companion]);
    const hugeRecord = store.audit.appendWithEvents([{ type: 'Pruned', store: 'votes', belowHeight: 1, entriesRemoved: 0 }], [{ kind: 1, payload: new Uint8Array(maxRecordSize + 1) }]);
    const hugeEvent = store.audit.logByzantineEvent(bigEvent(1, maxRecordSize));
    await expect(tooBig).rejects.toMatchObject({ code: 'BATCH_TOO_LARGE' });
    await expect(hugeRecord).rejects.toMatchObject({ code: 'RECORD_TOO_LARGE' });
    await expect(hugeEvent).rejects.toMatchObject({ code: 'RECORD_TOO_LARGE' });
    expect(store.log.nextLsn).toBe(lsn);
    expect(store.audit.size).toBe(size);
    // Three large events at once: each fits a batch alone, no two fit together.
    const ok = await Promise.all([store.audit.logByzantineEvent(bigEvent(2, 1500)), store.audit.logByzantineEvent(bigEvent(3, 1500)), store.audit.logByzantineEvent(bigEvent(4, 1500))]);
    expect(ok.map((e: LogEntry) => e.event.type)).toEqual(['InvalidSignature', 'InvalidSignature', 'InvalidSignature']);
    expect(await store.audit.verifyIntegrity()).toMatchObject({ ok: true });
    await store.close();
  });

  it('in-memory log with small byte and record limits: merged appends stay within both', async () => {
    const limits = { maxBatchBytes: 2048, maxBatchRecords: 6 };
    const { log, appends } = spying(MemoryLog.open(undefined, limits));
    const store = await openStoreOnLog(log, { chainId: CHAIN, audit: { nodeKey: NODE_KEY } });
    const calls: Promise<LogEntry>[] = [];
    for (let i = 0; i < 30; i++) calls.push(store.audit.logByzantineEvent(bigEvent(i, i % 2 === 0 ? 600 : 20)));
    const settled = await Promise.allSettled(calls);
    expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
    expect(appends.every((a) => a.ok === true && a.records <= limits.maxBatchRecords)).toBe(true);
    // Merging happened (fewer appends than calls), within the limits.
    expect(appends.length).toBeLessThan(31);
    expect(await store.audit.verifyIntegrity()).toMatchObject({ ok: true, checked: 31 });
    // One call that needs more records than a batch allows, alone: BATCH_TOO_LARGE before the log.
    const before = appends.length;
    const events = Array.from({ length: 6 }, (_, i) => ({ type: 'Pruned' as const, store: 'votes', belowHeight: i, entriesRemoved: 0 }));
    await expect(store.audit.appendWithEvents(events, [])).rejects.toMatchObject({ code: 'BATCH_TOO_LARGE' });
    expect(appends.length).toBe(before);
    await store.close();
    expect(COMMIT_RECORD_BYTES).toBe(32);
  });
});
