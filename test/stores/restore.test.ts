/**
 * `restoreFromSnapshot`: a new node's directory from a portable snapshot, fed by a file or by
 * any source (a peer). The trust is checked before a chunk is read, every chunk by its proof,
 * an interrupted restore resumes and never opens half done, and the restored node signs
 * nothing until it is given a watermark at or above the snapshot's height.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { openStore, type ConsensusStore } from '../../src/store.ts';
import { fileSnapshotSource, restoreFromSnapshot, type SnapshotChunk, type SnapshotOffer, type SnapshotSource } from '../../src/restore.ts';
import { isStoreError, type ErrorCode } from '../../src/errors.ts';
import { publicKeyOf, signBytes } from '../../src/codec/vote-sign.ts';
import { snapshotAttestationBytes } from '../../src/codec/snapshot-envelope.ts';
import { buildChain, snapshotKey } from '../../src/testing/conformance/snapshot-store.conformance.ts';
import type { SnapshotMetadata } from '../../src/stores/snapshot-types.ts';

const CHAIN = 'restore-chain';
const NODE_KEY = { privateKey: new Uint8Array(32).fill(3) };
const NEW_NODE_KEY = { privateKey: new Uint8Array(32).fill(4) };

async function expectCode(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<Error> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(isStoreError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
  if (message !== undefined) expect((err as Error).message).toMatch(message);
  return err as Error;
}

/** A source node on a simulated disk with a snapshot at height 30 (chunks of 4 KiB), attested by val-1 and val-2. */
async function sourceNode(): Promise<{ disk: SimulatedDisk; meta: SnapshotMetadata; path: string }> {
  const disk = new SimulatedDisk({ seed: 11 });
  const store = await openStore({ dir: '/src', fs: disk.fs(), chainId: CHAIN, audit: { nodeKey: NODE_KEY }, snapshots: { chunkSize: 4096, interval: 0 }, log: { segmentSize: 256 * 1024 } });
  await buildChain({ votes: store.votes, validators: store.validators, chainId: CHAIN }, 30);
  let meta = await store.snapshots.createSnapshot();
  for (const n of [1, 2]) {
    meta = await store.snapshots.addAttestation(meta.id, { validatorId: `val-${n}`, signature: signBytes(snapshotAttestationBytes(CHAIN, meta.height, meta.merkleRoot), snapshotKey(n)) });
  }
  await store.close();
  return { disk, meta, path: `/src/snapshots/${meta.id}.cssnap` };
}

const trustedSet = { validators: [1, 2, 3, 4].map((n) => ({ validatorId: `val-${n}`, publicKey: publicKeyOf(snapshotKey(n)), stake: 10n })) };

/** A source wrapping another: can stop after `limit` chunks, damage a chunk, or rewrite the offer. */
function wrapped(inner: SnapshotSource, opts: { limit?: number; damage?: number; offer?: (o: SnapshotOffer) => SnapshotOffer; log?: number[] } = {}): SnapshotSource {
  return {
    offer: async () => (opts.offer ?? ((o) => o))(await inner.offer()),
    async *chunks(wanted) {
      let sent = 0;
      for await (const c of inner.chunks(wanted)) {
        if (opts.limit !== undefined && sent >= opts.limit) throw new Error('connection lost');
        opts.log?.push(c.index);
        const chunk: SnapshotChunk = c.index === opts.damage ? { ...c, bytes: c.bytes.map((b, i) => (i === 3 ? b ^ 1 : b)) } : c;
        yield chunk;
        sent++;
      }
    },
  };
}

