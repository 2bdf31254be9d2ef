/**
 * Scenarios of the simulated disk: POSIX behaviour of its views, what survives a power cut,
 * armed crashes, injected faults, capacity, corruption helpers and determinism.
 */
import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../src/errors.ts';
import { SimulatedDisk, type SimDiskOptions } from '../../src/io/sim-disk.ts';
import { errnoOf, type FileSystem } from '../../src/io/types.ts';

const SEEDS = Array.from({ length: 200 }, (_, i) => i + 1);

function filled(length: number, value: number): Uint8Array {
  return new Uint8Array(length).fill(value);
}

/** Fast byte comparison; falls back to toEqual (slow, but with a readable diff) only on a mismatch. */
function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  if (actual === undefined || !Buffer.from(actual).equals(Buffer.from(expected))) expect(actual).toEqual(expected);
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return errnoOf(err);
  }
  return undefined;
}

/**
 * Runs `body` on a fresh disk (and a view of it) for each of the first `count` seeds in turn, and
 * returns the set of what it returned: the outcomes seen across the seeds.
 */
async function acrossSeeds<T>(
  count: number,
  body: (disk: SimulatedDisk, fs: FileSystem, seed: number) => Promise<T>,
  options: Omit<SimDiskOptions, 'seed'> = {},
): Promise<Set<T>> {
  const seen = new Set<T>();
  for (const seed of SEEDS.slice(0, count)) {
    const disk = new SimulatedDisk({ seed, ...options });
    seen.add(await body(disk, disk.fs(), seed));
  }
  return seen;
}

/** Creates `path` with `bytes`, synced, and syncs its directory. */
async function durableFile(fs: FileSystem, path: string, bytes: Uint8Array): Promise<void> {
  const h = await fs.open(path, 'create');
  await h.writeAndSync([bytes], 0);
  await h.close();
  await fs.syncDir(path.slice(0, path.lastIndexOf('/')) || '/');
}

