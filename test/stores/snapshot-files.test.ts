/**
 * Portable snapshot files as an outsider damages them (real files, flipped and cut by hand), and
 * as two nodes write them: every damaged byte is found (integrity false, load CORRUPTION naming
 * the chunk), nothing of a damaged file is handed out, and two stores fed the same finalized
 * history in another order write the same content and root.
 */
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, writableLogOf, type ConsensusStore } from '../../src/store.ts';
import type { Lsn } from '../../src/log/types.ts';
import { createRealFileSystem } from '../../src/io/real-fs.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { isStoreError } from '../../src/errors.ts';
import { publicKeyOf, signVote } from '../../src/codec/vote-sign.ts';
import { buildChain, snapshotKey } from '../../src/testing/conformance/snapshot-store.conformance.ts';
import { chunksOffset, decodeSnapshotHeader, encodeSnapshotHeader, MAX_CHUNKS, sealTrailer, SNAPSHOT_HEADER_BYTES } from '../../src/codec/snapshot-file.ts';
import { encodeAttestations, snapshotAttestationBytes } from '../../src/codec/snapshot-envelope.ts';
import { decodeSnapshotContent, encodeSnapshotContent } from '../../src/codec/snapshot-content.ts';
import { signEd25519 } from '../../src/codec/node-key.ts';
import type { SnapshotMetadata } from '../../src/stores/snapshot-types.ts';

const CHAIN = 'tamper-chain';
const NODE_KEY = { privateKey: new Uint8Array(32).fill(5) };
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function storeWithSnapshot(): Promise<{ store: ConsensusStore; meta: SnapshotMetadata; file: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'cstore-tamper-'));
  dirs.push(dir);
  const store = await openStore({
    dir,
    chainId: CHAIN,
    audit: { nodeKey: NODE_KEY },
    fs: createRealFileSystem({ syncWorker: false }),
    snapshots: { chunkSize: 4096, interval: 0 },
  });
  await buildChain({ votes: store.votes, validators: store.validators, chainId: CHAIN }, 40);
  const meta = await store.snapshots.createSnapshot();
  return { store, meta, file: join(dir, 'snapshots', `${meta.id}.cssnap`), dir };
}

async function corruptionOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(isStoreError(err, 'CORRUPTION'), String(err)).toBe(true);
  return (err as Error).message;
}

