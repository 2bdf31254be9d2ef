/**
 * `store.backup`, `verifyBackup` and `restoreFromBackup` (docs/operations.md, "Backup and
 * restore"): a backup taken while a writer appends at full speed holds every acknowledged
 * record up to its LSN and none after; any change to a backup fails its verification and its
 * restore with a message naming the file; a restored directory signs nothing until the operator
 * gives a height or imports a watermark, and never at or below it; a restore writes only into an
 * empty directory, never opens half done after a power cut, and a rerun finishes it; bad input
 * is INVALID_ARGUMENT with nothing written.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { FileSystem } from '../../src/io/types.ts';
import { isStoreError, type ErrorCode } from '../../src/errors.ts';
import { noBackup, openStore, openStoreOnLog, takeImage, type ConsensusStore } from '../../src/store.ts';
import { MemoryLog } from '../../src/log/memory-log.ts';
import { signVote } from '../../src/codec/vote-sign.ts';
import { restoreFromBackup, verifyBackup } from '../../src/index.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import { sha256 } from '@noble/hashes/sha2.js';
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { encodeNodeKeyFile } from '../../src/codec/node-key.ts';
import { openLog } from '../../src/log/wal.ts';
import type { Log } from '../../src/log/types.ts';
import { takeBackup, type BackupSource } from '../../src/backup/take.ts';
import { readTrailer } from '../../src/backup/verify.ts';
import { decodeTrailer, encodeTrailer, type BackupTrailer } from '../../src/backup/trailer.ts';

const CHAIN = 'backup-chain';
const NODE_KEY = { privateKey: new Uint8Array(32).fill(7) };
const SIGNER_KEY = new Uint8Array(32).fill(9);
const SIGNER = { validatorId: 'val-0', privateKey: SIGNER_KEY };
/** Small segments: several sealed ones in a small backup, and cheap spares on the simulated disk. */
const SMALL = { segmentSize: 16384 };

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cstore-backup-'));
  dirs.push(d);
  return d;
}

