/**
 * Backups of a compacted store (docs/operations.md, "Backup and restore"; src/backup/): a store
 * with a small hot window and small segments, compacted until its log starts far above LSN 1, is
 * backed up while open; the backup carries the cold manifest and every file it lists (listed in
 * the trailer, hard-linked), `verifyBackup` checks them and reads the chain id and node key
 * across the tiers, and the restored directory opens and answers every query as the source did.
 * A compaction asked for during a backup waits for it (the cut the backup carries is the one its
 * images were taken under). Damage to what the backup carries of the cold tier is CORRUPTION
 * naming the file (a cold block, a manifest of another chain or with its cut above the backup's
 * LSN, no manifest or no image for a log that starts above 1), and a cold manifest the store
 * does not own stops the backup itself.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStoreError, type ErrorCode } from '../../src/errors.ts';
import { openStore, type ConsensusStore } from '../../src/store.ts';
import { restoreFromBackup, verifyBackup } from '../../src/index.ts';
import { openReadOnlyLog } from '../../src/log/read-only.ts';
import { readTrailer } from '../../src/backup/verify.ts';
import { encodeTrailer } from '../../src/backup/trailer.ts';
import { decodeColdManifest, encodeColdManifest } from '../../src/cold/cold-manifest.ts';
import { sha256 } from '@noble/hashes/sha2.js';
import { AUDIT_KEY } from '../support/store-workload.ts';
import { delegatingFs } from '../support/delegating-fs.ts';
import { defaultFileSystem } from '../../src/io/real-fs.ts';
import { AUDIT_CHAIN } from '../support/audit-test-log.ts';
import { buildCompacted, compactedOptions, tierAnswers } from '../support/compacted-store.ts';

const BLOCKS = 60;
const root = mkdtempSync(join(tmpdir(), 'cstore-backup-cold-'));
const source = join(root, 'source');
let store: ConsensusStore;
let answers: Record<string, unknown>;

beforeAll(async () => {
  store = await buildCompacted(source, BLOCKS);
  answers = await tierAnswers(store, BLOCKS);
}, 120_000);

afterAll(async () => {
  await store?.close().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

async function expectCode(p: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<Error> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(isStoreError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
  expect((err as Error).message).toMatch(message);
  return err as Error;
}

/** Re-signs the trailer of `backup` after a file was changed (as a forger holding the node key would). */
async function resign(backup: string, change: (files: { name: string; size: number; sha256: Uint8Array }[]) => { name: string; size: number; sha256: Uint8Array }[]): Promise<void> {
  const t = await readTrailer((await import('../../src/io/real-fs.ts')).defaultFileSystem(), backup);
  const files = change(t.files.map((f) => ({ ...f }))).sort((a, b) => (a.name < b.name ? -1 : 1));
  const { publicKeyOf } = await import('../../src/codec/vote-sign.ts');
  const key = { privateKey: AUDIT_KEY.privateKey, publicKey: publicKeyOf(AUDIT_KEY.privateKey) };
  writeFileSync(join(backup, 'TRAILER'), encodeTrailer({ lsn: t.lsn, chainId: t.chainId, createdAt: t.createdAt, segmentSize: t.segmentSize, files }, key));
}

/** Rewrites `name` in `backup` with `bytes` and re-signs the trailer for it. */
async function replaceFile(backup: string, name: string, bytes: Uint8Array): Promise<void> {
  writeFileSync(join(backup, name), bytes);
  await resign(backup, (files) => files.map((f) => (f.name === name ? { name, size: bytes.length, sha256: sha256(bytes) } : f)));
}

let backupCount = 0;
async function backupOf(): Promise<string> {
  const dest = join(root, `backup-${++backupCount}`);
  await store.backup(dest, { includeKey: true });
  return dest;
}

