/**
 * The read-only commands on a compacted data directory (docs/operations.md, "Bounded history and
 * the tools"), run as processes: a store with a small hot window and small segments, compacted
 * until its log starts far above LSN 1, beside a twin fed the same history that never compacted.
 * - `inspect` shows the cold tier (files, bytes, records by kind, the cut), the log's first LSN,
 *   the chain id (from the cold manifest: the log no longer holds the identity record), the
 *   image it read the state from and which key checked it (the image's own, then node.key), and
 *   the same round state and finalization as the twin;
 * - `verify` re-reads every cold file and walks the audit chain across the tiers (exit 0); a byte
 *   flipped in a cold file is CORRUPTION naming the file and offset, exit 2;
 * - `export` of votes, rewards, audit and evidence prints exactly the twin's lines, and the
 *   signed audit export is byte for byte the twin's;
 * - nothing in the directory changes, and a live node's directory (its lock held) is readable;
 * - a released log whose images are gone is CORRUPTION (exit 2);
 * - in process: the read-only cold manifest read deletes nothing and names a missing cold file,
 *   the merge of the tiers refuses a bad kind list, the read-only stores refuse to compact.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStoreError, type ErrorCode } from '../../src/errors.ts';
import { openStore } from '../../src/store.ts';
import { decodeColdManifest, readColdDirReadOnly } from '../../src/cold/cold-manifest.ts';
import { defaultFileSystem } from '../../src/io/real-fs.ts';
import { encodeNodeKeyFile } from '../../src/codec/node-key.ts';
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { coldRecordsInOrder } from '../../src/backup/tiers.ts';
import { openDir, openStores } from '../../src/cli/read-only.ts';
import { AUDIT_KEY } from '../support/store-workload.ts';
import { AUDIT_CHAIN } from '../support/audit-test-log.ts';
import { buildCompacted, compactedOptions } from '../support/compacted-store.ts';
import { cstore, hashTree } from './support/run.ts';

const BLOCKS = 50;
const root = mkdtempSync(join(tmpdir(), 'cstore-compacted-'));
const cold = join(root, 'cold-node');
const twin = join(root, 'twin-node');
const NODE_KEY_BYTES = encodeNodeKeyFile({ privateKey: AUDIT_KEY.privateKey, publicKey: publicKeyOf(AUDIT_KEY.privateKey) });

beforeAll(async () => {
  const a = await buildCompacted(cold, BLOCKS, 10);
  await a.close();
  const b = await buildCompacted(twin, BLOCKS, 0, { retention: { hotHeights: 0 } });
  await b.close();
}, 120_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function expectCode(p: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(isStoreError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
  expect((err as Error).message).toMatch(message);
}

function json(args: string[]): { status: number | null; body: Record<string, any>; stderr: string } {
  const run = cstore(args);
  return { status: run.status, body: run.stdout.length > 0 ? JSON.parse(run.stdout) : {}, stderr: run.stderr };
}

describe('inspect and verify on a compacted directory', () => {
  it('inspect shows the cold tier, the first LSN, the chain from the cold manifest, and the state the twin has', () => {
    const before = hashTree(cold);
    const manifest = decodeColdManifest(readFileSync(join(cold, 'cold', 'MANIFEST')), 'MANIFEST');
    const c = json(['inspect', cold, '--json']);
    const t = json(['inspect', twin, '--json']);
    expect(c.status, c.stderr).toBe(0);
    expect(t.status, t.stderr).toBe(0);
    expect(c.body['chainId']).toBe(AUDIT_CHAIN);
    expect(c.body['firstLsn']).toBeGreaterThan(100);
    expect(t.body['firstLsn']).toBe(1);
    expect(c.body['cold']).toEqual({
      generation: manifest.generation,
      cut: { height: BLOCKS - 5, lsn: manifest.cut.lsn },
      files: manifest.files.length,
      bytes: manifest.files.reduce((n, f) => n + f.bytes, 0),
      records: manifest.files.reduce((n, f) => n + f.records, 0),
      recordsByKind: c.body['cold'].recordsByKind,
      fileNames: manifest.files.map((f) => f.name),
    });
    // Every vote of the cold heights is in the cold tier: 8 a height, and the equivocations.
    const coldVotes = Array.from({ length: BLOCKS - 5 }, (_, h) => (h % 13 === 6 ? 9 : 8)).reduce((a, b) => a + b, 0);
    expect(c.body['cold'].recordsByKind['Vote']).toBe(coldVotes);
    expect(t.body['cold']).toBeNull();
    expect(c.body['imageLoaded'].keySource).toBe('image');
    expect(c.body['imageLoaded'].file).toMatch(/^image-\d+\.csimg$/);
    expect(t.body['imageLoaded']).toEqual({ file: null, lsn: null, keySource: 'none' });
    for (const field of ['roundState', 'finalized', 'earliestOpenRound', 'seenLsn']) expect(c.body[field], field).toEqual(t.body[field]);
    expect(c.body['finalized']).toEqual({ height: BLOCKS - 1, round: BLOCKS - 1 });
    const text = cstore(['inspect', cold]);
    expect(text.stdout).toContain(`cold tier: ${manifest.files.length} file(s), ${c.body['cold'].bytes} bytes, ${c.body['cold'].records} records, cut at height ${BLOCKS - 5} / LSN ${manifest.cut.lsn}`);
    expect(text.stdout).toContain(`the hot log starts at LSN ${c.body['firstLsn']}`);
    expect(text.stdout).toContain('checked with the key from image');
    expect(hashTree(cold)).toEqual(before);
  }, 120_000);

  it('with node.key beside it, the image is checked with that key, and inspect says so', () => {
    const copy = join(root, 'with-key');
    cpSync(cold, copy, { recursive: true });
    writeFileSync(join(copy, 'node.key'), NODE_KEY_BYTES, { mode: 0o600 });
    const c = json(['inspect', copy, '--json']);
    expect(c.status, c.stderr).toBe(0);
    expect(c.body['imageLoaded'].keySource).toBe('node.key');
  }, 60_000);

  it('verify re-reads every cold file and walks the audit chain across the tiers: exit 0, as the twin', () => {
    const manifest = decodeColdManifest(readFileSync(join(cold, 'cold', 'MANIFEST')), 'MANIFEST');
    const c = json(['verify', cold, '--json', '--chain-id', AUDIT_CHAIN]);
    const t = json(['verify', twin, '--json', '--chain-id', AUDIT_CHAIN]);
    expect(c.status, c.stderr).toBe(0);
    expect(c.body['ok']).toBe(true);
    expect(c.body['cold']).toEqual({ files: manifest.files.length, blocks: c.body['cold'].blocks, records: manifest.files.reduce((n, f) => n + f.records, 0), bytes: manifest.files.reduce((n, f) => n + f.bytes, 0), cut: { height: manifest.cut.height, lsn: manifest.cut.lsn } });
    expect(c.body['cold'].blocks).toBeGreaterThanOrEqual(manifest.files.length);
    expect(c.body['audit']).toEqual({ ...t.body['audit'] });
    expect(c.body['audit'].ok).toBe(true);
    expect(c.body['audit'].keySource).toBe('chain');
    expect(c.body['recovery'].ok).toBe(true);
    expect(cstore(['verify', cold]).stdout).toContain(`cold tier: ok (${manifest.files.length} file(s)`);
  }, 120_000);

  it('a byte flipped in a cold file: verify reports CORRUPTION naming the file and offset, exit 2', () => {
    const copy = join(root, 'flipped');
    cpSync(cold, copy, { recursive: true });
    const manifest = decodeColdManifest(readFileSync(join(copy, 'cold', 'MANIFEST')), 'MANIFEST');
    const name = manifest.files[0]!.name;
    const path = join(copy, 'cold', name);
    const bytes = readFileSync(path);
    bytes[60] = (bytes[60] as number) ^ 0x40;
    writeFileSync(path, bytes);
    const v = json(['verify', copy, '--json']);
    expect(v.status).toBe(2);
    expect(v.body['ok']).toBe(false);
    expect(v.body['corruption'].file).toBe(path);
    expect(typeof v.body['corruption'].offset).toBe('number');
  }, 60_000);

  it('a released log whose images are gone: inspect fails with CORRUPTION, exit 2', () => {
    const copy = join(root, 'no-images');
    cpSync(cold, copy, { recursive: true });
    rmSync(join(copy, 'images'), { recursive: true });
    const run = cstore(['inspect', copy]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/error CORRUPTION: .*the log starts at LSN \d+ .*no local image loads/);
  }, 60_000);

  it('sign-state show says the log was released (its older signatures are not listed)', () => {
    const firstLsn = json(['inspect', cold, '--json']).body['firstLsn'] as number;
    const run = cstore(['sign-state', 'show', cold]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`note: the log starts at LSN ${firstLsn} (older segments released after a compaction)`);
    expect(cstore(['sign-state', 'show', twin]).stdout).not.toContain('note: the log starts');
  }, 60_000);

  it('reads a live node\'s directory (its lock held) and changes nothing', async () => {
    const live = await openStore(compactedOptions(cold));
    try {
      const before = hashTree(cold);
      const c = json(['inspect', cold, '--json']);
      expect(c.status, c.stderr).toBe(0);
      expect(c.body['finalized']).toEqual({ height: BLOCKS - 1, round: BLOCKS - 1 });
      expect(hashTree(cold)).toEqual(before);
    } finally {
      await live.close();
    }
  }, 60_000);
});

describe('export on a compacted directory', () => {
  it('votes, rewards, audit and evidence: exactly the twin\'s lines, in LSN order across the tiers', () => {
    for (const kind of ['votes', 'rewards', 'audit', 'evidence']) {
      const c = cstore(['export', kind, cold]);
      const t = cstore(['export', kind, twin]);
      expect(c.status, c.stderr).toBe(0);
      expect(t.status).toBe(0);
      const lines = c.stdout.trim().split('\n');
      expect(lines.length, kind).toBeGreaterThan(kind === 'evidence' ? 2 : 20);
      expect(c.stdout, kind).toBe(t.stdout);
      const lsns = lines.map((l) => (JSON.parse(l) as { lsn: number }).lsn);
      expect(lsns, kind).toEqual([...lsns].sort((a, b) => a - b));
    }
    const from = cstore(['export', 'votes', cold, '--from-height', '3', '--to-height', '7']);
    expect(from.stdout).toBe(cstore(['export', 'votes', twin, '--from-height', '3', '--to-height', '7']).stdout);
    expect(from.stdout.trim().split('\n').length).toBe(5 * 8 + 1);
  }, 180_000);

  it('audit --format signed: byte for byte the twin\'s export', () => {
    const c = join(root, 'signed-cold');
    const t = join(root, 'signed-twin');
    cpSync(cold, c, { recursive: true });
    cpSync(twin, t, { recursive: true });
    writeFileSync(join(c, 'node.key'), NODE_KEY_BYTES, { mode: 0o600 });
    writeFileSync(join(t, 'node.key'), NODE_KEY_BYTES, { mode: 0o600 });
    const a = cstore(['export', 'audit', c, '--format', 'signed', '--out', join(root, 'a.jsonl')]);
    const b = cstore(['export', 'audit', t, '--format', 'signed', '--out', join(root, 'b.jsonl')]);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    expect(readFileSync(join(root, 'a.jsonl')).equals(readFileSync(join(root, 'b.jsonl')))).toBe(true);
  }, 60_000);
});

describe('cstore backup of a compacted directory', () => {
  it('backs up the stopped directory with its cold tier; backup verify: exit 0, the chain from the cold manifest; a restore answers as the source', () => {
    const copy = join(root, 'offline');
    cpSync(cold, copy, { recursive: true });
    writeFileSync(join(copy, 'node.key'), NODE_KEY_BYTES, { mode: 0o600 });
    const dest = join(root, 'offline-backup');
    const b = json(['backup', copy, dest, '--json']);
    expect(b.status, b.stderr).toBe(0);
    const manifest = decodeColdManifest(readFileSync(join(copy, 'cold', 'MANIFEST')), 'MANIFEST');
    expect(b.body['cold']).toEqual({ cut: { height: manifest.cut.height, lsn: manifest.cut.lsn }, files: manifest.files.length });
    const v = json(['backup', 'verify', dest, '--json']);
    expect(v.status, v.stderr).toBe(0);
    expect(v.body['chainId']).toBe(AUDIT_CHAIN);
    const restored = join(root, 'offline-restored');
    const r = cstore(['restore', dest, restored, '--min-sign-height', '100000']);
    expect(r.status, r.stderr).toBe(0);
    for (const kind of ['votes', 'rewards', 'audit']) expect(cstore(['export', kind, restored]).stdout, kind).toBe(cstore(['export', kind, twin]).stdout);
  }, 180_000);
});

describe('the read-only parts, in process', () => {
  it('readColdDirReadOnly deletes nothing, names a missing cold file, and checks its arguments', async () => {
    const fs = defaultFileSystem();
    const copy = join(root, 'leftover');
    cpSync(cold, copy, { recursive: true });
    writeFileSync(join(copy, 'cold', 'votes-9999.cold.tmp'), 'left by a crash');
    const m = await readColdDirReadOnly(fs, copy);
    expect(m?.generation).toBe(decodeColdManifest(readFileSync(join(copy, 'cold', 'MANIFEST')), 'MANIFEST').generation);
    expect(readdirSync(join(copy, 'cold'))).toContain('votes-9999.cold.tmp');
    expect(await readColdDirReadOnly(fs, twin)).toBeUndefined();
    const name = m!.files[1]!.name;
    rmSync(join(copy, 'cold', name));
    await expectCode(readColdDirReadOnly(fs, copy), 'CORRUPTION', new RegExp(`lists ${name} but it is missing`));
    await expectCode(readColdDirReadOnly(fs, ''), 'INVALID_ARGUMENT', /storeDir/);
    await expectCode(readColdDirReadOnly({} as never, copy), 'INVALID_ARGUMENT', /fs/);
  });

  it('the merge of the tiers refuses a bad kind list; the read-only stores refuse to compact', async () => {
    const opened = await openDir(cold);
    const { store, imageKeySource } = await openStores(opened);
    try {
      expect(imageKeySource).toBe('image');
      await expectCode((async () => { for await (const _ of coldRecordsInOrder(opened.coldTier!, [])) break; })(), 'INVALID_ARGUMENT', /kinds/);
      await expectCode(store.compact(), 'INVALID_ARGUMENT', /no cold tier|nothing to compact/);
      expect(await store.votes.getLastFinalized()).toEqual(expect.objectContaining({ height: BLOCKS - 1 }));
    } finally {
      await store.close();
    }
  }, 60_000);
});
