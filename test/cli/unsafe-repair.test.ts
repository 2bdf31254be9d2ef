// `cstore unsafe-repair <dir>` run as its own process, as an operator would: on a damaged
// directory it repairs, prints the exact loss and the next steps (text and --json), records the
// repair (a second run finds nothing); it refuses a running node's directory (LOCKED, 75), a
// missing directory (66), bad arguments (64), a --chain-id of another chain (3); and the
// CORRUPTION that `cstore verify` reports before the repair names the command.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openLog } from '../../src/log/wal.ts';
import { openStore } from '../../src/store.ts';
import { cstore } from './support/run.ts';

let dir: string;
const hash = new Uint8Array(32).fill(7);
const signature = new Uint8Array(64).fill(9);

async function fill(): Promise<number> {
  // Fake signatures (the command line is under test, not signatures): stored unverified.
  const store = await openStore({ dir, chainId: 'repair-cli', voteVerification: 'off', log: { segmentSize: 16 * 1024 }, images: { onClose: false } });
  let last = 0;
  for (let h = 1; h <= 150; h++) {
    const entry = await store.votes.appendVote({ validatorId: `v${h % 4}`, height: h, round: h, voteType: 'prevote', blockHash: hash, timestamp: 1_700_000_000_000 + h, signature });
    last = Number(entry.id);
    await store.audit.logEvent({ type: 'RoundStarted', height: h, round: h, proposer: null });
  }
  await store.close();
  return last;
}

