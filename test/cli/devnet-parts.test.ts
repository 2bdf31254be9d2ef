// The devnet's parts that need no validator process: chaos counts a validator that is still
// starting as down (with f = 1 a second one was killed while the first recovered); the status
// counts the run's heights from the highest recovered height, not from a lagging validator's;
// the verdict's liveness line never shows a negative duration; genesis.json, which holds private
// keys, is written 0600, and a looser one from an earlier run is rewritten so.
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChaosSchedule, maxDownOf, type NodeState } from '../../src/cli/devnet-chaos.ts';
import { genesisPath, loadOrCreateGenesis, readGenesis } from '../../src/cli/devnet-genesis.ts';
import { DevnetStatus } from '../../src/cli/devnet-status.ts';
import { formatVerdict, removalDisagreementsOf, type AccountabilityRow, type DevnetVerdict } from '../../src/cli/devnet-verdict.ts';

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

describe('the chaos schedule after a byzantine validator is removed from the set', () => {
  it('kills one of four while the byzantine one is in the set; with the three left (f = 0) it pauses and kills nobody', () => {
    const chaos = new ChaosSchedule(3, 4, 1);
    const all = states({ v0: 'up', v1: 'up', v2: 'up', v3: 'up' });
    expect(chaos.maxDown).toBe(1);
    expect(chaos.nextKill(all)).toBeDefined();
    expect(chaos.setChanged({ size: 4, byzantine: 1 })).toBe(false);
    expect(chaos.setChanged({ size: 3, byzantine: 0 })).toBe(true);
    expect(chaos.maxDown).toBe(0);
    for (let i = 0; i < 50; i++) expect(chaos.nextKill(all), `kill ${i}`).toBeUndefined();
  });

  it('follows f of the set as it is: 7 with one byzantine, 6 after its removal, 4 honest, 1 alone', () => {
    expect(maxDownOf({ size: 7, byzantine: 1 })).toBe(1);
    expect(maxDownOf({ size: 7, byzantine: 2 })).toBe(1);
    expect(maxDownOf({ size: 6, byzantine: 0 })).toBe(1);
    expect(maxDownOf({ size: 4, byzantine: 0 })).toBe(1);
    expect(maxDownOf({ size: 1, byzantine: 0 })).toBe(0);
  });
});

describe('the byzantine validator\'s removal in the verdict', () => {
  const row = (node: string, removedAt: number | undefined, finalized: number): AccountabilityRow => ({
    node,
    validatorId: 'v3',
    verifiedConflicts: 5,
    slashes: removedAt === undefined ? 0 : 1,
    status: removedAt === undefined ? 'active' : 'tombstoned',
    finalized,
    ...(removedAt === undefined ? {} : { removedAt, decidedAt: removedAt - 2 }),
  });
  const byzantine = new Set(['v3']);
  const verdict: DevnetVerdict = { safe: true, live: true, liveness: [], forks: [], honestDoubleSigns: [], honestAccused: [], finalizedHeight: 41, heightsPerSec: 0, accountability: [], removalDisagreements: [], perNode: [] };

  it('agrees when every honest node removed it at one height, or has not finalized the deciding block yet', () => {
    expect(removalDisagreementsOf([row('v0', 9, 40), row('v1', 9, 41), row('v2', undefined, 6)], byzantine)).toEqual([]);
    expect(removalDisagreementsOf([row('v0', undefined, 40), row('v1', undefined, 41)], byzantine)).toEqual([]);
  });

  it('names two removal heights, and an honest node that finalized the deciding block without the removal', () => {
    expect(removalDisagreementsOf([row('v0', 9, 40), row('v1', 12, 41)], byzantine)).toEqual(['v3: v0 at 9, v1 at 12']);
    expect(removalDisagreementsOf([row('v0', 9, 40), row('v1', undefined, 7)], byzantine)).toEqual(['v3: v0 at 9, v1 none (finalized 7)']);
  });

  it('prints the removal height per node, and a disagreement makes the run UNSAFE', () => {
    const rows = [row('v0', 9, 40), row('v1', 9, 41), row('v2', 9, 41)];
    const agreed = formatVerdict({ ...verdict, accountability: rows }, 20, 6);
    expect(agreed).toMatch(/^OK {3}every honest node removed each byzantine validator from the set at the same height/m);
    expect(agreed).toContain('v1 on v3: 5 verified conflicting vote pairs, 1 slash(es), status tombstoned, removed at height 9 (decided in block 7)');
    const split = formatVerdict({ ...verdict, safe: false, accountability: rows, removalDisagreements: ['v3: v0 at 9, v1 at 12'] }, 20, 6);
    expect(split).toMatch(/^FAIL every honest node removed each byzantine validator/m);
    expect(split).toContain('disagree: v3: v0 at 9, v1 at 12');
    expect(split.trim().split('\n').at(-1)).toBe('UNSAFE');
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
    removalDisagreements: [],
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