describe('restoreFromSnapshot', () => {
  it('restores from a file trusted by attestations of more than a third of the stake; the node answers and is fenced', async () => {
    const { disk, meta, path } = await sourceNode();
    const fs = disk.fs();
    const report = await restoreFromSnapshot({ dir: '/new', chainId: CHAIN, source: fileSnapshotSource(path, fs), trust: trustedSet, fs, audit: { nodeKey: NEW_NODE_KEY } });
    expect(report).toMatchObject({ height: 30, round: 30, chunks: meta.chunkCount, chunksFetched: meta.chunkCount, validators: 4, certificates: 30, votes: 90 });
    expect(await fs.readdir('/new')).not.toContain('RESTORING');
    // A signer is refused until it imports a watermark at or above the snapshot's height, whatever else it says.
    const signer = { validatorId: 'val-2', privateKey: snapshotKey(2) };
    await expectCode(openStore({ dir: '/new', fs, chainId: CHAIN, audit: { nodeKey: NEW_NODE_KEY }, signer }), 'FRESH_SIGN_STATE', /restored from a snapshot at height 30/);
    await expectCode(openStore({ dir: '/new', fs, chainId: CHAIN, audit: { nodeKey: NEW_NODE_KEY }, signer: { ...signer, allowFreshState: true } }), 'FRESH_SIGN_STATE');
    await expectCode(openStore({ dir: '/new', fs, chainId: CHAIN, audit: { nodeKey: NEW_NODE_KEY }, signer: { ...signer, state: 'new-key' } }), 'FRESH_SIGN_STATE');
    await expectCode(
      openStore({ dir: '/new', fs, chainId: CHAIN, audit: { nodeKey: NEW_NODE_KEY }, signer: { ...signer, importWatermark: { height: 29, round: 29, step: 'precommit' } } }),
      'FRESH_SIGN_STATE',
    );
    const store: ConsensusStore = await openStore({
      dir: '/new',
      fs,
      chainId: CHAIN,
      audit: { nodeKey: NEW_NODE_KEY },
      // The root covers the content cut in chunks of this size: nodes that compare roots use one size.
      snapshots: { chunkSize: 4096 },
      signer: { ...signer, importWatermark: { height: 30, round: 30, step: 'precommit' } },
    });
    expect(await store.votes.getLastFinalized()).toMatchObject({ height: 30, round: 30 });
    expect((await store.votes.getVotesForRound(17)).map((e) => e.vote.validatorId)).toEqual(['val-1', 'val-2', 'val-3']);
    expect((await store.validators.getValidatorsAtHeight(30)).validators.map((v) => v.validatorId)).toEqual(['val-1', 'val-2', 'val-3', 'val-4']);
    const restored = (await store.audit.queryByHeight(30)).filter((e) => e.event.type === 'SnapshotRestored');
    expect(restored).toHaveLength(1);
    expect(restored[0]!.sequence, 'the entry after the node key').toBe(1);
    expect(restored[0]!.event).toMatchObject({ type: 'SnapshotRestored', height: 30, round: 30 });
    const integrity = await store.audit.verifyIntegrity();
    expect(integrity.ok, JSON.stringify(integrity, (_k, v) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? '<bytes>' : v))).toBe(true);
    await expectCode(store.signGuard.signVote({ validatorId: 'val-2', height: 30, round: 30, voteType: 'precommit', blockHash: new Uint8Array(32), timestamp: 9 }), 'CONFLICT');
    const signed = await store.signGuard.signVote({ validatorId: 'val-2', height: 31, round: 31, voteType: 'prevote', blockHash: new Uint8Array(32), timestamp: 9 });
    expect(signed.height).toBe(31);
    // The restored node makes the same snapshot (same root) of what it restored.
    const again = await store.snapshots.createSnapshot({ height: 30 });
    expect(Buffer.from(again.merkleRoot).equals(Buffer.from(meta.merkleRoot))).toBe(true);
    await store.close();
  });

  it('refuses an offer the trust does not cover before reading any chunk', async () => {
    const { disk, meta, path } = await sourceNode();
    const fs = disk.fs();
    const read: number[] = [];
    const source = wrapped(fileSnapshotSource(path, fs), { log: read });
    const opts = { dir: '/new', chainId: CHAIN, source, fs, audit: { nodeKey: NEW_NODE_KEY } };
    await expectCode(restoreFromSnapshot({ ...opts, trust: { root: new Uint8Array(32) } }), 'INVALID_ARGUMENT', /does not match the offered root/);
    // One of four equal stakes attested in this set's eyes (val-2 is unknown to it): a third is not enough.
    const weak = { validators: trustedSet.validators.filter((v) => v.validatorId !== 'val-2') };
    await expectCode(restoreFromSnapshot({ ...opts, trust: weak }), 'INVALID_ARGUMENT', /more than a third/);
    const otherChain = wrapped(fileSnapshotSource(path, fs), { offer: (o) => ({ ...o, chainId: 'other' }) });
    await expectCode(restoreFromSnapshot({ ...opts, source: otherChain, trust: trustedSet }), 'INVALID_ARGUMENT', /chainId/);
    const huge = wrapped(fileSnapshotSource(path, fs), { offer: (o) => ({ ...o, chunkCount: 1 << 30, contentLength: 2 ** 45 }) });
    await expectCode(restoreFromSnapshot({ ...opts, source: huge, trust: { root: meta.merkleRoot } }), 'INVALID_ARGUMENT');
    const liar = wrapped(fileSnapshotSource(path, fs), { offer: (o) => ({ ...o, height: o.height + 1 }) });
    await expectCode(restoreFromSnapshot({ ...opts, source: liar, trust: trustedSet }), 'INVALID_ARGUMENT', /more than a third/);
    expect(read).toEqual([]);
    expect(await fs.stat('/new')).toBeUndefined();
  });

  it('a chunk that fails its proof stops the restore with CORRUPTION naming it; the directory never opens half done; a rerun resumes', async () => {
    const { disk, meta, path } = await sourceNode();
    const fs = disk.fs();
    const opts = { dir: '/new', chainId: CHAIN, fs, audit: { nodeKey: NEW_NODE_KEY }, trust: { root: meta.merkleRoot } };
    await expectCode(restoreFromSnapshot({ ...opts, source: wrapped(fileSnapshotSource(path, fs), { damage: 1 }) }), 'CORRUPTION', /chunk 1 /);
    await expectCode(openStore({ dir: '/new', fs, chainId: CHAIN, audit: { nodeKey: NEW_NODE_KEY } }), 'INVALID_ARGUMENT', /restore from a snapshot that did not finish/);
    // Interrupted after two chunks: the rerun fetches only the rest.
    await expect(restoreFromSnapshot({ ...opts, source: wrapped(fileSnapshotSource(path, fs), { limit: 1 }) })).rejects.toThrow(/connection lost/);
    const fetched: number[] = [];
    const report = await restoreFromSnapshot({ ...opts, source: wrapped(fileSnapshotSource(path, fs), { log: fetched }) });
    expect(meta.chunkCount).toBeGreaterThanOrEqual(3);
    expect(report.chunksFetched).toBe(meta.chunkCount - 2);
    expect(fetched).not.toContain(0);
    const store = await openStore({ dir: '/new', fs, chainId: CHAIN, audit: { nodeKey: NEW_NODE_KEY } });
    expect(await store.votes.getLastFinalized()).toMatchObject({ height: 30 });
    await store.close();
  });

  it('a power cut at any point of a restore leaves a directory that either refuses to open or opens restored; a rerun finishes', async () => {
    const { disk, meta, path } = await sourceNode();
    // Small segments: the simulated disk holds each preallocated segment in memory.
    const SMALL_LOG = { segmentSize: 256 * 1024 };
    // How many I/O calls a whole restore makes; then cuts spread over them, and the last few (the commit point).
    const before = disk.callCount;
    const probeFs = disk.fs();
    await restoreFromSnapshot({ dir: '/probe', chainId: CHAIN, source: fileSnapshotSource(path, probeFs), trust: { root: meta.merkleRoot }, fs: probeFs, audit: { nodeKey: NEW_NODE_KEY }, log: SMALL_LOG });
    const total = disk.callCount - before;
    const points = [1, 2, 3, ...Array.from({ length: 6 }, (_, i) => Math.floor(((i + 1) * total) / 8)), total - 3, total - 2, total - 1];
    let cuts = 0;
    for (const at of points) {
      const dir = `/cut-${at}`;
      const crashes = disk.stats.crashes;
      disk.crashAtCall(at);
      const fs = disk.fs();
      await restoreFromSnapshot({ dir, chainId: CHAIN, source: fileSnapshotSource(path, fs), trust: { root: meta.merkleRoot }, fs, audit: { nodeKey: NEW_NODE_KEY }, log: SMALL_LOG }).catch(() => undefined);
      // Finished before the armed call: the cut comes right after it instead.
      if (disk.stats.crashes === crashes) disk.crash();
      else cuts++;
      const after = disk.fs();
      const rerun = (): Promise<unknown> =>
        restoreFromSnapshot({ dir, chainId: CHAIN, source: fileSnapshotSource(path, after), trust: { root: meta.merkleRoot }, fs: after, audit: { nodeKey: NEW_NODE_KEY }, log: SMALL_LOG });
      const entries = (await after.stat(dir)) === undefined ? [] : await after.readdir(dir);
      if (entries.includes('RESTORING')) {
        // Unfinished: it must not open; a rerun finishes it.
        await expectCode(openStore({ dir, fs: after, chainId: CHAIN, audit: { nodeKey: NEW_NODE_KEY }, log: SMALL_LOG }), 'INVALID_ARGUMENT', /did not finish/);
        await rerun();
      } else if (entries.length === 0) {
        // The cut came before the marker was durable: nothing of the restore is there, and a rerun starts it.
        await rerun();
      }
      const s = await openStore({ dir, fs: after, chainId: CHAIN, audit: { nodeKey: NEW_NODE_KEY }, log: SMALL_LOG });
      expect(await s.votes.getLastFinalized(), `cut at call ${at}`).toMatchObject({ height: 30 });
      expect((await s.audit.queryByHeight(30)).filter((e) => e.event.type === 'SnapshotRestored')).toHaveLength(1);
      await s.close();
    }
    expect(cuts).toBe(points.length);
  }, 120_000);

  it('bad options are INVALID_ARGUMENT and create nothing; a directory that is not empty is refused', async () => {
    const { disk, meta, path } = await sourceNode();
    const fs = disk.fs();
    const source = fileSnapshotSource(path, fs);
    const good = { dir: '/new', chainId: CHAIN, source, trust: { root: meta.merkleRoot }, fs };
    const bad: Record<string, unknown>[] = [
      { dir: '' },
      { dir: 5 },
      { chainId: '' },
      { source: {} },
      { source: null },
      { trust: {} },
      { trust: { root: new Uint8Array(31) } },
      { trust: { validators: [] } },
      { trust: { validators: [{ validatorId: 'v', publicKey: new Uint8Array(32), stake: -1n }] } },
      { trust: { root: meta.merkleRoot, validators: [] } },
      { maxBytes: 0 },
      { maxBytes: 2 ** 40 },
      { extra: 1 },
    ];
    for (const b of bad) await expectCode(restoreFromSnapshot({ ...good, ...b } as never), 'INVALID_ARGUMENT');
    await expectCode(restoreFromSnapshot({ ...good, maxBytes: 100 }), 'INVALID_ARGUMENT', /contentLength/);
    expect(await fs.stat('/new')).toBeUndefined();
    await expectCode(restoreFromSnapshot({ ...good, dir: '/src' }), 'INVALID_ARGUMENT', /not empty/);
  });
});
