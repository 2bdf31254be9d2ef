// The devnet as an operator runs it, as processes. On the stall directory of 20feb4d (v0 stuck
// at height 14 behind an equivocator's twin, the others at 37): the verdict names v0 as stuck;
// a run catches v0 up by certificate and the verdict's liveness holds; a 2-second run on that
// existing directory stops its validators while they are still opening their stores (no
// SIGKILL after the grace period) and prints no negative duration. On a new directory: Ctrl-C
// (SIGINT to the whole process group, as a terminal sends it) prints the verdict and exits 0; an
// equivocator with chaos is removed from the set at one height on every honest node.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGenesis } from '../../src/cli/devnet-genesis.ts';
import { computeVerdict, formatVerdict, type NodeAtStop } from '../../src/cli/devnet-verdict.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/devnet-stall-20feb4d/devnet-stall.tgz', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'cstore-devnet-run-'));
const stallDir = join(root, 'devnet-stall');
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  /** When each line of stdout arrived, ms after the start. */
  readonly at: (pattern: RegExp) => number | undefined;
}

/**
 * Runs `cstore devnet <args>` as a process in its own process group; `interrupt` sends SIGINT to
 * the group once stdout matches it (a terminal's Ctrl-C).
 */
function devnet(args: readonly string[], interrupt?: RegExp): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'devnet', '--plain', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  const lines: { at: number; line: string }[] = [];
  let interrupted = false;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const line of chunk.toString().split('\n')) lines.push({ at: Date.now() - started, line });
    if (interrupt !== undefined && !interrupted && interrupt.test(stdout)) {
      interrupted = true;
      process.kill(-(child.pid as number), 'SIGINT');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => void (stdout += chunk.toString()));
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, at: (p) => lines.find((l) => p.test(l.line))?.at }));
  });
}

/** `node -> finalized height` from the verdict's per-node line. */
function finalizedPerNode(stdout: string): Map<string, number> {
  const line = /per node: (.*)/.exec(stdout)?.[1] ?? '';
  return new Map([...line.matchAll(/(v\d+) finalized (\d+)/g)].map((m) => [m[1] as string, Number(m[2])]));
}

describe('the stall directory of 20feb4d', () => {
  beforeAll(() => {
    const tar = spawnSync('tar', ['-xzf', FIXTURE, '-C', root], { encoding: 'utf8' });
    expect(tar.status, tar.stderr).toBe(0);
  }, 60_000);

  it('as it is, the verdict names v0 as stuck at 14 (the network had 37) and does not say SAFE alone', async () => {
    const genesis = await readGenesis(stallDir);
    if (genesis === undefined) throw new Error('no genesis in the fixture');
    const nodes = new Map<string, NodeAtStop>(genesis.validators.map((v) => [v.validatorId, { state: 'up', upSince: 0 }]));
    const verdict = await computeVerdict(stallDir, genesis, { elapsedSec: 20, heightsThisRun: 0, stoppedAt: Date.now(), nodes });
    expect(verdict.safe).toBe(true);
    expect(verdict.live).toBe(false);
    expect(verdict.liveness.filter((n) => !n.live).map((n) => n.node)).toEqual(['v0']);
    expect(verdict.liveness.find((n) => n.node === 'v0')).toMatchObject({ finalized: 14, expected: 37 });
    expect(verdict.liveness.map((n) => n.node)).not.toContain('v3');
    const text = formatVerdict(verdict, 0, 20);
    expect(text).toContain('stuck: v0 finalized 14, the network had 37');
    expect(text.trim().split('\n').at(-1)).toBe('SAFE, NOT LIVE: v0 stopped finalizing');
  }, 60_000);

  it('a run catches v0 up by certificate: every node past 37, the liveness check holds, SAFE, exit 0', async () => {
    const run = await devnet(['--dir', stallDir, '--blocks', '15', '--duration', '90']);
    const heights = finalizedPerNode(run.stdout);
    expect(heights.get('v0'), run.stdout).toBeGreaterThan(37);
    expect(Math.max(...heights.values()) - (heights.get('v0') ?? 0), run.stdout).toBeLessThan(10);
    expect(run.stdout).toMatch(/^OK {3}liveness: every honest validator/m);
    expect(run.stdout.trim().split('\n').at(-1)).toBe('SAFE');
    expect(run.code).toBe(0);
  }, 150_000);

  it('a 2-second run on it stops validators that are still opening their stores at once, and prints no negative duration', async () => {
    const run = await devnet(['--dir', stallDir, '--duration', '2']);
    const stopping = run.at(/^stopping validators/);
    const stopped = /validators stopped in ([\d.]+) s/.exec(run.stdout);
    expect(stopping, run.stdout).toBeDefined();
    expect(run.stdout).not.toContain('did not stop');
    expect(Number(stopped?.[1]), run.stdout).toBeLessThan(8);
    expect(run.stdout).not.toMatch(/liveness: .*-\d/);
    expect(run.code, run.stdout).toBe(0);
  }, 90_000);
});

describe('an equivocator among four, with chaos (docs/devnet.md, "Validator-set changes")', () => {
  it('is removed from the set at the same height on every honest node, chaos pauses with the three left, no fork, the honest validators stay live', async () => {
    const run = await devnet(['--dir', join(root, 'byzantine'), '--chaos', '--byzantine', '1', '--seed', '7', '--blocks', '40', '--duration', '120']);
    expect(run.stdout).toMatch(/^OK {3}safety: no two different blocks finalized at one height/m);
    expect(run.stdout).toMatch(/^OK {3}no honest validator was slashed on any node/m);
    expect(run.stdout).toMatch(/^OK {3}every honest node removed each byzantine validator from the set at the same height/m);
    const removals = [...run.stdout.matchAll(/ (v\d) on v3: .* removed at height (\d+) \(decided in block (\d+)\)/g)];
    expect(removals.map((m) => m[1]), run.stdout).toEqual(['v0', 'v1', 'v2']);
    expect(new Set(removals.map((m) => m[2])).size, run.stdout).toBe(1);
    expect(removals.map((m) => Number(m[2]) - Number(m[3]))).toEqual([2, 2, 2]);
    expect(run.stdout).toMatch(/chaos paused: the validator set at height \d+ is v0 v1 v2 \(v3 removed\)/);
    expect(run.stdout).toMatch(/^OK {3}liveness: every honest validator/m);
    expect(run.stdout.trim().split('\n').at(-1), run.stdout).toBe('SAFE');
    expect(run.code).toBe(0);
  }, 180_000);
});

describe('Ctrl-C', () => {
  it('stops every validator, prints the verdict and exits 0 when safety and liveness hold', async () => {
    const run = await devnet(['--dir', join(root, 'interrupted'), '--duration', '0'], /\| v0:[1-9]\d* v1:[1-9]\d* v2:[1-9]\d* v3:[1-9]/);
    expect(run.stdout).toContain('== verdict ==');
    expect(run.stdout.trim().split('\n').at(-1), run.stdout).toBe('SAFE');
    expect(run.stdout).not.toContain('exited unexpectedly');
    expect(run.signal).toBeNull();
    expect(run.code).toBe(0);
  }, 120_000);
});
