// `cstore rotate-key` as a process, as an operator meets it: a node whose node.key is gone fails
// to open naming the file and the command; `cstore verify` then checks with the chain's key;
// `rotate-key` refuses a planned rotation without the key, rotates with --lost, and afterwards
// the node opens and `cstore verify` passes with the new key. A planned rotation and its
// --json report; a running node (exit 75); usage errors (exit 64).
import { existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store.ts';
import { cstore } from './support/run.ts';

const root = mkdtempSync(join(tmpdir(), 'cstore-rotate-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const CHAIN = 'rotate-cli';
const LOG = { segmentSize: 256 * 1024 };

async function seed(dir: string): Promise<string> {
  const store = await openStore({ dir, chainId: CHAIN, log: LOG });
  await store.audit.logEvent({ type: 'Pruned', store: 'votes', belowHeight: 3, entriesRemoved: 0 });
  const key = Buffer.from(store.audit.publicKey).toString('hex');
  await store.close();
  return key;
}

describe('cstore rotate-key', () => {
  it('a lost node key: the open names it, --lost rotates, the node opens and verify passes with the new key', async () => {
    const dir = join(root, 'lost');
    const oldKey = await seed(dir);
    unlinkSync(join(dir, 'node.key'));
    await expect(openStore({ dir, chainId: CHAIN, log: LOG })).rejects.toThrow(/node\.key is missing.*rotate-key/);
    // Without node.key, verify uses the key the chain records, and the chain is sound.
    const before = cstore(['verify', dir, '--json']);
    expect(before.status, before.stderr).toBe(0);

    const planned = cstore(['rotate-key', dir]);
    expect(planned.status).toBe(64);
    expect(planned.stderr).toMatch(/^error INVALID_ARGUMENT: .*--lost/);

    const run = cstore(['rotate-key', dir, '--lost', '--json']);
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { oldPublicKey: string; newPublicKey: string; lostKey: boolean; sequence: number };
    expect(report.lostKey).toBe(true);
    expect(report.oldPublicKey).toBe(oldKey);
    expect(report.sequence).toBe(2);
    expect(existsSync(join(dir, 'node.key'))).toBe(true);

    const store = await openStore({ dir, chainId: CHAIN, log: LOG });
    expect(Buffer.from(store.audit.publicKey).toString('hex')).toBe(report.newPublicKey);
    await store.close();
    const after = cstore(['verify', dir, '--json']);
    expect(after.status, after.stderr + after.stdout).toBe(0);
    // An auditor who trusts only the old key: the lost-key rotation is not vouched for (exit 2).
    const withOld = cstore(['verify', dir, '--public-key', oldKey, '--json']);
    expect(withOld.status).toBe(2);
    const audit = (JSON.parse(withOld.stdout) as { audit: { keySource: string; firstBad: { reason: string } } }).audit;
    expect(audit.keySource).toBe('option');
    expect(audit.firstBad.reason).toContain('without the old key');
    expect(cstore(['verify', dir, '--public-key', report.newPublicKey]).status).toBe(0);
    expect(cstore(['verify', dir, '--public-key', 'zz']).status).toBe(64);
  });

  it('a planned rotation, text output; a running node is refused; usage errors', async () => {
    const dir = join(root, 'planned');
    const oldKey = await seed(dir);
    const run = cstore(['rotate-key', dir]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`old key ${oldKey}`);
    expect(run.stdout).toContain('The old key signed the rotation');
    expect(cstore(['verify', dir]).status).toBe(0);
    // A planned rotation: the old key vouches for the new one.
    expect(cstore(['verify', dir, '--public-key', oldKey]).status).toBe(0);

    const running = await openStore({ dir, chainId: CHAIN, log: LOG });
    const locked = cstore(['rotate-key', dir]);
    await running.close();
    expect(locked.status).toBe(75);
    expect(locked.stderr).toMatch(/^error LOCKED: /);

    expect(cstore(['rotate-key']).status).toBe(64);
    expect(cstore(['rotate-key', dir, '--bogus']).status).toBe(64);
    const wrongChain = cstore(['rotate-key', dir, '--chain-id', 'other']);
    expect(wrongChain.status).toBe(1);
    expect(cstore(['rotate-key', join(root, 'nothing-here')]).status).toBe(66);
  });
});