describe('simulated disk: POSIX behaviour of a view', () => {
  it('creating a file in a missing directory fails ENOENT; mkdir is recursive and idempotent', async () => {
    const fs = new SimulatedDisk({ seed: 1 }).fs();
    expect(await codeOf(fs.open('/a/b/f', 'create'))).toBe('ENOENT');
    await fs.mkdir('/a/b');
    await fs.mkdir('/a/b');
    await fs.mkdir('a/b/../b/');
    const h = await fs.open('/a/b/f', 'create');
    await h.close();
    expect((await fs.readdir('/a')).sort()).toEqual(['b']);
    expect(await codeOf(fs.mkdir('/a/b/f'))).toBe('EEXIST');
    expect(await codeOf(fs.mkdir('/a/b/f/g'))).toBe('ENOTDIR');
  });

  it('open modes: read and readwrite of a missing file are ENOENT, create-exclusive of an existing one EEXIST', async () => {
    const fs = new SimulatedDisk({ seed: 1 }).fs();
    expect(await codeOf(fs.open('/f', 'read'))).toBe('ENOENT');
    expect(await codeOf(fs.open('/f', 'readwrite'))).toBe('ENOENT');
    await (await fs.open('/f', 'create-exclusive')).close();
    expect(await codeOf(fs.open('/f', 'create-exclusive'))).toBe('EEXIST');
    await (await fs.open('/f', 'create')).close();
    await (await fs.open('/f', 'readwrite')).close();
    await fs.mkdir('/d');
    expect(await codeOf(fs.open('/d', 'read'))).toBe('EISDIR');
  });

  it('read returns short counts at end of file and a write past the end zero-fills the gap', async () => {
    const disk = new SimulatedDisk({ seed: 1 });
    const fs = disk.fs();
    const h = await fs.open('/f', 'create');
    await h.write([filled(3, 7), filled(2, 8)], 10);
    expect(await h.size()).toBe(15);
    expect(Array.from(disk.readFileNow('/f') ?? [])).toEqual([...new Array(10).fill(0), 7, 7, 7, 8, 8]);
    const buf = new Uint8Array(8);
    expect(await h.read(buf, 12)).toBe(3);
    expect(Array.from(buf.subarray(0, 3))).toEqual([7, 8, 8]);
    expect(await h.read(buf, 15)).toBe(0);
    expect(await h.read(buf, 100)).toBe(0);
    expect(await h.read(buf, 10, 6, 2)).toBe(2);
    expect(Array.from(buf.subarray(6))).toEqual([7, 7]);
    await expect(h.read(buf, 0, 6, 3)).rejects.toThrow(RangeError);
    await h.truncate(11);
    expect(await h.size()).toBe(11);
    await h.truncate(13);
    expect(Array.from(await fs.readFile('/f')).slice(10)).toEqual([7, 0, 0]);
  });

  it('rename replaces an existing file; unlink of a missing file is ENOENT', async () => {
    const disk = new SimulatedDisk({ seed: 1 });
    const fs = disk.fs();
    await durableFile(fs, '/a', filled(4, 1));
    await durableFile(fs, '/b', filled(4, 2));
    await fs.rename('/a', '/b');
    expect(disk.listFiles()).toEqual(['/b']);
    expect(disk.readFileNow('/b')).toEqual(filled(4, 1));
    expect(await codeOf(fs.rename('/a', '/c'))).toBe('ENOENT');
    expect(await codeOf(fs.unlink('/a'))).toBe('ENOENT');
    await fs.mkdir('/d');
    expect(await codeOf(fs.unlink('/d'))).toBe('EISDIR');
    expect(await codeOf(fs.rename('/b', '/d'))).toBe('EISDIR');
    await fs.unlink('/b');
    expect(disk.listFiles()).toEqual([]);
  });

  it('readdir lists the entries of a directory and rejects ENOENT when it is missing', async () => {
    const fs = new SimulatedDisk({ seed: 1 }).fs();
    await fs.mkdir('/d/sub');
    await durableFile(fs, '/d/x', filled(1, 1));
    expect((await fs.readdir('/d')).sort()).toEqual(['sub', 'x']);
    expect(await codeOf(fs.readdir('/missing'))).toBe('ENOENT');
    expect(await codeOf(fs.readdir('/d/x'))).toBe('ENOTDIR');
  });

  it('stat reports files and directories, and undefined when absent', async () => {
    const fs = new SimulatedDisk({ seed: 1 }).fs();
    await fs.mkdir('/d');
    await durableFile(fs, '/d/x', filled(5, 1));
    expect(await fs.stat('/d/x')).toEqual({ size: 5, isFile: true, isDirectory: false });
    expect(await fs.stat('/d')).toMatchObject({ isFile: false, isDirectory: true });
    expect(await fs.stat('/d/y')).toBeUndefined();
    expect(await fs.stat('/d/x/z')).toBeUndefined();
  });

  it('a handle on an unlinked file keeps working', async () => {
    const disk = new SimulatedDisk({ seed: 1 });
    const fs = disk.fs();
    const h = await fs.open('/f', 'create');
    await h.write([filled(4, 9)], 0);
    await fs.unlink('/f');
    await h.write([filled(2, 3)], 4);
    await h.datasync();
    const buf = new Uint8Array(6);
    expect(await h.read(buf, 0)).toBe(6);
    expect(Array.from(buf)).toEqual([9, 9, 9, 9, 3, 3]);
    await h.close();
    expect(disk.listFiles()).toEqual([]);
  });

  it('a closed handle rejects EBADF, close is idempotent, and a read-only handle cannot write', async () => {
    const fs = new SimulatedDisk({ seed: 1 }).fs();
    const h = await fs.open('/f', 'create');
    await h.close();
    await h.close();
    expect(await codeOf(h.read(new Uint8Array(1), 0))).toBe('EBADF');
    expect(await codeOf(h.write([filled(1, 1)], 0))).toBe('EBADF');
    expect(await codeOf(h.datasync())).toBe('EBADF');
    expect(await codeOf(h.size())).toBe('EBADF');
    const r = await fs.open('/f', 'read');
    expect(await codeOf(r.write([filled(1, 1)], 0))).toBe('EBADF');
    expect(await codeOf(r.truncate(0))).toBe('EBADF');
    expect(r.path).toBe('/f');
  });

  it('the lock: a second holder gets LOCKED, release is idempotent, a crash releases it', async () => {
    const disk = new SimulatedDisk({ seed: 1 });
    const fs = disk.fs();
    await fs.mkdir('/data');
    await fs.syncDir('/');
    const lock = await fs.lock('/data/LOCK');
    expect(lock.kind).toBe('memory');
    await expect(fs.lock('/data/LOCK')).rejects.toSatisfy((e: unknown) => isStoreError(e, 'LOCKED'));
    await expect(disk.fs().lock('data/LOCK')).rejects.toSatisfy((e: unknown) => isStoreError(e, 'LOCKED'));
    await lock.release();
    await lock.release();
    const again = await fs.lock('/data/LOCK');
    disk.crash();
    const after = await disk.fs().lock('/data/LOCK');
    await again.release();
    await expect(disk.fs().lock('/data/LOCK')).rejects.toSatisfy((e: unknown) => isStoreError(e, 'LOCKED'));
    await after.release();
    expect(await codeOf(disk.fs().lock('/nodir/LOCK'))).toBe('ENOENT');
  });
});