function flipByte(path: string, offset: number): void {
  const fd = openSync(path, 'r+');
  const byte = Buffer.alloc(1);
  readSync(fd, byte, 0, 1, offset);
  byte[0] = (byte[0] as number) ^ 0x10;
  writeSync(fd, byte, 0, 1, offset);
  closeSync(fd);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cstore-unsafe-repair-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('cstore unsafe-repair', () => {
  it('repairs a damaged segment, prints the exact loss and what to do next, and records the repair (a second run finds nothing)', async () => {
    await fill();
    flipByte(join(dir, 'wal', '0000000000000001.wal'), 2000);
    // The open refuses, and says how to repair.
    await expect(openStore({ dir, chainId: 'repair-cli', images: { onClose: false } })).rejects.toThrow(/CORRUPTION|cstore unsafe-repair/);
    await expect(openStore({ dir, chainId: 'repair-cli', images: { onClose: false } })).rejects.toThrow(`cstore unsafe-repair ${dir}`);
    const run = cstore(['unsafe-repair', dir, '--json']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const doc = JSON.parse(run.stdout) as { repaired: boolean; repair: { file: string; firstLostLsn: number; lastLostLsn: number; recordsDropped: number; bytesDropped: number; brokenCopy: string }; recorded: unknown[]; next: string[] };
    expect(doc.repaired).toBe(true);
    expect(doc.repair.file).toBe(join(dir, 'wal', '0000000000000001.wal'));
    expect(doc.repair.brokenCopy).toBe(`${doc.repair.file}.broken`);
    expect(doc.repair.recordsDropped).toBe(doc.repair.lastLostLsn - doc.repair.firstLostLsn + 1);
    expect(doc.repair.bytesDropped).toBeGreaterThan(0);
    expect(doc.recorded).toHaveLength(1);
    expect(doc.next.join(' ')).toContain(`cstore sign-state import ${dir}`);
    const again = cstore(['unsafe-repair', dir]);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('no damage found');
    // The repaired directory opens without repair (no signer here: the barrier concerns signing).
    const store = await openStore({ dir, chainId: 'repair-cli', images: { onClose: false } });
    const events = await store.audit.queryByDateRange(0, Date.now() + 1000);
    expect(events.filter((e) => e.event.type === 'StoreRepaired')).toHaveLength(1);
    await store.close();
  });

  it('prints the report as text: LSN range, records, bytes, segments, the copy, the next steps', async () => {
    await fill();
    flipByte(join(dir, 'wal', '0000000000000001.wal'), 2000);
    const run = cstore(['unsafe-repair', dir]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/lost: {3}LSN \d+\.\.\d+ \(\d+ records?\), \d+ bytes, \d+ later segments? removed/);
    expect(run.stdout).toContain('0000000000000001.wal.broken');
    expect(run.stdout).toContain('next:');
    expect(run.stdout).toContain('sign-state import');
  });

  it('refuses a running node (LOCKED, 75), a missing directory (66), bad arguments (64), an empty or foreign --chain-id', async () => {
    await fill();
    const store = await openStore({ dir, chainId: 'repair-cli', images: { onClose: false } });
    try {
      const locked = cstore(['unsafe-repair', dir]);
      expect(locked.status).toBe(75);
      expect(locked.stderr).toMatch(/^error LOCKED: /);
    } finally {
      await store.close();
    }
    expect(cstore(['unsafe-repair', join(dir, 'nope')]).status).toBe(66);
    expect(cstore(['unsafe-repair']).status).toBe(64);
    expect(cstore(['unsafe-repair', dir, '--bogus']).status).toBe(64);
    const empty = cstore(['unsafe-repair', dir, '--chain-id', '']);
    expect(empty.status).toBe(64);
    expect(empty.stderr).toContain('INVALID_ARGUMENT');
    const foreign = cstore(['unsafe-repair', dir, '--chain-id', 'other-chain']);
    expect(foreign.status).toBe(3);
    expect(foreign.stderr).toMatch(/^error WRONG_CHAIN: /);
    expect(cstore(['unsafe-repair', '--help']).stdout).toContain('usage: cstore unsafe-repair <dir>');
  });
});

describe('cstore unsafe-repair when the record naming the chain is lost', () => {
  it('repairs, then asks for --chain-id (64) to record the repair, and records it once given', async () => {
    await fill();
    // The store identity is the first record of the first segment.
    flipByte(join(dir, 'wal', '0000000000000001.wal'), 40);
    const first = cstore(['unsafe-repair', dir]);
    expect(first.status).toBe(64);
    expect(first.stderr).toMatch(/^error INVALID_ARGUMENT: --chain-id is needed/);
    const second = cstore(['unsafe-repair', dir, '--chain-id', 'repair-cli', '--json']);
    expect(second.stderr).toBe('');
    expect(second.status).toBe(0);
    const doc = JSON.parse(second.stdout) as { repaired: boolean; recorded: { firstLostLsn: number }[] };
    expect(doc.repaired).toBe(false);
    expect(doc.recorded).toHaveLength(1);
    expect(doc.recorded[0]!.firstLostLsn).toBe(1);
  });
});

describe('cstore verify and a repair gap in the audit chain', () => {
  it('rejects the gap while no StoreRepaired entry names it (exit 2), accepts it once unsafe-repair recorded it (exit 0)', async () => {
    await fill();
    flipByte(join(dir, 'wal', '0000000000000001.wal'), 6000);
    // A bare log repair: the gap is made, nothing records it in the audit chain.
    const log = await openLog({ dir, repair: true });
    expect(log.openReport.repair?.gapEnd).toBeDefined();
    await log.close();
    const refused = cstore(['verify', dir, '--json']);
    expect(refused.status).toBe(2);
    expect(refused.stdout).toContain('no signed StoreRepaired entry names that gap');
    const recorded = cstore(['unsafe-repair', dir, '--json']);
    expect(recorded.status).toBe(0);
    const doc = JSON.parse(recorded.stdout) as { repaired: boolean; recorded: unknown[] };
    expect(doc.repaired).toBe(false);
    expect(doc.recorded).toHaveLength(1);
    const verified = cstore(['verify', dir]);
    expect(verified.stdout + verified.stderr).not.toContain('StoreRepaired entry names');
    expect(verified.status).toBe(0);
  });
});
