/**
 * The package as a user gets it: compiled by the build (`tsconfig.build.json`) into a package
 * laid out as `npm pack` would (package.json, dist/), installed under an application's
 * node_modules, and used only through its exports map and its `cstore` bin, in child processes
 * that never see the TypeScript sources.
 */
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
let work: string;
let app: string;
let pkg: string;

function run(file: string, args: readonly string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file, ...args], { cwd, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'cstore-package-'));
  pkg = join(work, 'consensus-store');
  mkdirSync(pkg);
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], {
    cwd: ROOT,
    stdio: 'pipe',
  });
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  // The package's own dependencies, as npm would have installed them beside it.
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
  app = join(work, 'app');
  mkdirSync(join(app, 'node_modules'), { recursive: true });
  symlinkSync(pkg, join(app, 'node_modules', 'consensus-store'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', type: 'module', private: true }));
}, 120_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the built package', () => {
  it('opens a store through its exports: signs, persists a vote, and a restart with the default sign state keeps the watermark', async () => {
    const dir = join(work, 'data');
    writeFileSync(
      join(app, 'use.mjs'),
      `
      import { openStore, ConsensusStoreError } from 'consensus-store';
      const dir = ${JSON.stringify(dir)};
      const signer = { privateKey: new Uint8Array(32).fill(3), validatorId: 'v0' };
      const first = await openStore({ dir, chainId: 'pkg-chain', signer: { ...signer, state: 'new-key' } });
      const vote = await first.signGuard.signVote({ validatorId: 'v0', height: 1, round: 1, voteType: 'prevote', blockHash: new Uint8Array(32).fill(1), timestamp: 5 });
      await first.votes.appendVote(vote);
      await first.close();
      const again = await openStore({ dir, chainId: 'pkg-chain', signer });
      const votes = await again.votes.getVotesForRound(1);
      const refused = await again.signGuard.signVote({ ...vote, blockHash: new Uint8Array(32).fill(2) }).catch((e) => e);
      console.log(JSON.stringify({ votes: votes.length, watermark: again.signGuard.watermark(), refused: refused instanceof ConsensusStoreError ? refused.code : String(refused) }));
      await again.close();
      `,
    );
    const result = await run('use.mjs', [], app);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ votes: 1, watermark: { height: 1, round: 1, step: 'prevote' }, refused: 'CONFLICT' });
  });

  it('offers the subpaths: verify (offline verifiers), log (the raw WAL), testing (simulated disk, conformance suites); the root no longer hands out the raw log or crypto primitives', async () => {
    writeFileSync(
      join(app, 'subpaths.mjs'),
      `
      import * as root from 'consensus-store';
      import * as verify from 'consensus-store/verify';
      import * as log from 'consensus-store/log';
      import * as testing from 'consensus-store/testing';
      const bytes = new TextEncoder().encode('leaf');
      const leaves = [verify.merkleLeafHash(bytes), verify.merkleLeafHash(new TextEncoder().encode('other'))];
      const proof = verify.merkleInclusionProof(leaves, 1);
      console.log(JSON.stringify({
        root: ['openStore', 'ConsensusStoreError', 'voteSignBytes', 'generateNodeKey'].filter((n) => typeof root[n] === 'function'),
        rootHasNot: ['openLog', 'merkleRoot', 'SimulatedDisk', 'openStoreOnLog', 'signEd25519'].filter((n) => !(n in root)),
        verify: verify.verifyMerkleInclusion(leaves[1], 1, 2, proof, verify.merkleRoot(leaves)),
        log: typeof log.openLog,
        testing: ['SimulatedDisk', 'MemoryLog', 'openStoreOnLog', 'voteStoreConformance', 'signGuardConformance', 'recoveryConformance'].filter((n) => typeof testing[n] === 'function'),
      }));
      `,
    );
    const result = await run('subpaths.mjs', [], app);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      root: ['openStore', 'ConsensusStoreError', 'voteSignBytes', 'generateNodeKey'],
      rootHasNot: ['openLog', 'merkleRoot', 'SimulatedDisk', 'openStoreOnLog', 'signEd25519'],
      verify: true,
      log: 'function',
      testing: ['SimulatedDisk', 'MemoryLog', 'openStoreOnLog', 'voteStoreConformance', 'signGuardConformance', 'recoveryConformance'],
    });
  });

  it('has no require entry (ESM only) and names a LICENSE file that exists', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown>; license: string; files: string[]; scripts: Record<string, string> };
    expect(JSON.stringify(manifest.exports)).not.toContain('require');
    expect(manifest.license).toBe('Apache-2.0');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toContain('Apache License');
    expect(manifest.files).toContain('LICENSE');
    expect(manifest.scripts.prepare).toBe('npm run build');
  });

  it('backs up a store, verifies and restores the backup behind its fence, and rotates the node key, through the exports and the bin', async () => {
    const dir = join(work, 'ops-node');
    const dest = join(work, 'ops-backup');
    const restored = join(work, 'ops-restored');
    writeFileSync(
      join(app, 'ops.mjs'),
      `
      import { openStore, restoreFromBackup, rotateNodeKey, verifyBackup, ConsensusStoreError } from 'consensus-store';
      const signer = { privateKey: new Uint8Array(32).fill(4), validatorId: 'v0' };
      const store = await openStore({ dir: ${JSON.stringify(dir)}, chainId: 'ops-chain', signer: { ...signer, state: 'new-key' } });
      for (let h = 1; h <= 5; h++) {
        const vote = await store.signGuard.signVote({ validatorId: 'v0', height: h, round: 0, voteType: 'prevote', blockHash: new Uint8Array(32).fill(h), timestamp: h });
        await store.votes.appendVote(vote);
      }
      const backup = await store.backup(${JSON.stringify(dest)}, { includeKey: true });
      await store.close();
      const verified = await verifyBackup(${JSON.stringify(dest)});
      const report = await restoreFromBackup({ backup: ${JSON.stringify(dest)}, dir: ${JSON.stringify(restored)}, minSignHeight: 5 });
      const again = await openStore({ dir: ${JSON.stringify(restored)}, chainId: 'ops-chain', signer });
      let refused = '';
      await again.signGuard.signVote({ validatorId: 'v0', height: 5, round: 9, voteType: 'precommit', blockHash: new Uint8Array(32).fill(9), timestamp: 9 }).catch((e) => { refused = e instanceof ConsensusStoreError ? e.code : 'other'; });
      const signed = await again.signGuard.signVote({ validatorId: 'v0', height: 6, round: 0, voteType: 'prevote', blockHash: new Uint8Array(32).fill(6), timestamp: 10 });
      await again.close();
      const rotation = await rotateNodeKey({ dir: ${JSON.stringify(restored)}, chainId: 'ops-chain' });
      console.log(JSON.stringify({ lsn: backup.lsn, verifiedLsn: verified.lsn, fence: report.fence, refused, signedHeight: signed.height, rotated: rotation.newPublicKey !== rotation.oldPublicKey }));
      `,
    );
    const result = await run('ops.mjs', [], app);
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout.trim()) as { lsn: number; verifiedLsn: number; fence: { kind: string; height: number }; refused: string; signedHeight: number; rotated: boolean };
    expect(out.verifiedLsn).toBe(out.lsn);
    expect(out.fence).toEqual({ kind: 'floor', height: 5 });
    expect(out.refused).not.toBe('');
    expect(out.signedHeight).toBe(6);
    expect(out.rotated).toBe(true);
    // The bin: the backup verifies from the command line too; the restored node's chain verifies with its new key.
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const bin = join(pkg, manifest.bin.cstore!);
    const verify = await run(bin, ['backup', 'verify', dest, '--json'], app);
    expect(verify.code, verify.stderr).toBe(0);
    const chain = await run(bin, ['verify', restored, '--json'], app);
    expect(chain.code, chain.stderr + chain.stdout).toBe(0);
    for (const command of ['unsafe-repair', 'rotate-key', 'backup', 'restore']) expect((await run(bin, [command, '--help'], app)).code).toBe(0);
  });

  it('runs the cstore bin from the build', async () => {
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const bin = join(pkg, manifest.bin.cstore!);
    const help = await run(bin, ['--help'], app);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('inspect');
    const missing = await run(bin, ['inspect', join(work, 'no-such-dir')], app);
    expect(missing.code).not.toBe(0);
    expect(missing.stdout + missing.stderr).toMatch(/error [A-Z_]+: /);
  });
});