describe('simulated disk: power cuts', () => {
  it('a synced write survives a crash', async () => {
    await acrossSeeds(50, async (disk, fs) => {
      await fs.mkdir('/wal');
      await fs.syncDir('/');
      await durableFile(fs, '/wal/seg', filled(10_000, 5));
      disk.crash();
      expectBytes(await disk.fs().readFile('/wal/seg'), filled(10_000, 5));
    });
  });

  it('an unsynced write is lost, kept or torn at sector boundaries across seeds', async () => {
    const tornBoundaries = new Set<number>();
    const outcomes = await acrossSeeds(SEEDS.length, async (disk, fs, seed) => {
      await durableFile(fs, '/f', filled(9000, 1));
      const h = await fs.open('/f', 'readwrite');
      await h.write([filled(8200, 2)], 300);
      disk.crash();
      const after = await disk.fs().readFile('/f');
      expect(after.length).toBe(9000);
      const stats = disk.stats;
      expect(stats.writesLost + stats.writesKept + stats.writesTorn).toBe(1);
      if (stats.writesLost === 1) expectBytes(after, filled(9000, 1));
      if (stats.writesKept === 1) expectBytes(after.subarray(300, 8500), filled(8200, 2));
      const outcome = stats.writesLost === 1 ? 'lost' : stats.writesKept === 1 ? 'kept' : 'torn';
      const badBytes: number[] = [];
      const badBoundaries: number[] = [];
      for (let i = 0; i < after.length; i++) {
        const inWrite = i >= 300 && i < 8500;
        if (!(after[i] === 1 || (inWrite && after[i] === 2))) badBytes.push(i);
        if (i > 300 && i < 8500 && after[i] !== after[i - 1]) {
          if (i % 512 !== 0) badBoundaries.push(i);
          tornBoundaries.add(i % 4096 === 0 ? 4096 : 512);
        }
      }
      expect({ seed, badBytes, badBoundaries }).toEqual({ seed, badBytes: [], badBoundaries: [] });
      return outcome;
    });
    expect(outcomes).toEqual(new Set(['lost', 'kept', 'torn']));
    expect(tornBoundaries).toEqual(new Set([512, 4096]));
  });

  it('a file created but whose directory was never synced can vanish after a crash, however synced its data', async () => {
    const seen = await acrossSeeds(40, async (disk, fs) => {
      const h = await fs.open('/new', 'create');
      await h.writeAndSync([filled(100, 3)], 0);
      disk.crash();
      const after = disk.readFileNow('/new');
      if (after !== undefined) expect(after).toEqual(filled(100, 3));
      return after === undefined ? 'gone' : 'there';
    });
    expect(seen).toEqual(new Set(['gone', 'there']));
  });

  it('a directory made but not synced in its parent loses its whole subtree', async () => {
    const seen = await acrossSeeds(40, async (disk, fs) => {
      await fs.mkdir('/d');
      await durableFile(fs, '/d/f', filled(10, 1));
      disk.crash();
      const files = disk.listFiles();
      expect(files.length === 0 || disk.readFileNow('/d/f')?.length === 10).toBe(true);
      return files.join(',');
    });
    expect(seen).toEqual(new Set(['', '/d/f']));
  });

  it('directory changes survive a crash as a prefix, in the order they were made', async () => {
    const seen = await acrossSeeds(60, async (disk, fs) => {
      for (const name of ['a', 'b', 'c']) await (await fs.open(`/${name}`, 'create')).close();
      disk.crash();
      const files = disk.listFiles().join(',');
      expect(['', '/a', '/a,/b', '/a,/b,/c']).toContain(files);
      return files;
    });
    expect(seen.size).toBe(4);
  });

  it('rename is durable only after syncDir, and atomic before it', async () => {
    const seen = await acrossSeeds(40, async (disk, fs, seed) => {
      await durableFile(fs, '/MANIFEST', filled(8, 1));
      await durableFile(fs, '/MANIFEST.tmp', filled(8, 2));
      await fs.rename('/MANIFEST.tmp', '/MANIFEST');
      disk.crash();
      const state = disk.listFiles().join(',') + ':' + String(disk.readFileNow('/MANIFEST')?.[0]);
      expect(['/MANIFEST,/MANIFEST.tmp:1', '/MANIFEST:2']).toContain(state);

      const synced = new SimulatedDisk({ seed });
      const sfs = synced.fs();
      await durableFile(sfs, '/MANIFEST', filled(8, 1));
      await durableFile(sfs, '/MANIFEST.tmp', filled(8, 2));
      await sfs.rename('/MANIFEST.tmp', '/MANIFEST');
      await sfs.syncDir('/');
      synced.crash();
      expect(synced.listFiles()).toEqual(['/MANIFEST']);
      expect(synced.readFileNow('/MANIFEST')).toEqual(filled(8, 2));
      return state;
    });
    expect(seen.size).toBe(2);
  });

  it('a rename across directories survives in both directories or in neither', async () => {
    const seen = await acrossSeeds(60, async (disk, fs) => {
      await fs.mkdir('/a');
      await fs.mkdir('/b');
      await fs.syncDir('/');
      await durableFile(fs, '/a/x', filled(4, 1));
      await (await fs.open('/a/other', 'create')).close();
      await fs.rename('/a/x', '/b/x');
      await (await fs.open('/b/later', 'create')).close();
      disk.crash();
      const files = disk.listFiles();
      const x = files.filter((f) => f.endsWith('/x'));
      expect(x.length).toBe(1);
      if (files.includes('/b/later')) expect(x).toEqual(['/b/x']);
      if (x[0] === '/b/x') expect(files).toContain('/a/other');
      return x.join();
    });
    expect(seen).toEqual(new Set(['/a/x', '/b/x']));
  });

  it('syncDir of one side of a cross-directory rename makes the whole rename durable', async () => {
    await acrossSeeds(20, async (disk, fs) => {
      await fs.mkdir('/a');
      await fs.mkdir('/b');
      await fs.syncDir('/');
      await durableFile(fs, '/a/x', filled(4, 1));
      await fs.rename('/a/x', '/b/x');
      await fs.syncDir('/b');
      disk.crash();
      expect(disk.listFiles()).toEqual(['/b/x']);
    });
  });

  it('an unsynced unlink can be undone by a crash; a synced one cannot', async () => {
    const seen = await acrossSeeds(40, async (disk, fs, seed) => {
      await durableFile(fs, '/old', filled(3, 4));
      await durableFile(fs, '/gone', filled(3, 4));
      await fs.unlink('/old');
      await fs.unlink('/gone');
      await fs.syncDir('/');
      await fs.unlink('/old').catch(() => undefined);
      disk.crash();
      expect(disk.listFiles()).toEqual([]);

      const d2 = new SimulatedDisk({ seed });
      const fs2 = d2.fs();
      await durableFile(fs2, '/old', filled(3, 4));
      await fs2.unlink('/old');
      d2.crash();
      const back = d2.readFileNow('/old');
      if (back !== undefined) expect(back).toEqual(filled(3, 4));
      return back === undefined ? 'gone' : 'back';
    });
    expect(seen).toEqual(new Set(['gone', 'back']));
  });

  it('files unlinked by the hundred are freed, yet a crash can still bring back any whose unlink was not durable', async () => {
    const seen = await acrossSeeds(20, async (disk, fs) => {
      for (let i = 0; i < 100; i++) {
        const h = await fs.open(`/f${i}`, 'create');
        await h.writeAndSync([filled(64, i)], 0);
        await h.close();
        await fs.unlink(`/f${i}`);
      }
      disk.crash();
      const files = disk.listFiles();
      expect(files.length).toBeLessThanOrEqual(1);
      for (const path of files) expectBytes(disk.readFileNow(path), filled(64, Number(path.slice(2))));
      return files.length;
    });
    expect(seen).toEqual(new Set([0, 1]));
  });

  it('a pending truncate is kept or lost', async () => {
    const seen = await acrossSeeds(40, async (disk, fs) => {
      await durableFile(fs, '/f', filled(1000, 1));
      const h = await fs.open('/f', 'readwrite');
      await h.truncate(100);
      disk.crash();
      const after = disk.readFileNow('/f');
      expect(after).toEqual(filled(after?.length ?? 0, 1));
      return after?.length ?? -1;
    });
    expect(seen).toEqual(new Set([100, 1000]));
  });

  it('crashAtCall stops the call and kills old views', async () => {
    const disk = new SimulatedDisk({ seed: 3 });
    const fs = disk.fs();
    await durableFile(fs, '/f', filled(10, 1));
    const h = await fs.open('/f', 'readwrite');
    const before = disk.callCount;
    disk.crashAtCall(2);
    await h.write([filled(4, 2)], 0);
    expect(disk.callCount).toBe(before + 1);
    const err = await h.writeAndSync([filled(4, 3)], 0).catch((e: unknown) => e);
    expect(errnoOf(err)).toBe('EIO');
    expect(err).toMatchObject({ syscall: 'write' });
    expect(disk.callCount).toBe(before + 2);
    expect(disk.stats.crashes).toBe(1);
    expect(Array.from(disk.readFileNow('/f') ?? []).every((b) => b === 1 || b === 2)).toBe(true);
    expect(await codeOf(h.size())).toBe('EIO');
    expect(await codeOf(h.close())).toBe('EIO');
    expect(await codeOf(fs.readFile('/f'))).toBe('EIO');
    expect(await codeOf(fs.stat('/f'))).toBe('EIO');
    expect(disk.callCount).toBe(before + 2);
    const fresh = disk.fs();
    expect((await fresh.readFile('/f')).length).toBe(10);
    expect(disk.callCount).toBe(before + 3);
    expect(() => disk.crashAtCall(0)).toThrow(RangeError);
  });

  it('a crash at every call of a scripted run never loses an acknowledged, synced write', async () => {
    const script = async (fs: FileSystem, acked: Map<string, number>): Promise<void> => {
      await fs.mkdir('/wal');
      await fs.syncDir('/');
      for (let i = 0; i < 4; i++) {
        const path = `/wal/${i}.seg`;
        const h = await fs.open(path, 'create-exclusive');
        await h.writeAndSync([filled(600, i + 1)], 0);
        await fs.syncDir('/wal');
        acked.set(path, i + 1);
        await h.close();
      }
    };
    const dry = new SimulatedDisk({ seed: 9 });
    await script(dry.fs(), new Map());
    const total = dry.callCount;
    expect(total).toBeGreaterThan(10);
    for (let k = 1; k <= total; k++) {
      const disk = new SimulatedDisk({ seed: 100 + k });
      disk.crashAtCall(k);
      const acked = new Map<string, number>();
      await expect(script(disk.fs(), acked)).rejects.toMatchObject({ code: 'EIO' });
      expect(disk.stats.crashes).toBe(1);
      for (const [path, value] of acked) expectBytes(disk.readFileNow(path), filled(600, value));
    }
  });

  it('with tearInterruptedWrites a crash inside writeAndSync can leave part of its data', async () => {
    const seen = await acrossSeeds(
      40,
      async (disk, fs) => {
        await durableFile(fs, '/f', new Uint8Array(0));
        const h = await fs.open('/f', 'readwrite');
        disk.crashAtCall(1);
        expect(await codeOf(h.writeAndSync([filled(4096, 7)], 0))).toBe('EIO');
        const after = disk.readFileNow('/f') ?? new Uint8Array(0);
        const kept = after.filter((b) => b === 7).length;
        return kept === 0 ? 'none' : kept === 4096 ? 'all' : 'part';
      },
      { tearInterruptedWrites: true },
    );
    expect(seen).toEqual(new Set(['none', 'all', 'part']));
  });

  it('same seed gives the same post-crash state', async () => {
    const run = async (seed: number): Promise<string> => {
      const disk = new SimulatedDisk({ seed });
      const fs = disk.fs();
      await fs.mkdir('/d');
      for (let i = 0; i < 6; i++) {
        const h = await fs.open(`/d/f${i}`, 'create');
        for (let j = 0; j < 5; j++) await h.write([filled(700, i * 10 + j)], j * 900);
        if (i % 2 === 0) await h.datasync();
        await h.truncate(3000 + i);
      }
      await fs.rename('/d/f1', '/d/f2');
      disk.crash();
      return JSON.stringify(disk.listFiles().map((p) => [p, Array.from(disk.readFileNow(p) ?? [])])) + JSON.stringify(disk.stats);
    };
    expect(await run(42)).toBe(await run(42));
    const others = new Set(await Promise.all([1, 2, 3, 4].map(run)));
    expect(others.size).toBeGreaterThan(1);
  });
});

