/**
 * The single-writer lock (D7, docs/durability.md) in both modes: `flock` (fs-ext, where it loads) and
 * `pidfile`. Scenarios: a second opener in this process, a child process holding the lock, the
 * child killed with SIGKILL, release then relock, stale and reused-pid lock files, the two modes
 * respecting each other, and several processes racing to break one stale lock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as nodeFs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { acquireLock, defaultLockKind, ownerAlive, parseLockOwner, processStartTime, type LockKind } from '../../src/io/lock.ts';
import { createRealFileSystem } from '../../src/io/real-fs.ts';
import { isStoreError } from '../../src/errors.ts';

let dir: string;
let counter = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lock-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
const freshPath = (): string => join(dir, `LOCK-${++counter}`);

const flockAvailable = defaultLockKind() === 'flock';
const kinds: LockKind[] = flockAvailable ? ['flock', 'pidfile'] : ['pidfile'];

interface ChildReply {
  readonly ok: boolean;
  readonly kind?: string;
  readonly code?: string;
  readonly pid: number;
}

/** Starts the hold-lock fixture and resolves with the child and its one-line reply. */
function holdInChild(
  path: string,
  kind: LockKind | 'default',
  holdMs?: number,
  env: NodeJS.ProcessEnv = {},
  startAt?: number,
): Promise<{ child: ChildProcess; reply: ChildReply }> {
  const script = join(import.meta.dirname, 'fixtures', 'hold-lock.ts');
  const hold = holdMs === undefined ? String(2 ** 31 - 1) : String(holdMs);
  const args = ['--import', 'tsx', script, path, kind, hold, ...(startAt === undefined ? [] : [String(startAt)])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child did not answer')), 10_000);
    child.once('exit', (code) => reject(new Error(`child exited early with ${String(code)}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (line) => {
      clearTimeout(timer);
      resolve({ child, reply: JSON.parse(line) as ChildReply });
    });
  });
}

async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

async function expectLocked(p: Promise<unknown>): Promise<Record<string, unknown>> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isStoreError(err, 'LOCKED'), `expected LOCKED, got ${String(err)}`).toBe(true);
  return ((err as { details?: Record<string, unknown> }).details ?? {}) as Record<string, unknown>;
}

describe.each(kinds)('lock in %s mode', (kind) => {
  it('a second opener in the same process gets LOCKED; release then relock works', async () => {
    const path = freshPath();
    const first = await acquireLock(path, { kind });
    expect(first.kind).toBe(kind);
    await expectLocked(acquireLock(path, { kind }));
    await expectLocked(acquireLock(path, { kind: kind === 'flock' ? 'pidfile' : kind }));
    await first.release();
    await first.release();
    const again = await acquireLock(path, { kind });
    await again.release();
  });

  it('two concurrent openers in the same process: exactly one wins', async () => {
    const path = freshPath();
    const results = await Promise.allSettled([acquireLock(path, { kind }), acquireLock(path, { kind })]);
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
  });

  it('a lock held by a child process gives LOCKED naming its pid; after SIGKILL the next lock succeeds', async () => {
    const path = freshPath();
    const { child, reply } = await holdInChild(path, kind);
    try {
      expect(reply).toEqual(expect.objectContaining({ ok: true, kind }));
      const details = await expectLocked(acquireLock(path, { kind }));
      expect(details['pid']).toBe(reply.pid);
    } finally {
      await killHard(child);
    }
    const lock = await acquireLock(path, { kind });
    await lock.release();
  });

  it('a child cannot take a lock this process holds', async () => {
    const path = freshPath();
    const lock = await acquireLock(path, { kind });
    const { child, reply } = await holdInChild(path, kind);
    await killHard(child);
    expect(reply).toEqual(expect.objectContaining({ ok: false, code: 'LOCKED' }));
    await lock.release();
  });
});

describe('pidfile stale-owner detection', () => {
  const writeOwner = (path: string, owner: Record<string, unknown>): void => nodeFs.writeFileSync(path, JSON.stringify(owner));

  it('a lock file of a dead process is broken', async () => {
    const path = freshPath();
    const { child, reply } = await holdInChild(join(dir, 'unused'), 'pidfile', 0);
    await new Promise((resolve) => child.once('exit', resolve));
    writeOwner(path, { pid: reply.pid, startTime: '1', hostname: hostname(), kind: 'pidfile', nonce: 'x' });
    const lock = await acquireLock(path, { kind: 'pidfile' });
    expect(parseLockOwner(nodeFs.readFileSync(path, 'utf8'))?.pid).toBe(process.pid);
    await lock.release();
    expect(nodeFs.existsSync(path)).toBe(false);
  });

  it('a breaker file left by a breaker that died mid-break does not block the next lock', async () => {
    const path = freshPath();
    const dead = { pid: 2 ** 22 + 19, hostname: hostname(), kind: 'pidfile', nonce: 'dead' };
    writeOwner(path, dead);
    writeOwner(`${path}.break`, dead);
    const lock = await acquireLock(path, { kind: 'pidfile' });
    expect(nodeFs.existsSync(`${path}.break`)).toBe(false);
    await lock.release();
  });

  it('a lock file whose pid now belongs to another process (other start time) is broken', async () => {
    const path = freshPath();
    const start = processStartTime(process.ppid);
    expect(start).toBeDefined();
    writeOwner(path, { pid: process.ppid, startTime: `${String(start)}9`, hostname: hostname(), kind: 'pidfile', nonce: 'x' });
    const lock = await acquireLock(path, { kind: 'pidfile' });
    await lock.release();
  });

  it('a lock file of a live process (same start time) is respected', async () => {
    const path = freshPath();
    const owner = { pid: process.ppid, startTime: processStartTime(process.ppid), hostname: hostname(), kind: 'pidfile', nonce: 'x' };
    writeOwner(path, owner);
    const details = await expectLocked(acquireLock(path, { kind: 'pidfile' }));
    expect(details['pid']).toBe(process.ppid);
    if (flockAvailable) await expectLocked(acquireLock(path, { kind: 'flock' }));
    expect(ownerAlive(parseLockOwner(JSON.stringify(owner)) ?? expect.fail('parse'))).toBe(true);
  });

  it('a lock file from another host is respected (its owner cannot be checked)', async () => {
    const path = freshPath();
    writeOwner(path, { pid: 1, hostname: `not-${hostname()}`, kind: 'pidfile', nonce: 'x' });
    await expectLocked(acquireLock(path, { kind: 'pidfile' }));
  });

  it('an empty or garbled lock file is respected while fresh (it may be being written) and stale once old', async () => {
    for (const content of ['', '{"pid":', '{"pid":-3}']) {
      const path = freshPath();
      nodeFs.writeFileSync(path, content);
      await expectLocked(acquireLock(path, { kind: 'pidfile' }));
      const old = new Date(Date.now() - 10_000);
      nodeFs.utimesSync(path, old, old);
      const lock = await acquireLock(path, { kind: 'pidfile' });
      await lock.release();
    }
  });

  it('several processes racing (started at the same instant) to break one stale lock: exactly one wins', async () => {
    const path = freshPath();
    writeOwner(path, { pid: 2 ** 22 + 17, hostname: hostname(), kind: 'pidfile', nonce: 'stale' });
    const startAt = Date.now() + 1500;
    const racers = await Promise.all([0, 1, 2, 3].map(() => holdInChild(path, 'pidfile', 3000, {}, startAt)));
    try {
      const winners = racers.filter((r) => r.reply.ok);
      expect(winners).toHaveLength(1);
      for (const r of racers) if (!r.reply.ok) expect(r.reply.code).toBe('LOCKED');
      expect(parseLockOwner(nodeFs.readFileSync(path, 'utf8'))?.pid).toBe(winners[0]?.reply.pid);
    } finally {
      await Promise.all(racers.map((r) => killHard(r.child)));
    }
  });
});

describe('lock through the real file system', () => {
  it('uses flock when fs-ext loads, the pidfile otherwise, and CONSENSUS_STORE_NO_FSEXT=1 forces the pidfile in a child', async () => {
    const fs = createRealFileSystem();
    const path = freshPath();
    const lock = await fs.lock(path);
    expect(lock.kind).toBe(flockAvailable ? 'flock' : 'pidfile');
    await expectLocked(fs.lock(path));
    await lock.release();
    const { child, reply } = await holdInChild(freshPath(), 'default', 0, { CONSENSUS_STORE_NO_FSEXT: '1' });
    await killHard(child);
    expect(reply).toEqual(expect.objectContaining({ ok: true, kind: 'pidfile' }));
  });

  it.runIf(flockAvailable)('a pidfile-mode holder (no fs-ext) blocks a flock-mode opener, and the reverse', async () => {
    const a = freshPath();
    const pidHolder = await holdInChild(a, 'default', undefined, { CONSENSUS_STORE_NO_FSEXT: '1' });
    try {
      expect(pidHolder.reply.kind).toBe('pidfile');
      await expectLocked(acquireLock(a, { kind: 'flock' }));
    } finally {
      await killHard(pidHolder.child);
    }
    const b = freshPath();
    const flockHolder = await holdInChild(b, 'flock');
    try {
      await expectLocked(acquireLock(b, { kind: 'pidfile' }));
    } finally {
      await killHard(flockHolder.child);
    }
    const after = await acquireLock(b, { kind: 'pidfile' });
    await after.release();
  });
});