describe('a backup of a compacted store', () => {
  it('carries the cold tier, verifies with a log that starts above LSN 1, and restores into a store that answers as the source', async () => {
    const dest = join(root, 'full');
    const report = await store.backup(dest, { includeKey: true });
    const manifest = decodeColdManifest(readFileSync(join(source, 'cold', 'MANIFEST')), 'MANIFEST');
    expect(report.cold).toEqual({ cut: { height: manifest.cut.height, lsn: manifest.cut.lsn }, files: manifest.files.length });
    expect(manifest.cut.height).toBe(BLOCKS - 5);
    const names = report.files.map((f) => f.name);
    expect(names).toContain('cold/MANIFEST');
    for (const f of manifest.files) expect(report.files.find((r) => r.name === `cold/${f.name}`)).toEqual({ name: `cold/${f.name}`, size: f.bytes, method: 'link' });
    expect(readFileSync(join(dest, 'cold', 'MANIFEST'))).toEqual(readFileSync(join(source, 'cold', 'MANIFEST')));

    const log = await openReadOnlyLog({ dir: dest });
    const firstLsn = log.firstLsn;
    await log.close();
    expect(firstLsn, 'the backup holds the released log as it is').toBeGreaterThan(100);

    const verified = await verifyBackup(dest);
    expect(verified.chainId).toBe(AUDIT_CHAIN);
    expect(verified.keySource).toBe('node.key');
    expect(verified.lsn).toBe(report.lsn);
    // Without node.key: the key comes from the audit chain, read across the tiers (its first entry is cold).
    const noKey = join(root, 'no-key');
    await store.backup(noKey);
    const v2 = await verifyBackup(noKey);
    expect(v2.keySource).toBe('chain');
    expect(v2.publicKey).toBe(verified.publicKey);

    const restored = join(root, 'restored');
    const r = await restoreFromBackup({ backup: dest, dir: restored, minSignHeight: 10_000 });
    expect(r.files).toBe(report.files.length);
    const opened = await openStore(compactedOptions(restored));
    try {
      expect(opened.replay.image.loaded).toBeDefined();
      const got = await tierAnswers(opened, BLOCKS);
      for (const name of Object.keys(answers)) expect(got[name], name).toEqual(answers[name]);
    } finally {
      await opened.close();
    }
  }, 120_000);

  it('a compaction asked for during a backup waits for it: the backup carries the cut its images were taken under', async () => {
    const more = join(root, 'racing');
    const s = await buildCompacted(more, 30, 1_000);
    try {
      for (let h = 30; h < 40; h++) await s.votes.markFinalized(h, h);
      const before = decodeColdManifest(readFileSync(join(more, 'cold', 'MANIFEST')), 'MANIFEST');
      const order: string[] = [];
      const dest = join(root, 'racing-backup');
      const backup = s.backup(dest, { includeKey: true }).then((rep) => {
        order.push('backup');
        return rep;
      });
      const compaction = s.compact().then((rep) => {
        order.push('compaction');
        return rep;
      });
      const [rep, comp] = await Promise.all([backup, compaction]);
      expect(comp.to.height).toBe(40 - 5);
      // Either the compaction ran whole before the backup took its hold, or after the backup.
      if (order[0] === 'backup') expect(rep.cold?.cut).toEqual({ height: before.cut.height, lsn: before.cut.lsn });
      else expect(rep.cold?.cut).toEqual({ height: comp.to.height, lsn: comp.to.lsn });
      await verifyBackup(dest);
      const expected = await tierAnswers(s, 40);
      const restored = join(root, 'racing-restored');
      await restoreFromBackup({ backup: dest, dir: restored, minSignHeight: 10_000 });
      const opened = await openStore(compactedOptions(restored));
      try {
        const got = await tierAnswers(opened, 40);
        for (const name of Object.keys(expected)) expect(got[name], name).toEqual(expected[name]);
      } finally {
        await opened.close();
      }
    } finally {
      await s.close();
    }
  }, 120_000);
});

describe('a compaction during a backup', () => {
  it('waits until the backup has copied the cold manifest and the image: the manifest stays as it was while the backup is paused', async () => {
    const dir = join(root, 'paused');
    let gate: { reached: () => void; release: Promise<void> } | undefined;
    const real = defaultFileSystem();
    const fs = delegatingFs(real, {
      readFile: async (p) => {
        const g = gate;
        if (g !== undefined && p === join(dir, 'cold', 'MANIFEST')) {
          gate = undefined;
          g.reached();
          await g.release;
        }
        return real.readFile(p);
      },
    });
    const s = await buildCompacted(dir, 30, 1_000, { fs });
    try {
      for (let h = 30; h < 40; h++) await s.votes.markFinalized(h, h);
      const before = decodeColdManifest(readFileSync(join(dir, 'cold', 'MANIFEST')), 'MANIFEST');
      let release!: () => void;
      const reached = new Promise<void>((resolve) => {
        gate = { reached: resolve, release: new Promise<void>((r) => (release = r)) };
      });
      const dest = join(root, 'paused-backup');
      const backup = s.backup(dest, { includeKey: true });
      await reached;
      let compacted = false;
      const compaction = s.compact().then((r) => {
        compacted = true;
        return r;
      });
      await new Promise((r) => setTimeout(r, 500));
      expect(compacted, 'the compaction waits for the backup').toBe(false);
      expect(decodeColdManifest(readFileSync(join(dir, 'cold', 'MANIFEST')), 'MANIFEST').generation).toBe(before.generation);
      release();
      const rep = await backup;
      const comp = await compaction;
      expect(rep.cold?.cut).toEqual({ height: before.cut.height, lsn: before.cut.lsn });
      expect(comp.from).toEqual(before.cut);
      expect(comp.to.height).toBe(40 - 5);
      expect((await verifyBackup(dest)).lsn).toBe(rep.lsn);
    } finally {
      await s.close();
    }
  }, 120_000);
});