describe('a damaged portable snapshot file', () => {
  it('has several chunks to damage', async () => {
    const { store, meta } = await storeWithSnapshot();
    expect(meta.chunkCount).toBeGreaterThanOrEqual(3);
    await store.close();
  });

  it('a flipped bit in any chunk: integrity false, load CORRUPTION naming that chunk, the other snapshot untouched', async () => {
    const { store, meta, file } = await storeWithSnapshot();
    const good = readFileSync(file);
    const header = decodeSnapshotHeader(good);
    const other = await store.snapshots.createSnapshot({ height: 10 });
    for (let chunk = 0; chunk < header.chunkCount; chunk++) {
      const bad = Buffer.from(good);
      const at = chunksOffset(header.chunkCount) + chunk * header.chunkSize + 17;
      bad[at]! ^= 0x04;
      writeFileSync(file, bad);
      expect(await store.snapshots.verifySnapshotIntegrity(meta.id)).toBe(false);
      expect(await corruptionOf(store.snapshots.loadFromSnapshot(meta.id))).toMatch(new RegExp(`chunk ${chunk}\\b`));
      expect(await store.snapshots.verifySnapshotIntegrity(other.id)).toBe(true);
    }
    writeFileSync(file, good);
    expect(await store.snapshots.verifySnapshotIntegrity(meta.id)).toBe(true);
    await store.close();
  });

  it('damage in the header, the leaf table or the trailer, or a cut file: found; a damaged header drops it from the list', async () => {
    const { store, meta, file } = await storeWithSnapshot();
    const good = readFileSync(file);
    const header = decodeSnapshotHeader(good);
    const places = [5, 40, SNAPSHOT_HEADER_BYTES + 3, good.length - 9, good.length - 2];
    for (const at of places) {
      const bad = Buffer.from(good);
      bad[at]! ^= 0x80;
      writeFileSync(file, bad);
      expect(await store.snapshots.verifySnapshotIntegrity(meta.id), `byte ${at}`).toBe(false);
      await corruptionOf(store.snapshots.loadFromSnapshot(meta.id));
    }
    const bad = Buffer.from(good);
    bad[5]! ^= 0x80;
    writeFileSync(file, bad);
    expect((await store.snapshots.listSnapshots()).map((m) => m.id)).not.toContain(meta.id);
    await corruptionOf(store.snapshots.getSnapshotMetadata(meta.id));
    for (const length of [good.length - 1, chunksOffset(header.chunkCount) + 100, 64, 0]) {
      writeFileSync(file, good);
      truncateSync(file, length);
      expect(await store.snapshots.verifySnapshotIntegrity(meta.id), `cut at ${length}`).toBe(false);
      await corruptionOf(store.snapshots.loadFromSnapshot(meta.id));
    }
    await store.close();
  });

  it('two chunks swapped: the first one out of place is named', async () => {
    const { store, meta, file } = await storeWithSnapshot();
    const good = readFileSync(file);
    const h = decodeSnapshotHeader(good);
    const base = chunksOffset(h.chunkCount);
    const bad = Buffer.from(good);
    good.copy(bad, base, base + h.chunkSize, base + 2 * h.chunkSize);
    good.copy(bad, base + h.chunkSize, base, base + h.chunkSize);
    writeFileSync(file, bad);
    expect(await store.snapshots.verifySnapshotIntegrity(meta.id)).toBe(false);
    expect(await corruptionOf(store.snapshots.loadFromSnapshot(meta.id))).toMatch(/chunk 0\b/);
    await store.close();
  });

  it('a forged attestation beside the file makes the snapshot fail its integrity check', async () => {
    const { store, meta, dir } = await storeWithSnapshot();
    // val-3's name over val-4's signature: a well-formed file whose attestation does not verify.
    const forged = { validatorId: 'val-3', signature: signEd25519(snapshotAttestationBytes(CHAIN, meta.height, meta.merkleRoot), snapshotKey(4)) };
    writeFileSync(join(dir, 'snapshots', `${meta.id}.attest`), sealTrailer(encodeAttestations([forged])));
    expect(await store.snapshots.verifySnapshotIntegrity(meta.id)).toBe(false);
    // A damaged attestation file only loses the later attestations.
    writeFileSync(join(dir, 'snapshots', `${meta.id}.attest`), Buffer.from('garbage'));
    expect(await store.snapshots.verifySnapshotIntegrity(meta.id)).toBe(true);
    await store.close();
  });

  it('content with oversized counts or lengths is refused before anything is allocated by them', async () => {
    const { store, meta } = await storeWithSnapshot();
    const snap = await store.snapshots.loadFromSnapshot(meta.id);
    const content = encodeSnapshotContent({
      chainId: CHAIN,
      height: snap.lastFinalized.height,
      round: snap.lastFinalized.round,
      decidedAt: snap.decidedAt,
      validators: snap.validators,
      totalVotingPower: snap.metadata.totalVotingPower,
      history: snap.registryHistory,
      certificates: snap.decisions,
    });
    expect(decodeSnapshotContent(content).certificates).toHaveLength(40);
    // The id table's count sits right after the head; make it 2^32 - 1.
    const head = 8 + 4 + 4 + 2 + CHAIN.length + 8 + 4 + 8 + 4 + 2 + 4;
    const huge = content.slice();
    new DataView(huge.buffer).setUint32(head, 0xffffffff, true);
    expect(() => decodeSnapshotContent(huge)).toThrow(/exceeds the bytes left/);
    const shortText = content.slice();
    new DataView(shortText.buffer).setUint16(head + 4, 0xffff, true);
    expect(() => decodeSnapshotContent(shortText)).toThrow();
    expect(() => decodeSnapshotContent(content.subarray(0, content.length - 1))).toThrow();
    const trailing = new Uint8Array(content.length + 1);
    trailing.set(content);
    expect(() => decodeSnapshotContent(trailing)).toThrow(/trailing/);
    // A header (with a right checksum) claiming more chunks, bytes or trailer than the bounds allow.
    const fields = { kind: 1 as const, chunkSize: 4096, chunkCount: 3, contentLength: 9000, root: new Uint8Array(32), trailerLength: 40 };
    expect(decodeSnapshotHeader(encodeSnapshotHeader(fields)).chunkCount).toBe(3);
    expect(() => decodeSnapshotHeader(encodeSnapshotHeader({ ...fields, chunkCount: MAX_CHUNKS + 1, contentLength: (MAX_CHUNKS + 1) * 4096 }))).toThrow(/chunk count/);
    expect(() => decodeSnapshotHeader(encodeSnapshotHeader({ ...fields, contentLength: 2 ** 40 }))).toThrow(/content length/);
    expect(() => decodeSnapshotHeader(encodeSnapshotHeader({ ...fields, chunkSize: 1 << 30 }))).toThrow(/chunk size/);
    expect(() => decodeSnapshotHeader(encodeSnapshotHeader({ ...fields, trailerLength: 0xffffffff }))).toThrow(/trailer/);
    await store.close();
  });
});

