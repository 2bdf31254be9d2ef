// cstore export as a process: JSON Lines of votes, evidence, rewards and audit entries in log
// order with their documented fields; filters by height and by date; --out writes the whole file
// (and leaves no temp file); rewards as CSV with formula injection neutralised and RFC 4180
// quoting; the signed audit export verifies offline.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvCell } from '../../src/cli/export.ts';
import { openStore } from '../../src/store.ts';
import { verifyAuditExport } from '../../src/stores/audit-export.ts';
import { decodeNodeKeyFile } from '../../src/codec/node-key.ts';
import { cstore } from './support/run.ts';

const root = mkdtempSync(join(tmpdir(), 'cstore-export-'));
const dir = join(root, 'node');
const T0 = Date.UTC(2025, 0, 1);
const DAY = 86_400_000;
const hostile = ['=HYPERLINK("http://x","y")', '+1+1', '-2', '@SUM(A1)', 'a,"b"', 'plain'];

beforeAll(async () => {
  // Fake signatures (the command line is under test, not signatures): stored unverified.
  const store = await openStore({ dir, chainId: 'export-chain', voteVerification: 'off' });
  const a = new Uint8Array(32).fill(1);
  const b = new Uint8Array(32).fill(2);
  const signature = new Uint8Array(64).fill(3);
  for (let h = 1; h <= 10; h++) {
    for (const v of ['v0', 'v1']) await store.votes.appendVote({ validatorId: v, height: h, round: h, voteType: 'prevote', blockHash: a, timestamp: T0 + h * DAY, signature });
    await store.rewards.recordDistribution({
      height: h,
      timestamp: T0 + h * DAY,
      treasuryBefore: 10_000n - BigInt(h - 1) * 6n,
      treasuryAfter: 10_000n - BigInt(h) * 6n,
      totalDistributed: 6n,
      lines: hostile.map((validatorId) => ({ validatorId, reason: 'SuccessfulVote' as const, amount: 1n })),
    });
  }
  // An equivocation: its evidence and its audit entry come with the vote.
  await store.votes.appendVote({ validatorId: 'v1', height: 5, round: 5, voteType: 'prevote', blockHash: b, timestamp: T0 + 5 * DAY + 1, signature });
  await store.close();
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

const jsonLines = (text: string): Record<string, unknown>[] => text.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('cstore export', () => {
  it('votes: one JSON line per vote in LSN order, with the documented fields; --from-height/--to-height inclusive', () => {
    const run = cstore(['export', 'votes', dir]);
    expect(run.status).toBe(0);
    const lines = jsonLines(run.stdout);
    expect(lines).toHaveLength(21);
    expect(Object.keys(lines[0]!)).toEqual(['lsn', 'validatorId', 'height', 'round', 'voteType', 'blockHash', 'timestamp', 'signature', 'recordedAt']);
    expect(lines.map((l) => l['lsn'] as number)).toEqual([...lines.map((l) => l['lsn'] as number)].sort((x, y) => x - y));
    const some = jsonLines(cstore(['export', 'votes', dir, '--from-height', '3', '--to-height', '4']).stdout);
    expect(some.map((l) => `${l['validatorId']}@${l['height']}`)).toEqual(['v0@3', 'v1@3', 'v0@4', 'v1@4']);
  });

  it('evidence and audit: the equivocation, with its type, accused validator and height; audit filtered by height', () => {
    const evidence = jsonLines(cstore(['export', 'evidence', dir]).stdout);
    expect(evidence).toHaveLength(1);
    expect(evidence[0]).toMatchObject({ type: 'Equivocation', validatorId: 'v1', height: 5 });
    expect(evidence[0]!['id']).toMatch(/^[0-9a-f]{64}$/);
    const audit = jsonLines(cstore(['export', 'audit', dir]).stdout);
    expect(audit.map((l) => l['type'])).toContain('EquivocationDetected');
    expect(audit.find((l) => l['type'] === 'EquivocationDetected')).toMatchObject({ height: 5, validatorId: 'v1' });
    expect(jsonLines(cstore(['export', 'audit', dir, '--from-height', '6']).stdout)).toHaveLength(0);
  });

  it('rewards: amounts as decimal strings; --since/--until by the block time (ISO dates or ms), inclusive', () => {
    const all = jsonLines(cstore(['export', 'rewards', dir]).stdout);
    expect(all).toHaveLength(10);
    expect(all[0]).toMatchObject({ height: 1, treasuryBefore: '10000', totalDistributed: '6' });
    expect((all[0]!['lines'] as unknown[])[0]).toEqual({ validatorId: hostile[0], reason: 'SuccessfulVote', amount: '1' });
    const since = new Date(T0 + 3 * DAY).toISOString();
    const range = jsonLines(cstore(['export', 'rewards', dir, '--since', since, '--until', String(T0 + 5 * DAY)]).stdout);
    expect(range.map((l) => l['height'])).toEqual([3, 4, 5]);
  });

  it('rewards as CSV: a header, one row per line, formula cells neutralised, quotes doubled', () => {
    const run = cstore(['export', 'rewards', dir, '--format', 'csv', '--to-height', '1']);
    expect(run.status).toBe(0);
    const rows = run.stdout.trim().split('\n');
    expect(rows[0]).toBe('height,timestamp,time,validator_id,reason,amount,lsn');
    expect(rows).toHaveLength(1 + hostile.length);
    const cells = rows.slice(1).map((r) => r.split(',')[3]);
    expect(rows[1]).toContain(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(cells[1]).toBe("'+1+1");
    expect(cells[2]).toBe("'-2");
    expect(cells[3]).toBe("'@SUM(A1)");
    expect(rows[5]).toContain('"a,""b"""');
    expect(cells[5]).toBe('plain');
    expect(rows[1]!.startsWith(`1,${T0 + DAY},${new Date(T0 + DAY).toISOString()},`)).toBe(true);
    for (const v of ['=x', '+x', '-x', '@x', '\tx', '\rx']) expect(csvCell(v).replace(/^"/, '').startsWith("'")).toBe(true);
  });

  it('--out writes the whole file and no temp file, and says on stderr how much up to which LSN', () => {
    const out = join(root, 'votes.jsonl');
    const run = cstore(['export', 'votes', dir, '--out', out]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^exported 21 votes line\(s\) to .*votes\.jsonl \(LSN \d+ seen\)\n$/);
    expect(jsonLines(readFileSync(out, 'utf8'))).toHaveLength(21);
    expect(existsSync(`${out}.tmp`)).toBe(false);
  });

  it('audit --format signed: the verifiable export of docs/audit.md, checked offline with the node key', async () => {
    const out = join(root, 'audit.jsonl');
    const run = cstore(['export', 'audit', dir, '--format', 'signed', '--out', out]);
    expect(run.status).toBe(0);
    const key = decodeNodeKeyFile(readFileSync(join(dir, 'node.key')), 'node.key');
    const report = await verifyAuditExport(new Uint8Array(readFileSync(out)), key.publicKey);
    expect(report.ok).toBe(true);
    expect(report.checked).toBeGreaterThan(0);
    expect(cstore(['export', 'audit', dir, '--format', 'signed']).status).toBe(64);
  });
});