async function expectCode(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<Error> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(isStoreError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
  if (message !== undefined) expect((err as Error).message).toMatch(message);
  return err as Error;
}

/** One signed vote; the others differ in validator and round (fake signatures: the stores that append them opt out of vote verification). */
const TEMPLATE = signVote({ validatorId: 'val-1', height: 1, round: 1, voteType: 'prevote', blockHash: new Uint8Array(32).fill(1), timestamp: 1_700_000_000_000 }, SIGNER_KEY, CHAIN);
function vote(validator: number, round: number): ValidatorVote {
  return { ...TEMPLATE, validatorId: `val-${validator}`, height: round, round };
}

/** A store on the simulated disk with some votes, a signed vote of the signer, an image and small segments. */
async function simStore(disk: SimulatedDisk, votes = 300): Promise<ConsensusStore> {
  const store = await openStore({ dir: '/node', fs: disk.fs(), chainId: CHAIN, audit: { nodeKey: NODE_KEY }, voteVerification: 'off', log: SMALL, images: { everyRecords: 0 }, signer: { ...SIGNER, state: 'new-key' } });
  for (let r = 1; r <= votes; r++) await store.votes.appendVote(vote(1 + (r % 3), r));
  await store.signGuard.signVote({ validatorId: 'val-0', height: 100, round: 100, voteType: 'prevote', blockHash: new Uint8Array(32).fill(2), timestamp: 5 });
  await takeImage(store, false);
  for (let r = votes + 1; r <= votes + 20; r++) await store.votes.appendVote(vote(1, r));
  return store;
}

describe('store.backup while a writer appends at full speed', () => {
  it('holds every acknowledged record up to its LSN and none after; the restore opens with all of them', async () => {
    const root = tempDir();
    const dir = join(root, 'node');
    const store = await openStore({ dir, chainId: CHAIN, audit: { nodeKey: NODE_KEY }, voteVerification: 'off', log: { segmentSize: 1 << 18 }, images: { everyRecords: 3000 } });
    const acked: { lsn: number; validator: number; round: number }[] = [];
    let stop = false;
    const writer = async (w: number): Promise<void> => {
      for (let r = 1; !stop; r++) {
        const result = await store.votes.appendVote(vote(w, r));
        acked.push({ lsn: result.id as number, validator: w, round: r });
      }
    };
    const writers = [1, 2, 3, 4, 5, 6, 7, 8].map(writer);
    while (acked.length < 6000) await new Promise((resolve) => setTimeout(resolve, 5));
    const ackedBefore = acked.length;
    const report = await store.backup(join(root, 'backup'), { includeKey: true });
    const ackedDuring = acked.length - ackedBefore;
    while (acked.length < ackedBefore + ackedDuring + 2000) await new Promise((resolve) => setTimeout(resolve, 5));
    stop = true;
    await Promise.all(writers);
    await store.close();
    expect(ackedDuring, 'the writer kept going while the backup copied').toBeGreaterThan(0);
    expect(report.files.some((f) => f.method === 'link'), 'sealed segments are hard links').toBe(true);
    expect(report.files.some((f) => f.name.startsWith('images/'))).toBe(true);
    expect(statSync(join(root, 'backup', 'node.key')).mode & 0o777).toBe(0o600);

    const verified = await verifyBackup(join(root, 'backup'));
    expect(verified).toMatchObject({ lsn: report.lsn, chainId: CHAIN, keySource: 'node.key', includesKey: true });
    const restored = await restoreFromBackup({ backup: join(root, 'backup'), dir: join(root, 'restored') });
    expect(restored).toMatchObject({ lsn: report.lsn, fence: { kind: 'pending' }, restarted: false });
    const back = await openStore({ dir: join(root, 'restored'), chainId: CHAIN });
    expect(back.replay.image.loaded, 'the linked image is loaded').toBeDefined();
    const byRound = new Map<number, Set<string>>();
    const maxRound = Math.max(...acked.map((a) => a.round));
    for (let r = 1; r <= maxRound; r++) byRound.set(r, new Set((await back.votes.getVotesForRound(r)).map((e) => `${e.vote.validatorId}`)));
    let inside = 0;
    for (const a of acked) {
      const present = byRound.get(a.round)?.has(`val-${a.validator}`) ?? false;
      expect(present, `LSN ${a.lsn} (backup at ${report.lsn})`).toBe(a.lsn <= report.lsn);
      if (a.lsn <= report.lsn) inside++;
    }
    expect(inside).toBeGreaterThanOrEqual(ackedBefore);
    expect((await back.audit.verifyIntegrity()).ok).toBe(true);
    await back.close();
  }, 120_000);
});

describe('verifyBackup and restoreFromBackup on a damaged backup', () => {
  const damages: { name: string; damage: (fs: FileSystem, disk: SimulatedDisk, b: string) => Promise<void>; file: RegExp }[] = [
    { name: 'a flipped byte in a sealed segment', damage: async (_fs, disk, b) => disk.flipBit(`${b}/wal/0000000000000001.wal`, 100), file: /wal\/0000000000000001\.wal/ },
    { name: 'a flipped byte in the image', damage: async (fs, disk, b) => disk.flipBit(`${b}/images/${(await fs.readdir(`${b}/images`))[0]}`, 200), file: /images\/image-/ },
    { name: 'a flipped byte in the trailer', damage: async (_fs, disk, b) => disk.flipBit(`${b}/TRAILER`, 40), file: /TRAILER/ },
    { name: 'a flipped byte in the trailer signature', damage: async (fs, disk, b) => disk.flipBit(`${b}/TRAILER`, ((await fs.stat(`${b}/TRAILER`))?.size ?? 1) - 1), file: /TRAILER/ },
    { name: 'a missing file', damage: async (fs, _disk, b) => fs.unlink(`${b}/SIGNSTATE`), file: /SIGNSTATE/ },
    { name: 'an extra file', damage: async (fs, _disk, b) => void (await (await fs.open(`${b}/wal/extra.wal`, 'create')).close()), file: /wal\/extra\.wal/ },
    {
      name: 'a truncated file',
      damage: async (fs, _disk, b) => {
        const h = await fs.open(`${b}/MANIFEST`, 'readwrite');
        await h.truncate((await h.size()) - 8);
        await h.close();
      },
      file: /MANIFEST/,
    },
    { name: 'no trailer (an incomplete backup)', damage: async (fs, _disk, b) => fs.unlink(`${b}/TRAILER`), file: /TRAILER.*incomplete|incomplete.*TRAILER/ },
  ];
  for (const d of damages) {
    it(`${d.name}: verify and restore fail with CORRUPTION naming the file; nothing is restored`, async () => {
      const disk = new SimulatedDisk({ seed: 5 });
      const store = await simStore(disk);
      const report = await store.backup('/b', { includeKey: true });
      await store.close();
      const fs = disk.fs();
      expect(report.files.map((f) => f.name)).toEqual(expect.arrayContaining(['MANIFEST', 'SIGNSTATE', 'node.key', 'wal/0000000000000001.wal']));
      await verifyBackup('/b', { fs });
      await d.damage(fs, disk, '/b');
      await expectCode(verifyBackup('/b', { fs }), 'CORRUPTION', d.file);
      await expectCode(restoreFromBackup({ backup: '/b', dir: '/r', fs }), 'CORRUPTION', d.file);
      expect(await fs.stat('/r'), 'nothing written').toBeUndefined();
    });
  }

  it('a trailer signed by another key than the one given, or a node.key other than the chain records, fails', async () => {
    const disk = new SimulatedDisk({ seed: 6 });
    const store = await simStore(disk, 20);
    await store.backup('/b', { includeKey: true });
    await store.backup('/b2');
    await store.close();
    const fs = disk.fs();
    await expectCode(verifyBackup('/b', { fs, publicKey: new Uint8Array(32).fill(1) }), 'CORRUPTION', /TRAILER.*another key|another key.*TRAILER/);
    const chainKeyed = await verifyBackup('/b2', { fs });
    expect(chainKeyed.keySource).toBe('chain');
    expect(chainKeyed.includesKey).toBe(false);
    expect((await verifyBackup('/b2', { fs, publicKey: chainKeyed.publicKey })).keySource).toBe('option');
  });
});

describe('the restore fence', () => {
  it('an old backup restored: signing what the newer state signed is refused, before and after the operator gives a height; above it is allowed', async () => {
    const disk = new SimulatedDisk({ seed: 7 });
    const store = await simStore(disk, 10);
    await store.backup('/old', { includeKey: true });
    // The node goes on and signs heights 101..120 after the backup.
    for (let h = 101; h <= 120; h++) await store.signGuard.signVote({ validatorId: 'val-0', height: h, round: h, voteType: 'prevote', blockHash: new Uint8Array(32).fill(3), timestamp: h });
    await store.close();
    const fs = disk.fs();
    await restoreFromBackup({ backup: '/old', dir: '/r1', fs });
    const open = (dir: string, extra: object = {}): Promise<ConsensusStore> => openStore({ dir, fs, chainId: CHAIN, log: SMALL, signer: { ...SIGNER, ...extra } });
    // No height given: every signer is refused at open, whatever it says.
    await expectCode(open('/r1'), 'FRESH_SIGN_STATE', /restored from a backup taken at LSN/);
    await expectCode(open('/r1', { allowFreshState: true }), 'FRESH_SIGN_STATE', /restored from a backup/);
    await expectCode(open('/r1', { state: 'new-key' }), 'FRESH_SIGN_STATE', /restored from a backup/);
    // An import at or below the backup's own watermark lifts nothing.
    await expectCode(open('/r1', { importWatermark: { height: 100, round: 100, step: 'prevote' } }), 'FRESH_SIGN_STATE', /restored from a backup/);
    // A store without a signer opens (to read, to catch up): nothing can be signed through it.
    const reader = await openStore({ dir: '/r1', fs, chainId: CHAIN, log: SMALL });
    await expectCode(reader.signGuard.signVote({ validatorId: 'val-0', height: 110, round: 110, voteType: 'prevote', blockHash: new Uint8Array(32), timestamp: 1 }), 'INVALID_ARGUMENT');
    await reader.close();
    // An up-to-date watermark imported: at or below it refused, above allowed.
    const lifted = await open('/r1', { importWatermark: { height: 120, round: 120, step: 'prevote' } });
    await expectCode(lifted.signGuard.signVote({ validatorId: 'val-0', height: 110, round: 110, voteType: 'prevote', blockHash: new Uint8Array(32), timestamp: 1 }), 'CONFLICT');
    expect((await lifted.signGuard.signVote({ validatorId: 'val-0', height: 121, round: 121, voteType: 'prevote', blockHash: new Uint8Array(32), timestamp: 1 })).height).toBe(121);
    await lifted.close();
    expect((await open('/r1')).status, 'the lift is durable').toBe('open');

    // --min-sign-height 120: heights up to 120 refused (any round), above allowed.
    // The node's public key given: the backup must be signed with it.
    await expectCode(restoreFromBackup({ backup: '/old', dir: '/r2', fs, publicKey: new Uint8Array(32).fill(1) }), 'CORRUPTION', /another key/);
    expect(await fs.stat('/r2')).toBeUndefined();
    const floor = await restoreFromBackup({ backup: '/old', dir: '/r2', fs, minSignHeight: 120, publicKey: publicKeyOf(NODE_KEY.privateKey) });
    expect(floor.fence).toEqual({ kind: 'floor', height: 120 });
    const s = await open('/r2');
    for (const h of [101, 115, 120]) {
      await expectCode(s.signGuard.signVote({ validatorId: 'val-0', height: h, round: 500, voteType: 'prevote', blockHash: new Uint8Array(32).fill(4), timestamp: 1 }), 'CONFLICT', /restore fence/);
    }
    expect((await s.signGuard.signVote({ validatorId: 'val-0', height: 121, round: 500, voteType: 'prevote', blockHash: new Uint8Array(32).fill(4), timestamp: 1 })).height).toBe(121);
    expect(await s.metrics()).toMatch(/cstore_signguard_prevented_signings_total\{reason="restore_fence"\} 3/);
    await s.close();
    // The floor survives a local image (the guard's image section holds it).
    const again = await open('/r2');
    await takeImage(again, false);
    await again.close();
    const imaged = await open('/r2');
    expect(imaged.replay.image.loaded).toBeDefined();
    await expectCode(imaged.signGuard.signVote({ validatorId: 'val-0', height: 120, round: 600, voteType: 'prevote', blockHash: new Uint8Array(32).fill(4), timestamp: 1 }), 'CONFLICT', /restore fence/);
    await imaged.close();
  });
});

describe('restoreFromBackup: the target and interruptions', () => {
  it('refuses a directory that is not empty, or holds an unfinished restore from a snapshot; nothing is written', async () => {
    const disk = new SimulatedDisk({ seed: 8 });
    const store = await simStore(disk, 5);
    await store.backup('/b', { includeKey: true });
    await store.close();
    const fs = disk.fs();
    await expectCode(restoreFromBackup({ backup: '/b', dir: '/node', fs }), 'INVALID_ARGUMENT', /not empty/);
    await fs.mkdir('/snap');
    const h = await fs.open('/snap/RESTORING', 'create');
    await h.writeAndSync([new TextEncoder().encode('ab12 30\n')], 0);
    await h.close();
    await expectCode(restoreFromBackup({ backup: '/b', dir: '/snap', fs }), 'INVALID_ARGUMENT', /restore from a snapshot/);
    await expectCode(restoreFromBackup({ backup: '/b', dir: '/b/inner', fs }), 'INVALID_ARGUMENT', /outside the backup/);
    await expectCode(restoreFromBackup({ backup: '/nothing', dir: '/r', fs }), 'NOT_FOUND');
    expect(await fs.stat('/r')).toBeUndefined();
  });

  it('a power cut at any I/O call of a restore leaves a directory that refuses to open or opens complete and fenced; a rerun finishes', async () => {
    const disk = new SimulatedDisk({ seed: 9 });
    const store = await simStore(disk, 40);
    const report = await store.backup('/b', { includeKey: true });
    await store.close();
    const probeFs = disk.fs();
    const before = disk.callCount;
    await restoreFromBackup({ backup: '/b', dir: '/probe', fs: probeFs });
    const total = disk.callCount - before;
    const points = Array.from({ length: total }, (_, i) => i + 1);
    console.log(`restore: ${total} I/O calls, a power cut at each`);
    let cuts = 0;
    for (const at of points) {
      const dir = `/cut-${at}`;
      const crashes = disk.stats.crashes;
      disk.crashAtCall(at);
      await restoreFromBackup({ backup: '/b', dir, fs: disk.fs() }).catch(() => undefined);
      if (disk.stats.crashes === crashes) disk.crash();
      else cuts++;
      const fs = disk.fs();
      const entries = (await fs.stat(dir)) === undefined ? [] : await fs.readdir(dir);
      if (entries.includes('RESTORING')) {
        await expectCode(openStore({ dir, fs, chainId: CHAIN, log: SMALL }), 'INVALID_ARGUMENT', /did not finish/);
      }
      if (entries.includes('RESTORING') || entries.length === 0) {
        const rerun = await restoreFromBackup({ backup: '/b', dir, fs });
        expect(rerun.restarted).toBe(entries.includes('RESTORING'));
      }
      const s = await openStore({ dir, fs, chainId: CHAIN, log: SMALL });
      expect(s.log.nextLsn, `cut at call ${at}`).toBeGreaterThan(report.lsn);
      expect(await s.votes.getVotesForRound(40), `cut at call ${at}`).toHaveLength(1);
      await s.close();
      await expectCode(openStore({ dir, fs, chainId: CHAIN, log: SMALL, signer: SIGNER }), 'FRESH_SIGN_STATE', /restored from a backup/);
    }
    expect(cuts).toBe(points.length);
  }, 300_000);
});

describe('bad input', () => {
  it('every bad argument of backup, verifyBackup and restoreFromBackup is INVALID_ARGUMENT with nothing written', async () => {
    const disk = new SimulatedDisk({ seed: 10 });
    const store = await simStore(disk, 3);
    const fs = disk.fs();
    for (const dest of ['', 5, null, undefined, 'x'.repeat(5000), 'a\0b', '/node', '/node/sub', '/']) {
      await expectCode(store.backup(dest as never), 'INVALID_ARGUMENT');
    }
    for (const options of [null, 5, { includeKey: 'yes' }, { extra: true }]) await expectCode(store.backup('/b', options as never), 'INVALID_ARGUMENT');
    await fs.mkdir('/full');
    await (await fs.open('/full/file', 'create')).close();
    await expectCode(store.backup('/full'), 'INVALID_ARGUMENT', /not an empty directory/);
    await expectCode(store.backup('/full/file'), 'INVALID_ARGUMENT', /not an empty directory/);
    expect(await fs.stat('/b')).toBeUndefined();
    await store.backup('/b');
    await store.close();
    await expectCode(store.backup('/c'), 'CLOSED');
    expect(await fs.stat('/c')).toBeUndefined();

    for (const backup of ['', 7, null]) await expectCode(verifyBackup(backup as never, { fs }), 'INVALID_ARGUMENT');
    for (const options of [null, { publicKey: 'zz' }, { publicKey: new Uint8Array(31) }, { other: 1 }]) await expectCode(verifyBackup('/b', options as never), 'INVALID_ARGUMENT');
    await expectCode(verifyBackup('/none', { fs }), 'NOT_FOUND');

    const good = { backup: '/b', dir: '/r', fs };
    const bad: Record<string, unknown>[] = [{ backup: '' }, { backup: 3 }, { dir: '' }, { dir: 4 }, { dir: '/b' }, { minSignHeight: -1 }, { minSignHeight: 1.5 }, { minSignHeight: '5' }, { publicKey: 'nothex' }, { extra: 1 }];
    for (const b of bad) await expectCode(restoreFromBackup({ ...good, ...b } as never), 'INVALID_ARGUMENT');
    await expectCode(restoreFromBackup(null as never), 'INVALID_ARGUMENT');
    expect(await fs.stat('/r')).toBeUndefined();
  });

  it('a store without a data directory rejects backup INVALID_ARGUMENT', async () => {
    const store = await openStoreOnLog(MemoryLog.open(), { chainId: CHAIN });
    await expectCode(store.backup('/x'), 'INVALID_ARGUMENT', /no data directory/);
    await store.close();
    await expectCode(noBackup()('/x'), 'INVALID_ARGUMENT', /no data directory/);
  });
});

describe('the backup\'s own error paths', () => {
  const key = { privateKey: NODE_KEY.privateKey, publicKey: publicKeyOf(NODE_KEY.privateKey) };
  const source = (fs: FileSystem, log: Log): BackupSource => ({ fs, dir: '/node', log, chainId: CHAIN, nodeKey: key, now: () => 1 });

  it('a log without segments, a log with no record, a MANIFEST gone, a damaged newest batch: refused, no trailer', async () => {
    const disk = new SimulatedDisk({ seed: 12 });
    const fs = disk.fs();
    await expectCode(takeBackup(source(fs, MemoryLog.open()), '/m'), 'INVALID_ARGUMENT', /no segmented log/);
    const empty = await openLog({ dir: '/node', fs, segmentSize: 16384 });
    await expectCode(takeBackup(source(fs, empty), '/e'), 'NOT_FOUND', /no record at LSN 0/);
    await empty.append([{ kind: 1, payload: new Uint8Array(40).fill(3) }]);
    await empty.append([{ kind: 1, payload: new Uint8Array(40).fill(4) }]);
    disk.flipBit('/node/wal/0000000000000001.wal', 32 + 24 + 5);
    await expectCode(takeBackup(source(fs, empty), '/d'), 'CORRUPTION', /0000000000000001\.wal up to LSN 2/);
    expect(await fs.stat('/d/TRAILER')).toBeUndefined();
    await fs.unlink('/node/MANIFEST');
    await expectCode(takeBackup(source(fs, empty), '/g'), 'CORRUPTION', /MANIFEST vanished/);
    await empty.close();
  });

  it('a re-signed trailer that lies about the LSN or the chain, or a node.key the chain does not name: CORRUPTION', async () => {
    const disk = new SimulatedDisk({ seed: 13 });
    const store = await simStore(disk, 5);
    await store.backup('/b', { includeKey: true });
    await store.close();
    const fs = disk.fs();
    const trailer = await readTrailer(fs, '/b');
    const resign = async (change: Partial<BackupTrailer>, signer = key): Promise<void> => {
      await fs.unlink('/b/TRAILER');
      const h = await fs.open('/b/TRAILER', 'create');
      await h.writeAndSync([encodeTrailer({ ...trailer, ...change }, signer)], 0);
      await h.close();
    };
    await resign({ lsn: trailer.lsn + 1 });
    await expectCode(verifyBackup('/b', { fs }), 'CORRUPTION', /ends at LSN .*the trailer says/);
    await resign({ chainId: 'other-chain' });
    await expectCode(verifyBackup('/b', { fs }), 'CORRUPTION', /names chain "other-chain"/);
    // Another key in node.key, the trailer re-signed with it and listing its hash.
    const other = { privateKey: new Uint8Array(32).fill(8), publicKey: publicKeyOf(new Uint8Array(32).fill(8)) };
    const keyBytes = encodeNodeKeyFile(other);
    await fs.unlink('/b/node.key');
    const k = await fs.open('/b/node.key', 'create');
    await k.writeAndSync([keyBytes], 0);
    await k.close();
    const files = trailer.files.map((f) => (f.name === 'node.key' ? { ...f, size: keyBytes.length, sha256: sha256(keyBytes) } : f));
    await resign({ files }, other);
    await expectCode(verifyBackup('/b', { fs }), 'CORRUPTION', /not the one its audit chain names.*node\.key/);
    expect((await verifyBackup('/b', { fs, publicKey: other.publicKey })).keySource, 'the operator\'s key decides').toBe('option');
  });

  it('a malformed trailer is CORRUPTION at the bad field; another format version is UNSUPPORTED_FORMAT', () => {
    const good = encodeTrailer({ lsn: 5, chainId: CHAIN, createdAt: 1, segmentSize: 16384, files: [{ name: 'MANIFEST', size: 3, sha256: new Uint8Array(32) }] }, key);
    const decodeCode = (bytes: Uint8Array): string => {
      try {
        decodeTrailer(bytes, '/b/TRAILER');
        return 'ok';
      } catch (err) {
        return `${(err as { code: string }).code} ${(err as Error).message}`;
      }
    };
    const edit = (at: number, value: number): Uint8Array => {
      const b = good.slice();
      b[at] = value;
      return b;
    };
    expect(decodeCode(good)).toBe('ok');
    expect(decodeCode(good.subarray(0, 20))).toMatch(/^CORRUPTION .*too short/);
    expect(decodeCode(edit(0, 0x41))).toMatch(/^CORRUPTION .*bad magic/);
    expect(decodeCode(edit(11, 2))).toMatch(/^UNSUPPORTED_FORMAT/);
    expect(decodeCode(edit(15, 0))).toMatch(/^CORRUPTION .*file count 0/);
    expect(decodeCode(edit(16, 0xff))).toMatch(/^CORRUPTION .*LSN exceeds/);
    expect(decodeCode(edit(37, 0xff))).toMatch(/^CORRUPTION .*chain id runs past/);
    const nameAt = 38 + CHAIN.length + 2;
    expect(decodeCode(edit(nameAt, '/'.charCodeAt(0)))).toMatch(/^CORRUPTION .*not a plain relative path/);
    expect(decodeCode(edit(nameAt - 1, 200))).toMatch(/^CORRUPTION .*runs past the listing/);
    expect(decodeCode(edit(nameAt + 10, 1))).toMatch(/^CORRUPTION .*does not match its SHA-256/);
    expect(decodeCode(new Uint8Array([...good.subarray(0, good.length - 128), 0, ...good.subarray(good.length - 128)]))).toMatch(/^CORRUPTION .*between the listing and its digest/);
    expect(() => encodeTrailer({ lsn: 5, chainId: CHAIN, createdAt: 1, segmentSize: 0, files: [{ name: '../x', size: 1, sha256: new Uint8Array(32) }] }, key)).toThrow(RangeError);
    expect(() => encodeTrailer({ lsn: 5, chainId: CHAIN, createdAt: 1, segmentSize: 0, files: [] }, key)).toThrow(RangeError);
  });

  it('restore into a path that is a file is refused', async () => {
    const disk = new SimulatedDisk({ seed: 14 });
    const store = await simStore(disk, 3);
    await store.backup('/b', { includeKey: true });
    await store.close();
    const fs = disk.fs();
    await (await fs.open('/file', 'create')).close();
    await expectCode(restoreFromBackup({ backup: '/b', dir: '/file', fs }), 'INVALID_ARGUMENT', /not a directory/);
  });
});
