/**
 * An independent reading of a log's layout for the repair tests: where each committed batch of
 * each segment lies and which LSNs it holds, parsed from the bytes with the framing of
 * docs/format.md written out again here (not the engine's walker), so that a repair's report can
 * be checked against the loss computed without the code under test. Test support only.
 */
import { Prng } from '../../src/io/prng.ts';

/** One committed batch: bytes [start, end) of its segment (the commit marker included), LSNs [firstLsn, lastLsn]. */
export interface BatchLayout {
  readonly segment: string;
  readonly start: number;
  readonly end: number;
  readonly firstLsn: number;
  readonly lastLsn: number;
}

const u32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
const u64 = (b: Uint8Array, at: number): number => u32(b, at) + u32(b, at + 4) * 2 ** 32;

/** The committed batches of an undamaged segment file, in order (none for an unwritten file). */
export function batchesOf(segment: string, bytes: Uint8Array): BatchLayout[] {
  const out: BatchLayout[] = [];
  if (bytes.length < 32 || bytes.subarray(0, 32).every((b) => b === 0)) return out;
  let pos = 32;
  let start = pos;
  let first = 0;
  while (pos + 24 <= bytes.length) {
    const length = u32(bytes, pos);
    const kind = bytes[pos + 8]!;
    if (kind === 0) break;
    const lsn = u64(bytes, pos + 16);
    const span = (24 + length + 7) & ~7;
    if (kind === 200) {
      out.push({ segment, start, end: pos + span, firstLsn: first, lastLsn: lsn });
      start = pos + span;
      first = 0;
    } else if (first === 0) {
      first = lsn;
    }
    pos += span;
  }
  if (out[0] !== undefined) out[0] = { ...out[0], start: 0 };
  return out;
}

/** Every committed batch of the `.wal` files among `files`, in segment order. */
export function layoutOf(files: ReadonlyMap<string, Uint8Array>): BatchLayout[] {
  const segments = [...files.keys()].filter((p) => p.endsWith('.wal')).sort();
  return segments.flatMap((p) => batchesOf(p, files.get(p)!));
}

/** The damage a test applies to one segment. */
export type Damage =
  | { readonly kind: 'flip'; readonly offset: number; readonly bits: readonly number[] }
  | { readonly kind: 'zero'; readonly offset: number; readonly length: number }
  | { readonly kind: 'truncate'; readonly offset: number };

/**
 * Draws a damage that falls inside the data of a segment whose data ends at `dataEnd`: one to
 * three flipped bits in a byte, a zeroed range of 1..`maxZero` bytes, or a truncation.
 */
export function drawDamage(rng: Prng, dataEnd: number, maxZero = 300): Damage {
  const offset = rng.int(0, dataEnd - 1);
  const pick = rng.int(0, 9);
  if (pick < 5) return { kind: 'flip', offset, bits: [...new Set(Array.from({ length: rng.int(1, 3) }, () => rng.int(0, 7)))] };
  if (pick < 8) return { kind: 'zero', offset, length: Math.min(rng.int(1, maxZero), dataEnd - offset) };
  return { kind: 'truncate', offset };
}

/** `bytes` with `damage` applied (a copy). A flip or zeroing that changes nothing still counts. */
export function applyDamage(bytes: Uint8Array, damage: Damage): Uint8Array {
  if (damage.kind === 'truncate') return bytes.slice(0, damage.offset);
  const out = bytes.slice();
  if (damage.kind === 'flip') for (const bit of damage.bits) out[damage.offset]! ^= 1 << bit;
  else out.fill(0, damage.offset, damage.offset + damage.length);
  return out;
}
