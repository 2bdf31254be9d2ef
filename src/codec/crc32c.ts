/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven with slicing-by-8, and
 * LevelDB-style masking for CRCs that are stored next to the data they cover.
 *
 * This file computes checksums and nothing else: it must never allocate per call (the log calls
 * it for every record on the commit path and on every read), and never depend on the platform
 * (no native addon, no `node:zlib` whose CRC is a different polynomial).
 *
 * Why CRC32C: it is the checksum of iSCSI (RFC 3720), ext4, LevelDB and RocksDB, with better
 * error detection than the zlib CRC-32 for the record sizes we write. Known-answer vectors are
 * in the tests (RFC 3720 appendix B.4).
 */

/** The reflected Castagnoli polynomial. */
const POLY = 0x82f63b78;

/** Eight 256-entry tables: T[k][b] is the CRC of byte b followed by k zero bytes. */
function buildTables(): Int32Array {
  const tables = new Int32Array(8 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    tables[b] = c;
  }
  for (let b = 0; b < 256; b++) {
    let c = tables[b]!;
    for (let t = 1; t < 8; t++) {
      c = tables[c & 0xff]! ^ (c >>> 8);
      tables[t * 256 + b] = c;
    }
  }
  return tables;
}

const T = buildTables();
const T0 = T.subarray(0, 256);
const T1 = T.subarray(256, 512);
const T2 = T.subarray(512, 768);
const T3 = T.subarray(768, 1024);
const T4 = T.subarray(1024, 1280);
const T5 = T.subarray(1280, 1536);
const T6 = T.subarray(1536, 1792);
const T7 = T.subarray(1792, 2048);

/**
 * Continues a CRC32C over `bytes[start, end)`.
 *
 * @param crc - the CRC so far (as returned by this function or `crc32c`; 0 for empty input).
 * @param bytes - the data.
 * @param start - first byte (default 0).
 * @param end - one past the last byte (default `bytes.length`).
 * @returns the CRC32C of everything fed so far, as an unsigned 32-bit number.
 * Never throws for in-range arguments; out-of-range bounds are the caller's bug (they read as 0).
 */
export function crc32cUpdate(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = ~crc;
  let i = start;
  const end8 = end - ((end - start) & 7);
  while (i < end8) {
    const lo = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      T7[lo & 0xff]! ^
      T6[(lo >>> 8) & 0xff]! ^
      T5[(lo >>> 16) & 0xff]! ^
      T4[lo >>> 24]! ^
      T3[bytes[i + 4]!]! ^
      T2[bytes[i + 5]!]! ^
      T1[bytes[i + 6]!]! ^
      T0[bytes[i + 7]!]!;
    i += 8;
  }
  while (i < end) {
    c = T0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    i++;
  }
  return ~c >>> 0;
}

/**
 * CRC32C of `bytes[start, end)`.
 *
 * @returns an unsigned 32-bit number; `crc32c(ascii("123456789")) === 0xe3069283`.
 */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32cUpdate(0, bytes, start, end);
}

/** LevelDB's mask delta. */
const MASK_DELTA = 0xa282ead8;

/**
 * Masks a CRC before it is stored (LevelDB `crc32c::Mask`): rotate right by 15 bits and add a
 * constant. Computing the CRC of a string that contains embedded CRCs is weak (a CRC of data
 * followed by its own CRC is a constant), and the log stores CRCs inside data that is itself
 * checksummed (batches, manifests); the mask breaks that relation.
 *
 * @returns the masked value, unsigned 32-bit.
 */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/**
 * Inverse of `maskCrc`.
 *
 * @returns the original CRC, unsigned 32-bit.
 */
export function unmaskCrc(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}
