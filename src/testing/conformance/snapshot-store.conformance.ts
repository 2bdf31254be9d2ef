/**
 * The SnapshotStore conformance suite (docs/stores.md, "Snapshots"): portable snapshots of the
 * finalized state, their metadata, content, listing, attestations, pruning and integrity, and
 * every method's answer to bad input. Written against the SnapshotStore, VoteStore and
 * ValidatorRegistry interfaces and parameterized by a factory, so every backend with snapshots
 * runs the same scenarios. Call `snapshotStoreConformance(name, open)` inside a test file.
 *
 * The suite must never reach into a backend's internals: it writes through the stores and
 * observes what the snapshot store answers, what survives a reopen, and whether a call wrote
 * to the log (`nextLsn`; a snapshot is a file beside the log, never a record in it).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { publicKeyOf, signBytes, signVote } from '../../codec/vote-sign.ts';
import { snapshotAttestationBytes } from '../../codec/snapshot-envelope.ts';
import type { ValidatorRegistry } from '../../stores/validator-types.ts';
import type { VoteStore } from '../../stores/vote-types.ts';
import type { SnapshotMetadata, SnapshotStore } from '../../stores/snapshot-types.ts';
import { equalBytes } from '../../codec/bytes.ts';
import { callMethod, expectCode, expectEveryInvalid, harnessRunner, junkWith, propertySeed, type StoreHarness } from './support.ts';

/** A store under test (its snapshot store and the stores a snapshot is made of), and how to reopen it. */
export interface SnapshotHarness extends StoreHarness<SnapshotHarness> {
  readonly snapshots: SnapshotStore;
  readonly votes: VoteStore;
  readonly validators: ValidatorRegistry;
  /** The chain id the store was opened with (the fixture's votes are signed for it). */
  readonly chainId: string;
}

const VALIDATORS = 4;

/** The private key of `val-<n>` in this suite. */
export function snapshotKey(n: number): Uint8Array {
  return new Uint8Array(32).fill(90 + n);
}

function block(height: number): Uint8Array {
  return new Uint8Array(32).fill(height % 251);
}

/** Registers val-1..val-4 (stake 10 each) at height 0, and finalizes heights 1..`heights` (round = height) with precommits of `voters`. */
export async function buildChain(h: Pick<SnapshotHarness, 'votes' | 'validators' | 'chainId'>, heights: number, voters: readonly number[] = [4, 3, 2, 1]): Promise<void> {
  for (let n = 1; n <= VALIDATORS; n++) {
    await h.validators.registerValidator({ validatorId: `val-${n}`, publicKey: publicKeyOf(snapshotKey(n)), stake: 10n }, 0);
  }
  for (let height = 1; height <= heights; height++) {
    await Promise.all(
      voters.map((n) =>
        h.votes.appendVote(
          signVote({ validatorId: `val-${n}`, height, round: height, voteType: 'precommit', blockHash: block(height), timestamp: 1_700_000_000_000 + height * 10 + n }, snapshotKey(n), h.chainId),
        ),
      ),
    );
    await h.votes.markFinalized(height, height);
  }
}

/** An attestation of `meta` by val-`n`. */
function attest(meta: SnapshotMetadata, n: number): { validatorId: string; signature: Uint8Array } {
  return { validatorId: `val-${n}`, signature: signBytes(snapshotAttestationBytes(meta.chainId, meta.height, meta.merkleRoot), snapshotKey(n)) };
}

/**
 * Registers the SnapshotStore conformance scenarios under `describe(name)`.
 * @param open - a fresh, empty store of the backend under test.
 */
