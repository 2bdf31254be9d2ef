/**
 * Cold files on the simulated disk: vote-like records written and read back byte for byte, the
 * ColdFileInfo the manifest records, lazy footers, the block index (ranges, kinds, validators),
 * the reader's IO_FAILED, and what a vote costs on disk against the 64 bytes of its signature
 * (docs/format.md, "Cold files").
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RecordKind } from '../../src/codec/kinds.ts';
import { crc32c } from '../../src/codec/crc32c.ts';
import { decodeVoteRecord } from '../../src/codec/vote-record.ts';
import { coldFileName } from '../../src/cold/cold-file-info.ts';
import { writeColdFile } from '../../src/cold/cold-file.ts';
import { coldDirOf, commitColdManifest, openColdDir } from '../../src/cold/cold-manifest.ts';
import { FileColdTier } from '../../src/cold/file-tier.ts';
import { defaultFileSystem } from '../../src/io/real-fs.ts';
import { ColdFileReader } from '../../src/cold/cold-reader.ts';
import type { ColdRecord } from '../../src/cold/types.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { CHAIN, COLD, coldFilesOn, recordsDiffer, rejectsWith, voteKeys, voteRecords } from './cold-fixtures.ts';

async function readAll(reader: ColdFileReader): Promise<ColdRecord[]> {
  const out: ColdRecord[] = [];
  for (const b of await reader.blocks({})) out.push(...(await reader.read(b)));
  return out;
}

describe('cold file', () => {
  it('round-trips vote records, bytes equal, in LSN order, and records exact facts in its ColdFileInfo', async () => {
    const disk = new SimulatedDisk({ seed: 1 });
    const fs = disk.fs();
    const records = voteRecords({ validators: 21, heights: 30, seed: 3, firstHeight: 100, firstLsn: 50 });
    const info = await writeColdFile(fs, COLD, 'a.cold', records, voteKeys, { blockBytes: 4096 });
    const bytes = disk.readDurableNow(`${COLD}/a.cold`)!;
    expect(info.bytes).toBe(bytes.length);
    expect(info.checksum).toBe(crc32c(bytes));
    expect(info.records).toBe(30 * 43);
    expect(info.kinds).toEqual([
      { kind: RecordKind.Vote, count: 30 * 42 },
      { kind: RecordKind.Finalized, count: 30 },
    ]);
    expect([info.minLsn, info.maxLsn]).toEqual([50, 50 + 30 * 43 - 1]);
    expect([info.minHeight, info.maxHeight]).toEqual([100, 129]);
    const rounds = records.filter((r) => r.kind === RecordKind.Vote).map((r) => decodeVoteRecord(r).vote.round);
    expect([info.minRound, info.maxRound]).toEqual([Math.min(...rounds), Math.max(...rounds)]);
    expect(coldFilesOn(disk)).toEqual(['a.cold']);

    const reader = new ColdFileReader(fs, COLD, info);
    expect(reader.footerLoaded).toBe(false);
    const back = await readAll(reader);
    expect(reader.footerLoaded).toBe(true);
    expect(recordsDiffer(back, records)).toBe('');
    expect(back[7]).toEqual(records[7]);
    const all = await reader.blocks({});
    expect(all.length).toBeGreaterThan(5);
    expect(all.reduce((n, b) => n + b.count, 0)).toBe(info.records);
    expect(await reader.verify()).toEqual({ file: `${COLD}/a.cold`, bytes: info.bytes, blocks: all.length, records: info.records });
  });

  it('lists only the blocks a filter may need: by height, kind, LSN, time and validator', async () => {
    const disk = new SimulatedDisk({ seed: 2 });
    const fs = disk.fs();
    const records = voteRecords({ validators: 4, heights: 200, seed: 5, ids: 'name' });
    const info = await writeColdFile(fs, COLD, 'b.cold', records, voteKeys, { blockBytes: 1024 });
    const reader = new ColdFileReader(fs, COLD, info);
    const all = await reader.blocks({});
    const h = await reader.blocks({ height: [50, 50] });
    expect(h.length).toBeGreaterThanOrEqual(1);
    expect(h.length).toBeLessThan(4);
    for (const b of h) expect(b.minHeight <= 50 && b.maxHeight >= 50).toBe(true);
    const got = (await Promise.all(h.map((b) => reader.read(b)))).flat().filter((r) => voteKeys(r).height === 50);
    expect(recordsDiffer(got, records.filter((r) => voteKeys(r).height === 50))).toBe('');
    expect(got).toHaveLength(9);
    expect(await reader.blocks({ kinds: [RecordKind.Evidence] })).toEqual([]);
    expect(await reader.blocks({ validator: 'validator-009' })).toEqual([]);
    expect((await reader.blocks({ validator: 'validator-002' })).length).toBe(all.length);
    expect(await reader.blocks({ lsn: [records.length + 1, records.length + 10] })).toEqual([]);
    const byLsn = await reader.blocks({ lsn: [1, 1] });
    expect(byLsn.map((b) => b.offset)).toEqual([all[0]!.offset]);
    expect(await reader.blocks({ time: [0, 1000] })).toEqual([]);
  });

  it('fails a read that the file system fails with IO_FAILED, and a write it fails with DISK_FULL leaving no file', async () => {
    const disk = new SimulatedDisk({ seed: 3 });
    const fs = disk.fs();
    const records = voteRecords({ validators: 4, heights: 10, seed: 5 });
    const info = await writeColdFile(fs, COLD, 'c.cold', records, voteKeys);
    disk.injectFault('read', 'EIO');
    await rejectsWith(new ColdFileReader(fs, COLD, info).blocks({}), 'IO_FAILED');
    expect(await readAll(new ColdFileReader(fs, COLD, info))).toHaveLength(records.length);
    disk.injectFault('write', 'ENOSPC');
    await rejectsWith(writeColdFile(fs, COLD, 'd.cold', records, voteKeys), 'DISK_FULL');
    expect(coldFilesOn(disk)).toEqual(['c.cold']);
  });

  it.each([21, 100])('stores a vote of %i validators in at most 1.3 times its 64-byte signature', async (validators) => {
    const disk = new SimulatedDisk({ seed: 4 });
    const fs = disk.fs();
    const results: string[] = [];
    for (const ids of ['address', 'name'] as const) {
      const records = voteRecords({ validators, heights: Math.ceil(16_000 / validators), seed: 11, ids });
      const name = `${ids}.cold`;
      const started = performance.now();
      const info = await writeColdFile(fs, COLD, name, records, voteKeys);
      const ms = performance.now() - started;
      const votes = info.kinds.find((k) => k.kind === RecordKind.Vote)!.count;
      const perVote = info.bytes / votes;
      const payload = records.reduce((n, r) => n + r.payload.length, 0) / records.length;
      results.push(`${ids} ids: ${votes} votes, ${info.bytes} bytes, ${perVote.toFixed(2)} bytes/vote (${(perVote / 64).toFixed(3)}x the signature; payload ${payload.toFixed(1)} bytes), written in ${ms.toFixed(0)} ms`);
      expect(perVote / 64).toBeLessThanOrEqual(1.3);
      expect(recordsDiffer(await readAll(new ColdFileReader(fs, COLD, info)), records)).toBe('');
    }
    console.log(`cold file size, ${validators} validators (finalization marks included in the bytes):\n  ${results.join('\n  ')}`);
  });
});

describe('cold file on the real file system', () => {
  it('writes, commits, reopens and reads back under os.tmpdir(), leftovers removed', async () => {
    const root = await mkdtemp(join(tmpdir(), 'cold-real-'));
    try {
      const fs = defaultFileSystem();
      const records = voteRecords({ validators: 21, heights: 20, seed: 6 });
      const cold = coldDirOf(root);
      const info = await writeColdFile(fs, cold, coldFileName(1), records, voteKeys, { blockBytes: 8192 });
      const manifest = await commitColdManifest(fs, root, { chainId: CHAIN, cut: { height: 21, lsn: info.maxLsn }, files: [info] });
      expect(manifest.generation).toBe(1);
      await writeFile(join(cold, 'stray.cold.tmp'), 'x');
      const { removed } = await openColdDir(fs, root, CHAIN);
      expect(removed).toEqual(['stray.cold.tmp']);
      expect((await readdir(cold)).sort()).toEqual(['0000000000000001.cold', 'MANIFEST']);
      const tier = await FileColdTier.open(fs, root, CHAIN);
      const out: ColdRecord[] = [];
      for (const b of await tier.blocks({})) out.push(...(await tier.read(b)));
      expect(recordsDiffer(out, records)).toBe('');
      expect((await tier.verify())[0]!.records).toBe(records.length);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
