/**
 * Tamper evidence of the audit log (docs/audit.md, Checking): an attacker with write access to
 * the data directory rewrites records and recomputes their CRC so that the log still opens;
 * `verifyIntegrity` must name the entry. Byte-level tampering runs on the WAL over the
 * simulated disk (records re-framed with a valid CRC by codec/framing's own encoder). Deleting
 * and reordering whole records would need the attacker to re-frame whole batches; those run at
 * the record level on the in-memory log, which is the same thing as seen by the audit log.
 */
import { describe, expect, it } from 'vitest';
import { AuditHasher, encodeEntryBody, encodeEntryPayload, parseEntryBody, splitEntryPayload } from '../../src/codec/audit-record.ts';
import { encodeRecord, readU32, recordLsn, recordSpan, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES } from '../../src/codec/framing.ts';
import { RecordKind } from '../../src/codec/kinds.ts';
import type { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { decodeManifest, encodeManifest } from '../../src/log/manifest.ts';
import type { LogRecord, Lsn } from '../../src/log/types.ts';
import { AUDIT_CHAIN, memoryAudit, nodeKey, walAudit, WAL_DIR, type OpenedAudit } from '../support/audit-test-log.ts';
import { expectCode } from '../../src/testing/conformance/round-state-store.conformance.ts';

/** Where the record with `lsn` sits in the segment files, and its payload. */
function findRecord(disk: SimulatedDisk, lsn: number): { path: string; pos: number; kind: number; payload: Uint8Array } {
  for (const path of disk.listFiles().filter((p) => p.startsWith(`${WAL_DIR}/wal/`))) {
    const bytes = disk.readFileNow(path) as Uint8Array;
    let pos = SEGMENT_HEADER_BYTES;
    while (pos + RECORD_HEADER_BYTES <= bytes.length && bytes[pos + 8] !== 0) {
      const length = readU32(bytes, pos);
      if (recordLsn(bytes, pos) === lsn && bytes[pos + 8] !== 200) {
        return { path, pos, kind: bytes[pos + 8] as number, payload: bytes.slice(pos + RECORD_HEADER_BYTES, pos + RECORD_HEADER_BYTES + length) };
      }
      pos += recordSpan(length);
    }
  }
  throw new Error(`record ${lsn} not found`);
}

/** Rewrites the record with `lsn` with a new payload of the same length and a correct CRC. */
function rewriteRecord(disk: SimulatedDisk, lsn: number, change: (payload: Uint8Array) => Uint8Array): void {
  const at = findRecord(disk, lsn);
  const payload = change(at.payload.slice());
  if (payload.length !== at.payload.length) throw new Error('the rewrite must keep the length');
  const out = new Uint8Array(recordSpan(payload.length));
  encodeRecord(out, 0, at.kind, lsn, payload);
  disk.overwrite(at.path, at.pos, out);
  forgetCleanEnd(disk);
}

/**
 * The attacker also knows the manifest: a clean close recorded the newest segment's header
 * digest up to its end, which would refuse the rewritten records at open. Reset it to "nothing
 * acknowledged in that segment" (same length, valid checksum), so the log opens as the tests need.
 */
function forgetCleanEnd(disk: SimulatedDisk): void {
  const path = `${WAL_DIR}/MANIFEST`;
  const manifest = decodeManifest(disk.readFileNow(path) as Uint8Array, path);
  const clean = manifest.cleanEnd;
  if (clean === undefined) return;
  const lastSealed = manifest.sealed.at(-1)?.lastLsn ?? manifest.baseLsn - 1;
  disk.overwrite(path, 0, encodeManifest({ ...manifest, cleanEnd: { segmentId: clean.segmentId, lastLsn: lastSealed, endOffset: 0, digest: 0 } }));
}

/** A chain of 12 entries in several batches, with another store's records in between. */
async function fill(h: OpenedAudit): Promise<void> {
  for (let i = 0; i < 5; i++) await h.audit.logEvent({ type: 'RoundStarted', height: i, round: i, proposer: `val-${i}` });
  await h.log.append([{ kind: RecordKind.Vote, payload: Uint8Array.of(9, 9) }]);
  await Promise.all(Array.from({ length: 6 }, (_, i) => h.audit.logEvent({ type: 'Stalled', height: 10 + i, round: 10 + i, stalledForMs: i, reason: 'slow' })));
}

async function entryAt(h: OpenedAudit, sequence: number): Promise<Lsn> {
  const all = await h.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER);
  const e = all.find((x) => x.sequence === sequence);
  if (e === undefined) throw new Error(`no entry ${sequence}`);
  return e.id;
}

