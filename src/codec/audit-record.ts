/**
 * The audit chain's bytes (docs/audit.md): the entry body that an entry's hash covers, the
 * entry hash itself, the sign bytes of a head, and the payloads of the two record kinds
 * (AuditEvent = 50, AuditHead = 51).
 *
 * Entry body (big-endian):   u64 sequence | 32 prevHash | u8 event code | u64 timestamp | event bytes
 * Entry hash:                SHA-256(ENTRY_TAG | u16 len | chain id UTF-8 | body)
 * Entry payload (kind 50):   u8 version (1) | 32 hash | body
 * Head sign bytes:           HEAD_TAG | u16 len | chain id UTF-8 | u64 treeSize | 32 lastEntryHash | 32 root
 * Head payload (kind 51):    u8 version (1) | u64 treeSize | 32 lastEntryHash | 32 root | 64 signature
 *
 * The body is stored as written and hashed as stored: a verifier never re-encodes anything to
 * check a hash. The LSN is not in the body (the log assigns it only when the batch is formed).
 * This file must never do I/O; decoders throw `Error` with a reason (the callers decide whether
 * that is corruption or a failed verification).
 */
import { sha256 } from './merkle.ts';
import { decodeAuditEvent } from './audit-event.ts';
import { ByteReader, ByteWriter } from './bytes.ts';
import type { AuditEvent } from '../model/audit.ts';

const utf8 = new TextEncoder();

/** Domain tag of entry hashes: ASCII `CSTORE-AUDIT-ENTRY-V1` and a NUL. */
export const AUDIT_ENTRY_TAG: Uint8Array = utf8.encode('CSTORE-AUDIT-ENTRY-V1\0');
/** Domain tag of head sign bytes: ASCII `CSTORE-AUDIT-HEAD-V1` and a NUL. */
export const AUDIT_HEAD_TAG: Uint8Array = utf8.encode('CSTORE-AUDIT-HEAD-V1\0');
/** Version byte of both payloads. */
export const AUDIT_RECORD_VERSION = 1;
/** Bytes of a hash. */
export const AUDIT_HASH_BYTES = 32;
/** Bytes of the fixed part of a body (before the event bytes). */
export const AUDIT_BODY_FIXED_BYTES = 8 + 32 + 1 + 8;
/** Bytes of a head payload. */
export const AUDIT_HEAD_PAYLOAD_BYTES = 1 + 8 + 32 + 32 + 64;
/** The prevHash of entry 0. */
export const GENESIS_PREV_HASH: Uint8Array = new Uint8Array(AUDIT_HASH_BYTES);

/** The fields of an entry body. */
export interface EntryBodyFields {
  readonly sequence: number;
  readonly prevHash: Uint8Array;
  readonly eventCode: number;
  readonly timestamp: number;
  readonly eventBytes: Uint8Array;
}

/** A head's fields (what its signature covers, and the signature). */
export interface HeadFields {
  readonly treeSize: number;
  readonly lastEntryHash: Uint8Array;
  readonly root: Uint8Array;
  readonly signature: Uint8Array;
}

/** Bytes of an entry's record payload (version, hash, body) for an event of `eventBytes` bytes: what `encodeEntryPayload` returns. */
export function entryPayloadBytes(eventBytes: number): number {
  return 1 + AUDIT_HASH_BYTES + AUDIT_BODY_FIXED_BYTES + eventBytes;
}

/** Encodes an entry body. The caller checked every field. */
export function encodeEntryBody(fields: EntryBodyFields): Uint8Array {
  return new ByteWriter()
    .u64(fields.sequence)
    .bytes(fields.prevHash)
    .u8(fields.eventCode)
    .u64(fields.timestamp)
    .bytes(fields.eventBytes)
    .finish();
}

