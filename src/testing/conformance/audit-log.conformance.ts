/**
 * The AuditLog conformance suite: written against `AuditLog` only and parameterized by a
 * factory, so that every backend runs the same scenarios. Call `auditLogConformance(name, open)`
 * inside a test file.
 *
 * It must never reach into a backend's internals: what it may observe is the API, whether a call
 * wrote anything (`nextLsn`), what survives `reopen`, and what the standalone verifiers say.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FileSystem } from '../../io/types.ts';
import type { AuditLog, LogEntry } from '../../stores/audit-types.ts';
import { verifyAuditExport } from '../../stores/audit-export.ts';
import { decodeDisputeEvidence, encodeDisputeEvidence, verifyDisputeEvidence } from '../../stores/dispute-evidence.ts';
import { ed25519PublicKey } from '../../codec/node-key.ts';
import { signVote } from '../../codec/vote-sign.ts';
import { expectCode, expectEveryInvalid, harnessRunner, junkWith, type StoreHarness } from './support.ts';

/** An audit log under test, and how to reopen it on the same data. */
export interface AuditHarness extends StoreHarness<AuditHarness> {
  readonly audit: AuditLog;
  /** The node key the backend signs with. */
  readonly publicKey: Uint8Array;
  /** Where `export` writes (undefined: the export scenarios are skipped). */
  readonly fs: FileSystem | undefined;
}

const CHAIN = 'audit-test-chain';
const hash = (b: number): Uint8Array => new Uint8Array(32).fill(b);

function vote(validator: number, height: number, round: number, hashByte: number) {
  const privateKey = new Uint8Array(32).fill(100 + validator);
  return signVote(
    { validatorId: `val-${validator}`, height, round, voteType: 'precommit', blockHash: hash(hashByte), timestamp: 1_700_000_000_000 + height },
    privateKey,
    CHAIN,
  );
}

function junk(): fc.Arbitrary<unknown> {
  return junkWith([fc.constant(1n), fc.constant(''), fc.constant('x'.repeat(300)), fc.constant('\ud800')], 40);
}

