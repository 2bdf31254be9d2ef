// cstore as a scriptable tool, run as a process: --help on every command and at the top,
// --version, one error line `error CODE: message` on stderr (the code once, never a stack) with
// a distinct exit code per kind of failure, a reader that closes the pipe early (EPIPE) ends the
// command quietly, and the progress line appears only on a real terminal (a pty through
// `script`), without colours under NO_COLOR and never with --no-progress or into a pipe.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateGenesis } from '../../src/cli/devnet-genesis.ts';
import { openStore } from '../../src/store.ts';
import { cstore } from './support/run.ts';

const root = mkdtempSync(join(tmpdir(), 'cstore-hygiene-'));
const big = join(root, 'big');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { name: string; version: string };

beforeAll(async () => {
  // 20,000 votes: enough for a progress line, and far more output than a pipe holds.
  // Fake signatures (the command line is under test, not signatures): stored unverified.
  const store = await openStore({ dir: big, chainId: 'hygiene', voteVerification: 'off', log: { durability: 'none' } });
  const blockHash = new Uint8Array(32).fill(1);
  const signature = new Uint8Array(64).fill(2);
  for (let h = 1; h <= 5000; h += 100) {
    const calls = [];
    for (let height = h; height < h + 100; height++) {
      for (let v = 0; v < 4; v++) calls.push(store.votes.appendVote({ validatorId: `v${v}`, height, round: height, voteType: 'prevote', blockHash, timestamp: height, signature }));
    }
    await Promise.all(calls);
  }
  await store.close();
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

const noStack = (text: string): void => {
  expect(text).not.toMatch(/\n\s+at /);
};

/** Runs a shell pipeline; resolves cstore's own exit status (bash PIPESTATUS) and stderr. */
function pipeline(cstoreArgs: string, after: string, env: NodeJS.ProcessEnv = process.env): { status: number; stdout: string; stderr: string } {
  const cmd = `${JSON.stringify(process.execPath)} --import tsx src/cli/main.ts ${cstoreArgs} | ${after}; exit \${PIPESTATUS[0]}`;
  const run = spawnSync('bash', ['-c', cmd], { encoding: 'utf8', timeout: 60_000, env });
  return { status: run.status as number, stdout: run.stdout, stderr: run.stderr };
}

describe('help and version', () => {
  it('cstore --help lists every command and the exit codes; no command at all is a usage error (64) with the help', () => {
    const run = cstore(['--help']);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    for (const name of ['inspect', 'verify', 'export', 'sign-state', 'demo', 'devnet']) expect(run.stdout).toContain(`  ${name} `);
    expect(run.stdout).not.toContain('demo-writer');
    expect(run.stdout).toContain('75 LOCKED');
    const none = cstore([]);
    expect(none.status).toBe(64);
    expect(none.stdout).toContain('usage: cstore <command>');
  });

  it.each([['inspect'], ['verify'], ['export'], ['sign-state'], ['demo'], ['devnet']])('cstore %s --help (and -h, cstore help <command>, and --help after other arguments) prints its help, exit 0', (name) => {
    for (const args of [[name, '--help'], [name, '-h'], ['help', name], [name, 'some-dir', '--help']]) {
      const run = cstore(args);
      expect(run.status, args.join(' ')).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toMatch(name === 'devnet' ? /^cstore devnet: / : new RegExp(`^usage: cstore ${name}`));
    }
  });

  it('--version prints the package name and version', () => {
    const run = cstore(['--version']);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${pkg.name} ${pkg.version}\n`);
  });
});

describe('errors', () => {
  it.each([
    [['bogus'], 64, 'USAGE', /unknown command 'bogus'/],
    [['inspect'], 64, 'USAGE', /wrong arguments: cstore inspect <dir>/],
    [['inspect', 'x', '--no-such-option'], 64, 'USAGE', /--no-such-option is not an option of this command/],
    [['verify', 'x', '--chain-id'], 64, 'USAGE', /--chain-id needs a value/],
    [['export', 'blocks', 'x'], 64, 'USAGE', /export what\? one of audit, evidence, rewards, votes/],
    [['export', 'votes', 'x', '--format', 'csv'], 64, 'USAGE', /--format of export votes is one of jsonl/],
    [['export', 'votes', 'x', '--since', 'yesterday'], 64, 'INVALID_ARGUMENT', /--since must be an ISO 8601 date/],
    [['sign-state', 'frobnicate', 'x'], 64, 'USAGE', /sign-state show\|export\|import/],
    [['inspect', '/no/such/dir'], 66, 'NOT_FOUND', /\/no\/such\/dir is not a consensus-store data directory/],
    [['devnet', '--validators', '99'], 64, 'INVALID_ARGUMENT', /--validators must be an integer/],
  ] as const)('cstore %j: exit %i, one line `error %s: ...` on stderr, no stack', (args, status, code, message) => {
    const run = cstore([...args]);
    expect(run.status).toBe(status);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(new RegExp(`^error ${code}: [^\\n]*\\n$`));
    expect(run.stderr).toMatch(message);
    expect(run.stderr.split(code)).toHaveLength(2);
    noStack(run.stderr);
  });

  it('devnet --validators 5 on a 4-validator directory: a usage error, not a stack trace', async () => {
    const dir = join(root, 'devnet');
    await loadOrCreateGenesis(dir, 4, []);
    const run = cstore(['devnet', '--validators', '5', '--dir', dir, '--duration', '1']);
    expect(run.status).toBe(64);
    expect(run.stderr).toMatch(/^error INVALID_ARGUMENT: --validators .* holds a devnet of 4 validators: run with --validators 4 or another --dir\n$/);
    noStack(run.stderr);
  });
});

describe('pipes', () => {
  it('cstore --help | head -1: the first line, nothing on stderr, exit 0', () => {
    const run = pipeline('--help', 'head -1');
    expect(run.stdout).toBe('cstore: durable consensus state for BFT validators\n');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('cstore inspect | head -1 and an export of 20,000 votes into head -2: quiet, exit 0', () => {
    const inspect = pipeline(`inspect ${big}`, 'head -1');
    expect(inspect.stderr).toBe('');
    expect(inspect.status).toBe(0);
    const exported = pipeline(`export votes ${big}`, 'head -2');
    expect(exported.stdout.split('\n')).toHaveLength(3);
    expect(exported.stderr).toBe('');
    expect(exported.status).toBe(0);
  });
});

describe('progress', () => {
  /** Runs `cstore verify big` inside a pseudo-terminal (util-linux `script`); resolves what the terminal showed. */
  function onTerminal(extra: string, env: NodeJS.ProcessEnv): string {
    const cmd = `${JSON.stringify(process.execPath)} --import tsx src/cli/main.ts verify ${big} ${extra} >/dev/null`;
    const run = spawnSync('script', ['-qefc', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60_000, env });
    expect(run.status).toBe(0);
    return run.stdout;
  }

  it('is shown on a terminal (coloured, cleared at the end), without colours under NO_COLOR, never with --no-progress', () => {
    const env = { ...process.env };
    delete env['NO_COLOR'];
    const shown = onTerminal('', env);
    expect(shown).toContain('verify: records checked: ');
    expect(shown).toContain('\x1b[36m');
    expect(shown).toMatch(/\r\x1b\[K$/);
    const plain = onTerminal('', { ...env, NO_COLOR: '1' });
    expect(plain).toContain('verify: records checked: ');
    expect(plain).not.toContain('\x1b[36m');
    expect(onTerminal('--no-progress', env)).not.toContain('verify: records checked');
  });

  it('is never written into a pipe or a file', () => {
    const run = cstore(['verify', big]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });
});