describe('a snapshot is a frozen view', () => {
  it('writes that land while it is built (a validator, votes, a newer mark) are not in it', async () => {
    const disk = new SimulatedDisk({ seed: 3 });
    const store = await openStore({ dir: '/n', fs: disk.fs(), chainId: CHAIN, audit: { nodeKey: NODE_KEY }, snapshots: { interval: 0, certificateHeights: 200 } });
    await buildChain({ votes: store.votes, validators: store.validators, chainId: CHAIN }, 150);
    const before = await store.snapshots.createSnapshot();
    // The writes start right after the snapshot's capture point, while its view is being built
    // (it yields between slices of heights): a validator registered at an old height, a
    // precommit of the snapshot's height, a newer finalized height.
    const log = writableLogOf(store);
    const capture = log.capture!.bind(log);
    let writes: Promise<unknown> | undefined;
    log.capture = <T>(fn: (lsn: Lsn) => T): Promise<T> =>
      capture((lsn) => {
        const result = fn(lsn);
        writes ??= Promise.all([
          store.validators.registerValidator({ validatorId: 'val-0', publicKey: publicKeyOf(snapshotKey(0)), stake: 1000n }, 3),
          store.votes.appendVote(signVote({ validatorId: 'val-4', height: 150, round: 150, voteType: 'precommit', blockHash: new Uint8Array(32).fill(150), timestamp: 1 }, snapshotKey(4), CHAIN)),
          store.votes.appendVote(signVote({ validatorId: 'val-1', height: 151, round: 151, voteType: 'precommit', blockHash: new Uint8Array(32).fill(151), timestamp: 1 }, snapshotKey(1), CHAIN)),
        ]).then(() => store.votes.markFinalized(151, 151));
        return result;
      });
    const during = store.snapshots.createSnapshot();
    const meta = await during;
    await writes;
    expect(await store.votes.getLastFinalized()).toMatchObject({ height: 151 });
    expect(meta.height).toBe(150);
    expect(meta.validatorCount).toBe(4);
    expect(Buffer.from(meta.merkleRoot).equals(Buffer.from(before.merkleRoot))).toBe(true);
    // The next one sees them: the new validator holds most of the stake from height 3 on and
    // signed nothing, so height 150 has no quorum any more.
    const after = await store.snapshots.createSnapshot({ height: 150 }).then(() => undefined, (e: unknown) => e);
    expect(String(after)).toMatch(/no quorum/);
    await store.close();
  });
});

describe('determinism: the same finalized history makes the same snapshot', () => {
  it('two stores fed one history in another order of arrival, with other votes besides, write the same content and root', async () => {
    const open = (seed: number, start: number) => {
      const disk = new SimulatedDisk({ seed });
      let clock = start;
      return { disk, open: () => openStore({ dir: '/n', fs: disk.fs(), chainId: CHAIN, audit: { nodeKey: { privateKey: new Uint8Array(32).fill(seed) } }, now: () => clock++, snapshots: { interval: 0 } }) };
    };
    const a = open(1, 1_000);
    const b = open(2, 9_000_000);
    const sa = await a.open();
    const sb = await b.open();
    await buildChain({ votes: sa.votes, validators: sa.validators, chainId: CHAIN }, 20, [1, 2, 3, 4]);
    // Node b: the votes of each height in reverse order, prevotes and a nil precommit besides.
    for (let n = 1; n <= 4; n++) await sb.validators.registerValidator({ validatorId: `val-${n}`, publicKey: publicKeyOf(snapshotKey(n)), stake: 10n }, 0);
    for (let height = 1; height <= 20; height++) {
      for (const n of [4, 3, 2, 1]) {
        await sb.votes.appendVote(signVote({ validatorId: `val-${n}`, height, round: height, voteType: 'prevote', blockHash: new Uint8Array(32).fill(height % 251), timestamp: 5 }, snapshotKey(n), CHAIN));
        await sb.votes.appendVote(
          signVote({ validatorId: `val-${n}`, height, round: height, voteType: 'precommit', blockHash: new Uint8Array(32).fill(height % 251), timestamp: 1_700_000_000_000 + height * 10 + n }, snapshotKey(n), CHAIN),
        );
      }
      await sb.votes.markFinalized(height, height);
    }
    const ma = await sa.snapshots.createSnapshot({ height: 20 });
    const mb = await sb.snapshots.createSnapshot({ height: 20 });
    expect(Buffer.from(mb.merkleRoot).toString('hex')).toBe(Buffer.from(ma.merkleRoot).toString('hex'));
    const la = await sa.snapshots.loadFromSnapshot(ma.id);
    const lb = await sb.snapshots.loadFromSnapshot(mb.id);
    expect(lb.decisions).toEqual(la.decisions);
    // The content region of both files is byte for byte the same (the envelopes differ: creation time).
    const bytesOf = async (disk: SimulatedDisk, id: string): Promise<Uint8Array> => {
      const all = await disk.fs().readFile(`/n/snapshots/${id}.cssnap`);
      const h = decodeSnapshotHeader(all);
      return all.subarray(0, chunksOffset(h.chunkCount) + h.contentLength);
    };
    expect(Buffer.from(await bytesOf(b.disk, mb.id)).equals(Buffer.from(await bytesOf(a.disk, ma.id)))).toBe(true);
    expect(ma.timestamp).not.toBe(mb.timestamp);
    await sa.close();
    await sb.close();
  });
});

