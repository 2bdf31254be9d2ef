/**
 * Bytes that pass their checksums but say something wrong (a buggy or hostile writer, docs/format.md
 * "Cold files"): blocks whose body does not inflate, inflates to another length, or holds
 * columns that do not decode or do not match the footer; footers, trailers, headers and
 * manifests with a valid CRC and a field out of range. Each is CORRUPTION naming the file and
 * the offset (or UNSUPPORTED_FORMAT for another version), never a record.
 */
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { writeU32 } from '../../src/codec/bytes.ts';
import { crc32c, crc32cUpdate, maskCrc } from '../../src/codec/crc32c.ts';
import { encodeBlockColumns } from '../../src/cold/block-columns.ts';
import type { ColdFileInfo } from '../../src/cold/cold-file-info.ts';
import { encodeBlockHeader, encodeFileHeader, encodeFooter, encodeTrailer, FILE_HEADER_BYTES, type ColdFooter } from '../../src/cold/cold-format.ts';
import { decodeColdManifest, encodeColdManifest } from '../../src/cold/cold-manifest.ts';
import { ColdFileReader } from '../../src/cold/cold-reader.ts';
import type { ColdBlockRef, ColdRecord } from '../../src/cold/types.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { Lsn } from '../../src/model/log-record.ts';
import { COLD, rejectsWith } from './cold-fixtures.ts';

const PATH = `${COLD}/crafted.cold`;
const rec = (lsn: number, kind = 7): ColdRecord => ({ kind, lsn: lsn as Lsn, payload: Uint8Array.of(lsn & 0xff, 2, 3, 4) });
const RECORDS = [rec(1), rec(2), rec(3)];

interface Crafted {
  /** The block's body (default: deflate of the records' columns). */
  body?: Uint8Array;
  /** The content length the block header claims (default: the real one). */
  rawLength?: number;
  /** The record count the block header claims. */
  count?: number;
  /** Changes to the footer's entry of the block. */
  ref?: Partial<ColdBlockRef>;
  /** Changes to the footer. */
  footer?: Partial<ColdFooter>;
  /** Footer bytes to use instead (CRC not fixed). */
  footerBytes?: (encoded: Uint8Array) => Uint8Array;
  trailer?: (footerOffset: number, footerLength: number) => Uint8Array;
  header?: Uint8Array;
}

/** Writes a one-block file crafted by `c` and returns a reader of it (its ColdFileInfo true to the bytes). */
async function craft(c: Crafted): Promise<ColdFileReader> {
  const disk = new SimulatedDisk({ seed: 1 });
  const fs = disk.fs();
  const raw = encodeBlockColumns(RECORDS);
  const body = c.body ?? new Uint8Array(deflateRawSync(raw));
  const header = encodeBlockHeader(FILE_HEADER_BYTES, body, c.count ?? RECORDS.length, c.rawLength ?? raw.length);
  const ref: ColdBlockRef = {
    file: 'crafted.cold', offset: FILE_HEADER_BYTES, length: header.length + body.length, count: RECORDS.length, kinds: [7],
    minHeight: NaN, maxHeight: NaN, minRound: NaN, maxRound: NaN, minLsn: 1, maxLsn: 3, minTime: NaN, maxTime: NaN, ...c.ref,
  };
  const footer: ColdFooter = { blocks: [ref], validators: ['v'], blockValidators: [[0]], ...c.footer };
  const encoded = encodeFooter(footer);
  const footerBytes = c.footerBytes?.(encoded) ?? encoded;
  const footerOffset = FILE_HEADER_BYTES + header.length + body.length;
  const trailer = c.trailer?.(footerOffset, footerBytes.length) ?? encodeTrailer(footerOffset, footerBytes.length);
  const file = Buffer.concat([c.header ?? encodeFileHeader(), header, body, footerBytes, trailer]);
  await fs.mkdir(COLD);
  const h = await fs.open(PATH, 'create');
  await h.write([file], 0);
  await h.close();
  const info: ColdFileInfo = {
    name: 'crafted.cold', bytes: file.length, checksum: crc32c(file), records: RECORDS.length, kinds: [{ kind: 7, count: 3 }],
    minHeight: NaN, maxHeight: NaN, minRound: NaN, maxRound: NaN, minLsn: 1, maxLsn: 3, minTime: NaN, maxTime: NaN,
  };
  return new ColdFileReader(fs, COLD, info);
}

async function readAll(reader: ColdFileReader): Promise<ColdRecord[]> {
  const out: ColdRecord[] = [];
  for (const b of await reader.allBlocks()) out.push(...(await reader.read(b)));
  return out;
}

/** Re-masks a footer's CRC after its bytes were changed. */
function refooter(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  writeU32(out, out.length - 4, maskCrc(crc32cUpdate(0, out, 0, out.length - 4)));
  return out;
}

async function expectCorruption(reader: ColdFileReader, offset: number, text: string): Promise<void> {
  const err = await rejectsWith(readAll(reader), 'CORRUPTION');
  expect(err.message).toContain(text);
  expect(err.location).toEqual({ file: PATH, offset });
}