/** Splits a body into its fields (the event bytes are not decoded). Throws Error on a short body. */
export function parseEntryBody(body: Uint8Array): EntryBodyFields {
  const r = new ByteReader(body);
  const sequence = r.u64();
  const prevHash = r.bytes(AUDIT_HASH_BYTES);
  const eventCode = r.u8();
  const timestamp = r.u64();
  return { sequence, prevHash, eventCode, timestamp, eventBytes: r.bytes(r.remaining) };
}

/** Splits a body and decodes its event strictly. Throws Error with the reason. */
export function decodeEntryBody(body: Uint8Array): EntryBodyFields & { readonly event: AuditEvent } {
  const fields = parseEntryBody(body);
  return { ...fields, event: decodeAuditEvent(fields.eventCode, fields.eventBytes) };
}

/** A hasher bound to one chain id (the prefix is encoded once). */
export class AuditHasher {
  private readonly entryPrefix: Uint8Array;
  private readonly headPrefix: Uint8Array;

  constructor(readonly chainId: string) {
    this.entryPrefix = new ByteWriter().bytes(AUDIT_ENTRY_TAG).text(chainId).finish();
    this.headPrefix = new ByteWriter().bytes(AUDIT_HEAD_TAG).text(chainId).finish();
  }

  /** SHA-256 of tag, chain id and `body`. */
  entryHash(body: Uint8Array): Uint8Array {
    const buf = new Uint8Array(this.entryPrefix.length + body.length);
    buf.set(this.entryPrefix);
    buf.set(body, this.entryPrefix.length);
    return sha256(buf);
  }

  /** The bytes a head's signature covers. */
  headSignBytes(treeSize: number, lastEntryHash: Uint8Array, root: Uint8Array): Uint8Array {
    return new ByteWriter().bytes(this.headPrefix).u64(treeSize).bytes(lastEntryHash).bytes(root).finish();
  }
}

/** The payload of an entry record: version, hash, body. */
export function encodeEntryPayload(hash: Uint8Array, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + AUDIT_HASH_BYTES + body.length);
  out[0] = AUDIT_RECORD_VERSION;
  out.set(hash, 1);
  out.set(body, 1 + AUDIT_HASH_BYTES);
  return out;
}

/** Splits an entry payload into its stored hash and body (copies). Throws Error on a bad version or length. */
export function splitEntryPayload(payload: Uint8Array): { hash: Uint8Array; body: Uint8Array } {
  if (payload.length < 1 + AUDIT_HASH_BYTES + AUDIT_BODY_FIXED_BYTES) throw new Error(`entry payload of ${payload.length} bytes is too short`);
  if (payload[0] !== AUDIT_RECORD_VERSION) throw new Error(`unknown entry payload version ${payload[0]}`);
  return { hash: payload.slice(1, 1 + AUDIT_HASH_BYTES), body: payload.slice(1 + AUDIT_HASH_BYTES) };
}

/** The payload of a head record. */
export function encodeHeadPayload(head: HeadFields): Uint8Array {
  return new ByteWriter()
    .u8(AUDIT_RECORD_VERSION)
    .u64(head.treeSize)
    .bytes(head.lastEntryHash)
    .bytes(head.root)
    .bytes(head.signature)
    .finish();
}

/** Decodes a head payload (copies). Throws Error on a bad version or length. */
export function decodeHeadPayload(payload: Uint8Array): HeadFields {
  if (payload.length !== AUDIT_HEAD_PAYLOAD_BYTES) throw new Error(`head payload of ${payload.length} bytes, expected ${AUDIT_HEAD_PAYLOAD_BYTES}`);
  const r = new ByteReader(payload);
  if (r.u8() !== AUDIT_RECORD_VERSION) throw new Error(`unknown head payload version ${payload[0]}`);
  const treeSize = r.u64();
  if (treeSize === 0) throw new Error('head of an empty tree');
  return { treeSize, lastEntryHash: r.bytes(32), root: r.bytes(32), signature: r.bytes(64) };
}
