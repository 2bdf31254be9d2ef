/**
 * Dispute bundles and exported files, checked offline: a bundle verifies with the node's key and
 * fails when any single byte of its text changes; an export verifies from the file (read in
 * chunks) and from bytes, and fails when a line is changed, dropped, moved or cut.
 */
import { describe, expect, it } from 'vitest';
import { verifyAuditExport } from '../../src/stores/audit-export.ts';
import { encodeDisputeEvidence, verifyDisputeEvidence } from '../../src/stores/dispute-evidence.ts';
import { proposalSignBytes, signBytes } from '../../src/codec/vote-sign.ts';
import { AUDIT_CHAIN, memoryAudit, signedVote, walAudit, validatorKey } from '../support/audit-test-log.ts';

describe('dispute evidence', () => {
  it('verifies as built and fails when any single byte of its JSON text changes', async () => {
    const h = await memoryAudit();
    await h.audit.logEvent({ type: 'VoteReceived', vote: signedVote(3, 40, 2, 'precommit', 1) });
    await h.audit.logByzantineEvent({ type: 'EquivocationDetected', voteA: signedVote(3, 40, 2, 'precommit', 1), voteB: signedVote(3, 40, 2, 'precommit', 2) });
    for (let i = 0; i < 9; i++) await h.audit.logEvent({ type: 'RoundStarted', height: 41 + i, round: 3 + i, proposer: null });
    const evidence = await h.audit.getEvidence({ validatorId: 'val-3', height: 40 });
    const keys = (id: string): Uint8Array | undefined => (id === 'val-3' ? validatorKey(3).publicKey : undefined);
    expect(verifyDisputeEvidence(evidence, h.publicKey, { votePublicKey: keys })).toEqual({ ok: true });
    const text = new TextEncoder().encode(encodeDisputeEvidence(evidence));
    expect(verifyDisputeEvidence(text, h.publicKey)).toEqual({ ok: true });
    let caught = 0;
    for (let i = 0; i < text.length; i++) {
      for (const mask of [0x01, 0x20]) {
        const bent = text.slice();
        bent[i] = (bent[i] as number) ^ mask;
        const result = verifyDisputeEvidence(bent, h.publicKey);
        expect(result.ok, `byte ${i} ^ ${mask}: ${String.fromCharCode(text[i] as number)}`).toBe(false);
        caught++;
      }
    }
    expect(caught).toBe(text.length * 2);
    await h.close();
  });

  it('checks the proposals of a ProposalEquivocationDetected entry against the proposer key, and fails on a forged one', async () => {
    const h = await memoryAudit();
    const proposal = (hashByte: number, key = validatorKey(2).privateKey) => {
      const unsigned = { validatorId: 'val-2', height: 30, round: 6, blockHash: new Uint8Array(32).fill(hashByte), polRound: null, timestamp: 1_700_000_000_000 };
      return { ...unsigned, signature: signBytes(proposalSignBytes(unsigned, AUDIT_CHAIN), key) };
    };
    const keys = (id: string): Uint8Array | undefined => (id === 'val-2' ? validatorKey(2).publicKey : undefined);
    await h.audit.logByzantineEvent({ type: 'ProposalEquivocationDetected', proposalA: proposal(1), proposalB: proposal(2) });
    const evidence = await h.audit.getEvidence({ validatorId: 'val-2' });
    expect(evidence.entries.map((e) => e.event.type)).toEqual(['ProposalEquivocationDetected']);
    expect(verifyDisputeEvidence(evidence, h.publicKey, { votePublicKey: keys })).toEqual({ ok: true });
    expect(verifyDisputeEvidence(evidence, h.publicKey, { votePublicKey: () => undefined }).ok).toBe(false);
    // A pair whose second proposal another key signed: the chain holds it as written, the bundle fails the proposer check.
    await h.audit.logByzantineEvent({ type: 'ProposalEquivocationDetected', proposalA: proposal(3), proposalB: proposal(4, validatorKey(5).privateKey) });
    const forged = await h.audit.getEvidence({ validatorId: 'val-2', height: 30 });
    const result = verifyDisputeEvidence(forged, h.publicKey, { votePublicKey: keys });
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/proposal of val-2 at height 30 does not verify/);
    expect(verifyDisputeEvidence(forged, h.publicKey).ok).toBe(true);
    await h.close();
  });

  it('fails when the bundle object is edited: another event, hash, proof, head or key', async () => {
    const h = await memoryAudit();
    for (let i = 0; i < 12; i++) await h.audit.logEvent({ type: 'VoteReceived', vote: signedVote(i % 2, 10 + i, i) });
    const e = await h.audit.getEvidence({ validatorId: 'val-1' });
    const first = e.entries[0];
    if (first === undefined) throw new Error('no entry');
    const edits = [
      { ...e, entries: [{ ...first, event: { type: 'Pruned', store: 'x', belowHeight: 1, entriesRemoved: 1 } as const }, ...e.entries.slice(1)] },
      { ...e, entries: [{ ...first, hash: new Uint8Array(32) }, ...e.entries.slice(1)] },
      { ...e, entries: [{ ...first, timestamp: first.timestamp + 1 }, ...e.entries.slice(1)] },
      { ...e, entries: [{ ...first, proof: first.proof.slice(1) }, ...e.entries.slice(1)] },
      { ...e, entries: [{ ...first, sequence: first.sequence + 1 }, ...e.entries.slice(1)] },
      { ...e, entries: [...e.entries].reverse() },
      { ...e, entries: [] },
      { ...e, head: { ...e.head, treeSize: e.head.treeSize + 1 } },
      { ...e, head: { ...e.head, root: new Uint8Array(32) } },
      { ...e, chainId: 'another-chain' },
      { ...e, publicKey: validatorKey(1).publicKey },
    ];
    for (const [i, bad] of edits.entries()) expect(verifyDisputeEvidence(bad, h.publicKey).ok, `edit ${i}`).toBe(false);
    expect(verifyDisputeEvidence(e, validatorKey(1).publicKey).ok).toBe(false);
    expect(verifyDisputeEvidence(null as never, h.publicKey).ok).toBe(false);
    expect(verifyDisputeEvidence('{"format":1}', h.publicKey).ok).toBe(false);
    await h.close();
  });
});

