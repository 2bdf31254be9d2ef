/**
 * The bytes of one slot of the sign-state copy (`SIGNSTATE`, docs/format.md): the second,
 * checksummed copy of the node key's sign watermark that the sign guard keeps beside the log,
 * so that a lost newest log record can never lower the watermark unnoticed (D8).
 *
 * Slot layout (96 bytes, little-endian like the log's framing; never signed):
 *   0  "CSSIGNWM"       8 bytes
 *   8  u32 version      1
 *  12  u32 masked CRC32C of [0,12) ++ [16,96)
 *  16  u64 sequence     >= 1, +1 on every write; the valid slot with the higher one is current
 *  24  u64 height
 *  32  u32 round
 *  36  u8  step         1 propose, 2 prevote, 3 precommit, 4 commit
 *  37  3 bytes zero
 *  40  32 bytes         the ed25519 public key the watermark belongs to
 *  72  24 bytes zero
 *
 * This file must never accept a slot whose checksum, magic, version, step or reserved bytes
 * are wrong: such a slot is treated as absent (torn or damaged), never as a watermark.
 */
import { crc32cUpdate, maskCrc } from './crc32c.ts';
import { readU32, readU64, writeU32, writeU64 } from './bytes.ts';

/** Bytes of one slot; the file holds two, at 0 and at `SLOT_BYTES`. */
export const SLOT_BYTES = 96;
const MAGIC = new TextEncoder().encode('CSSIGNWM');
const VERSION = 1;
const KEY_BYTES = 32;

/** One slot's content. */
export interface SignStateSlot {
  readonly sequence: number;
  readonly height: number;
  readonly round: number;
  /** 1 propose, 2 prevote, 3 precommit, 4 commit. */
  readonly step: number;
  readonly publicKey: Uint8Array;
}

/** Encodes `slot` into 96 bytes. The caller passes checked values. */
export function encodeSignStateSlot(slot: SignStateSlot): Uint8Array {
  const out = new Uint8Array(SLOT_BYTES);
  out.set(MAGIC, 0);
  writeU32(out, 8, VERSION);
  writeU64(out, 16, slot.sequence);
  writeU64(out, 24, slot.height);
  writeU32(out, 32, slot.round);
  out[36] = slot.step;
  out.set(slot.publicKey, 40);
  writeU32(out, 12, slotCrc(out, 0));
  return out;
}

/** Decodes the slot at `pos` of `bytes`, or undefined when it is absent, torn or damaged. */
export function decodeSignStateSlot(bytes: Uint8Array, pos: number): SignStateSlot | undefined {
  if (bytes.length < pos + SLOT_BYTES) return undefined;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[pos + i] !== MAGIC[i]) return undefined;
  if (readU32(bytes, pos + 8) !== VERSION || readU32(bytes, pos + 12) !== slotCrc(bytes, pos)) return undefined;
  const sequence = readU64(bytes, pos + 16);
  const height = readU64(bytes, pos + 24);
  const step = bytes[pos + 36] as number;
  if (sequence < 1 || height < 0 || step < 1 || step > 4) return undefined;
  for (let i = 37; i < 40; i++) if (bytes[pos + i] !== 0) return undefined;
  for (let i = 72; i < SLOT_BYTES; i++) if (bytes[pos + i] !== 0) return undefined;
  return {
    sequence,
    height,
    round: readU32(bytes, pos + 32),
    step,
    publicKey: bytes.slice(pos + 40, pos + 40 + KEY_BYTES),
  };
}

/**
 * The current copy in a file's bytes: the valid slot (at 0 or at `SLOT_BYTES`) with the higher
 * sequence, and which slot that is; undefined when neither is valid.
 */
export function newestSignStateSlot(bytes: Uint8Array): { readonly slot: SignStateSlot; readonly index: 0 | 1 } | undefined {
  const a = decodeSignStateSlot(bytes, 0);
  const b = decodeSignStateSlot(bytes, SLOT_BYTES);
  if (a !== undefined && (b === undefined || a.sequence > b.sequence)) return { slot: a, index: 0 };
  return b === undefined ? undefined : { slot: b, index: 1 };
}

function slotCrc(bytes: Uint8Array, pos: number): number {
  return maskCrc(crc32cUpdate(crc32cUpdate(0, bytes, pos, pos + 12), bytes, pos + 16, pos + SLOT_BYTES));
}
