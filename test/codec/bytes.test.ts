// The byte helpers of src/codec/bytes.ts: equality and hex, a u64 as two u32 halves (2^53 - 1 is
// the largest accepted), the little-endian fields, and the big-endian writer and reader.
import { describe, expect, it } from 'vitest';
import {
  ByteReader,
  ByteWriter,
  compareBytes,
  equalBytes,
  fromHex,
  joinU64,
  readU32,
  readU64,
  toHex,
  u64High,
  u64Low,
  writeU32,
  writeU64,
} from '../../src/codec/bytes.ts';

const MAX = Number.MAX_SAFE_INTEGER;

describe('codec/bytes', () => {
  it('equalBytes: bytes by content, absent values by identity', () => {
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBe(false);
    expect(equalBytes(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    expect(equalBytes(null, null)).toBe(true);
    expect(equalBytes(undefined, undefined)).toBe(true);
    expect(equalBytes(null, undefined)).toBe(false);
    expect(equalBytes(null, new Uint8Array(0))).toBe(false);
    expect(equalBytes(Uint8Array.of(7), undefined)).toBe(false);
    const whole = Uint8Array.of(9, 1, 2, 9);
    expect(equalBytes(whole.subarray(1, 3), Uint8Array.of(1, 2))).toBe(true);
    expect(compareBytes(Uint8Array.of(1), Uint8Array.of(1, 0))).toBe(-1);
  });

  it('toHex and fromHex: lowercase, even length, views respected', () => {
    const whole = Uint8Array.of(0xff, 0x00, 0xab, 0x10);
    expect(toHex(whole)).toBe('ff00ab10');
    expect(toHex(whole.subarray(1, 3))).toBe('00ab');
    expect(fromHex('00ab')).toEqual(Uint8Array.of(0, 0xab));
    expect(fromHex('')).toEqual(new Uint8Array(0));
    expect(fromHex('0AB0')).toBeUndefined();
    expect(fromHex('abc')).toBeUndefined();
    expect(fromHex('zz')).toBeUndefined();
  });

  it('u64 halves: split and join agree up to 2^53 - 1; a larger high half joins to -1', () => {
    for (const n of [0, 1, 0xffff_ffff, 0x1_0000_0000, 0x1_2345_6789_abcd, MAX]) {
      expect(u64Low(n)).toBe(n % 0x1_0000_0000);
      expect(joinU64(u64High(n), u64Low(n))).toBe(n);
    }
    expect(u64High(MAX)).toBe(0x1f_ffff);
    expect(joinU64(0x20_0000, 0)).toBe(-1);
    expect(joinU64(0xffff_ffff, 0xffff_ffff)).toBe(-1);
  });

  it('little-endian fields: layout, round trip, values above 2^53 - 1 read as -1', () => {
    const b = new Uint8Array(12);
    writeU32(b, 0, 0x0403_0201);
    expect([...b.subarray(0, 4)]).toEqual([1, 2, 3, 4]);
    expect(readU32(b, 0)).toBe(0x0403_0201);
    writeU64(b, 4, MAX);
    expect([...b.subarray(4, 12)]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0]);
    expect(readU64(b, 4)).toBe(MAX);
    b[10] = 0x20;
    expect(readU64(b, 4)).toBe(-1);
  });

  it('ByteWriter and ByteReader: big-endian fields, growth past the first buffer, strict reads', () => {
    const blob = new Uint8Array(600).fill(7);
    const bytes = new ByteWriter(4).u8(1).u16(0x0203).u32(0x0405_0607).u64(MAX).text('é').blob(blob).finish();
    expect([...bytes.subarray(0, 7)]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect([...bytes.subarray(7, 15)]).toEqual([0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    const r = new ByteReader(bytes);
    expect([r.u8(), r.u16(), r.u32(), r.u64(), r.text(10)]).toEqual([1, 0x0203, 0x0405_0607, MAX, 'é']);
    expect(r.blob(600)).toEqual(blob);
    expect(r.remaining).toBe(0);
    r.end();
    expect(() => new ByteReader(Uint8Array.of(0, 0x20, 0, 0, 0, 0, 0, 0)).u64()).toThrow(/exceeds 2\^53-1/);
    expect(() => new ByteReader(Uint8Array.of(2)).flag()).toThrow(/not 0 or 1/);
    expect(() => new ByteReader(Uint8Array.of(1)).u16()).toThrow(/truncated/);
    expect(() => new ByteReader(Uint8Array.of(1, 2)).end()).toThrow(/2 trailing bytes/);
  });
});
