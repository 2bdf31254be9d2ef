/**
 * CRC32C known-answer vectors (RFC 3720 appendix B.4, the "123456789" check value) and the
 * LevelDB-style mask. Any mismatch here means every checksum on disk is wrong.
 */
import { describe, expect, it } from 'vitest';
import { crc32c, crc32cUpdate, maskCrc, unmaskCrc } from '../../src/codec/crc32c.ts';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('crc32c', () => {
  it('matches the RFC 3720 vectors', () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
    const iscsiRead = Uint8Array.from([
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
      0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]);
    expect(crc32c(iscsiRead)).toBe(0xd9963a56);
  });

  it('matches the check value of "123456789" and of the empty input', () => {
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('gives the same value fed in pieces as in one call, for every split and length', () => {
    const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff);
    for (let len = 0; len <= 40; len++) {
      const whole = crc32c(data, 0, len);
      for (let split = 0; split <= len; split++) {
        expect(crc32cUpdate(crc32cUpdate(0, data, 0, split), data, split, len)).toBe(whole);
      }
    }
    expect(crc32c(data.subarray(5, 290))).toBe(crc32c(data, 5, 290));
  });

  it('masks as LevelDB does and unmasks back', () => {
    const crc = crc32c(ascii('foo'));
    const masked = maskCrc(crc);
    expect(masked).not.toBe(crc);
    expect(maskCrc(masked)).not.toBe(masked);
    expect(unmaskCrc(masked)).toBe(crc);
    expect(unmaskCrc(unmaskCrc(maskCrc(maskCrc(crc))))).toBe(crc);
    for (const v of [0, 1, 0xffffffff, 0x80000000, 0x12345678]) expect(unmaskCrc(maskCrc(v))).toBe(v);
  });
});