describe('audit log tampering on the WAL (CRC recomputed, the log still opens)', () => {
  it('names the entry when any single byte of its payload changes', async () => {
    let h = await walAudit();
    await fill(h);
    const target = await entryAt(h, 4);
    const original = findRecord(h.disk, target).payload;
    await h.close();
    for (let i = 0; i < original.length; i++) {
      rewriteRecord(h.disk, target, (p) => {
        p[i] = (p[i] as number) ^ 0x20;
        return p;
      });
      h = await walAudit({}, h.disk);
      const report = await h.audit.verifyIntegrity();
      expect(report.ok, `byte ${i}`).toBe(false);
      expect(report.firstBad?.id, `byte ${i}: ${report.firstBad?.reason}`).toBe(target);
      await h.close();
      rewriteRecord(h.disk, target, () => original.slice());
    }
    h = await walAudit({}, h.disk);
    expect(await h.audit.verifyIntegrity()).toMatchObject({ ok: true, checked: 12 });
    await h.close();
  });

  it('names an entry rewritten with a recomputed hash (an attacker who knows the format but not the key)', async () => {
    for (const sequence of [3, 4, 11]) {
      let h = await walAudit();
      await fill(h);
      const target = await entryAt(h, sequence);
      await h.close();
      rewriteRecord(h.disk, target, (p) => {
        const { body } = splitEntryPayload(p);
        const f = parseEntryBody(body);
        const forged = encodeEntryBody({ ...f, timestamp: f.timestamp + 1 });
        return encodeEntryPayload(new AuditHasher(AUDIT_CHAIN).entryHash(forged), forged);
      });
      h = await walAudit({}, h.disk);
      const report = await h.audit.verifyIntegrity();
      expect(report.firstBad, `sequence ${sequence}: ${report.firstBad?.reason}`).toMatchObject({ id: target, sequence, reason: expect.stringMatching(/rewritten/) });
      await h.close();
    }
  });

  it('catches a forged head signature and names the first entry that head covers', async () => {
    let h = await walAudit();
    await fill(h);
    const head = h.audit.head;
    const lastBatch = (await h.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER)).filter((e) => e.signature === head?.signature);
    await h.close();
    rewriteRecord(h.disk, head?.id as number, (p) => {
      p[p.length - 1] = (p[p.length - 1] as number) ^ 1;
      return p;
    });
    h = await walAudit({}, h.disk);
    const report = await h.audit.verifyIntegrity();
    expect(report.firstBad).toMatchObject({ id: lastBatch[0]?.id, reason: expect.stringMatching(/signature does not verify/) });
    await h.close();
  });
});

/** A memory-log audit with the standard chain, and its durable records. */
async function memoryChain(): Promise<{ h: OpenedAudit & { log: import('../../src/log/memory-log.ts').MemoryLog }; records: LogRecord[] }> {
  const h = await memoryAudit();
  await fill(h);
  return { h, records: h.log.disk.records };
}

function auditIndexes(records: readonly LogRecord[], kind: number): number[] {
  return records.flatMap((r, i) => (r.kind === kind ? [i] : []));
}

