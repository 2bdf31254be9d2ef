/**
 * One flipped bit in the newest batch, tried as a user would, on real files: the open must
 * refuse (CORRUPTION naming the file and offset) rather than roll back acknowledged votes or
 * the sign guard's watermark, after a clean close and after a SIGKILL. And the sign guard's
 * second copy of its watermark (SIGNSTATE): a log that lost its newest sign record is refused
 * until a watermark is imported, never resolved to the lower value; a damaged copy falls back to
 * its older slot; a copy that cannot be written releases no signature.
 */
import { execFile } from 'node:child_process';
import { closeSync, cpSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lastBatchRange } from '../support/last-batch.ts';
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { isStoreError } from '../../src/errors.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { ErrnoError, type FileHandle } from '../../src/io/types.ts';
import { openStore, type OpenStoreOptions, type SignerOptions } from '../../src/store.ts';
import type { UnsignedVote, ValidatorVote } from '../../src/model/vote.ts';
import { signBytes, voteSignBytes } from '../../src/codec/vote-sign.ts';
import { delegatingFs } from '../support/delegating-fs.ts';
import { Prng } from '../../src/io/prng.ts';

const chainId = 'rot-chain';
const privateKey = new Uint8Array(32).fill(21);
const identity = { privateKey, validatorId: 'me' };
const hash = (n: number): Uint8Array => new Uint8Array(32).fill(n % 251);
const precommit = (h: number, fill = h): UnsignedVote => ({ validatorId: 'me', height: h, round: h, voteType: 'precommit', blockHash: hash(fill), timestamp: 1_000 + h });
const SEGMENT = 65536;
const SEG1 = join('wal', '0000000000000001.wal');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cstore-rot-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The options without a signer. */
function keyless(): OpenStoreOptions {
  const { signer: _, ...rest } = options();
  return rest;
}

/** The options of the node that signs as `me`, with `signer`'s sign-state options. */
function options(signer: Pick<SignerOptions, 'state' | 'allowFreshState' | 'importWatermark'> = {}): OpenStoreOptions {
  // The peers' votes carry fake signatures (the log's damage is under test): unverified.
  return { dir, chainId, voteVerification: 'off', signer: { ...identity, ...signer }, log: { segmentSize: SEGMENT } };
}

/** The byte range of the last batch of a segment file. */
function lastBatchOf(path: string): { start: number; end: number } {
  return lastBatchRange(readFileSync(path)) ?? { start: 0, end: 0 };
}

/** The newest segment (path inside the data directory) that holds a batch. */
function newestSegment(): string {
  const names = readdirSync(join(dir, 'wal')).filter((n) => n.endsWith('.wal')).sort().reverse();
  const found = names.find((n) => lastBatchOf(join(dir, 'wal', n)).end > 0);
  if (found === undefined) throw new Error('no segment holds a batch');
  return join('wal', found);
}

function flipBit(path: string, offset: number, bit: number): void {
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, offset);
  b[0] = (b[0] as number) ^ (1 << bit);
  writeSync(fd, b, 0, 1, offset);
  closeSync(fd);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    async (s) => {
      await (s as { close(): Promise<void> }).close();
      return 'opened';
    },
    (err: unknown) => (isStoreError(err) ? err.code : String(err)),
  );
}

/** Flips `count` seeded random bits, one per copy of `source`, inside `[start, end)` of its first segment; every reopen must give `expected`. */
async function eachFlip(source: string, range: { start: number; end: number }, count: number, seed: number, expected: string): Promise<void> {
  const random = new Prng(seed);
  for (let i = 0; i < count; i++) {
    const offset = random.int(range.start, range.end - 1);
    const bit = random.int(0, 7);
    rmSync(dir, { recursive: true, force: true });
    cpSync(source, dir, { recursive: true });
    flipBit(join(dir, SEG1), offset, bit);
    expect(await codeOf(openStore(options())), `seed ${seed}: bit ${bit} of byte ${offset}`).toBe(expected);
  }
}

