/**
 * Metrics (src/stores/metrics.ts, `store.metrics()`; docs/operations.md, "Metrics"):
 * - the encoder: names, HELP and TYPE lines, label escaping, histogram buckets cumulative with
 *   +Inf, _sum and _count, read back by a strict parser (test/support/prom-text.ts);
 * - the counters move when their events happen, on a real store in a temp directory: a WAL
 *   batch (fsync histogram, bytes, batch sizes), signatures (new, stored, each refusal reason),
 *   a local image written and loaded, evidence by type, disk bytes by kind, a CORRUPTION on a
 *   read, the open-time refusal (FRESH_SIGN_STATE) and open failures of the process;
 * - the observer allocates nothing per batch, and a throwing observer changes no write.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { Lsn } from '../../src/log/types.ts';
import type { UnsignedVote } from '../../src/model/vote.ts';
import { openStore, openStoreOnLog, takeImage, type ConsensusStore } from '../../src/store.ts';
import { MemoryLog } from '../../src/log/memory-log.ts';
import {
  escapeLabelValue,
  Exposition,
  exponentialBuckets,
  FSYNC_BUCKETS,
  Histogram,
  renderProcessMetrics,
  SignMetrics,
  WalMetrics,
} from '../../src/stores/metrics.ts';
import { ConsensusStoreError } from '../../src/errors.ts';
import { AUDIT_CHAIN, nodeKey, signedVote } from '../support/audit-test-log.ts';
import { parseExposition, valueOf } from '../support/prom-text.ts';
import { appendRange, openSim, segPath } from '../log/wal-helpers.ts';
import { buildChain } from '../../src/testing/conformance/snapshot-store.conformance.ts';

const root = mkdtempSync(join(tmpdir(), 'cstore-metrics-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `d${dirs++}`);

const identity = { privateKey: new Uint8Array(32).fill(7), validatorId: 'me' };

function vote(o: Partial<UnsignedVote> = {}): UnsignedVote {
  return { validatorId: 'me', height: 5, round: 1, voteType: 'prevote', blockHash: new Uint8Array(32).fill(1), timestamp: 1000, ...o };
}

function open(dir: string, o: { state?: 'new-key' | 'existing-key'; now?: () => number } = {}): Promise<ConsensusStore> {
  return openStore({
    dir,
    chainId: AUDIT_CHAIN,
    signer: { ...identity, state: o.state ?? 'new-key' },
    audit: { nodeKey: nodeKey(1) },
    images: { everyRecords: 0 },
    // Fake-signature votes of unregistered validators: stored unverified (metrics under test).
    voteVerification: 'off',
    ...(o.now === undefined ? {} : { now: o.now }),
  });
}

async function scrape(store: ConsensusStore): Promise<ReturnType<typeof parseExposition>> {
  return parseExposition(await store.metrics());
}

describe('the text format', () => {
  it('writes HELP and TYPE once per family, escapes label values and help, and the parser reads it back', () => {
    const h = new Histogram([0.1, 1, 10]);
    for (const v of [0.05, 0.1, 0.5, 3, 50]) h.observe(v);
    const text = new Exposition()
      .counter('t_events_total', 'Events.\nTwo lines, a \\ backslash.', [
        { labels: { path: 'C:\\dir "x"\nnext' }, value: 3 },
        { labels: { path: 'plain' }, value: 0 },
      ])
      .gauge('t_temperature_celsius', 'A gauge.', -1.5)
      .gauge('t_nan', 'Not a number.', NaN)
      .histogram('t_latency_seconds', 'Latency.', h)
      .text();
    expect(text).toContain('# HELP t_events_total Events.\\nTwo lines, a \\\\ backslash.\n# TYPE t_events_total counter\n');
    expect(text).toContain('t_events_total{path="C:\\\\dir \\"x\\"\\nnext"} 3\n');
    expect(text).toContain('t_latency_seconds_bucket{le="0.1"} 2\n');
    expect(text).toContain('t_latency_seconds_bucket{le="+Inf"} 5\n');
    const f = parseExposition(text);
    expect([...f.keys()]).toEqual(['t_events_total', 't_temperature_celsius', 't_nan', 't_latency_seconds']);
    expect(f.get('t_events_total')?.help).toBe('Events.\nTwo lines, a \\ backslash.');
    expect(f.get('t_events_total')?.samples[0]?.labels['path']).toBe('C:\\dir "x"\nnext');
    expect(valueOf(f, 't_temperature_celsius')).toBe(-1.5);
    expect(valueOf(f, 't_nan')).toBeNaN();
    expect(f.get('t_latency_seconds')?.samples.map((s) => `${s.name}${s.labels['le'] ?? ''}=${s.value}`)).toEqual([
      't_latency_seconds_bucket0.1=2',
      't_latency_seconds_bucket1=3',
      't_latency_seconds_bucket10=4',
      't_latency_seconds_bucket+Inf=5',
      't_latency_seconds_sum=53.65',
      't_latency_seconds_count=5',
    ]);
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });

  it('refuses a bad name, a counter without _total, a family twice, a reserved label, unsorted buckets', () => {
    expect(() => new Exposition().gauge('1bad', 'x', 1)).toThrow(RangeError);
    expect(() => new Exposition().gauge('bad-name', 'x', 1)).toThrow(RangeError);
    expect(() => new Exposition().counter('t_events', 'x', 1)).toThrow(/_total/);
    expect(() => new Exposition().gauge('t_a', 'x', 1).gauge('t_a', 'x', 2)).toThrow(/twice/);
    expect(() => new Exposition().gauge('t_a', 'x', [{ labels: { le: '1' }, value: 1 }])).toThrow(/label/);
    expect(() => new Exposition().gauge('t_a', 'x', [{ labels: { 'a-b': '1' }, value: 1 }])).toThrow(/label/);
    expect(() => new Histogram([1, 1])).toThrow(RangeError);
    expect(() => new Histogram([2, 1])).toThrow(RangeError);
  });

  it('the parser itself rejects broken expositions (non-cumulative buckets, no +Inf, a sample outside its family)', () => {
    const head = '# HELP h x\n# TYPE h histogram\n';
    expect(() => parseExposition(`${head}h_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n`)).toThrow(/cumulative/);
    expect(() => parseExposition(`${head}h_bucket{le="1"} 1\nh_sum 1\nh_count 1\n`)).toThrow(/\+Inf/);
    expect(() => parseExposition(`${head}h_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\nother 1\n`)).toThrow(/outside/);
    expect(() => parseExposition('# HELP c x\n# TYPE c counter\nc 1\n')).toThrow(/_total/);
  });

  it('exponential buckets are the ones documented', () => {
    expect(exponentialBuckets(0.001, 2, 4)).toEqual([0.001, 0.002, 0.004, 0.008]);
    expect(FSYNC_BUCKETS[0]).toBe(0.0001);
    expect(FSYNC_BUCKETS).toHaveLength(16);
  });

  it('Histogram.observe and WalMetrics.batchWritten allocate nothing per call: no GC in 5 million calls', async () => {
    const m = new WalMetrics();
    for (let i = 0; i < 200_000; i++) m.batchWritten(1 + (i % 100), 300, 0.0002 * (i % 7));
    let gcs = 0;
    const observer = new PerformanceObserver((list) => {
      gcs += list.getEntries().length;
    });
    observer.observe({ entryTypes: ['gc'] });
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));
    try {
      await settle();
      gcs = 0;
      for (let i = 0; i < 5_000_000; i++) m.batchWritten(1 + (i % 100), 300, 0.0002 * (i % 7));
      await settle();
      const quiet = gcs;
      // The control: the same loop allocating one small object per call collects many times.
      gcs = 0;
      let keep: object | undefined;
      for (let i = 0; i < 5_000_000; i++) {
        m.batchWritten(1, 300, 0.1);
        keep = { i };
      }
      await settle();
      expect(keep).toBeDefined();
      expect(gcs).toBeGreaterThan(5);
      expect(quiet).toBeLessThanOrEqual(1);
    } finally {
      observer.disconnect();
    }
    expect(m.fsyncSeconds.count).toBe(10_200_000);
  });
});

describe('store.metrics(): the counters move with their events', () => {
  it('a WAL batch, signatures (new, stored, each refusal), watermark, seconds since the last signature', async () => {
    let clock = 1_700_000_000_000;
    const store = await open(freshDir(), { now: () => clock });
    let f = await scrape(store);
    expect(valueOf(f, 'cstore_info', { backend: 'wal' })).toBe(1);
    expect(valueOf(f, 'cstore_status', { status: 'open' })).toBe(1);
    expect(valueOf(f, 'cstore_signguard_prevented_signings_total', { reason: 'height_regression' })).toBe(0);
    expect(valueOf(f, 'cstore_signguard_seconds_since_last_signature')).toBeUndefined();
    expect(valueOf(f, 'cstore_open_duration_seconds')).toBeGreaterThan(0);
    expect(valueOf(f, 'cstore_replay_image_loaded')).toBe(0);
    const batchesBefore = valueOf(f, 'cstore_wal_fsync_duration_seconds_count') as number;
    const bytesBefore = valueOf(f, 'cstore_wal_write_bytes_total') as number;

    await store.signGuard.signVote(vote());
    clock += 2500;
    await store.signGuard.signVote(vote()); // the same request: the stored signature
    await expect(store.signGuard.signVote(vote({ blockHash: new Uint8Array(32).fill(2) }))).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(store.signGuard.signVote(vote({ height: 4 }))).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(store.signGuard.signVote(vote({ height: 5, round: 0 }))).rejects.toMatchObject({ code: 'CONFLICT' });
    await store.signGuard.signVote(vote({ voteType: 'precommit' }));
    await expect(store.signGuard.signVote(vote({ voteType: 'prevote', blockHash: new Uint8Array(32).fill(3) }))).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(store.signGuard.signVote(vote({ validatorId: 'someone-else', height: 9 }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    clock += 4000;

    f = await scrape(store);
    expect(valueOf(f, 'cstore_signguard_permitted_signings_total', { signature: 'new' })).toBe(2);
    expect(valueOf(f, 'cstore_signguard_permitted_signings_total', { signature: 'stored' })).toBe(1);
    expect(valueOf(f, 'cstore_signguard_prevented_signings_total', { reason: 'conflicting_data' })).toBe(1);
    expect(valueOf(f, 'cstore_signguard_prevented_signings_total', { reason: 'height_regression' })).toBe(1);
    expect(valueOf(f, 'cstore_signguard_prevented_signings_total', { reason: 'round_regression' })).toBe(1);
    expect(valueOf(f, 'cstore_signguard_prevented_signings_total', { reason: 'step_regression' })).toBe(1);
    expect(valueOf(f, 'cstore_signguard_prevented_signings_total', { reason: 'invalid_request' })).toBe(1);
    expect(valueOf(f, 'cstore_signguard_last_signed_height')).toBe(5);
    expect(valueOf(f, 'cstore_signguard_last_signed_round')).toBe(1);
    expect(valueOf(f, 'cstore_signguard_last_signed_step')).toBe(3);
    expect(valueOf(f, 'cstore_signguard_seconds_since_last_signature')).toBe(4);
    expect(valueOf(f, 'cstore_signguard_last_signature_timestamp_seconds')).toBe((clock - 4000) / 1000);
    // Two sign records, each its own durable batch (one write + fdatasync).
    expect((valueOf(f, 'cstore_wal_fsync_duration_seconds_count') as number) - batchesBefore).toBe(2);
    expect(valueOf(f, 'cstore_wal_fsync_duration_seconds_sum')).toBeGreaterThan(0);
    expect((valueOf(f, 'cstore_wal_write_bytes_total') as number) - bytesBefore).toBeGreaterThan(2 * 64);
    expect(valueOf(f, 'cstore_wal_last_lsn')).toBe(store.log.nextLsn - 1);
    await store.close();
    f = await scrape(store);
    expect(valueOf(f, 'cstore_status', { status: 'closed' })).toBe(1);
    expect(valueOf(f, 'cstore_signguard_last_signed_height')).toBeUndefined();
  });

  it('batches of many records land in the batch-size histogram', async () => {
    const store = await open(freshDir());
    const votes = Array.from({ length: 64 }, (_, i) => signedVote(i, 1, 0));
    await Promise.all(votes.map((v) => store.votes.appendVote(v)));
    const f = await scrape(store);
    const total = f.get('cstore_wal_batch_records')?.samples.find((s) => s.name === 'cstore_wal_batch_records_sum')?.value;
    expect(total).toBeGreaterThanOrEqual(64);
    // Concurrent appends share batches: fewer batches than records.
    expect(valueOf(f, 'cstore_wal_batch_records_count')).toBeLessThan(total as number);
    await store.close();
  });

  it('a local image written, then loaded by the next open; disk bytes by kind; evidence by type', async () => {
    const dir = freshDir();
    let store = await open(dir);
    await store.votes.appendVote(signedVote(3, 7, 0, 'prevote', 1));
    await store.votes.appendVote(signedVote(3, 7, 0, 'prevote', 2)); // an equivocation: evidence in its batch
    let f = await scrape(store);
    expect(valueOf(f, 'cstore_image_write_duration_seconds_count')).toBe(0);
    const evidence = (valueOf(f, 'cstore_evidence', { type: 'Equivocation', status: 'verified' }) ?? 0) + (valueOf(f, 'cstore_evidence', { type: 'Equivocation', status: 'unverified' }) ?? 0);
    expect(evidence).toBe(1);
    expect(valueOf(f, 'cstore_evidence', { type: 'DoubleSign', status: 'verified' })).toBe(0);
    expect(valueOf(f, 'cstore_disk_bytes', { kind: 'wal' })).toBeGreaterThan(0);
    expect(valueOf(f, 'cstore_disk_bytes', { kind: 'image' })).toBe(0);
    expect(valueOf(f, 'cstore_disk_bytes', { kind: 'snapshot' })).toBe(0);

    const image = await takeImage(store, false);
    expect(image).toBeDefined();
    f = await scrape(store);
    expect(valueOf(f, 'cstore_image_write_duration_seconds_count')).toBe(1);
    expect(valueOf(f, 'cstore_image_write_failures_total')).toBe(0);
    expect(valueOf(f, 'cstore_disk_bytes', { kind: 'image' })).toBe(image?.bytes);
    await store.close();

    store = await open(dir);
    f = await scrape(store);
    expect(valueOf(f, 'cstore_replay_image_loaded')).toBe(1);
    expect(valueOf(f, 'cstore_replay_image_load_duration_seconds')).toBeGreaterThan(0);
    expect(valueOf(f, 'cstore_corruptions_total', { source: 'local_image' })).toBe(0);
    await store.close();
  });

  it('a portable snapshot written (and one refused) counts; its bytes show as kind snapshot', async () => {
    const store = await openStore({ dir: freshDir(), chainId: AUDIT_CHAIN, voteVerification: 'off', audit: { nodeKey: nodeKey(2) }, images: { everyRecords: 0 }, snapshots: { chunkSize: 4096, interval: 0 } });
    await expect(store.snapshots.createSnapshot()).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await buildChain({ votes: store.votes, validators: store.validators, chainId: AUDIT_CHAIN }, 12);
    const meta = await store.snapshots.createSnapshot();
    const f = await scrape(store);
    expect(valueOf(f, 'cstore_snapshot_write_duration_seconds_count')).toBe(1);
    expect(valueOf(f, 'cstore_snapshot_write_duration_seconds_sum')).toBeGreaterThan(0);
    expect(valueOf(f, 'cstore_snapshot_write_failures_total')).toBe(1);
    expect(valueOf(f, 'cstore_disk_bytes', { kind: 'snapshot' })).toBeGreaterThanOrEqual(meta.fileSize);
    await store.close();
  });

  it('a FRESH_SIGN_STATE open counts in the process: the refusal by rule and the failure by code', async () => {
    const before = parseExposition(renderProcessMetrics());
    await expect(open(freshDir(), { state: 'existing-key' })).rejects.toMatchObject({ code: 'FRESH_SIGN_STATE' });
    const after = parseExposition(renderProcessMetrics());
    const delta = (name: string, labels: Record<string, string>): number => (valueOf(after, name, labels) ?? 0) - (valueOf(before, name, labels) ?? 0);
    expect(delta('cstore_signguard_open_refusals_total', { reason: 'fresh_state' })).toBe(1);
    expect(delta('cstore_open_failures_total', { code: 'fresh_sign_state' })).toBe(1);
    expect(valueOf(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(valueOf(after, 'process_start_time_seconds')).toBeLessThanOrEqual(Date.now() / 1000);
  });

  it('a store on a bare log has no WAL families but the sign guard and process ones', async () => {
    const store = await openStoreOnLog(MemoryLog.open(), { chainId: AUDIT_CHAIN, signer: { ...identity, state: 'new-key' } });
    await store.signGuard.signVote(vote());
    const f = await scrape(store);
    expect(valueOf(f, 'cstore_info', { backend: 'log' })).toBe(1);
    expect(f.has('cstore_wal_fsync_duration_seconds')).toBe(false);
    expect(f.has('cstore_disk_bytes')).toBe(false);
    expect(valueOf(f, 'cstore_signguard_permitted_signings_total', { signature: 'new' })).toBe(1);
    expect(f.has('process_cpu_seconds_total')).toBe(true);
    await store.close();
  });
});

describe('the WAL observer', () => {
  it('counts a CORRUPTION raised by a read (get and scan), and only that', async () => {
    const disk = new SimulatedDisk({ seed: 3 });
    const log = await openSim(disk);
    for (let n = 0; n < 120; n += 6) await appendRange(log, n, n + 6);
    await log.close();
    // Record 2 (37 payload bytes) sits at offset 56 of segment 1 (see test/log/corruption.test.ts).
    disk.flipBit(segPath(1), 56 + 24 + 5, 0);
    const again = await openSim(disk);
    const m = new WalMetrics();
    again.observe(m);
    await expect(again.get(2 as Lsn)).rejects.toMatchObject({ code: 'CORRUPTION' });
    await expect(again.scan(() => undefined)).rejects.toMatchObject({ code: 'CORRUPTION' });
    expect((await again.get(3 as Lsn))?.lsn).toBe(3);
    await expect(again.get(-1 as Lsn)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(m.readCorruptions).toBe(2);
    await again.close();
  });

  it('sees every batch with its records and bytes; a throwing observer changes no write', async () => {
    const disk = new SimulatedDisk({ seed: 4 });
    const log = await openSim(disk);
    const seen: [number, number][] = [];
    log.observe({
      batchWritten(records, bytes, seconds) {
        expect(seconds).toBeGreaterThanOrEqual(0);
        seen.push([records, bytes]);
        throw new Error('observer bug');
      },
    });
    const lsns = await Promise.all([log.append([{ kind: 1, payload: new Uint8Array(10) }]), log.append([{ kind: 1, payload: new Uint8Array(20) }, { kind: 1, payload: new Uint8Array(0) }])]);
    expect(lsns.flat()).toEqual([1, 2, 3]);
    expect(seen.reduce((a, [r]) => a + r, 0)).toBe(3);
    expect(seen.every(([, b]) => b > 0)).toBe(true);
    log.observe(undefined);
    await log.append([{ kind: 1, payload: new Uint8Array(1) }]);
    expect(seen.reduce((a, [r]) => a + r, 0)).toBe(3);
    await log.close();
  });
});

describe('SignMetrics', () => {
  it('maps errors to reasons and codes', () => {
    const m = new SignMetrics();
    m.failedWith(new ConsensusStoreError('CONFLICT', 'x', { details: { reason: 'something new' } }));
    m.failedWith(new ConsensusStoreError('CLOSED', 'x'));
    m.failedWith(new Error('not a store error'));
    expect(m.refused.get('conflict')).toBe(1);
    expect(m.failed.get('closed')).toBe(1);
    expect(m.failed.get('internal')).toBe(1);
  });
});
