/**
 * The per-file envelope of a portable snapshot (docs/format.md, "Portable snapshot"): what one
 * node adds around the shared content, outside the Merkle root: when it created the file, and
 * the validators' attestations of the root. And the bytes an attestation signs.
 *
 *   envelope      "CSSNAPEV", u64 created at (ms), attestations
 *   attestations  u32 n, then n times: u16 id length, id (UTF-8), 64-byte signature
 *   signed bytes  "CSTORE-SNAPSHOT-ATTESTATION-V1" 0x00, u16 chain id length, chain id,
 *                 u64 height, 32-byte root (big-endian, fixed layout: never a re-encoding)
 *
 * Decoding must never allocate more than the bytes hold and never accept an id twice.
 */
import { ByteReader, ByteWriter, equalBytes } from './bytes.ts';
import { MAX_VALIDATOR_ID_LENGTH, SIGNATURE_BYTES } from '../model/vote.ts';

const MAGIC = new TextEncoder().encode('CSSNAPEV');
const ATTEST_TAG = new TextEncoder().encode('CSTORE-SNAPSHOT-ATTESTATION-V1\u0000');

/** One attestation as the envelope holds it. */
export interface EnvelopeAttestation {
  readonly validatorId: string;
  readonly signature: Uint8Array;
}

/** The bytes a validator signs to attest the root of the snapshot of `chainId` at `height`. */
export function snapshotAttestationBytes(chainId: string, height: number, root: Uint8Array): Uint8Array {
  return new ByteWriter().bytes(ATTEST_TAG).text(chainId).u64(height).bytes(root).finish();
}

function writeAttestations(w: ByteWriter, list: readonly EnvelopeAttestation[]): void {
  w.u32(list.length);
  for (const a of list) w.text(a.validatorId).bytes(a.signature);
}

function readAttestations(r: ByteReader): EnvelopeAttestation[] {
  const n = r.u32();
  if (n * (3 + SIGNATURE_BYTES) > r.remaining) throw new Error(`envelope claims ${n} attestations`);
  const out: EnvelopeAttestation[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const validatorId = r.text(MAX_VALIDATOR_ID_LENGTH);
    if (seen.has(validatorId)) throw new Error(`envelope holds two attestations of ${validatorId}`);
    seen.add(validatorId);
    out.push({ validatorId, signature: r.bytes(SIGNATURE_BYTES) });
  }
  return out;
}

/** The envelope's bytes. */
export function encodeEnvelope(createdAt: number, attestations: readonly EnvelopeAttestation[]): Uint8Array {
  const w = new ByteWriter().bytes(MAGIC).u64(createdAt);
  writeAttestations(w, attestations);
  return w.finish();
}

/** Decodes an envelope. @throws Error when malformed. */
export function decodeEnvelope(body: Uint8Array): { createdAt: number; attestations: EnvelopeAttestation[] } {
  const r = new ByteReader(body);
  if (!equalBytes(r.bytes(8), MAGIC)) throw new Error('snapshot envelope has a bad magic');
  const createdAt = r.u64();
  const attestations = readAttestations(r);
  r.end();
  return { createdAt, attestations };
}

/** A list of attestations alone (the `.attest` file beside a snapshot). */
export function encodeAttestations(list: readonly EnvelopeAttestation[]): Uint8Array {
  const w = new ByteWriter();
  writeAttestations(w, list);
  return w.finish();
}

/** Decodes `encodeAttestations`. @throws Error when malformed. */
export function decodeAttestations(body: Uint8Array): EnvelopeAttestation[] {
  const r = new ByteReader(body);
  const out = readAttestations(r);
  r.end();
  return out;
}
