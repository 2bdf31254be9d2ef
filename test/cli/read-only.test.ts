// The read-only commands (inspect, verify, export, sign-state show/export) as processes:
// - on a stopped node's directory with a torn tail, images and a SIGNSTATE copy, no byte and no
//   file changes (every file hashed before and after), and the torn tail is reported, not cut;
// - on a live directory, while another process appends votes at full speed in small segments
//   (rotating under the readers), each command finishes with exit 0 and a consistent LSN (an
//   export holds exactly the votes up to the LSN it saw), and the writer loses nothing;
// - verify --chain-id checks the recorded chain id (exit 1 on a mismatch), and a flipped byte is
//   CORRUPTION with exit 2 and the file in the JSON.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openReadOnlyLog } from '../../src/log/read-only.ts';
import { openStore } from '../../src/store.ts';
import { RecordKind } from '../../src/codec/kinds.ts';
import { cstore, cstoreAsync, hashTree } from './support/run.ts';

const root = mkdtempSync(join(tmpdir(), 'cstore-ro-'));
const dir = join(root, 'node');
const privateKey = new Uint8Array(32).fill(5);

beforeAll(async () => {
  const store = await openStore({ dir, chainId: 'ro-chain', signer: { privateKey, validatorId: 'v0', state: 'new-key' } });
  const hash = new Uint8Array(32).fill(1);
  for (let h = 1; h <= 20; h++) {
    const vote = await store.signGuard.signVote({ validatorId: 'v0', height: h, round: h, voteType: 'prevote', blockHash: hash, timestamp: 1_700_000_000_000 + h });
    await store.votes.appendVote(vote);
    await store.rewards.recordDistribution({ height: h, timestamp: 1_700_000_000_000 + h * 1000, treasuryBefore: 1000n - BigInt(h - 1), treasuryAfter: 1000n - BigInt(h), totalDistributed: 1n, lines: [{ validatorId: 'v0', reason: 'BlockProposal', amount: 1n }] });
  }
  await store.close();
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A copy of the node's directory with `bytes` of garbage after the newest segment's last batch. */
async function copyWithTornTail(name: string, bytes: number): Promise<string> {
  const copy = join(root, name);
  cpSync(dir, copy, { recursive: true });
  const log = await openReadOnlyLog({ dir: copy });
  const tail = log.tail!;
  const path = log.segments[log.segments.length - 1]!.path;
  await log.close();
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(bytes, 0xab), 0, bytes, tail.committedEnd);
  closeSync(fd);
  return copy;
}

describe('read-only commands on a stopped node', () => {
  it('change no byte and no file of a directory with a torn tail, and report the tail instead of cutting it', async () => {
    const copy = await copyWithTornTail('torn', 100);
    const before = hashTree(copy);
    expect(before.some((f) => f.startsWith('images/'))).toBe(true);
    expect(before.some((f) => f.startsWith('SIGNSTATE '))).toBe(true);
    const inspect = cstore(['inspect', copy, '--json']);
    expect(inspect.status).toBe(0);
    const report = JSON.parse(inspect.stdout);
    expect(report.log.unreadTailBytes).toBeGreaterThanOrEqual(100);
    expect(report.chainId).toBe('ro-chain');
    expect(report.images.count).toBeGreaterThan(0);
    expect(report.recordsByKind.Vote).toBe(20);
    expect(report.signState.keys[0]).toMatchObject({ height: 20, round: 20, step: 'prevote' });
    const runs = [
      cstore(['inspect', copy]),
      cstore(['verify', copy, '--json']),
      cstore(['verify', copy, '--chain-id', 'ro-chain']),
      cstore(['export', 'votes', copy]),
      cstore(['export', 'audit', copy]),
      cstore(['export', 'evidence', copy]),
      cstore(['export', 'rewards', copy, '--format', 'csv']),
      cstore(['sign-state', 'show', copy, '--json']),
      cstore(['sign-state', 'export', copy, '--complete']),
    ];
    for (const run of runs) {
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
    }
    expect(JSON.parse(runs[1]!.stdout).ok).toBe(true);
    expect(runs[3]!.stdout.trim().split('\n')).toHaveLength(20);
    expect(hashTree(copy)).toEqual(before);
  }, 120_000);

  it('verify --chain-id on another chain: exit 1, the mismatch in the JSON, nothing else checked', () => {
    const run = cstore(['verify', dir, '--chain-id', 'wrong', '--json']);
    expect(run.status).toBe(1);
    const r = JSON.parse(run.stdout);
    expect(r.chainIdCheck).toEqual({ expected: 'wrong', recorded: 'ro-chain', ok: false });
    expect(r.ok).toBe(false);
    const text = cstore(['verify', dir, '--chain-id', 'wrong']);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain("chain id: MISMATCH: the directory records 'ro-chain', expected 'wrong'");
  });

  it('verify reports a flipped byte in a committed record as CORRUPTION naming the segment, exit 2', async () => {
    const copy = join(root, 'flipped');
    cpSync(dir, copy, { recursive: true });
    const segment = join(copy, 'wal', '0000000000000001.wal');
    const fd = openSync(segment, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, 400);
    b[0] = b[0]! ^ 0x04;
    writeSync(fd, b, 0, 1, 400);
    closeSync(fd);
    const before = hashTree(copy);
    const run = cstore(['verify', copy, '--json']);
    expect(run.status).toBe(2);
    const r = JSON.parse(run.stdout);
    expect(r.corruption.file).toBe(segment);
    expect(typeof r.corruption.offset).toBe('number');
    expect(hashTree(copy)).toEqual(before);
  });
});

describe('read-only commands on a live node', () => {
  it('finish with a consistent LSN while a writer appends at full speed in another process, and the writer loses nothing', async () => {
    const live = join(root, 'live');
    // The writer goes on until the readers have finished two rounds (a loaded machine starts
    // the readers' processes slowly), at most 120 s.
    const writer = spawn(process.execPath, ['--import', 'tsx', 'test/cli/support/live-writer.ts', live, '120000'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    writer.stdout.on('data', (d: Buffer) => (out += d.toString()));
    writer.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => writer.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      const check = (): void => (out.includes('ready') ? resolve() : void setTimeout(check, 20));
      check();
    });
    let running = true;
    void exited.then(() => (running = false));
    const seen: number[] = [];
    const exports: { file: string; lsn: number; lines: number }[] = [];
    let rounds = 0;
    while (running || rounds < 2) {
      const file = join(root, `votes-${rounds}.jsonl`);
      const [inspect, verify, exported] = await Promise.all([
        cstoreAsync(['inspect', live, '--json']),
        cstoreAsync(['verify', live, '--json']),
        cstoreAsync(['export', 'votes', live, '--out', file]),
      ]);
      expect(inspect.status, inspect.stderr).toBe(0);
      expect(verify.status, verify.stderr + verify.stdout).toBe(0);
      expect(exported.status, exported.stderr).toBe(0);
      const i = JSON.parse(inspect.stdout);
      const v = JSON.parse(verify.stdout);
      expect(v.ok).toBe(true);
      expect(v.records).toBe(v.seenLsn);
      expect(v.rereadByLsn).toBe(v.seenLsn);
      expect(i.log.records).toBe(i.seenLsn);
      seen.push(i.seenLsn, v.seenLsn);
      const m = /\(LSN (\d+) seen\)/.exec(exported.stderr);
      expect(m).not.toBeNull();
      exports.push({ file, lsn: Number(m![1]), lines: readFileSync(file, 'utf8').trim().split('\n').filter((l) => l !== '').length });
      rounds++;
      if (rounds === 2) writer.stdin.end('stop\n');
    }
    expect(await exited).toBe(0);
    expect(err).toBe('');
    const result = JSON.parse(out.trim().split('\n').pop()!) as { acked: number; lastLsn: number };
    // The writer's every acknowledged vote is in the log, and nothing the readers did cost it one.
    const log = await openReadOnlyLog({ dir: live });
    const voteLsns: number[] = [];
    await log.scan((r) => void (r.kind === RecordKind.Vote && voteLsns.push(r.lsn)));
    await log.close();
    expect(voteLsns).toHaveLength(result.acked);
    expect(voteLsns[voteLsns.length - 1]).toBe(result.lastLsn);
    // Every export holds exactly the votes up to the LSN it saw, in LSN order.
    expect(exports.some((e) => e.lsn < result.lastLsn)).toBe(true);
    for (const e of exports) {
      expect(e.lines).toBe(voteLsns.filter((l) => l <= e.lsn).length);
      const lsns = readFileSync(e.file, 'utf8').trim().split('\n').map((l) => JSON.parse(l).lsn as number);
      expect(lsns.every((l, k) => l <= e.lsn && (k === 0 || l > lsns[k - 1]!))).toBe(true);
    }
    expect(seen.some((s) => s > 0 && s < result.lastLsn)).toBe(true);
  }, 180_000);
});
