/**
 * The real FileSystem (node:fs) and its commit-path worker: every operation of the interface,
 * errno codes kept exactly, bytes on disk after writeAndSync (with and without the worker),
 * failures through the worker (EBADF, ENOSPC from /dev/full, EINVAL from fdatasync of a FIFO),
 * many concurrent requests, and a process with an idle worker exiting by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as nodeFs from 'node:fs';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRealFileSystem, defaultFileSystem } from '../../src/io/real-fs.ts';
import { SyncWorker } from '../../src/io/sync-worker.ts';
import { errnoOf, type FileSystem } from '../../src/io/types.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'real-fs-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

async function rejectsWith(p: Promise<unknown>, code: string): Promise<unknown> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected rejection with ${code}`).toBeDefined();
  expect(errnoOf(err)).toBe(code);
  return err;
}

describe.each([
  ['with the sync worker', true],
  ['without the sync worker', false],
])('real file system %s', (_name, syncWorker) => {
  const fs: FileSystem = createRealFileSystem({ syncWorker });
  const sub = (): string => join(dir, syncWorker ? 'w' : 'nw');

  it('writeAndSync puts exactly the given bytes at the given position', async () => {
    await fs.mkdir(sub());
    const h = await fs.open(join(sub(), 'seg'), 'create');
    await h.writeAndSync([bytes('hello '), bytes(''), bytes('world')], 0);
    await h.writeAndSync([bytes('!')], 20);
    await h.close();
    const on = nodeFs.readFileSync(join(sub(), 'seg'));
    expect(on.length).toBe(21);
    expect(text(on.subarray(0, 11))).toBe('hello world');
    expect([...on.subarray(11, 20)]).toEqual(new Array(9).fill(0));
    expect(text(on.subarray(20))).toBe('!');
  });

  it('many concurrent writeAndSync calls all land, each at its position', async () => {
    const h = await fs.open(join(sub(), 'many'), 'create');
    const n = 300;
    await Promise.all(Array.from({ length: n }, (_, i) => h.writeAndSync([bytes(String(i % 10).repeat(7)), bytes('\n')], i * 8)));
    const lines = text(nodeFs.readFileSync(join(sub(), 'many'))).split('\n');
    for (let i = 0; i < n; i++) expect(lines[i]).toBe(String(i % 10).repeat(7));
    await h.close();
  });

  it('a request larger than the worker region falls back and still lands', async () => {
    const h = await fs.open(join(sub(), 'big'), 'create');
    const big = new Uint8Array(5 * 1024 * 1024).fill(7);
    await h.writeAndSync([big, bytes('end')], 0);
    expect(await h.size()).toBe(big.length + 3);
    const tail = new Uint8Array(4);
    expect(await h.read(tail, big.length - 1)).toBe(4);
    expect([...tail]).toEqual([7, ...bytes('end')]);
    await h.close();
  });

  it('close waits for calls in flight, is idempotent, and later calls reject EBADF', async () => {
    const h = await fs.open(join(sub(), 'closing'), 'create');
    const pending = h.writeAndSync([bytes('in flight')], 0);
    await Promise.all([h.close(), h.close()]);
    await pending;
    expect(text(nodeFs.readFileSync(join(sub(), 'closing')))).toBe('in flight');
    await rejectsWith(h.writeAndSync([bytes('x')], 0), 'EBADF');
    await rejectsWith(h.datasync(), 'EBADF');
    await h.close();
  });

  it('writing through a read-only handle rejects EBADF and syncs nothing', async () => {
    nodeFs.writeFileSync(join(sub(), 'ro'), 'abc');
    const h = await fs.open(join(sub(), 'ro'), 'read');
    await rejectsWith(h.writeAndSync([bytes('x')], 0), 'EBADF');
    await rejectsWith(h.write([bytes('x')], 0), 'EBADF');
    await h.close();
    expect(text(nodeFs.readFileSync(join(sub(), 'ro')))).toBe('abc');
  });

  it('a write to a full device rejects ENOSPC', async () => {
    const h = await fs.open('/dev/full', 'readwrite');
    const err = await rejectsWith(h.writeAndSync([bytes('no room')], 0), 'ENOSPC');
    expect((err as { syscall?: string }).syscall).toMatch(/write/);
    await h.close();
  });
});

describe('real file system operations', () => {
  const fs = createRealFileSystem({ syncWorker: false });

  it('open modes: read and readwrite need the file, create-exclusive refuses an existing one', async () => {
    const p = join(dir, 'modes');
    await rejectsWith(fs.open(p, 'read'), 'ENOENT');
    await rejectsWith(fs.open(p, 'readwrite'), 'ENOENT');
    const a = await fs.open(p, 'create-exclusive');
    await a.close();
    await rejectsWith(fs.open(p, 'create-exclusive'), 'EEXIST');
    const b = await fs.open(p, 'create');
    await b.close();
    const c = await fs.open(p, 'readwrite');
    await c.close();
  });

  it('read is short only at end of file, honours offset and length', async () => {
    const p = join(dir, 'read');
    const h = await fs.open(p, 'create');
    await h.write([bytes('0123'), bytes('456789')], 0);
    await h.datasync();
    const buf = new Uint8Array(8).fill(255);
    expect(await h.read(buf, 6, 2, 6)).toBe(4);
    expect(text(buf.subarray(2, 6))).toBe('6789');
    expect(buf[0]).toBe(255);
    expect(await h.read(buf, 100)).toBe(0);
    expect(() => h.read(buf, -1)).toThrow(RangeError);
    expect(() => h.read(buf, 0, 4, 5)).toThrow(RangeError);
    await h.close();
  });

  it('truncate cuts and zero-extends, size follows', async () => {
    const h = await fs.open(join(dir, 'trunc'), 'create');
    await h.write([bytes('abcdef')], 0);
    await h.truncate(3);
    expect(await h.size()).toBe(3);
    await h.truncate(5);
    const buf = new Uint8Array(5);
    await h.read(buf, 0);
    expect([...buf]).toEqual([...bytes('abc'), 0, 0]);
    await h.close();
  });

  it('mkdir is recursive and idempotent; readdir, rename, unlink, stat, readFile, syncDir', async () => {
    const d = join(dir, 'a', 'b', 'c');
    await fs.mkdir(d);
    await fs.mkdir(d);
    const h = await fs.open(join(d, 'x.tmp'), 'create');
    await h.writeAndSync([bytes('payload')], 0);
    await h.close();
    await fs.rename(join(d, 'x.tmp'), join(d, 'x'));
    await fs.syncDir(d);
    expect(await fs.readdir(d)).toEqual(['x']);
    expect(text(await fs.readFile(join(d, 'x')))).toBe('payload');
    expect(await fs.stat(join(d, 'x'))).toEqual({ size: 7, isFile: true, isDirectory: false, mode: 0o644 & ~process.umask() });
    expect(await fs.stat(d)).toEqual(expect.objectContaining({ isFile: false, isDirectory: true }));
    expect(await fs.stat(join(d, 'gone'))).toBeUndefined();
    await fs.unlink(join(d, 'x'));
    expect(await fs.stat(join(d, 'x'))).toBeUndefined();
    await rejectsWith(fs.unlink(join(d, 'x')), 'ENOENT');
    await rejectsWith(fs.readFile(join(d, 'x')), 'ENOENT');
    await rejectsWith(fs.readdir(join(d, 'x')), 'ENOENT');
    await rejectsWith(fs.syncDir(join(d, 'nope')), 'ENOENT');
  });

  it('defaultFileSystem is one shared instance', () => {
    expect(defaultFileSystem()).toBe(defaultFileSystem());
  });
});

describe('the sync worker', () => {
  it('reports the errno of a failed write (EBADF on a read-only fd) and of a failed fdatasync (EINVAL on a FIFO)', async () => {
    const worker = new SyncWorker();
    await worker.ready();
    expect(worker.usable()).toBe(true);
    const file = join(dir, 'worker-ro');
    nodeFs.writeFileSync(file, 'keep');
    const ro = nodeFs.openSync(file, 'r');
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const pipe = nodeFs.openSync(fifo, nodeFs.constants.O_RDWR);
    try {
      const writeErr = await rejectsWith(worker.writeAndSync(ro, [bytes('x')], 0, file), 'EBADF');
      expect((writeErr as { syscall: string }).syscall).toBe('write');
      const syncErr = await rejectsWith(worker.datasync(pipe, fifo), 'EINVAL');
      expect((syncErr as { syscall: string }).syscall).toBe('fdatasync');
      // The worker keeps serving after failures.
      const rw = nodeFs.openSync(join(dir, 'worker-ok'), 'w+');
      await worker.writeAndSync(rw, [bytes('ok')], 0, 'worker-ok');
      await worker.datasync(rw, 'worker-ok');
      nodeFs.closeSync(rw);
      expect(nodeFs.readFileSync(join(dir, 'worker-ok'), 'utf8')).toBe('ok');
    } finally {
      nodeFs.closeSync(ro);
      nodeFs.closeSync(pipe);
      await worker.shutdown();
    }
    expect(nodeFs.readFileSync(file, 'utf8')).toBe('keep');
    expect(worker.usable()).toBe(false);
    await rejectsWith(worker.datasync(0, 'after-shutdown'), 'EBADF');
  });

  it.each([
    ['parked on Atomics.waitAsync, no spinning', { spinMicros: 0, pollMicros: 0 }],
    ['spinning and polling', { spinMicros: 200, pollMicros: 1000, busyWait: 'always' as const }],
  ])('serves many concurrent requests on several fds in order of arrival (%s)', async (_how, options) => {
    const worker = new SyncWorker({ capacity: 4096, ...options });
    await worker.ready();
    const tag = options.spinMicros;
    const fds = [0, 1, 2].map((i) => nodeFs.openSync(join(dir, `multi-${tag}-${i}`), 'w+'));
    try {
      await Promise.all(
        Array.from({ length: 240 }, (_, i) => worker.writeAndSync(fds[i % 3] as number, [bytes(`${String(i).padStart(3, '0')}|`)], Math.floor(i / 3) * 4, 'multi')),
      );
      for (let f = 0; f < 3; f++) {
        const got = nodeFs.readFileSync(join(dir, `multi-${tag}-${f}`), 'utf8').split('|').slice(0, -1);
        expect(got).toEqual(Array.from({ length: 80 }, (_, k) => String(k * 3 + f).padStart(3, '0')));
      }
      expect(() => worker.writeAndSync(fds[0] as number, [new Uint8Array(4097)], 0, 'multi')).toThrow(RangeError);
    } finally {
      for (const fd of fds) nodeFs.closeSync(fd);
      await worker.shutdown();
    }
  });

  it('counts each completion once, as polled or parked (parked only, when polling is off)', async () => {
    const file = join(dir, 'stats');
    const fd = nodeFs.openSync(file, 'w+');
    const parkedOnly = new SyncWorker({ spinMicros: 0, pollMicros: 0 });
    const polling = new SyncWorker({ busyWait: 'always' });
    try {
      await Promise.all([parkedOnly.ready(), polling.ready()]);
      for (let i = 0; i < 20; i++) await parkedOnly.writeAndSync(fd, [bytes('p')], i, 'stats');
      for (let i = 0; i < 50; i++) await polling.writeAndSync(fd, [bytes('q')], 20 + i, 'stats');
      const a = parkedOnly.stats();
      expect(a).toMatchObject({ polled: 0, parked: 20, stalled: 0 });
      // The worker may not be asleep yet when the next request comes (on a loaded machine it
      // may lag behind every time), so only the bound holds.
      expect(a.wokeWorker).toBeLessThanOrEqual(20);
      const b = polling.stats();
      expect(b.polled + b.parked).toBe(50);
      expect(b.stalled).toBeLessThanOrEqual(b.parked);
      expect(nodeFs.readFileSync(file, 'utf8')).toBe('p'.repeat(20) + 'q'.repeat(50));
    } finally {
      nodeFs.closeSync(fd);
      await parkedOnly.shutdown();
      await polling.shutdown();
    }
  });

  it('rejects bad options', () => {
    expect(() => new SyncWorker({ capacity: 10 })).toThrow(RangeError);
    expect(() => new SyncWorker({ spinMicros: -1 })).toThrow(RangeError);
    expect(() => new SyncWorker({ pollMicros: Number.NaN })).toThrow(RangeError);
  });

  it.each([['left open'], ['closed']])('a process whose handle is %s exits by itself after a writeAndSync', async (how) => {
    const file = join(dir, `child-${how}`);
    const args = ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'one-sync.ts'), file, ...(how === 'closed' ? ['close'] : [])];
    const started = Date.now();
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, args, { timeout: 8000, killSignal: 'SIGKILL' }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    expect(out).toBe('synced\n');
    expect(Date.now() - started).toBeLessThan(8000);
    expect(nodeFs.readFileSync(file, 'utf8')).toBe('durable\n');
  });
});