describe('damage to the cold tier of a backup', () => {
  it('a byte flipped in a cold block (trailer re-signed): CORRUPTION naming the cold file and the offset', async () => {
    const dest = await backupOf();
    const manifest = decodeColdManifest(readFileSync(join(dest, 'cold', 'MANIFEST')), 'MANIFEST');
    const name = `cold/${manifest.files[0]!.name}`;
    const bytes = new Uint8Array(readFileSync(join(dest, name)));
    bytes[40] = (bytes[40] as number) ^ 0xff;
    unlinkSync(join(dest, name)); // a hard link: the source's file stays as it was
    await replaceFile(dest, name, bytes);
    const err = await expectCode(verifyBackup(dest), 'CORRUPTION', /./);
    expect((err as { location?: { file?: string } }).location?.file).toBe(join(dest, name));
    await expectCode(restoreFromBackup({ backup: dest, dir: join(root, `r-${backupCount}`) }), 'CORRUPTION', /./);
  }, 60_000);

  it('a cold manifest of another chain, or with its cut above the backup LSN: CORRUPTION naming the manifest', async () => {
    for (const [what, change, message] of [
      ['chain', (m: ReturnType<typeof decodeColdManifest>) => ({ ...m, chainId: 'other-chain' }), /names chain "other-chain"/],
      ['cut', (m: ReturnType<typeof decodeColdManifest>) => ({ ...m, cut: { height: m.cut.height, lsn: 1_000_000 } }), /cut is at LSN 1000000, above the backup's LSN/],
    ] as const) {
      const dest = await backupOf();
      const path = join(dest, 'cold', 'MANIFEST');
      await replaceFile(dest, 'cold/MANIFEST', encodeColdManifest(change(decodeColdManifest(readFileSync(path), path))));
      const err = await expectCode(verifyBackup(dest), 'CORRUPTION', message);
      expect((err as { location?: { file?: string } }).location?.file, what).toBe(path);
    }
  }, 60_000);

  it('a log that starts above LSN 1 without its cold manifest, or without an image: CORRUPTION', async () => {
    const noCold = await backupOf();
    const coldNames = (await readTrailer((await import('../../src/io/real-fs.ts')).defaultFileSystem(), noCold)).files.filter((f) => f.name.startsWith('cold/')).map((f) => f.name);
    for (const n of coldNames) unlinkSync(join(noCold, n));
    await resign(noCold, (files) => files.filter((f) => !f.name.startsWith('cold/')));
    await expectCode(verifyBackup(noCold), 'CORRUPTION', /starts at LSN \d+ but the backup holds no cold manifest/);

    const noImage = await backupOf();
    const images = (await readTrailer((await import('../../src/io/real-fs.ts')).defaultFileSystem(), noImage)).files.filter((f) => f.name.startsWith('images/')).map((f) => f.name);
    expect(images.length).toBe(1);
    for (const n of images) unlinkSync(join(noImage, n));
    await resign(noImage, (files) => files.filter((f) => !f.name.startsWith('images/')));
    await expectCode(verifyBackup(noImage), 'CORRUPTION', /holds no local image at or above LSN/);
  }, 60_000);

  it('a cold manifest the store does not own (another chain, a cut above the log) stops the backup: CORRUPTION, no trailer', async () => {
    const path = join(source, 'cold', 'MANIFEST');
    const original = readFileSync(path);
    try {
      for (const [change, message] of [
        [(m: ReturnType<typeof decodeColdManifest>) => ({ ...m, chainId: 'other-chain' }), /names chain "other-chain", the store is on/],
        [(m: ReturnType<typeof decodeColdManifest>) => ({ ...m, cut: { height: m.cut.height, lsn: 1_000_000 } }), /cut at LSN 1000000, above the backup's LSN/],
      ] as const) {
        writeFileSync(path, encodeColdManifest(change(decodeColdManifest(original, path))));
        const dest = join(root, `refused-${++backupCount}`);
        await expectCode(store.backup(dest), 'CORRUPTION', message);
        expect(existsSync(join(dest, 'TRAILER'))).toBe(false);
      }
    } finally {
      writeFileSync(path, original);
    }
  }, 60_000);
});
