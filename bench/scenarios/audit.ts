/**
 * `npm run bench -- audit`: the audit log (docs/bench-notes.md, The scenarios).
 *
 * - `logEvent` durable throughput with hashing and an ed25519 head signature per batch, at 1
 *   and 64 concurrent writers, against appending the same entry bytes unsigned (one
 *   `log.append` per event, same concurrency, same log options): the signing overhead is
 *   `1 - ratio_ops`, in percent;
 * - `verifyIntegrity` over 1,000,000 entries (20,000 with --quick), written fast (durability
 *   'none', many writers so that batches are large, as under load): entries/s, heads checked;
 * - `verifyDisputeEvidence`: bundles/s for a bundle of 10 entries (the Byzantine evidence
 *   store's own `verifyEvidence` is measured by its scenario).
 *
 * Must never: time the filling as part of the verification, or compare runs on different
 * directories that were not created the same way.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeAuditEvent } from '../../src/codec/audit-event.ts';
import { AuditHasher, encodeEntryBody, encodeEntryPayload, GENESIS_PREV_HASH } from '../../src/codec/audit-record.ts';
import { RecordKind } from '../../src/codec/kinds.ts';
import { generateNodeKey } from '../../src/codec/node-key.ts';
import { openLog } from '../../src/log/wal.ts';
import type { Log } from '../../src/log/types.ts';
import { LogAuditLog } from '../../src/stores/audit-log.ts';
import type { ConsensusEvent } from '../../src/model/audit.ts';
import { verifyDisputeEvidence } from '../../src/stores/dispute-evidence.ts';
import type { BenchContext } from '../lib/context.ts';
import { interleave, type Contender } from '../lib/interleave.ts';
import { measureRun, runProducers } from '../lib/measure.ts';
import { buildRow, referenceRow, type ResultRow, type RunResult, type SystemRuns } from '../lib/run-result.ts';
import { formatNumber } from '../lib/table.ts';
import { makeTempDir, removeTempDir } from '../lib/temp-dir.ts';

const CHAIN_ID = 'bench-chain';
const FILL_WINDOW = 2048;

interface Sizing {
  readonly runMs: number;
  readonly verifyEntries: number;
  readonly evidenceMs: number;
}

const FULL: Sizing = { runMs: 2000, verifyEntries: 1_000_000, evidenceMs: 1000 };
const QUICK: Sizing = { runMs: 150, verifyEntries: 20_000, evidenceMs: 100 };

/** A consensus event of typical size (a received vote would be larger; a phase change is the common case). */
function event(i: number): ConsensusEvent {
  return { type: 'PhaseChanged', height: i, round: i, from: 'prevote', to: 'precommit' };
}

/** The payload an audit entry for `event(i)` occupies, for the unsigned reference. */
function entryPayload(i: number): Uint8Array {
  const body = encodeEntryBody({ sequence: i, prevHash: GENESIS_PREV_HASH, eventCode: 4, timestamp: Date.now(), eventBytes: encodeAuditEvent(event(i)) });
  return encodeEntryPayload(new AuditHasher(CHAIN_ID).entryHash(body), body);
}

async function openAudit(dir: string, durability: 'fsync' | 'none'): Promise<{ log: Log; audit: LogAuditLog }> {
  const log = await openLog({ dir, durability });
  const audit = new LogAuditLog({ log, now: Date.now }, { ...generateNodeKey(), chainId: CHAIN_ID });
  await log.scan((r) => {
    if (audit.kinds.includes(r.kind)) audit.apply(r);
  });
  await audit.recordNodeKey();
  return { log, audit };
}

function oneShot(ms: number, items: number): RunResult {
  const us = ms * 1000;
  return { latency: { count: 1, p50_us: us, p99_us: us, max_us: us, mean_us: us }, opsPerS: (items * 1000) / ms, loopDelayP99Us: NaN };
}

