/**
 * The commit pipeline (D3): the parts of one call are one batch; a batch that carries audit
 * events goes through the audit stage with every part's records as companions, else straight
 * to the log; the parts' durable steps run in part order, only after the whole batch is
 * durable, and none runs for a batch that failed.
 */
import { describe, expect, it } from 'vitest';
import { MemoryLog } from '../../src/log/memory-log.ts';
import type { LogRecord, Lsn, RecordInput } from '../../src/log/types.ts';
import type { AuditEvent } from '../../src/model/audit.ts';
import { CommitPipeline, type AuditStage } from '../../src/stores/commit-pipeline.ts';

const rec = (kind: number, byte: number): RecordInput => ({ kind, payload: Uint8Array.of(byte) });
const event: AuditEvent = { type: 'Stalled', height: 1, round: 1, stalledForMs: 5, reason: 'test' };

/** An audit stage that appends its companions and one entry per event after them, in one batch. */
function recordingStage(log: MemoryLog, calls: { events: number; companions: number }[]): AuditStage {
  return {
    async appendWithEvents(events, companions) {
      calls.push({ events: events.length, companions: companions.length });
      const lsns = await log.append([...companions, ...events.map(() => rec(50, 0))]);
      return { lsns: lsns.slice(0, companions.length) as Lsn[] };
    },
  };
}

describe('the commit pipeline', () => {
  it('writes the parts of one call as one batch and runs their steps in part order, with their own LSNs', async () => {
    const log = MemoryLog.open();
    const order: string[] = [];
    const seen: LogRecord[][] = [];
    const pipeline = new CommitPipeline(log);
    const durable = await pipeline.commit([
      { records: [rec(1, 1)], onDurable: (r) => (order.push('a'), seen.push([...r])) },
      { records: [rec(60, 2), rec(60, 3)], onDurable: (r) => (order.push('b'), seen.push([...r])) },
      { records: [] },
    ]);
    expect(order).toEqual(['a', 'b']);
    expect(durable.map((p) => p.map((r) => r.lsn))).toEqual([[1], [2, 3], []]);
    expect(seen[1]!.map((r) => r.payload[0])).toEqual([2, 3]);
    expect(log.appendCalls).toBe(1);
  });

  it('hands a batch with events to the audit stage, every part\'s records as companions', async () => {
    const log = MemoryLog.open();
    const calls: { events: number; companions: number }[] = [];
    const pipeline = new CommitPipeline(log, recordingStage(log, calls));
    const durable = await pipeline.commit([{ records: [rec(1, 1)] }, { records: [rec(60, 2)] }, { records: [], events: [event, event] }]);
    expect(calls).toEqual([{ events: 2, companions: 2 }]);
    expect(durable.map((p) => p.map((r) => r.lsn))).toEqual([[1], [2], []]);
    expect(log.appendCalls).toBe(1);
  });

  it('runs no step for a batch that failed, and rejects with the log\'s error', async () => {
    const log = MemoryLog.open();
    const pipeline = new CommitPipeline(log);
    let steps = 0;
    log.failNextAppends('IO_FAILED', 1);
    await expect(pipeline.commit([{ records: [rec(1, 1)], onDurable: () => steps++ }])).rejects.toMatchObject({ code: 'IO_FAILED' });
    expect(steps).toBe(0);
  });

  it('refuses no parts, and events without an audit stage, with INVALID_ARGUMENT and nothing written', async () => {
    const log = MemoryLog.open();
    const pipeline = new CommitPipeline(log);
    await expect(pipeline.commit([])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(pipeline.commit([{ records: [rec(1, 1)], events: [event] }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(log.appendCalls).toBe(0);
  });
});