export function snapshotStoreConformance(name: string, open: () => Promise<SnapshotHarness>): void {
  const run = harnessRunner(open);
  const NO_ID = '000000000001-000001';

  describe(`SnapshotStore conformance: ${name}`, () => {
    it('an empty store has no snapshot, and cannot make one before a height is finalized', () =>
      run(async (h) => {
        expect(await h.snapshots.listSnapshots()).toEqual([]);
        expect(await h.snapshots.getLatestSnapshot()).toBeUndefined();
        expect(await h.snapshots.getSnapshotMetadata(NO_ID)).toBeUndefined();
        await expectCode(h.snapshots.createSnapshot(), 'NOT_FOUND');
        await expectCode(h.snapshots.loadFromSnapshot(NO_ID), 'NOT_FOUND');
        await expectCode(h.snapshots.verifySnapshotIntegrity(NO_ID), 'NOT_FOUND');
        expect(await h.snapshots.pruneSnapshots(0)).toBe(0);
      }));

    it('creates a snapshot of the last finalized height: metadata, content and integrity, also after a reopen', () =>
      run(async (h) => {
        await buildChain(h, 12);
        const before = h.nextLsn();
        const meta = await h.snapshots.createSnapshot();
        expect(h.nextLsn(), 'a snapshot is a file, never a log record').toBe(before);
        expect(meta).toMatchObject({ height: 12, round: 12, validatorCount: 4, totalVotingPower: 40n, chainId: h.chainId, formatVersion: 1, certificateCount: 12 });
        expect(meta.id).toMatch(/^000000000012-\d{6}$/);
        expect(meta.merkleRoot).toHaveLength(32);
        expect(meta.chunkCount).toBeGreaterThanOrEqual(1);
        expect(meta.fileSize).toBeGreaterThan(0);
        expect(meta.timestamp).toBeGreaterThan(0);
        const snap = await h.snapshots.loadFromSnapshot(meta.id);
        expect(snap.metadata).toEqual(meta);
        expect(snap.lastFinalized).toEqual({ height: 12, round: 12 });
        expect(snap.validators.map((v) => v.validatorId)).toEqual(['val-1', 'val-2', 'val-3', 'val-4']);
        expect(equalBytes(snap.validators[1]!.publicKey, publicKeyOf(snapshotKey(2)))).toBe(true);
        expect(snap.registryHistory.map((c) => [c.kind, c.validatorId, c.height])).toEqual([1, 2, 3, 4].map((n) => ['register', `val-${n}`, 0]));
        expect(snap.decisions.map((d) => d.height)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        for (const d of snap.decisions) {
          // Equal stakes: the quorum is the three lowest ids, whatever order the votes came in.
          expect(d.precommits.map((p) => p.validatorId)).toEqual(['val-1', 'val-2', 'val-3']);
          expect(equalBytes(d.blockHash, block(d.height))).toBe(true);
          expect(d.round).toBe(d.height);
        }
        expect(snap.decidedAt).toBe(1_700_000_000_000 + 12 * 10 + 3);
        expect(await h.snapshots.verifySnapshotIntegrity(meta.id)).toBe(true);
        expect(await h.snapshots.listSnapshots()).toEqual([meta]);
        expect(await h.snapshots.getLatestSnapshot()).toEqual(meta);
        expect(await h.snapshots.getSnapshotMetadata(meta.id)).toEqual(meta);
        const h2 = await h.reopen();
        expect(await h2.snapshots.getSnapshotMetadata(meta.id)).toEqual(meta);
        expect(await h2.snapshots.verifySnapshotIntegrity(meta.id)).toBe(true);
        return h2;
      }));

    it('snapshots an earlier finalized height; two snapshots of one height get two ids and one root', () =>
      run(async (h) => {
        await buildChain(h, 8);
        const a = await h.snapshots.createSnapshot({ height: 5 });
        const b = await h.snapshots.createSnapshot({ height: 5 });
        expect(a.height).toBe(5);
        expect(a.certificateCount).toBe(5);
        expect(a.id).not.toBe(b.id);
        expect(equalBytes(a.merkleRoot, b.merkleRoot)).toBe(true);
        const latest = await h.snapshots.createSnapshot();
        expect((await h.snapshots.listSnapshots()).map((m) => m.id)).toEqual([a.id, b.id, latest.id]);
        expect((await h.snapshots.getLatestSnapshot())?.id).toBe(latest.id);
      }));

    it('refuses a height that is not finalized (NOT_FOUND) and one without a quorum of precommits (CONFLICT)', () =>
      run(async (h) => {
        await buildChain(h, 3, [1, 2]);
        await expectCode(h.snapshots.createSnapshot({ height: 7 }), 'NOT_FOUND');
        await expectCode(h.snapshots.createSnapshot(), 'CONFLICT');
        expect(await h.snapshots.listSnapshots()).toEqual([]);
      }));

    it('adds attestations that verify, refuses those that do not, and keeps them across a reopen', () =>
      run(async (h) => {
        await buildChain(h, 4);
        const meta = await h.snapshots.createSnapshot();
        const withTwo = await h.snapshots.addAttestation(meta.id, attest(meta, 2));
        expect(withTwo.attestations.map((a) => a.validatorId)).toContain('val-2');
        const again = await h.snapshots.addAttestation(meta.id, attest(meta, 2));
        expect(again.attestations.filter((a) => a.validatorId === 'val-2')).toHaveLength(1);
        const forged = { validatorId: 'val-3', signature: attest(meta, 4).signature };
        await expectCode(h.snapshots.addAttestation(meta.id, forged), 'INVALID_ARGUMENT');
        await expectCode(h.snapshots.addAttestation(meta.id, { validatorId: 'val-9', signature: attest(meta, 1).signature }), 'INVALID_ARGUMENT');
        await expectCode(h.snapshots.addAttestation(NO_ID, attest(meta, 3)), 'NOT_FOUND');
        expect(await h.snapshots.verifySnapshotIntegrity(meta.id)).toBe(true);
        const h2 = await h.reopen();
        const listed = (await h2.snapshots.getSnapshotMetadata(meta.id)) as SnapshotMetadata;
        expect(listed.attestations.map((a) => a.validatorId)).toContain('val-2');
        expect(listed.attestations.map((a) => a.validatorId)).not.toContain('val-3');
        return h2;
      }));

    it('prunes all but the newest keepCount snapshots', () =>
      run(async (h) => {
        await buildChain(h, 6);
        const made: SnapshotMetadata[] = [];
        for (const height of [2, 4, 6]) made.push(await h.snapshots.createSnapshot({ height }));
        expect(await h.snapshots.pruneSnapshots(5)).toBe(0);
        expect(await h.snapshots.pruneSnapshots(1)).toBe(2);
        expect((await h.snapshots.listSnapshots()).map((m) => m.id)).toEqual([made[2]!.id]);
        await expectCode(h.snapshots.loadFromSnapshot(made[0]!.id), 'NOT_FOUND');
        expect(await h.snapshots.pruneSnapshots(0)).toBe(1);
        expect(await h.snapshots.listSnapshots()).toEqual([]);
      }));

    it('bad input to every method is INVALID_ARGUMENT and writes nothing', () =>
      run(async (h) => {
        await buildChain(h, 2);
        const meta = await h.snapshots.createSnapshot();
        const before = h.nextLsn();
        const junk = junkWith([fc.constant('no-such-id'), fc.constant('12-1'), fc.constant(`${meta.id}x`), fc.constant(-5), fc.constant({ height: -1 })], 70);
        const calls: [string, fc.Arbitrary<unknown[]>][] = [
          // Absent or empty options are valid (the last finalized height).
          ['createSnapshot', fc.tuple(junk.filter((j) => j !== undefined && !(typeof j === 'object' && j !== null && Object.keys(j).length === 0)))],
          ['getSnapshotMetadata', fc.tuple(junk)],
          ['loadFromSnapshot', fc.tuple(junk)],
          ['pruneSnapshots', fc.tuple(junk)],
          ['verifySnapshotIntegrity', fc.tuple(junk)],
          ['addAttestation', fc.tuple(junk, junk)],
          ['addAttestation', fc.tuple(fc.constant(meta.id), junk)],
        ];
        const seed = propertySeed('SNAPSHOT_SEED', `snapshot bad-input property (${name})`);
        for (const [method, args] of calls) {
          await expectEveryInvalid(args, (a) => callMethod(h.snapshots, method, a), h.nextLsn, { seed, numRuns: 40 });
        }
        await expectCode(h.snapshots.createSnapshot({ height: 1, extra: true } as never), 'INVALID_ARGUMENT');
        await expectCode(h.snapshots.addAttestation(meta.id, { validatorId: 'val-1', signature: new Uint8Array(63) }), 'INVALID_ARGUMENT');
        expect(h.nextLsn()).toBe(before);
        expect((await h.snapshots.listSnapshots()).map((m) => m.id)).toEqual([meta.id]);
        expect(await h.snapshots.verifySnapshotIntegrity(meta.id)).toBe(true);
      }));
  });
}
