/**
 * The audit log's write path: one batch in flight, bounded batches, a failed batch that leaves
 * the chain tip where it was (no later entry chained to a missing one), the node key recorded
 * once, and `appendWithEvents` atomic with its companions under a power cut at every I/O call of
 * its batch (D3).
 */
import { describe, expect, it } from 'vitest';
import { RecordKind } from '../../src/codec/kinds.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { LogRecord } from '../../src/log/types.ts';
import { LogAuditLog } from '../../src/stores/audit-log.ts';
import { expectCode } from '../../src/testing/conformance/round-state-store.conformance.ts';
import { MemoryLog } from '../../src/log/memory-log.ts';
import { AUDIT_CHAIN, memoryAudit, nodeKey, signedVote, walAudit } from '../support/audit-test-log.ts';

const phase = (i: number) => ({ type: 'PhaseChanged', height: i, round: i, from: 'prevote', to: 'precommit' }) as const;

describe('LogAuditLog write path', () => {
  it('keeps one batch in flight and bounds each batch by maxBatchRecords', async () => {
    const h = await memoryAudit({ limits: { maxBatchRecords: 8, maxEventsPerCall: 4 } });
    await h.audit.logEvent(phase(0));
    const calls = h.log.appendCalls;
    const entries = await Promise.all(Array.from({ length: 64 }, (_, i) => h.audit.logEvent(phase(i + 1))));
    const batches = h.log.appendCalls - calls;
    expect(batches).toBeGreaterThanOrEqual(Math.ceil(64 / 7));
    expect(batches).toBeLessThan(64);
    expect(new Set(entries.map((e) => e.signedHeadId)).size).toBe(batches);
    expect(await h.audit.verifyIntegrity()).toMatchObject({ ok: true, checked: 66, heads: batches + 1 });
    await h.close();
  });

  it('rolls the tip back when a batch fails with DISK_FULL, so the next batch chains to the last durable entry', async () => {
    const h = await memoryAudit();
    const before = await h.audit.logEvent(phase(1));
    const head = h.audit.head;
    h.log.failNextAppends('DISK_FULL');
    await expectCode(h.audit.logEvent(phase(2)), 'DISK_FULL');
    expect(h.audit.size).toBe(2);
    expect(h.audit.head).toEqual(head);
    h.log.failNextAppends('DISK_FULL');
    // The first call's batch is in flight when the second arrives: the second forms the next
    // batch, built only after the first failed, so it chains to the last durable entry.
    const [failed, queued] = await Promise.allSettled([h.audit.logEvent(phase(3)), h.audit.logEvent(phase(4))]);
    expect(failed.status).toBe('rejected');
    const q = queued.status === 'fulfilled' ? queued.value : undefined;
    expect(q?.sequence).toBe(2);
    expect(q?.prevHash).toEqual(before.hash);
    const [a, b] = await Promise.all([h.audit.logEvent(phase(5)), h.audit.logEvent(phase(6))]);
    expect(a.prevHash).toEqual(q?.hash);
    expect(b.prevHash).toEqual(a.hash);
    expect(await h.audit.verifyIntegrity()).toMatchObject({ ok: true, checked: 5 });
    const again = await h.reopen();
    expect(await again.audit.verifyIntegrity()).toMatchObject({ ok: true, checked: 5 });
    await again.close();
  });

  it('records the node key once, at the first open, and not again', async () => {
    const h = await memoryAudit();
    await h.audit.recordNodeKey();
    expect(h.audit.size).toBe(1);
    const lsn = h.nextLsn();
    await h.audit.recordNodeKey();
    const again = await h.reopen();
    await again.audit.recordNodeKey();
    expect(again.nextLsn()).toBe(lsn);
    expect(await again.audit.verifyIntegrity()).toMatchObject({ ok: true, checked: 1, heads: 1 });
    await again.close();
  });

  it('checks its options: a public key that is not the private key’s, bad limits, a bad chain id', () => {
    const ctx = { log: MemoryLog.open(), now: () => 1 };
    const ok = { ...nodeKey(1), chainId: AUDIT_CHAIN };
    expect(() => new LogAuditLog(ctx, { ...ok, publicKey: nodeKey(2).publicKey })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new LogAuditLog(ctx, { ...ok, chainId: '' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new LogAuditLog(ctx, { ...ok, limits: { maxQueryLimit: 0 } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new LogAuditLog(ctx, { ...ok, limits: { defaultQueryLimit: 20_000 } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new LogAuditLog(ctx, { ...ok, limits: { maxEventsPerCall: 2000 } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new LogAuditLog(ctx, null as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('writes vote, evidence and audit entry all or none under a power cut at every I/O call of the batch', async () => {
    let survived = 0;
    let lost = 0;
    for (let n = 1; n < 40; n++) {
      const disk = new SimulatedDisk({ seed: n });
      const h = await walAudit({}, disk);
      await h.audit.logEvent(phase(1));
      disk.crashAtCall(n);
      const write = h.audit.appendWithEvents(
        [{ type: 'EquivocationDetected', voteA: signedVote(1, 5, 5, 'prevote', 1), voteB: signedVote(1, 5, 5, 'prevote', 2) }],
        [
          { kind: RecordKind.Vote, payload: Uint8Array.of(1, 1) },
          { kind: RecordKind.Evidence, payload: Uint8Array.of(2, 2) },
        ],
      );
      const outcome = await write.then(
        () => 'acknowledged',
        () => 'failed',
      );
      if (outcome === 'acknowledged') {
        disk.crash();
      }
      const again = await walAudit({}, disk);
      const kinds: number[] = [];
      await again.log.scan((r: LogRecord) => {
        if (r.kind === RecordKind.Vote || r.kind === RecordKind.Evidence) kinds.push(r.kind);
      });
      const equivocations = (await again.audit.queryByValidator('val-1')).length;
      const all = kinds.length === 2 && equivocations === 1;
      const none = kinds.length === 0 && equivocations === 0;
      expect(all || none, `crash at call ${n}: ${kinds.length} companions, ${equivocations} entries`).toBe(true);
      if (outcome === 'acknowledged') expect(all, `crash at call ${n}: acknowledged but lost`).toBe(true);
      expect(await again.audit.verifyIntegrity(), `crash at call ${n}`).toMatchObject({ ok: true });
      await again.close();
      if (all) survived++;
      else lost++;
      if (outcome === 'acknowledged' && n > 3) break;
    }
    expect(survived).toBeGreaterThan(0);
    expect(lost).toBeGreaterThan(0);
  });
});