describe('audit export', () => {
  it('streams a long chain in chunks that verify offline, from the file and from its bytes', async () => {
    const h = await walAudit();
    for (let round = 0; round < 40; round++) {
      await Promise.all(Array.from({ length: 100 }, (_, v) => h.audit.logEvent({ type: 'VoteReceived', vote: signedVote(v, round, round) })));
    }
    const out = await h.audit.export('/export.jsonl');
    expect(out.entries).toBe(4001);
    expect(out.bytes).toBeGreaterThan(1_000_000);
    const fs = h.fs as NonNullable<typeof h.fs>;
    expect(await verifyAuditExport({ fs, path: '/export.jsonl' }, h.publicKey)).toMatchObject({ ok: true, checked: 4001, heads: out.heads });
    expect(await fs.stat('/export.jsonl.tmp')).toBeUndefined();
    await h.close();
  });

  it('fails on a changed, dropped, moved or cut line, and names the entry', async () => {
    const h = await walAudit();
    for (let i = 0; i < 8; i++) await h.audit.logEvent({ type: 'Stalled', height: i, round: i, stalledForMs: i * 10, reason: 'waiting' });
    await h.audit.export('/e.jsonl');
    const fs = h.fs as NonNullable<typeof h.fs>;
    const bytes = await fs.readFile('/e.jsonl');
    expect(await verifyAuditExport(bytes, h.publicKey)).toMatchObject({ ok: true, checked: 9 });
    const lines = new TextDecoder().decode(bytes).split('\n');
    const join = (ls: readonly string[]): Uint8Array => new TextEncoder().encode(ls.join('\n'));
    const entryLine = lines.findIndex((l, i) => i >= 4 && l.startsWith('{"type":"entry"'));
    const parsed = JSON.parse(lines[entryLine] as string) as Record<string, string>;
    for (const field of ['sequence', 'timestamp', 'event', 'prevHash', 'eventBytes', 'hash']) {
      const value = parsed[field] as string;
      const changed = field === 'event' ? 'Pruned' : /^[0-9]+$/.test(value) ? String(Number(value) + 1) : value.slice(0, -1) + (value.endsWith('0') ? '1' : '0');
      const edited = lines.slice();
      edited[entryLine] = JSON.stringify({ ...parsed, [field]: changed });
      const report = await verifyAuditExport(join(edited), h.publicKey);
      expect(report.ok, field).toBe(false);
    }
    const spaced = lines.slice();
    spaced[entryLine] = (lines[entryLine] as string).replace('","', '", "');
    expect((await verifyAuditExport(join(spaced), h.publicKey)).firstBad?.reason).toMatch(/not canonical/);
    const dropped = lines.filter((_, i) => i !== entryLine);
    expect((await verifyAuditExport(join(dropped), h.publicKey)).ok).toBe(false);
    const moved = lines.slice();
    [moved[entryLine - 2], moved[entryLine]] = [moved[entryLine] as string, moved[entryLine - 2] as string];
    expect((await verifyAuditExport(join(moved), h.publicKey)).ok).toBe(false);
    expect((await verifyAuditExport(join(lines.slice(0, -2)), h.publicKey)).firstBad?.reason).toMatch(/no end line/);
    expect((await verifyAuditExport(join(lines.slice(1)), h.publicKey)).ok).toBe(false);
    expect((await verifyAuditExport(new Uint8Array(0), h.publicKey)).ok).toBe(false);
    await h.close();
  });
});
