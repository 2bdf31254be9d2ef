// The operator's commands, end to end: the demo (a real child process killed with SIGKILL)
// holds every check; verify accepts a clean directory and reports a flipped byte as CORRUPTION
// with its file; inspect refuses a directory that holds no log and creates nothing, and reads a
// directory another process holds locked; an error with a code prints one `error CODE: message`
// line on stderr, the code once, with its own exit code.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readSync, rmSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInspect, runVerify } from '../../src/cli/inspect.ts';
import { isStoreError } from '../../src/errors.ts';
import { openLog } from '../../src/log/wal.ts';
import { openStore } from '../../src/store.ts';

const root = mkdtempSync(join(tmpdir(), 'cstore-cli-'));
const dir = join(root, 'demo');
let demoOutput = '';
let demoStatus: number | null = null;

beforeAll(() => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--dir', dir, '--seed', '11'], {
    encoding: 'utf8',
    timeout: 90_000,
  });
  demoOutput = run.stdout + run.stderr;
  demoStatus = run.status;
}, 120_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

function collect(): { lines: string[]; json: false; progress: false; print: (line: string) => void } {
  const lines: string[] = [];
  return { lines, json: false, progress: false, print: (line) => void lines.push(line) };
}

describe('cstore demo', () => {
  it('kills its writer with SIGKILL, recovers every acknowledged vote and refuses a conflicting signature', () => {
    expect(demoOutput).toContain('child exit: SIGKILL');
    expect(demoOutput).toMatch(/ok {3}every acknowledged vote is there \((\d+) of \1\)/);
    expect(demoOutput).toContain('refused with CONFLICT');
    expect(demoOutput).toContain('every check held.');
    expect(demoStatus).toBe(0);
  });
});

describe('cstore verify', () => {
  it('passes a clean directory, reading the chain id it recorded and checking the audit chain', async () => {
    const out = collect();
    expect(await runVerify(dir, undefined, out)).toBe(0);
    expect(out.lines.join('\n')).toMatch(/audit chain: ok \(\d+ entries, \d+ signed heads, key from node.key\)/);
  });

  it('reports a flipped byte inside the log as CORRUPTION naming the segment, with exit code 2', async () => {
    const copy = join(root, 'damaged');
    spawnSync('cp', ['-r', dir, copy]);
    const segment = join(copy, 'wal', '0000000000000001.wal');
    const fd = openSync(segment, 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, 300);
    byte[0] = (byte[0] as number) ^ 0x10;
    writeSync(fd, byte, 0, 1, 300);
    closeSync(fd);
    const out = collect();
    expect(await runVerify(copy, undefined, out)).toBe(2);
    expect(out.lines.join('\n')).toMatch(/CORRUPTION: .*0000000000000001\.wal/);
    expect(out.lines.join('\n').match(/CORRUPTION/g)).toHaveLength(1);
  });
});

describe('cstore inspect', () => {
  it('summarizes the directory: chain, records by kind, round state', async () => {
    const out = collect();
    expect(await runInspect(dir, out)).toBe(0);
    const text = out.lines.join('\n');
    expect(text).toContain('chain: cstore-demo');
    expect(text).toMatch(/Vote\s+\d+/);
    expect(text).toMatch(/round state: height \d+/);
  });

  it('refuses a directory that holds no log with NOT_FOUND and creates nothing', async () => {
    const missing = join(root, 'nothing-here');
    await expect(runInspect(missing, collect())).rejects.toSatisfy((err: unknown) => isStoreError(err, 'NOT_FOUND'));
    expect(existsSync(missing)).toBe(false);
  });
});

describe('the store identity', () => {
  it('refuses to open a data directory under another chain id, before replaying anything', async () => {
    await expect(openStore({ dir, chainId: 'another-chain' })).rejects.toSatisfy(
      (err: unknown) => isStoreError(err, 'INVALID_ARGUMENT') && /belongs to chain 'cstore-demo'/.test((err as Error).message),
    );
  });
});

/** Runs `cstore <args>` as a process, as an operator would. */
function cstore(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('cstore errors', () => {
  it('prints a NOT_FOUND as one line on stderr with the code once, exit code 66', () => {
    const run = cstore('inspect', join(root, 'not-a-data-dir'));
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^error NOT_FOUND: .*not-a-data-dir is not a consensus-store data directory \(no wal\/\)\n$/);
    expect(run.stderr.match(/NOT_FOUND/g)).toHaveLength(1);
    expect(run.status).toBe(66);
  });

  it('inspects a directory another process holds locked (no lock taken), and sign-state import there is LOCKED, exit 75', async () => {
    const held = join(root, 'held');
    const log = await openLog({ dir: held });
    try {
      const run = cstore('inspect', held, '--json');
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(JSON.parse(run.stdout).seenLsn).toBe(0);
      const key = join(root, 'held.key');
      writeFileSync(key, 'ab'.repeat(32));
      const file = join(root, 'held.json');
      writeFileSync(file, JSON.stringify({ height: '5', round: 0, step: 2 }));
      const imported = cstore('sign-state', 'import', held, file, '--key-file', key, '--chain-id', 'c');
      expect(imported.stdout).toBe('');
      expect(imported.stderr).toMatch(/^error LOCKED: .*is locked by .*\n$/);
      expect(imported.stderr.match(/LOCKED/g)).toHaveLength(1);
      expect(imported.status).toBe(75);
    } finally {
      await log.close();
    }
  });
});
