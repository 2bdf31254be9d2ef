// `cstore backup`, `cstore backup verify` and `cstore restore` as processes: a stopped
// directory is backed up under its lock (the output says so), a running node's directory is
// refused with LOCKED and the way to back it up online; verify exits 0 on a sound backup and 2
// naming the file on a damaged one (--json too); restore refuses a directory that is not empty,
// writes the fence, and sign-state import or --min-sign-height lift it; usage errors exit 64.
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStoreError } from '../../src/errors.ts';
import { toHex } from '../../src/codec/bytes.ts';
import { signVote } from '../../src/codec/vote-sign.ts';
import { openStore } from '../../src/store.ts';
import { openLog } from '../../src/log/wal.ts';
import { encodeNodeKeyFile } from '../../src/codec/node-key.ts';
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { cstore } from './support/run.ts';

const root = mkdtempSync(join(tmpdir(), 'cstore-backup-cli-'));
const chainId = 'backup-cli-chain';
const privateKey = new Uint8Array(32).fill(12);
const signer = { privateKey, validatorId: 'v0' };
const node = join(root, 'node');
const keyFile = join(root, 'validator.key');
const hash = new Uint8Array(32).fill(1);

beforeAll(async () => {
  writeFileSync(keyFile, `${toHex(privateKey)}\n`);
  // Fake signatures (the command line is under test, not signatures): stored unverified.
  const store = await openStore({ dir: node, chainId, voteVerification: 'off', log: { segmentSize: 16384 }, signer: { ...signer, state: 'new-key' } });
  const template = signVote({ validatorId: 'val-1', height: 1, round: 1, voteType: 'prevote', blockHash: hash, timestamp: 1 }, privateKey, chainId);
  for (let r = 1; r <= 300; r++) await store.votes.appendVote({ ...template, height: r, round: r });
  for (let h = 1; h <= 5; h++) await store.signGuard.signVote({ validatorId: 'v0', height: h, round: h, voteType: 'prevote', blockHash: hash, timestamp: h });
  await store.close();
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('cstore backup', () => {
  it('backs up a stopped directory under its lock and says so; --json has the stable fields', () => {
    const run = cstore(['backup', node, join(root, 'b1')]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/complete \(trailer written\)/);
    expect(run.stdout).toMatch(/offline: cstore held the stopped directory's lock/);
    expect(run.stdout).toMatch(/node key not included/);
    const json = cstore(['backup', node, join(root, 'b2'), '--include-key', '--json']);
    expect(json.status, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({ dir: node, mode: 'offline', chainId, includesKey: true });
    expect(doc['lsn']).toBeGreaterThan(300);
    expect((doc['files'] as { name: string }[]).map((f) => f.name)).toEqual(expect.arrayContaining(['MANIFEST', 'SIGNSTATE', 'node.key', 'wal/0000000000000001.wal']));
  });

  it('refuses a running node\'s directory with LOCKED (exit 75) and tells how to back it up online', async () => {
    const store = await openStore({ dir: node, chainId });
    try {
      const run = cstore(['backup', node, join(root, 'locked')]);
      expect(run.status).toBe(75);
      expect(run.stderr).toMatch(/^error LOCKED: .*running node.*store\.backup\(dest.*or stop the node/);
      const online = await store.backup(join(root, 'online'));
      expect(cstore(['backup', 'verify', join(root, 'online')]).status).toBe(0);
      expect(online.lsn).toBeGreaterThan(300);
    } finally {
      await store.close();
    }
  });

  it('verify: exit 0 on a sound backup; exit 2 naming the file on a damaged one, with --json', () => {
    const dest = join(root, 'b3');
    expect(cstore(['backup', node, dest]).status).toBe(0);
    const ok = cstore(['backup', 'verify', dest]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/sound/);
    expect(ok.stdout).toMatch(/key from chain/);
    const okJson = JSON.parse(cstore(['backup', 'verify', dest, '--json']).stdout) as Record<string, unknown>;
    expect(okJson).toMatchObject({ ok: true, exitCode: 0, corruption: null, chainId, keySource: 'chain' });
    const segment = join(dest, 'wal', '0000000000000001.wal');
    const bytes = readFileSync(segment);
    bytes[200] = (bytes[200] as number) ^ 0x10;
    // A new file renamed over it: the segment is a hard link to the node's own (and to the other
    // backups'), and a write in place would damage them all (docs/operations.md).
    writeFileSync(`${segment}.new`, bytes);
    renameSync(`${segment}.new`, segment);
    const bad = cstore(['backup', 'verify', dest]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^error CORRUPTION: .*wal\/0000000000000001\.wal/);
    const badJson = cstore(['backup', 'verify', dest, '--json']);
    expect(badJson.status).toBe(2);
    expect(JSON.parse(badJson.stdout)).toMatchObject({ ok: false, exitCode: 2, corruption: { file: segment } });
    const restore = cstore(['restore', dest, join(root, 'from-bad')]);
    expect(restore.status).toBe(2);
    expect(restore.stderr).toMatch(/0000000000000001\.wal/);
    expect(cstore(['backup', 'verify', join(root, 'b1'), '--public-key', '00'.repeat(32)]).status).toBe(2);
  });
});

describe('cstore restore', () => {
  it('refuses a directory that is not empty; restores behind the fence; sign-state import lifts it', async () => {
    const refused = cstore(['restore', join(root, 'b1'), node]);
    expect(refused.status).toBe(64);
    expect(refused.stderr).toMatch(/^error INVALID_ARGUMENT: .*not empty/);
    const dir = join(root, 'r1');
    const run = cstore(['restore', join(root, 'b1'), dir]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/signs NOTHING until/);
    expect(run.stdout).toMatch(/holds no node key/);
    writeFileSync(join(dir, 'node.key'), readFileSync(join(node, 'node.key')), { mode: 0o600 });
    const err = await openStore({ dir, chainId, signer }).then(() => undefined, (e: unknown) => e);
    expect(isStoreError(err, 'FRESH_SIGN_STATE')).toBe(true);
    writeFileSync(join(root, 'wm.json'), JSON.stringify({ metadata: { interchange_format: 'cstore-sign-state', interchange_format_version: '1', chain_id: chainId }, data: [{ pubkey: toHex(publicKeyOf(privateKey)), watermark: { height: '50', round: '50', step: 'precommit' } }] }));
    const imported = cstore(['sign-state', 'import', dir, join(root, 'wm.json'), '--key-file', keyFile, '--validator-id', 'v0']);
    expect(imported.status, imported.stderr).toBe(0);
    const store = await openStore({ dir, chainId, signer });
    await expect(store.signGuard.signVote({ validatorId: 'v0', height: 50, round: 50, voteType: 'precommit', blockHash: hash, timestamp: 9 })).rejects.toThrow(/refused/);
    expect((await store.signGuard.signVote({ validatorId: 'v0', height: 51, round: 51, voteType: 'prevote', blockHash: hash, timestamp: 9 })).height).toBe(51);
    await store.close();
  });

  it('--min-sign-height H: nothing at or below H, above allowed; --json', async () => {
    const dir = join(root, 'r2');
    const run = cstore(['restore', join(root, 'b2'), dir, '--min-sign-height', '40', '--json']);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ dir, chainId, fence: { kind: 'floor', height: 40 }, includesKey: true, restarted: false });
    const store = await openStore({ dir, chainId, signer });
    await expect(store.signGuard.signVote({ validatorId: 'v0', height: 40, round: 99, voteType: 'prevote', blockHash: hash, timestamp: 9 })).rejects.toThrow(/restore fence/);
    expect((await store.signGuard.signVote({ validatorId: 'v0', height: 41, round: 99, voteType: 'prevote', blockHash: hash, timestamp: 9 })).height).toBe(41);
    await store.close();
  });

  it('usage errors exit 64; a missing directory or backup exits 66', () => {
    const keyless = join(root, 'keyless');
    cpSync(node, keyless, { recursive: true });
    rmSync(join(keyless, 'node.key'));
    const cases: [string[], number, RegExp][] = [
      [['backup'], 64, /wrong arguments/],
      [['backup', node], 64, /wrong arguments/],
      [['backup', node, 'a', 'b'], 64, /wrong arguments/],
      [['backup', node, join(root, 'x'), '--bogus'], 64, /--bogus/],
      [['backup', node, join(root, 'x'), '--public-key', 'ab'], 64, /backup verify/],
      [['backup', 'verify'], 64, /wrong arguments/],
      [['backup', 'verify', join(root, 'b1'), '--include-key'], 64, /--public-key and --json only/],
      [['backup', 'verify', join(root, 'b1'), '--public-key', 'xyz'], 64, /publicKey/],
      [['restore', join(root, 'b1')], 64, /wrong arguments/],
      [['restore', join(root, 'b1'), join(root, 'r9'), '--min-sign-height', 'abc'], 64, /must be a number/],
      [['restore', join(root, 'b1'), join(root, 'r9'), '--min-sign-height', '-3'], 64, /minSignHeight/],
      [['backup', node, join(root, 'b1')], 64, /not an empty directory/],
      [['backup', join(root, 'nope'), join(root, 'x')], 66, /no such directory/],
      [['backup', 'verify', join(root, 'nope')], 66, /not a backup/],
      [['restore', join(root, 'nope'), join(root, 'r9')], 66, /not a backup/],
      [['backup', node, join(root, 'x'), '--chain-id', 'other'], 3, /WRONG_CHAIN/],
      [['backup', keyless, join(root, 'x')], 64, /holds no node\.key/],
    ];
    for (const [args, status, message] of cases) {
      const run = cstore(args);
      expect(run.status, `${args.join(' ')}: ${run.stderr}`).toBe(status);
      expect(run.stderr, args.join(' ')).toMatch(message);
      expect(run.stderr.split('\n').filter((l) => l.length > 0), 'one line').toHaveLength(1);
    }
    expect(cstore(['backup', '--help']).stdout).toMatch(/cstore backup verify <dest>/);
  });

  it('a directory that records no chain id needs --chain-id', async () => {
    const bare = join(root, 'bare');
    await (await openLog({ dir: bare })).close();
    writeFileSync(join(bare, 'node.key'), encodeNodeKeyFile({ privateKey, publicKey: publicKeyOf(privateKey) }), { mode: 0o600 });
    const refused = cstore(['backup', bare, join(root, 'bare-b')]);
    expect(refused.status).toBe(64);
    expect(refused.stderr).toMatch(/records no chain id: give --chain-id/);
    const run = cstore(['backup', bare, join(root, 'bare-b'), '--chain-id', chainId, '--json']);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ chainId, mode: 'offline' });
    expect(cstore(['--help']).stdout).toMatch(/backup .*\n.*restore /);
  });
});