describe('audit log tampering at the record level (in-memory log)', () => {
  it('catches a deleted entry and names the entry after the gap', async () => {
    const { h, records } = await memoryChain();
    const entries = auditIndexes(records, RecordKind.AuditEvent);
    const [removed] = records.splice(entries[7] as number, 1);
    const after = records[entries[7] as number];
    const again = await h.reopen();
    const report = await again.audit.verifyIntegrity();
    expect(removed).toBeDefined();
    expect(report.firstBad).toMatchObject({ id: after?.lsn, reason: expect.stringMatching(/deleted, inserted or reordered/) });
    await again.close();
  });

  it('catches two reordered entries', async () => {
    const { h, records } = await memoryChain();
    const [i, j] = auditIndexes(records, RecordKind.AuditEvent).slice(2, 4) as [number, number];
    const a = records[i] as LogRecord;
    const b = records[j] as LogRecord;
    records[i] = { ...b, lsn: a.lsn };
    records[j] = { ...a, lsn: b.lsn };
    const again = await h.reopen();
    const report = await again.audit.verifyIntegrity();
    expect(report.firstBad).toMatchObject({ id: a.lsn, reason: expect.stringMatching(/reordered/) });
    await again.close();
  });

  it('catches a chain cut inside a batch (its head removed) and a chain cut at its start', async () => {
    const { h, records } = await memoryChain();
    const heads = auditIndexes(records, RecordKind.AuditHead);
    records.splice(heads[heads.length - 1] as number, 1);
    let again = await h.reopen();
    expect((await again.audit.verifyIntegrity()).firstBad?.reason).toMatch(/not covered by a signed head/);
    const first = auditIndexes(records, RecordKind.AuditEvent)[0] as number;
    const firstHead = auditIndexes(records, RecordKind.AuditHead)[0] as number;
    records.splice(first, firstHead - first + 1);
    again = await again.reopen();
    expect((await again.audit.verifyIntegrity()).firstBad?.reason).toMatch(/deleted, inserted or reordered/);
    await again.close();
  });

  it('catches a tail cut at a batch boundary against the running store’s head or a kept anchor', async () => {
    const { h, records } = await memoryChain();
    const anchor = h.audit.head;
    const heads = auditIndexes(records, RecordKind.AuditHead);
    const cutFrom = (heads[heads.length - 2] as number) + 1;
    records.splice(cutFrom, records.length - cutFrom);
    expect((await h.audit.verifyIntegrity()).firstBad?.reason).toMatch(/truncated/);
    const again = await h.reopen();
    expect(await again.audit.verifyIntegrity()).toMatchObject({ ok: true });
    const report = await again.audit.verifyIntegrity({ expectHead: { treeSize: anchor?.treeSize as number, root: anchor?.root as Uint8Array } });
    expect(report.firstBad?.reason).toMatch(/truncated/);
    await again.close();
  });

  it('fails every head under a wrong public key, and refuses to write with it', async () => {
    const { h } = await memoryChain();
    const again = await h.reopen({ ...nodeKey(8) });
    const report = await again.audit.verifyIntegrity();
    expect(report.firstBad).toMatchObject({ sequence: 0, reason: expect.stringMatching(/verifying public key/) });
    await expectCode(again.audit.logEvent({ type: 'Pruned', store: 'votes', belowHeight: 1, entriesRemoved: 1 }), 'INVALID_ARGUMENT');
    await expectCode(again.audit.recordNodeKey(), 'INVALID_ARGUMENT');
    await again.close();
  });

  it('opens over an entry that does not decode, names it, and refuses to build evidence from it', async () => {
    const { h, records } = await memoryChain();
    const i = auditIndexes(records, RecordKind.AuditEvent)[6] as number;
    const bad = records[i] as LogRecord;
    records[i] = { ...bad, payload: Uint8Array.of(9, 9, 9) };
    const again = await h.reopen();
    expect((await again.audit.verifyIntegrity()).firstBad).toMatchObject({ id: bad.lsn, reason: expect.stringMatching(/does not decode/) });
    await expectCode(again.audit.getEvidence({}), 'CORRUPTION');
    await again.close();
  });
});
