/**
 * Record framing: round trips, and rejection of every kind of bad header before anything is
 * sized from it (lengths past the format bound or the segment end, stray fields, bad CRCs).
 */
import { describe, expect, it } from 'vitest';
import {
  COMMIT_KIND,
  COMMIT_RECORD_BYTES,
  HeaderStatus,
  MAX_PAYLOAD_BYTES,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  checkRecordHeader,
  commitBatchBytes,
  commitCount,
  decodeSegmentHeader,
  encodeCommitMarker,
  encodeRecord,
  encodeSegmentHeader,
  readU64,
  recordCrcMatches,
  recordKind,
  recordLength,
  recordLsn,
  recordSpan,
  writeU32,
  writeU64,
} from '../../src/codec/framing.ts';

describe('record framing', () => {
  it('round-trips records of every small length, 8-byte aligned with zero padding', () => {
    for (let len = 0; len < 40; len++) {
      const buf = new Uint8Array(128).fill(0xee);
      const payload = Uint8Array.from({ length: len }, (_, i) => i + 1);
      const end = encodeRecord(buf, 8, 7, 2 ** 40 + len, payload);
      expect(end).toBe(8 + recordSpan(len));
      expect((end - 8) % 8).toBe(0);
      expect(checkRecordHeader(buf, 8, 120)).toBe(HeaderStatus.Ok);
      expect(recordCrcMatches(buf, 8)).toBe(true);
      expect(recordLength(buf, 8)).toBe(len);
      expect(recordKind(buf, 8)).toBe(7);
      expect(recordLsn(buf, 8)).toBe(2 ** 40 + len);
      expect(buf.subarray(8 + RECORD_HEADER_BYTES, 8 + RECORD_HEADER_BYTES + len)).toEqual(payload);
      for (let i = 8 + RECORD_HEADER_BYTES + len; i < end; i++) expect(buf[i]).toBe(0);
    }
  });

  it('round-trips a commit marker', () => {
    const buf = new Uint8Array(64);
    expect(encodeCommitMarker(buf, 0, 99, 3, 240)).toBe(COMMIT_RECORD_BYTES);
    expect(checkRecordHeader(buf, 0, 64)).toBe(HeaderStatus.Ok);
    expect(recordCrcMatches(buf, 0)).toBe(true);
    expect(recordKind(buf, 0)).toBe(COMMIT_KIND);
    expect(recordLsn(buf, 0)).toBe(99);
    expect(commitCount(buf, 0)).toBe(3);
    expect(commitBatchBytes(buf, 0)).toBe(240);
  });

  it('reads 24 zero bytes as unwritten space', () => {
    expect(checkRecordHeader(new Uint8Array(24), 0, 4096)).toBe(HeaderStatus.Unwritten);
  });

  it('rejects a length past the segment end or the format bound before reading the payload', () => {
    const buf = new Uint8Array(64);
    encodeRecord(buf, 0, 1, 1, new Uint8Array(16));
    expect(checkRecordHeader(buf, 0, 40)).toBe(HeaderStatus.Ok);
    expect(checkRecordHeader(buf, 0, 39)).toBe(HeaderStatus.BadLength);
    writeU32(buf, 0, MAX_PAYLOAD_BYTES + 1);
    expect(checkRecordHeader(buf, 0, 2 ** 31)).toBe(HeaderStatus.BadLength);
    writeU32(buf, 0, 0xffffffff);
    expect(checkRecordHeader(buf, 0, 2 ** 31)).toBe(HeaderStatus.BadLength);
  });

  it('rejects stray flags, reserved bytes, kind 0 with data, an LSN above 2^53 and a wrong-sized marker', () => {
    const fresh = (): Uint8Array => {
      const buf = new Uint8Array(64);
      encodeRecord(buf, 0, 1, 1, new Uint8Array(8));
      return buf;
    };
    for (const at of [9, 10, 11, 12, 15]) {
      const buf = fresh();
      buf[at] = 1;
      expect(checkRecordHeader(buf, 0, 64)).toBe(HeaderStatus.BadFields);
    }
    const kindZero = fresh();
    kindZero[8] = 0;
    expect(checkRecordHeader(kindZero, 0, 64)).toBe(HeaderStatus.BadFields);
    const bigLsn = fresh();
    writeU32(bigLsn, 20, 0x200000);
    expect(checkRecordHeader(bigLsn, 0, 64)).toBe(HeaderStatus.BadFields);
    const marker = new Uint8Array(64);
    encodeRecord(marker, 0, COMMIT_KIND, 1, new Uint8Array(16));
    expect(checkRecordHeader(marker, 0, 64)).toBe(HeaderStatus.BadLength);
  });

  it('detects every single flipped bit of a record, padding included', () => {
    const buf = new Uint8Array(48);
    const end = encodeRecord(buf, 0, 3, 12345, Uint8Array.from([1, 2, 3, 4, 5]));
    for (let byte = 0; byte < end; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        buf[byte]! ^= 1 << bit;
        const ok = checkRecordHeader(buf, 0, 48) === HeaderStatus.Ok && recordCrcMatches(buf, 0);
        expect(ok, `byte ${byte} bit ${bit}`).toBe(false);
        buf[byte]! ^= 1 << bit;
      }
    }
  });

  it('u64 fields round-trip up to 2^53 - 1', () => {
    const buf = new Uint8Array(8);
    for (const v of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
      writeU64(buf, 0, v);
      expect(readU64(buf, 0)).toBe(v);
    }
  });
});

describe('segment header', () => {
  it('round-trips, reads all-zero as unwritten, and rejects damage', () => {
    const buf = new Uint8Array(SEGMENT_HEADER_BYTES);
    expect(decodeSegmentHeader(buf, 0)).toEqual({ status: 'unwritten' });
    encodeSegmentHeader(buf, 0, { id: 42, firstLsn: 1000 });
    expect(decodeSegmentHeader(buf, 0)).toEqual({ status: 'ok', header: { id: 42, firstLsn: 1000 } });
    for (let byte = 0; byte < SEGMENT_HEADER_BYTES; byte++) {
      buf[byte]! ^= 0x10;
      expect(decodeSegmentHeader(buf, 0).status, `byte ${byte}`).toBe('bad');
      buf[byte]! ^= 0x10;
    }
  });
});