/** Registers the AuditLog conformance scenarios under `describe(name)`. `open` resolves with a fresh, empty log each time. */
export function auditLogConformance(name: string, open: () => Promise<AuditHarness>): void {
  const withAudit = harnessRunner(open);

  describe(`AuditLog conformance: ${name}`, () => {
    it('records the node key as entry 0 and chains each logged event to the one before, signed', () =>
      withAudit(async (h) => {
        const a = await h.audit.logEvent({ type: 'RoundStarted', height: 5, round: 9, proposer: 'val-1' });
        const b = await h.audit.logEvent({ type: 'VoteReceived', vote: vote(2, 5, 9, 1) });
        const all = await h.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER);
        expect(all.map((e) => e.event.type)).toEqual(['NodeKeyRecorded', 'RoundStarted', 'VoteReceived']);
        const key = all[0]?.event;
        expect(key?.type === 'NodeKeyRecorded' ? key.publicKey : undefined).toEqual(h.publicKey);
        expect([a.sequence, b.sequence]).toEqual([1, 2]);
        expect(b.prevHash).toEqual(a.hash);
        expect(a.prevHash).toEqual(all[0]?.hash);
        expect(b.signature).toHaveLength(64);
        expect(b.signedHeadId).toBe(b.id);
        expect([a.height, a.validatorId, b.height, b.validatorId]).toEqual([5, 'val-1', 5, 'val-2']);
        expect(h.audit.size).toBe(3);
        expect(h.audit.head?.treeSize).toBe(3);
        expect(await h.audit.verifyIntegrity()).toMatchObject({ ok: true, checked: 3 });
      }));

    it('gathers concurrent writers into shared batches, every entry covered by a verifying head', () =>
      withAudit(async (h) => {
        const entries = await Promise.all(
          Array.from({ length: 60 }, (_, i) => h.audit.logEvent({ type: 'PhaseChanged', height: i, round: i, from: 'propose', to: 'prevote' })),
        );
        const sequences = entries.map((e) => e.sequence).sort((x, y) => x - y);
        expect(sequences).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
        const report = await h.audit.verifyIntegrity();
        expect(report).toMatchObject({ ok: true, checked: 61 });
        expect(report.heads).toBeLessThan(61);
        for (const e of entries) expect(e.signature).not.toBeNull();
      }));

    it('keeps every entry and head unchanged across a reopen, and keeps chaining after it', () =>
      withAudit(async (h) => {
        for (let i = 0; i < 5; i++) await h.audit.logEvent({ type: 'Stalled', height: i, round: i, stalledForMs: 1000 * i, reason: `no quorum ${i}` });
        const before = await h.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER);
        const head = h.audit.head;
        const again = await h.reopen();
        expect(await again.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER)).toEqual(before);
        expect(again.audit.head).toEqual(head);
        const next = await again.audit.logEvent({ type: 'RoundCompleted', height: 9, round: 9, blockHash: null, durationMs: 5 });
        expect(next.sequence).toBe(6);
        expect(next.prevHash).toEqual(before[before.length - 1]?.hash);
        expect(await again.audit.verifyIntegrity()).toMatchObject({ ok: true, checked: 7 });
        return again;
      }));

    it('answers height, validator and date queries in order, bounded by their limits', () =>
      withAudit(async (h) => {
        for (let i = 0; i < 30; i++) {
          await h.audit.logEvent({ type: 'VoteReceived', vote: vote(i % 3, 100 + (i % 10), i, 1) });
        }
        const range = await h.audit.queryByHeight({ startHeight: 102, endHeight: 104 });
        expect(range.map((e) => e.height)).toEqual([102, 102, 102, 103, 103, 103, 104, 104, 104]);
        expect(await h.audit.queryByHeight(103, { limit: 2 })).toHaveLength(2);
        const desc = await h.audit.queryByHeight({ startHeight: 100, endHeight: 109 }, { descending: true, limit: 4 });
        expect(desc.map((e) => e.height)).toEqual([109, 109, 109, 108]);
        const v1 = await h.audit.queryByValidator('val-1');
        expect(v1).toHaveLength(10);
        expect(v1.every((e, i) => i === 0 || e.id > (v1[i - 1] as LogEntry).id)).toBe(true);
        const newest = await h.audit.queryByValidator('val-1', { descending: true, limit: 1 });
        expect(newest[0]?.id).toBe(v1[9]?.id);
        const all = await h.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER);
        const t = (all[5] as LogEntry).timestamp;
        const byDate = await h.audit.queryByDateRange(new Date(t), new Date(t + 2));
        expect(byDate.every((e) => e.timestamp >= t && e.timestamp <= t + 2)).toBe(true);
        expect(byDate.length).toBeGreaterThan(0);
        expect(await h.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER, { limit: 7 })).toHaveLength(7);
        await expectCode(h.audit.queryByHeight(1, { limit: 10_000_000 }), 'INVALID_ARGUMENT');
        await expectCode(h.audit.queryByHeight({ startHeight: 5, endHeight: 4 }), 'INVALID_ARGUMENT');
        await expectCode(h.audit.queryByDateRange(10, 9), 'INVALID_ARGUMENT');
      }));

    it('builds a dispute bundle for an equivocation that anyone with the public key can check offline', () =>
      withAudit(async (h) => {
        await h.audit.logEvent({ type: 'VoteReceived', vote: vote(4, 50, 7, 1) });
        await h.audit.logByzantineEvent({ type: 'EquivocationDetected', voteA: vote(4, 50, 7, 1), voteB: vote(4, 50, 7, 2) });
        for (let i = 0; i < 20; i++) await h.audit.logEvent({ type: 'RoundStarted', height: 51 + i, round: 8 + i, proposer: null });
        const evidence = await h.audit.getEvidence({ validatorId: 'val-4', types: ['EquivocationDetected', 'VoteReceived'] });
        expect(evidence.entries.map((e) => e.event.type)).toEqual(['VoteReceived', 'EquivocationDetected']);
        expect(evidence.head.treeSize).toBe(23);
        expect(verifyDisputeEvidence(evidence, h.publicKey)).toEqual({ ok: true });
        const text = encodeDisputeEvidence(evidence);
        expect(verifyDisputeEvidence(text, h.publicKey)).toEqual({ ok: true });
        expect(decodeDisputeEvidence(text)).toEqual(evidence);
        const validatorKey = (id: string): Uint8Array | undefined => (id === 'val-4' ? ed25519Of(104) : undefined);
        expect(verifyDisputeEvidence(evidence, h.publicKey, { votePublicKey: validatorKey })).toEqual({ ok: true });
        expect(verifyDisputeEvidence(evidence, h.publicKey, { votePublicKey: () => ed25519Of(105) }).ok).toBe(false);
        expect(verifyDisputeEvidence(evidence, ed25519Of(9)).ok).toBe(false);
        const byHeight = await h.audit.getEvidence({ startHeight: 60, endHeight: 62 });
        expect(byHeight.entries.map((e) => e.event.type === 'RoundStarted' && e.event.height)).toEqual([60, 61, 62]);
        expect(verifyDisputeEvidence(byHeight, h.publicKey).ok).toBe(true);
        await expectCode(h.audit.getEvidence({ validatorId: 'val-99' }), 'NOT_FOUND');
      }));

    it('writes companion records and audit entries in one batch and returns their LSNs in order', () =>
      withAudit(async (h) => {
        const before = h.nextLsn();
        // The chain's entry 0 (the node key) comes first in its very first batch: this one when the
        // backend has not written it yet (keyless in-memory log), none when it did at open (openStore).
        const keyEntry = h.audit.size === 0 ? 1 : 0;
        const { lsns, entries } = await h.audit.appendWithEvents(
          [{ type: 'DoubleVote', voteA: vote(1, 9, 1, 1), voteB: vote(1, 9, 2, 3) }],
          [
            { kind: 1, payload: Uint8Array.of(1, 2, 3) },
            { kind: 60, payload: Uint8Array.of(4) },
          ],
        );
        expect(lsns).toEqual([before + keyEntry, before + keyEntry + 1]);
        expect(entries[0]?.id).toBeGreaterThan(lsns[1] as number);
        expect(entries[0]?.event.type).toBe('DoubleVote');
        const lsn = h.nextLsn();
        await expectCode(h.audit.appendWithEvents([{ type: 'Pruned', store: 'votes', belowHeight: 1, entriesRemoved: 0 }], [{ kind: 50, payload: new Uint8Array(1) }]), 'INVALID_ARGUMENT');
        await expectCode(h.audit.appendWithEvents([], []), 'INVALID_ARGUMENT');
        expect(h.nextLsn()).toBe(lsn);
        expect(await h.audit.verifyIntegrity()).toMatchObject({ ok: true });
      }));

    it('refuses each event type through the wrong method, and NodeKeyRecorded through any, writing nothing', () =>
      withAudit(async (h) => {
        await h.audit.logEvent({ type: 'Pruned', store: 'votes', belowHeight: 10, entriesRemoved: 3 });
        const lsn = h.nextLsn();
        await expectCode(h.audit.logEvent({ type: 'EquivocationDetected', voteA: vote(1, 1, 1, 1), voteB: vote(1, 1, 1, 2) } as never), 'INVALID_ARGUMENT');
        await expectCode(h.audit.logByzantineEvent({ type: 'Stalled', height: 1, round: 1, stalledForMs: 1, reason: 'x' } as never), 'INVALID_ARGUMENT');
        await expectCode(h.audit.logEvent({ type: 'NodeKeyRecorded', publicKey: hash(1) } as never), 'INVALID_ARGUMENT');
        await expectCode(h.audit.logByzantineEvent({ type: 'EquivocationDetected', voteA: vote(1, 1, 1, 1), voteB: vote(1, 1, 1, 1) }), 'INVALID_ARGUMENT');
        await expectCode(h.audit.logByzantineEvent({ type: 'EquivocationDetected', voteA: vote(1, 1, 1, 1), voteB: vote(2, 1, 1, 2) }), 'INVALID_ARGUMENT');
        expect(h.nextLsn()).toBe(lsn);
      }));

    it('rejects bad input to every method with INVALID_ARGUMENT and writes nothing', () =>
      withAudit(async (h) => {
        await h.audit.logEvent({ type: 'RoundStarted', height: 1, round: 1, proposer: null });
        const good = { type: 'ProposalReceived', height: 1, round: 2, proposer: 'val-1', blockHash: hash(1), polRound: null, signature: new Uint8Array(64) };
        const fields = ['type', 'height', 'round', 'proposer', 'blockHash', 'polRound', 'signature'] as const;
        const calls: fc.Arbitrary<() => Promise<unknown>> = fc.oneof(
          junk().map((x) => () => h.audit.logEvent(x as never)),
          junk().map((x) => () => h.audit.logByzantineEvent(x as never)),
          fc.tuple(fc.constantFrom(...fields), junk())
            .filter(([f, x]) => !(f === 'polRound' && x === null) && !(f === 'blockHash' && x instanceof Uint8Array && x.length === 32))
            .map(([f, x]) => () => h.audit.logEvent({ ...good, [f]: x } as never)),
          fc.tuple(fc.constantFrom('voteA', 'voteB'), junk()).map(([f, x]) => () =>
            h.audit.logByzantineEvent({ type: 'DoubleVote', voteA: vote(1, 1, 1, 1), voteB: vote(1, 1, 2, 2), [f]: x } as never)),
          fc.tuple(junk(), junk()).map(([a, b]) => () => h.audit.appendWithEvents(a as never, b as never)),
          fc.tuple(junk(), junk()).map(([a, b]) => () => h.audit.queryByHeight(a as never, b as never)),
          fc.tuple(junk(), junk()).map(([a, b]) => () => h.audit.queryByValidator(a as never, b as never)),
          fc.tuple(junk(), junk()).map(([a, b]) => () => h.audit.queryByDateRange(a as never, b as never)),
          fc.constant(() => h.audit.queryByHeight(1, { limit: 0 })),
          fc.constant(() => h.audit.queryByValidator('val-1', { descending: 1 } as never)),
          junk()
            .filter((x) => !(typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array) && Object.keys(x).length === 0))
            .map((x) => () => h.audit.getEvidence(x as never)),
          fc.tuple(fc.constantFrom('validatorId', 'height', 'startHeight', 'endHeight', 'types', 'limit'), junk().filter((x) => x !== undefined)).map(([f, x]) => () =>
            h.audit.getEvidence({ [f]: x } as never)),
          junk().filter((x) => x !== undefined).map((x) => () => h.audit.verifyIntegrity({ expectHead: x } as never)),
          junk().filter((x) => typeof x !== 'string' || x.length > 4096 || x.length === 0).map((x) => () => h.audit.export(x as never)),
        );
        await expectEveryInvalid(calls, (call) => call(), () => h.nextLsn(), { numRuns: 300 });
        expect(await h.audit.verifyIntegrity()).toMatchObject({ ok: true, checked: 2 });
      }));

    it('exports a file that verifies offline with the public key, and fails with another', () =>
      withAudit(async (h) => {
        if (h.fs === undefined) return;
        for (let i = 0; i < 10; i++) await h.audit.logEvent({ type: 'RoundStarted', height: i, round: i, proposer: `val-${i}` });
        const out = await h.audit.export('/audit-export.jsonl');
        expect(out).toMatchObject({ entries: 11 });
        expect(await verifyAuditExport({ fs: h.fs, path: '/audit-export.jsonl' }, h.publicKey)).toMatchObject({ ok: true, checked: 11 });
        expect((await verifyAuditExport({ fs: h.fs, path: '/audit-export.jsonl' }, ed25519Of(3))).ok).toBe(false);
      }));
  });
}

/** The public key of the private key made of 32 bytes of `n`. */
function ed25519Of(n: number): Uint8Array {
  return ed25519PublicKey(new Uint8Array(32).fill(n));
}