describe('simulated disk: faults, space and corruption', () => {
  it('ENOSPC writes nothing and space freed lets writes succeed', async () => {
    const disk = new SimulatedDisk({ seed: 1, capacityBytes: 1000 });
    const fs = disk.fs();
    const a = await fs.open('/a', 'create');
    await a.write([filled(800, 1)], 0);
    const b = await fs.open('/b', 'create');
    expect(await codeOf(b.write([filled(300, 2)], 0))).toBe('ENOSPC');
    expect(await codeOf(b.writeAndSync([filled(300, 2)], 0))).toBe('ENOSPC');
    expect(await codeOf(b.truncate(300))).toBe('ENOSPC');
    expect(await b.size()).toBe(0);
    await a.write([filled(100, 3)], 700);
    expect(await a.size()).toBe(800);
    await a.truncate(500);
    await b.write([filled(300, 2)], 0);
    expect(disk.stats.capacityRejections).toBe(3);
    disk.setCapacity(800);
    expect(await codeOf(b.write([filled(1, 2)], 300))).toBe('ENOSPC');
    await fs.unlink('/a');
    expect(await codeOf(b.write([filled(1, 2)], 300))).toBe('ENOSPC');
    await a.close();
    await b.write([filled(1, 2)], 300);
    disk.setCapacity(undefined);
    await b.write([filled(5000, 2)], 0);
    expect(() => disk.setCapacity(-1)).toThrow(RangeError);
  });

  it('an injected ENOSPC on a write writes nothing and is consumed', async () => {
    const disk = new SimulatedDisk({ seed: 1 });
    const fs = disk.fs();
    const h = await fs.open('/f', 'create');
    disk.injectFault('write', 'ENOSPC', 2);
    disk.injectFault('writeAndSync', 'ENOSPC');
    expect(await codeOf(h.write([filled(10, 1)], 0))).toBe('ENOSPC');
    expect(await codeOf(h.write([filled(10, 1)], 0))).toBe('ENOSPC');
    expect(await codeOf(h.writeAndSync([filled(10, 1)], 0))).toBe('ENOSPC');
    expect(await h.size()).toBe(0);
    await h.write([filled(10, 1)], 0);
    expect(disk.stats.faultsInjected).toEqual({ 'write:ENOSPC': 2, 'writeAndSync:ENOSPC': 1 });
  });

  it('EIO on datasync leaves data unsynced', async () => {
    const seen = await acrossSeeds(30, async (disk, fs) => {
      await durableFile(fs, '/f', filled(512, 1));
      const h = await fs.open('/f', 'readwrite');
      await h.write([filled(512, 2)], 0);
      disk.injectFault('datasync', 'EIO');
      expect(await codeOf(h.datasync())).toBe('EIO');
      expect(disk.readFileNow('/f')).toEqual(filled(512, 2));
      expect(disk.readDurableNow('/f')).toEqual(filled(512, 1));
      disk.crash();
      return String(disk.readFileNow('/f')?.[0]);
    });
    expect(seen).toEqual(new Set(['1', '2']));
  });

  it('EIO on writeAndSync writes the data but does not sync it', async () => {
    const disk = new SimulatedDisk({ seed: 1 });
    const fs = disk.fs();
    await durableFile(fs, '/f', filled(4, 1));
    const h = await fs.open('/f', 'readwrite');
    disk.injectFault('writeAndSync', 'EIO');
    const err = await h.writeAndSync([filled(4, 2)], 0).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EIO', syscall: 'fdatasync' });
    expect(disk.readFileNow('/f')).toEqual(filled(4, 2));
    expect(disk.readDurableNow('/f')).toEqual(filled(4, 1));
  });

  it('injected faults on namespace calls reject and change nothing', async () => {
    const disk = new SimulatedDisk({ seed: 1 });
    const fs = disk.fs();
    for (const op of ['mkdir', 'open', 'rename', 'unlink', 'syncDir', 'readdir', 'stat', 'readFile', 'lock'] as const) {
      disk.injectFault(op, 'EIO');
    }
    expect(await codeOf(fs.mkdir('/d'))).toBe('EIO');
    expect(await fs.stat('/d').catch(errnoOf)).toBe('EIO');
    expect(await fs.stat('/d')).toBeUndefined();
    expect(await codeOf(fs.open('/f', 'create'))).toBe('EIO');
    expect(disk.listFiles()).toEqual([]);
    await (await fs.open('/f', 'create')).close();
    expect(await codeOf(fs.rename('/f', '/g'))).toBe('EIO');
    expect(await codeOf(fs.unlink('/f'))).toBe('EIO');
    expect(await codeOf(fs.readFile('/f'))).toBe('EIO');
    expect(await codeOf(fs.readdir('/'))).toBe('EIO');
    expect(await codeOf(fs.syncDir('/'))).toBe('EIO');
    expect(await codeOf(fs.lock('/LOCK'))).toBe('EIO');
    expect(disk.listFiles()).toEqual(['/f']);
    expect(() => disk.injectFault('write', 'EIO', 0)).toThrow(RangeError);
  });

  it('a faulted close still closes the handle', async () => {
    const disk = new SimulatedDisk({ seed: 1 });
    const h = await disk.fs().open('/f', 'create');
    disk.injectFault('close', 'EIO');
    expect(await codeOf(h.close())).toBe('EIO');
    expect(await codeOf(h.size())).toBe('EBADF');
  });

  it('flipBit changes exactly one bit, in durable and current content', async () => {
    const disk = new SimulatedDisk({ seed: 5 });
    const fs = disk.fs();
    await durableFile(fs, '/f', filled(100, 0));
    disk.flipBit('/f', 37, 3);
    disk.flipBit('/f', 50);
    const now = disk.readFileNow('/f') ?? new Uint8Array(0);
    expect(now[37]).toBe(8);
    const ones = Array.from(now).reduce((n, b) => n + popcount(b), 0);
    expect(ones).toBe(2);
    disk.crash();
    expect(disk.readFileNow('/f')).toEqual(now);
    expect(disk.stats.bitFlips).toBe(2);
    expect(() => disk.flipBit('/f', 100)).toThrow(RangeError);
    expect(() => disk.flipBit('/f', 0, 8)).toThrow(RangeError);
    expect(() => disk.flipBit('/nope', 0)).toThrow();
  });

  it('overwrite replaces bytes in durable and current content', async () => {
    const disk = new SimulatedDisk({ seed: 5 });
    const fs = disk.fs();
    await durableFile(fs, '/f', filled(16, 1));
    disk.overwrite('/f', 4, filled(4, 9));
    expect(disk.readDurableNow('/f')).toEqual(disk.readFileNow('/f'));
    expect(Array.from(disk.readFileNow('/f') ?? []).slice(3, 9)).toEqual([1, 9, 9, 9, 9, 1]);
    expect(() => disk.overwrite('/f', 14, filled(4, 9))).toThrow(RangeError);
  });
});

function popcount(b: number): number {
  let n = 0;
  for (let x = b; x !== 0; x &= x - 1) n++;
  return n;
}
