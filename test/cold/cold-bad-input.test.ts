/**
 * Bad input to the cold tier's public functions is INVALID_ARGUMENT naming the argument, and
 * writes nothing: every option of writeColdFile, FileColdTier and commitColdManifest, records
 * out of LSN order (in the first block and in a later one), bad names, bad records and keys,
 * bad filters and block references, and every rule of a manifest commit.
 */
import { describe, expect, it } from 'vitest';
import { RecordKind } from '../../src/codec/kinds.ts';
import { coldFileName, type ColdFileInfo } from '../../src/cold/cold-file-info.ts';
import { writeColdFile } from '../../src/cold/cold-file.ts';
import { commitColdManifest, openColdDir } from '../../src/cold/cold-manifest.ts';
import { ColdFileReader } from '../../src/cold/cold-reader.ts';
import { FileColdTier } from '../../src/cold/file-tier.ts';
import type { ColdKeys, ColdRecord } from '../../src/cold/types.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { FileSystem } from '../../src/io/types.ts';
import type { Lsn } from '../../src/model/log-record.ts';
import { CHAIN, COLD, coldFilesOn, rejectsWith, STORE, voteKeys, voteRecords } from './cold-fixtures.ts';

const rec = (lsn: number, kind = 7, payload = Uint8Array.of(1, 2, 3)): ColdRecord => ({ kind, lsn: lsn as Lsn, payload });
const noKeys = (): ColdKeys => ({});

/** A disk with a committed a.cold (LSNs 1..n) and a written, uncommitted b.cold. */
async function setup(): Promise<{ disk: SimulatedDisk; fs: FileSystem; a: ColdFileInfo; b: ColdFileInfo }> {
  const disk = new SimulatedDisk({ seed: 5 });
  const fs = disk.fs();
  const records = voteRecords({ validators: 4, heights: 6, seed: 3, ids: 'name' });
  const a = await writeColdFile(fs, COLD, 'a.cold', records.slice(0, 20), voteKeys);
  const b = await writeColdFile(fs, COLD, 'b.cold', records.slice(20), voteKeys);
  await commitColdManifest(fs, STORE, { chainId: CHAIN, cut: { height: 3, lsn: a.maxLsn }, files: [a] });
  return { disk, fs, a, b };
}

/** Every file on the disk with its content, to show a call wrote nothing. */
function snapshot(disk: SimulatedDisk): string {
  return disk
    .listFiles()
    .map((p) => `${p}:${Buffer.from(disk.readFileNow(p)!).toString('hex')}`)
    .join('\n');
}