describe('one flipped bit in the newest batch (real files)', () => {
  it('after a clean close, the sign guard never reopens below its last signature: CORRUPTION, at 8 random bits of the last batch and 60 bytes before the end', async () => {
    const store = await openStore(options({ state: 'new-key' }));
    for (let h = 1; h <= 50; h++) await store.signGuard.signVote(precommit(h));
    await store.close();
    const range = lastBatchOf(join(dir, SEG1));
    const source = mkdtempSync(join(tmpdir(), 'cstore-rot-src-'));
    try {
      cpSync(dir, source, { recursive: true });
      // The reported case: one bit, 60 bytes before the end of the data.
      rmSync(dir, { recursive: true, force: true });
      cpSync(source, dir, { recursive: true });
      flipBit(join(dir, SEG1), range.end - 60, 2);
      const err = await openStore(options()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isStoreError(err, 'CORRUPTION')).toBe(true);
      expect((err as { location: { file: string; offset: number } }).location.file).toBe(join(dir, SEG1));
      const seed = 20261206;
      console.log(`newest-batch rot after a clean close: seed ${seed}`);
      await eachFlip(source, range, 8, seed, 'CORRUPTION');
    } finally {
      rmSync(source, { recursive: true, force: true });
    }
  });

  it('after a clean close, 8 validators x 40 rounds of votes: a bit flipped at 11 offsets of the last ~900 bytes is CORRUPTION, never 304 of 320 votes', async () => {
    const store = await openStore(keyless());
    const keys = Array.from({ length: 8 }, (_, v) => new Uint8Array(32).fill(100 + v));
    for (let round = 1; round <= 40; round++) {
      await Promise.all(
        keys.map((key, v) => {
          const unsigned = { validatorId: `val-${v}`, height: round, round, voteType: 'prevote' as const, blockHash: hash(round), timestamp: round };
          const vote: ValidatorVote = { ...unsigned, signature: signBytes(voteSignBytes(unsigned, chainId), key) };
          return store.votes.appendVote(vote);
        }),
      );
    }
    await store.close();
    const segment = newestSegment();
    const { end } = lastBatchOf(join(dir, segment));
    expect(end).toBeGreaterThan(1000);
    const source = mkdtempSync(join(tmpdir(), 'cstore-rot-src-'));
    try {
      cpSync(dir, source, { recursive: true });
      for (let k = 0; k < 11; k++) {
        const offset = end - 900 + k * 81;
        rmSync(dir, { recursive: true, force: true });
        cpSync(source, dir, { recursive: true });
        flipBit(join(dir, segment), offset, k % 8);
        expect(await codeOf(openStore(keyless())), `${segment} byte ${offset}`).toBe('CORRUPTION');
      }
    } finally {
      rmSync(source, { recursive: true, force: true });
    }
  });

  it('after a SIGKILL (no clean close), 8 random bits of the last batch flipped: CORRUPTION, never a lower watermark', async () => {
    const storeUrl = pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'store.ts')).href;
    const script = `
      import { openStore } from ${JSON.stringify(storeUrl)};
      const store = await openStore({ dir: ${JSON.stringify(dir)}, chainId: ${JSON.stringify(chainId)},
        signer: { privateKey: new Uint8Array(32).fill(21), validatorId: 'me', state: 'new-key' }, log: { segmentSize: ${SEGMENT} } });
      for (let h = 1; h <= 50; h++) {
        await store.signGuard.signVote({ validatorId: 'me', height: h, round: h, voteType: 'precommit', blockHash: new Uint8Array(32).fill(h), timestamp: 1000 + h });
      }
      process.stdout.write('signed\\n');
      process.kill(process.pid, 'SIGKILL');
    `;
    const out = await new Promise<string>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 30_000 }, (_err, stdout) => resolve(stdout));
    });
    expect(out).toContain('signed');
    const range = lastBatchOf(join(dir, SEG1));
    const source = mkdtempSync(join(tmpdir(), 'cstore-rot-src-'));
    try {
      cpSync(dir, source, { recursive: true });
      // Unflipped, the killed node's directory opens with its watermark at height 50.
      const intact = await openStore(options());
      expect(intact.signGuard.watermark()).toEqual({ height: 50, round: 50, step: 'precommit' });
      await intact.close();
      const seed = 7;
      console.log(`newest-batch rot after a SIGKILL: seed ${seed}`);
      await eachFlip(source, range, 8, seed, 'CORRUPTION');
    } finally {
      rmSync(source, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the sign guard\'s second copy of its watermark (SIGNSTATE)', () => {
  it('refuses a log rolled back under a newer copy until a watermark at least as high is imported, then signs only above it', async () => {
    const store = await openStore(options({ state: 'new-key' }));
    for (let h = 1; h <= 5; h++) await store.signGuard.signVote(precommit(h));
    await store.close();
    const older = mkdtempSync(join(tmpdir(), 'cstore-rot-old-'));
    try {
      cpSync(dir, older, { recursive: true });
      const later = await openStore(options());
      for (let h = 6; h <= 8; h++) await later.signGuard.signVote(precommit(h));
      await later.close();
      // The log and manifest of the older state, the copy of the newer one (a restored backup).
      rmSync(join(dir, 'wal'), { recursive: true, force: true });
      cpSync(join(older, 'wal'), join(dir, 'wal'), { recursive: true });
      cpSync(join(older, 'MANIFEST'), join(dir, 'MANIFEST'));
      const refused = await openStore(options()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isStoreError(refused, 'FRESH_SIGN_STATE')).toBe(true);
      expect((refused as { details: unknown }).details).toMatchObject({ copy: { height: 8, round: 8, step: 'precommit' }, log: { height: 5, round: 5, step: 'precommit' } });
      expect(await codeOf(openStore(options({ allowFreshState: true })))).toBe('FRESH_SIGN_STATE');
      const imported = await openStore(options({ importWatermark: { height: 8, round: 8, step: 'precommit' } }));
      await expect(imported.signGuard.signVote(precommit(7, 99))).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(imported.signGuard.signVote(precommit(8, 99))).rejects.toMatchObject({ code: 'CONFLICT' });
      expect((await imported.signGuard.signVote(precommit(9))).signature).toHaveLength(64);
      await imported.close();
      expect(await codeOf(openStore(options()))).toBe('opened');
    } finally {
      rmSync(older, { recursive: true, force: true });
    }
  });

  it('falls back to the older slot when the newest one is damaged, and a copy with both slots damaged counts as none', async () => {
    const store = await openStore(options({ state: 'new-key' }));
    for (let h = 1; h <= 3; h++) await store.signGuard.signVote(precommit(h));
    await store.close();
    const path = join(dir, 'SIGNSTATE');
    expect(statSync(path).size).toBe(192);
    // Three saves: slots 0, 1, 0; the newest (height 3) is in slot 0.
    flipBit(path, 30, 1);
    const fallback = await openStore(options());
    expect(fallback.signGuard.watermark()).toEqual({ height: 3, round: 3, step: 'precommit' });
    expect((await fallback.signGuard.signVote(precommit(4))).signature).toHaveLength(64);
    await fallback.close();
    flipBit(path, 5, 0);
    flipBit(path, 96 + 5, 0);
    const none = await openStore(options());
    expect(none.signGuard.watermark()).toEqual({ height: 4, round: 4, step: 'precommit' });
    await none.close();
  });

  it('a copy that cannot be written (EIO, ENOSPC) releases no signature; the same request later returns the one stored', async () => {
    const disk = new SimulatedDisk({ seed: 9 });
    const base = disk.fs();
    await base.mkdir('/node');
    await base.syncDir('/');
    let fail: 'EIO' | 'ENOSPC' | undefined;
    const wrap = (h: FileHandle): FileHandle => ({
      ...h,
      path: h.path,
      read: (...a) => h.read(...a),
      write: (b, p) => h.write(b, p),
      datasync: () => h.datasync(),
      truncate: (n) => h.truncate(n),
      size: () => h.size(),
      close: () => h.close(),
      writeAndSync: (b, p) => (fail !== undefined ? Promise.reject(new ErrnoError(fail, 'write', h.path)) : h.writeAndSync(b, p)),
    });
    const fs = delegatingFs(base, { open: async (p, m, o) => (p.endsWith('SIGNSTATE') ? wrap(await base.open(p, m, o)) : base.open(p, m, o)) });
    const store = await openStore({ dir: '/node', fs, chainId, signer: { ...identity, state: 'new-key' } });
    await store.signGuard.signVote(precommit(1));
    for (const [errno, code] of [['EIO', 'IO_FAILED'], ['ENOSPC', 'DISK_FULL']] as const) {
      fail = errno;
      const vote = precommit(errno === 'EIO' ? 2 : 3);
      await expect(store.signGuard.signVote(vote)).rejects.toMatchObject({ code });
      fail = undefined;
      const signed = await store.signGuard.signVote(vote);
      expect(signed.signature).toEqual(signBytes(voteSignBytes(vote, chainId), privateKey));
    }
    await store.close();
    const reopened = await openStore({ dir: '/node', fs: base, chainId, signer: identity });
    expect(reopened.signGuard.watermark()).toEqual({ height: 3, round: 3, step: 'precommit' });
    await reopened.close();
    expect(publicKeyOf(privateKey)).toHaveLength(32);
  });

  it('an unreadable copy fails the open with IO_FAILED and releases the lock', async () => {
    const disk = new SimulatedDisk({ seed: 10 });
    const base = disk.fs();
    const fs = delegatingFs(base, {
      readFile: (p) => (p.endsWith('SIGNSTATE') ? Promise.reject(new ErrnoError('EIO', 'read', p)) : base.readFile(p)),
    });
    await expect(openStore({ dir: '/node', fs, chainId, signer: { ...identity, state: 'new-key' } })).rejects.toMatchObject({ code: 'IO_FAILED' });
    const again = await openStore({ dir: '/node', fs: base, chainId, signer: { ...identity, state: 'new-key' } });
    await again.close();
  });
});
