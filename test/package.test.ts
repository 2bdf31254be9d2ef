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