async function throughput(ctx: BenchContext, sizing: Sizing, writers: number): Promise<ResultRow[]> {
  const signedName = `audit logEvent, signed per batch`;
  const plainName = `log.append of the same bytes, unsigned`;
  const contenders: Contender<RunResult>[] = [
    {
      name: signedName,
      run: async () => {
        const dir = makeTempDir('audit-signed');
        const { log, audit } = await openAudit(dir, 'fsync');
        let i = 0;
        const result = await measureRun(1000, (rec) => runProducers(rec, writers, sizing.runMs, () => audit.logEvent(event(i++))));
        await log.close();
        removeTempDir(dir);
        return result;
      },
    },
    {
      name: plainName,
      run: async () => {
        const dir = makeTempDir('audit-unsigned');
        const log = await openLog({ dir, durability: 'fsync' });
        const payload = entryPayload(1);
        const result = await measureRun(1000, (rec) => runProducers(rec, writers, sizing.runMs, () => log.append([{ kind: RecordKind.AuditEvent, payload }])));
        await log.close();
        removeTempDir(dir);
        return result;
      },
    },
  ];
  const results = await interleave(ctx.reps, contenders, () => sleep(50));
  const sys: SystemRuns = { system: signedName, concurrency: writers, runs: results.get(signedName) ?? [] };
  const ref: SystemRuns = { system: plainName, concurrency: writers, runs: results.get(plainName) ?? [] };
  const row = buildRow({ scenario: 'audit.log-event', sys, reference: ref, idleLoopDelayP99Us: NaN });
  const overhead = (1 - row.ratio_ops) * 100;
  return [
    { ...row, note: `signing overhead ${overhead.toFixed(1)}% of throughput at ${writers} writer(s)`, extra: { signing_overhead_pct: overhead } },
    referenceRow('audit.log-event', ref, NaN, 'one log.append per event, the entry bytes without chain, head or signature'),
  ];
}

async function fill(audit: LogAuditLog, entries: number): Promise<void> {
  let window: Promise<unknown>[] = [];
  for (let i = 0; i < entries; i++) {
    window.push(audit.logEvent(event(i)));
    if (window.length >= FILL_WINDOW) {
      await Promise.all(window);
      window = [];
    }
  }
  await Promise.all(window);
}

async function verification(ctx: BenchContext, sizing: Sizing): Promise<ResultRow[]> {
  const dir = makeTempDir('audit-verify');
  try {
    const { log, audit } = await openAudit(dir, 'none');
    const t0 = performance.now();
    await fill(audit, sizing.verifyEntries - 1);
    ctx.log(`  audit: wrote ${formatNumber(sizing.verifyEntries)} entries in ${((performance.now() - t0) / 1000).toFixed(1)} s (durability 'none')`);
    const runs: RunResult[] = [];
    let heads = 0;
    for (let rep = 0; rep < ctx.reps; rep++) {
      const t = performance.now();
      const report = await audit.verifyIntegrity();
      runs.push(oneShot(performance.now() - t, report.checked));
      if (!report.ok) throw new Error(`verifyIntegrity failed: ${report.firstBad?.reason}`);
      heads = report.heads;
    }
    const verifyRow = buildRow({
      scenario: 'audit.verify-integrity',
      sys: { system: `verifyIntegrity ${formatNumber(sizing.verifyEntries)} entries`, concurrency: 1, runs },
      idleLoopDelayP99Us: NaN,
      note: `${formatNumber(heads)} signed heads checked; ops/s = entries/s`,
      extra: { heads },
    });
    const evidence = await audit.getEvidence({ startHeight: 1000, endHeight: 1009 });
    const evidenceRuns: RunResult[] = [];
    for (let rep = 0; rep < ctx.reps; rep++) {
      evidenceRuns.push(
        await measureRun(10_000, async (rec) => {
          const deadline = performance.now() + sizing.evidenceMs;
          let n = 0;
          while (performance.now() < deadline) {
            const t = performance.now();
            if (!verifyDisputeEvidence(evidence, audit.publicKey).ok) throw new Error('bundle does not verify');
            rec.recordSince(t);
            n++;
          }
          return n;
        }),
      );
    }
    const evidenceRow = buildRow({
      scenario: 'audit.verify-evidence',
      sys: { system: 'verifyDisputeEvidence (10 entries)', concurrency: 1, runs: evidenceRuns },
      idleLoopDelayP99Us: NaN,
      note: `one head signature and 10 inclusion proofs in a tree of ${formatNumber(evidence.head.treeSize)}`,
    });
    await log.close();
    return [verifyRow, evidenceRow];
  } finally {
    removeTempDir(dir);
  }
}

/** Runs the audit scenario, emits its tables and returns every row. */
export async function runAuditScenario(ctx: BenchContext): Promise<ResultRow[]> {
  const sizing = ctx.quick ? QUICK : FULL;
  const rows: ResultRow[] = [];
  for (const writers of [1, 64]) {
    ctx.log(`audit: logEvent throughput, ${writers} writer(s)`);
    const r = await throughput(ctx, sizing, writers);
    ctx.emit(`audit: logEvent, durable, ${writers} writer(s) (${ctx.reps} reps)`, r);
    rows.push(...r);
  }
  ctx.log('audit: verifyIntegrity and dispute evidence');
  const v = await verification(ctx, sizing);
  ctx.emit(`audit: verification (${ctx.reps} reps)`, v);
  rows.push(...v);
  return rows;
}
