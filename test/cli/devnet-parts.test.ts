// The devnet's parts that need no validator process: chaos counts a validator that is still
// starting as down (with f = 1 a second one was killed while the first recovered); the status
// counts the run's heights from the highest recovered height, not from a lagging validator's;
// the verdict's liveness line never shows a negative duration; genesis.json, which holds private
// keys, is written 0600, and a looser one from an earlier run is rewritten so.
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChaosSchedule, type NodeState } from '../../src/cli/devnet-chaos.ts';
import { genesisPath, loadOrCreateGenesis, readGenesis } from '../../src/cli/devnet-genesis.ts';
import { DevnetStatus } from '../../src/cli/devnet-status.ts';
import { formatVerdict, type DevnetVerdict } from '../../src/cli/devnet-verdict.ts';

const root = mkdtempSync(join(tmpdir(), 'cstore-devnet-parts-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function states(entries: Record<string, NodeState>): Map<string, NodeState> {
  return new Map(Object.entries(entries));
}

describe('the chaos schedule', () => {
  it('kills nobody while a validator is still starting, with f = 1 of 4: the starting one is down', () => {
    const seed = 42;
    const chaos = new ChaosSchedule(seed, 4, 0);
    for (let i = 0; i < 50; i++) expect(chaos.nextKill(states({ v0: 'starting', v1: 'up', v2: 'up', v3: 'up' })), `seed ${seed} kill ${i}`).toBeUndefined();
    expect(chaos.nextKill(states({ v0: 'down', v1: 'up', v2: 'up', v3: 'up' }))).toBeUndefined();
  });

  it('kills one of the validators that are up once every one is up, never a starting one', () => {
    const seed = 7;
    const chaos = new ChaosSchedule(seed, 7, 0);
    for (let i = 0; i < 200; i++) {
      const kill = chaos.nextKill(states({ v0: 'starting', v1: 'up', v2: 'up', v3: 'up', v4: 'up', v5: 'up', v6: 'up' }));
      expect(kill?.id, `seed ${seed} kill ${i}`).toMatch(/^v[1-6]$/);
    }
    expect(chaos.nextKill(states({ v0: 'starting', v1: 'down', v2: 'up', v3: 'up', v4: 'up', v5: 'up', v6: 'up' }))).toBeUndefined();
  });
});

describe('the status', () => {
  it('counts the heights of the run from the highest height a validator recovered on its first start, not the lagging one', () => {
    const status = new DevnetStatus(['v0', 'v1', 'v2', 'v3'], 0);
    status.nodeUp('v0', 15);
    status.nodeUp('v1', 110);
    status.nodeUp('v2', 110);
    status.nodeUp('v3', 108);
    expect(status.heightsThisRun).toBe(0);
    status.nodeDown('v1');
    status.nodeUp('v1', 112);
    status.maxFinalized = 113;
    expect(status.heightsThisRun).toBe(4);
  });
});

describe('the verdict text', () => {
  const verdict: DevnetVerdict = {
    safe: true,
    live: true,
    liveness: [],
    forks: [],
    honestDoubleSigns: [],
    honestAccused: [],
    finalizedHeight: 109,
    heightsPerSec: 0,
    accountability: [],
    perNode: [],
  };

  it('says nothing was measured when no validator was ready before the stop, never a negative duration', () => {
    const text = formatVerdict(verdict, 0, 0);
    expect(text).toContain('liveness: no validator was ready before the stop');
    expect(text).not.toMatch(/-\d/);
    expect(text.trim().split('\n').at(-1)).toBe('SAFE');
  });

  it('names the honest validator that stopped finalizing and does not end with a plain SAFE', () => {
    const stuck = { node: 'v0', judged: true, live: false, finalized: 14, expected: 37, why: 'finalized 14, the network had 37 5 s before the stop' };
    const text = formatVerdict({ ...verdict, live: false, liveness: [stuck] }, 20, 6);
    expect(text).toMatch(/^FAIL liveness: /m);
    expect(text).toContain('stuck: v0 finalized 14, the network had 37');
    expect(text.trim().split('\n').at(-1)).toBe('SAFE, NOT LIVE: v0 stopped finalizing');
  });
});

describe('genesis.json', () => {
  it('is created readable by its owner only (it holds private keys)', async () => {
    const dir = join(root, 'new');
    await loadOrCreateGenesis(dir, 4, []);
    expect(statSync(genesisPath(dir)).mode & 0o777).toBe(0o600);
  });

  it('written 0644 by an earlier version, is rewritten 0600 with the same keys on the next run', async () => {
    const dir = join(root, 'loose');
    const { genesis } = await loadOrCreateGenesis(dir, 4, []);
    chmodSync(genesisPath(dir), 0o644);
    writeFileSync(`${genesisPath(dir)}.tmp`, 'left by a crash');
    chmodSync(`${genesisPath(dir)}.tmp`, 0o644);
    await loadOrCreateGenesis(dir, 4, []);
    expect(statSync(genesisPath(dir)).mode & 0o777).toBe(0o600);
    expect((await readGenesis(dir))?.validators.map((v) => Buffer.from(v.privateKey).toString('hex'))).toEqual(
      genesis.validators.map((v) => Buffer.from(v.privateKey).toString('hex')),
    );
  });
});