describe('cold files with valid checksums and wrong content', () => {
  it('reads a crafted file that is right', async () => {
    const got = await readAll(await craft({}));
    expect(got).toEqual(RECORDS);
  });

  it('blocks: a body that does not inflate, inflates to another length, or whose columns do not decode or do not match the footer', async () => {
    await expectCorruption(await craft({ body: Uint8Array.of(0xff, 0xff, 0xff, 0xff) }), FILE_HEADER_BYTES, 'does not decompress');
    await expectCorruption(await craft({ rawLength: encodeBlockColumns(RECORDS).length + 1 }), FILE_HEADER_BYTES, 'decompresses to');
    await expectCorruption(await craft({ rawLength: 2 }), FILE_HEADER_BYTES, 'column length 2 out of range');
    await expectCorruption(await craft({ count: 2 }), FILE_HEADER_BYTES, 'holds 2 records, the footer says 3');
    const zeroKind = encodeBlockColumns(RECORDS);
    zeroKind[1] = 0;
    await expectCorruption(await craft({ body: new Uint8Array(deflateRawSync(zeroKind)) }), FILE_HEADER_BYTES, 'has kind 0');
    const trailing = Buffer.concat([encodeBlockColumns(RECORDS), Uint8Array.of(0)]);
    await expectCorruption(await craft({ body: new Uint8Array(deflateRawSync(trailing)), rawLength: trailing.length }), FILE_HEADER_BYTES, 'trailing bytes');
    const shifted = encodeBlockColumns([rec(2), rec(3), rec(4)]);
    await expectCorruption(await craft({ body: new Uint8Array(deflateRawSync(shifted)), rawLength: shifted.length }), FILE_HEADER_BYTES, 'do not match the footer');
    const otherKind = encodeBlockColumns([rec(1, 8), rec(2, 8), rec(3, 8)]);
    await expectCorruption(await craft({ body: new Uint8Array(deflateRawSync(otherKind)), rawLength: otherKind.length }), FILE_HEADER_BYTES, 'kinds do not match');
  });

  it('footers: blocks that do not tile the file, LSNs, kinds and validator indexes out of range, trailing bytes', async () => {
    const cases: [Crafted, string][] = [
      [{ ref: { offset: 17 } }, 'does not follow the previous block'],
      [{ ref: { length: 200 } }, 'not at the footer'],
      [{ ref: { minLsn: 3, maxLsn: 1 } }, 'LSN range'],
      [{ ref: { minLsn: 1, maxLsn: 2 } }, 'LSN range'],
      [{ ref: { kinds: [] } }, 'kind count 0'],
      [{ ref: { kinds: [7, 7] } }, 'kinds out of order'],
      [{ ref: { minHeight: 5, maxHeight: 4 } }, 'height range 5..4'],
      [{ footer: { blockValidators: [[3]] } }, 'validator bitmap names index 3 of 1'],
      [{ footer: { validators: Array.from({ length: 20 }, (_, i) => `v${String(i).padStart(2, '0')}`), blockValidators: [[25]] } }, 'validator index 25 of 20'],
      [{ footer: { validators: ['b', 'a'], blockValidators: [[0]] } }, 'validator 1 empty or out of order'],
      [{ footer: { blocks: [] } }, 'counts 0 blocks'],
      [{ footerBytes: (b) => refooter(Buffer.concat([b.subarray(0, b.length - 4), Uint8Array.of(0), b.subarray(b.length - 4)])) }, 'trailing bytes'],
      // The last entry ends with the mode byte and a one-byte bitmap, then the CRC.
      [{ footerBytes: (b) => refooter(Buffer.concat([b.subarray(0, b.length - 6), Uint8Array.of(2), b.subarray(b.length - 5)])) }, 'validator index mode 2'],
    ];
    for (const [c, text] of cases) {
      const err = await rejectsWith(readAll(await craft(c)), 'CORRUPTION');
      expect(err.message, text).toContain(text);
      expect(err.location?.file).toBe(PATH);
    }
  });

  it('trailers and headers: a footer placed elsewhere, another version', async () => {
    const moved = await rejectsWith(readAll(await craft({ trailer: (at, n) => encodeTrailer(at + 1, n) })), 'CORRUPTION');
    expect(moved.message).toContain('places the footer');
    const err = await rejectsWith(readAll(await craft({ trailer: (at, n) => encodeTrailer(at, n + 1) })), 'CORRUPTION');
    expect(err.message).toContain('places the footer');
    const v2 = encodeFileHeader();
    v2[8] = 2;
    await expectCorruption(await craft({ header: v2 }), 8, 'cold file version 2');
  });

  it('manifests: a file above the cut, a name twice, another version', () => {
    const info: ColdFileInfo = {
      name: 'a.cold', bytes: 100, checksum: 5, records: 3, kinds: [{ kind: 7, count: 3 }],
      minHeight: 1, maxHeight: 2, minRound: NaN, maxRound: NaN, minLsn: 1, maxLsn: 3, minTime: NaN, maxTime: NaN,
    };
    const base = { generation: 1, chainId: 'c', cut: { height: 3, lsn: 3 }, files: [info] };
    expect(decodeColdManifest(encodeColdManifest(base), 'M')).toEqual(base);
    expect(() => decodeColdManifest(encodeColdManifest({ ...base, cut: { height: 3, lsn: 2 } }), 'M')).toThrow(/above the cut/);
    expect(() => decodeColdManifest(encodeColdManifest({ ...base, files: [info, info] }), 'M')).toThrow(/listed twice/);
    expect(() => decodeColdManifest(encodeColdManifest({ ...base, generation: 0 }), 'M')).toThrow(/generation 0/);
    expect(() => decodeColdManifest(encodeColdManifest({ ...base, files: [{ ...info, records: 4 }] }), 'M')).toThrow(/counts sum to 3/);
    const v2 = encodeColdManifest(base);
    v2[8] = 2;
    writeU32(v2, 12, maskCrc(crc32cUpdate(crc32cUpdate(0, v2, 0, 12), v2, 16, v2.length)));
    expect(() => decodeColdManifest(v2, 'M')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_FORMAT' }));
  });
});