describe('cold tier bad input', () => {
  it('writeColdFile: every bad option, name, record, key and argument is INVALID_ARGUMENT and leaves no file', async () => {
    const { disk, fs } = await setup();
    const before = snapshot(disk);
    const good = [rec(100), rec(101)];
    const cases: [string, () => Promise<unknown>][] = [
      ['options.blockBytes', () => writeColdFile(fs, COLD, 'x.cold', good, noKeys, { blockBytes: 1023 })],
      ['options.blockBytes', () => writeColdFile(fs, COLD, 'x.cold', good, noKeys, { blockBytes: 16 * 1024 * 1024 + 1 })],
      ['options.blockBytes', () => writeColdFile(fs, COLD, 'x.cold', good, noKeys, { blockBytes: 4096.5 })],
      ['options.blockBytes', () => writeColdFile(fs, COLD, 'x.cold', good, noKeys, { blockBytes: '4096' as unknown as number })],
      ['options.level', () => writeColdFile(fs, COLD, 'x.cold', good, noKeys, { level: 0 })],
      ['options.level', () => writeColdFile(fs, COLD, 'x.cold', good, noKeys, { level: 10 })],
      ['options.blocBytes', () => writeColdFile(fs, COLD, 'x.cold', good, noKeys, { blocBytes: 4096 } as never)],
      ['options', () => writeColdFile(fs, COLD, 'x.cold', good, noKeys, null as never)],
      ['name', () => writeColdFile(fs, COLD, '', good, noKeys)],
      ['name', () => writeColdFile(fs, COLD, 'x', good, noKeys)],
      ['name', () => writeColdFile(fs, COLD, 'x.cold.tmp', good, noKeys)],
      ['name', () => writeColdFile(fs, COLD, '../x.cold', good, noKeys)],
      ['name', () => writeColdFile(fs, COLD, 'MANIFEST', good, noKeys)],
      ['name', () => writeColdFile(fs, COLD, '.cold', good, noKeys)],
      ['name', () => writeColdFile(fs, COLD, '-x.cold', good, noKeys)],
      ['name', () => writeColdFile(fs, COLD, 7 as unknown as string, good, noKeys)],
      ['name', () => writeColdFile(fs, COLD, 'a.cold', good, noKeys)],
      ['dir', () => writeColdFile(fs, '', 'x.cold', good, noKeys)],
      ['fs', () => writeColdFile({} as FileSystem, COLD, 'x.cold', good, noKeys)],
      ['keysOf', () => writeColdFile(fs, COLD, 'x.cold', good, 'no' as never)],
      ['records', () => writeColdFile(fs, COLD, 'x.cold', 5 as never, noKeys)],
      ['records', () => writeColdFile(fs, COLD, 'x.cold', [], noKeys)],
      ['records[1].lsn', () => writeColdFile(fs, COLD, 'x.cold', [rec(5), rec(5)], noKeys)],
      ['records[1].lsn', () => writeColdFile(fs, COLD, 'x.cold', [rec(5), rec(4)], noKeys)],
      ['records[0].lsn', () => writeColdFile(fs, COLD, 'x.cold', [rec(0)], noKeys)],
      ['records[0].kind', () => writeColdFile(fs, COLD, 'x.cold', [rec(1, 0)], noKeys)],
      ['records[0].kind', () => writeColdFile(fs, COLD, 'x.cold', [rec(1, 256)], noKeys)],
      ['records[0].payload', () => writeColdFile(fs, COLD, 'x.cold', [{ kind: 1, lsn: 1 as Lsn, payload: [1] as never }], noKeys)],
      ['records[0]', () => writeColdFile(fs, COLD, 'x.cold', [null as never], noKeys)],
      ['keysOf(record 1).height', () => writeColdFile(fs, COLD, 'x.cold', [rec(1)], () => ({ height: -1 }))],
      ['keysOf(record 1).round', () => writeColdFile(fs, COLD, 'x.cold', [rec(1)], () => ({ round: 2 ** 32 }))],
      ['keysOf(record 1).time', () => writeColdFile(fs, COLD, 'x.cold', [rec(1)], () => ({ time: 1.5 }))],
      ['keysOf(record 1).validators', () => writeColdFile(fs, COLD, 'x.cold', [rec(1)], () => ({ validators: 'alice' as never }))],
      ['keysOf(record 1).validators[0]', () => writeColdFile(fs, COLD, 'x.cold', [rec(1)], () => ({ validators: [''] }))],
      ['keysOf(record 1).shard', () => writeColdFile(fs, COLD, 'x.cold', [rec(1)], () => ({ shard: 1 }) as never)],
      ['keysOf(record 1)', () => writeColdFile(fs, COLD, 'x.cold', [rec(1)], () => null as never)],
    ];
    for (const [argument, call] of cases) {
      const err = await rejectsWith(call(), 'INVALID_ARGUMENT');
      expect(err.details?.['argument'], `${argument}: ${err.message}`).toBe(argument);
    }
    expect(snapshot(disk)).toBe(before);
  });

  it('writeColdFile: records out of LSN order after the first block are INVALID_ARGUMENT and the temp file is removed', async () => {
    const { disk, fs } = await setup();
    const before = snapshot(disk);
    const many = Array.from({ length: 400 }, (_, i) => rec(1000 + i, 7, new Uint8Array(40).fill(i & 0xff)));
    many.push(rec(1200));
    async function* slow(): AsyncIterable<ColdRecord> {
      for (const r of many) yield r;
    }
    const err = await rejectsWith(writeColdFile(fs, COLD, 'late.cold', slow(), noKeys, { blockBytes: 1024 }), 'INVALID_ARGUMENT');
    expect(err.details?.['argument']).toBe('records[400].lsn');
    expect(err.message).toContain('previous record\'s LSN 1399');
    expect(snapshot(disk)).toBe(before);
    // A keysOf that throws (a payload its store cannot decode) fails the write the same way.
    const bad = voteRecords({ validators: 4, heights: 20, seed: 3 }).map((r, i) => (i === 150 ? { ...r, payload: Uint8Array.of(9) } : r));
    const corrupt = await rejectsWith(writeColdFile(fs, COLD, 'late.cold', bad, voteKeys, { blockBytes: 1024 }), 'CORRUPTION');
    expect(corrupt.message).toContain('record 151');
    expect(snapshot(disk)).toBe(before);
  });

  it('readers and tiers: bad filters, block references and options are INVALID_ARGUMENT', async () => {
    const { fs, a, b } = await setup();
    const reader = new ColdFileReader(fs, COLD, a);
    const filters: [string, unknown][] = [
      ['filter', null],
      ['filter.kinds', 1],
      ['filter.kinds[0]', [0]],
      ['filter.height', [5, 4]],
      ['filter.round', [1]],
      ['filter.lsn', [NaN, 1]],
      ['filter.time', ['a', 'b']],
      ['filter.validator', ''],
      ['filter.heights', { heights: [1, 2] }],
    ];
    const tier = await FileColdTier.open(fs, STORE, CHAIN);
    for (const [argument, f] of filters) {
      const value = argument === 'filter.heights' ? f : argument === 'filter' ? f : { [argument.split('.')[1]!.replace(/\[0\]$/, '')]: f };
      for (const target of [reader, tier]) {
        const err = await rejectsWith(target.blocks(value as never), 'INVALID_ARGUMENT');
        expect(err.details?.['argument'], err.message).toBe(argument);
      }
    }
    const [block] = await reader.blocks({});
    await rejectsWith(reader.read({ ...block!, offset: block!.offset + 1 }), 'INVALID_ARGUMENT');
    await rejectsWith(reader.read({ ...block!, file: 'b.cold' }), 'INVALID_ARGUMENT');
    await rejectsWith(reader.read(null as never), 'INVALID_ARGUMENT');
    await rejectsWith(tier.read({ ...block!, file: 'b.cold' }), 'INVALID_ARGUMENT');
    await rejectsWith(tier.read(undefined as never), 'INVALID_ARGUMENT');
    expect(() => new ColdFileReader(fs, COLD, { ...b, kinds: [] })).toThrow(/info.kinds/);
    expect(() => new ColdFileReader(fs, '', b)).toThrow(/dir/);
    expect(() => new ColdFileReader(null as never, COLD, b)).toThrow(/fs/);
    for (const options of [{ footerCache: -1 }, { blockCache: 1.5 }, { blockCache: 100_001 }, { cache: 1 }]) {
      await rejectsWith(FileColdTier.open(fs, STORE, CHAIN, options as never), 'INVALID_ARGUMENT');
      expect(() => new FileColdTier(fs, STORE, tier.manifest, options as never)).toThrow(/options/);
    }
    expect(() => new FileColdTier(fs, STORE, {} as never)).toThrow(/manifest/);
    expect(() => new FileColdTier(fs, '', tier.manifest)).toThrow(/storeDir/);
    expect(() => tier.adopt(tier.manifest)).toThrow(/generation/);
    expect(() => tier.adopt({ ...tier.manifest, generation: 2, chainId: 'x' })).toThrow(/chainId/);
    expect(() => tier.adopt({ ...tier.manifest, generation: 2, cut: { height: 0, lsn: 0 } })).toThrow(/cut/);
    await rejectsWith(openColdDir(fs, STORE, ''), 'INVALID_ARGUMENT');
    await rejectsWith(openColdDir(fs, '', CHAIN), 'INVALID_ARGUMENT');
    await rejectsWith(openColdDir(null as never, STORE, CHAIN), 'INVALID_ARGUMENT');
    expect(coldFileName(7)).toBe('0000000000000007.cold');
    expect(() => coldFileName(-1)).toThrow(/seq/);
  });

  it('commitColdManifest: every rule it keeps is INVALID_ARGUMENT and writes nothing', async () => {
    const { disk, fs, a, b } = await setup();
    const before = snapshot(disk);
    const cut = { height: 6, lsn: b.maxLsn };
    const cases: [string, () => Promise<unknown>][] = [
      ['next', () => commitColdManifest(fs, STORE, null as never)],
      ['next.chainId', () => commitColdManifest(fs, STORE, { chainId: '', cut, files: [a, b] })],
      ['chainId', () => commitColdManifest(fs, STORE, { chainId: 'other', cut, files: [a, b] })],
      ['next.cut.lsn', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut: { height: 6, lsn: -1 }, files: [a, b] })],
      ['next.cut', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut: { height: 2, lsn: b.maxLsn }, files: [a, b] })],
      ['next.files[0]', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut: { height: 6, lsn: a.maxLsn - 1 }, files: [a] })],
      ['next.files', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut, files: 'a' as never })],
      ['next.files', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut, files: [b] })],
      ['next.files', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut, files: [{ ...a, checksum: (a.checksum ^ 1) >>> 0 }, b] })],
      ['next.files', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut, files: [a, { ...b, name: 'c.cold' }] })],
      ['next.files[1].name', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut, files: [a, a] })],
      ['next.files[1]', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut: { height: 6, lsn: b.maxLsn - 1 }, files: [a, b] })],
      ['next.files[1].records', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut, files: [a, { ...b, records: 0 }] })],
      ['next.files[1].kinds', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut, files: [a, { ...b, kinds: [{ kind: RecordKind.Vote, count: 1 }] }] })],
      ['next.files[1].height min', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut, files: [a, { ...b, minHeight: NaN }] })],
      ['next.files[1].round max', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut, files: [a, { ...b, maxRound: 2 ** 32 }] })],
      ['options.dropFiles', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut, files: [a, b] }, { dropFiles: 'a.cold' as never })],
      ['options.dropFiles[0]', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut, files: [a, b] }, { dropFiles: ['a'] })],
      ['options.dropFiles', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut, files: [a, b] }, { dropFiles: ['a.cold'] })],
      ['options.dropFiles', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut, files: [a] }, { dropFiles: ['b.cold'] })],
      ['options.keep', () => commitColdManifest(fs, STORE, { chainId: CHAIN, cut, files: [a, b] }, { keep: 1 } as never)],
      ['storeDir', () => commitColdManifest(fs, '', { chainId: CHAIN, cut, files: [a, b] })],
      ['fs', () => commitColdManifest(undefined as never, STORE, { chainId: CHAIN, cut, files: [a, b] })],
    ];
    for (const [argument, call] of cases) {
      const err = await rejectsWith(call(), 'INVALID_ARGUMENT');
      expect(err.details?.['argument'], `${argument}: ${err.message}`).toBe(argument);
    }
    expect(snapshot(disk)).toBe(before);
    const next = await commitColdManifest(fs, STORE, { chainId: CHAIN, cut, files: [b] }, { dropFiles: ['a.cold'] });
    expect(next.generation).toBe(2);
    expect(coldFilesOn(disk)).toEqual(['MANIFEST', 'b.cold']);
  });
});
