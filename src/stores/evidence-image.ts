/**
 * The evidence store's section of the local state image (tag 7; docs/format.md, "Local state
 * image"): every piece of evidence held, the offense counts (which survive expiry) and the
 * content ids of expired evidence. The by-validator, by-type and by-height indexes are rebuilt
 * from the evidence by the store.
 *
 * Layout: u32 version; u32 count of evidence, each i64 LSN and the Evidence record's payload
 * (content id, canonical content, status and failure, recordedAt); u32 count of validators with
 * counts, each its id text and, per evidence type in `EVIDENCE_TYPES` order, u32 verified and u32
 * unverified; u32 count of expired content ids, each 32 bytes.
 *
 * It must never return evidence whose content id does not match its content, nor a count that
 * the bytes cannot back.
 */
import type { ImageReader, ImageWriter } from '../codec/image-section.ts';
import { decodeEvidenceRecord, encodeEvidenceRecord } from '../codec/evidence-record.ts';
import { canonicalEvidence, evidenceContentId } from '../codec/evidence-verify.ts';
import { fromHex, toHex } from '../codec/bytes.ts';
import { EVIDENCE_TYPES } from '../model/evidence.ts';
import { MAX_VALIDATOR_ID_LENGTH } from '../model/validator.ts';
import type { Lsn } from '../log/types.ts';
import type { StoredEvidence } from './evidence-types.ts';
import { readCount, readSectionVersion, readUint, writeSectionVersion } from './image-common.ts';

/** One validator's offense counts: index = type code (0 unused). */
export type EvidenceCounts = readonly { readonly verified: number; readonly unverified: number }[];

/** What the section holds. */
export interface EvidenceImage {
  readonly evidence: readonly StoredEvidence[];
  readonly counts: readonly (readonly [string, EvidenceCounts])[];
  readonly pruned: readonly string[];
}

/** Writes the section (module comment). */
export function writeEvidenceImage(w: ImageWriter, image: EvidenceImage): void {
  writeSectionVersion(w);
  w.u32(image.evidence.length);
  for (const e of image.evidence) {
    const id = fromHex(e.id) as Uint8Array;
    const record = encodeEvidenceRecord({ id, evidence: e, status: e.status, failure: e.failure, recordedAt: e.recordedAt });
    w.i64(e.lsn).bytes(record.payload);
  }
  w.u32(image.counts.length);
  for (const [validatorId, counts] of image.counts) {
    w.text(validatorId);
    for (let code = 1; code <= EVIDENCE_TYPES.length; code++) {
      const c = counts[code] ?? { verified: 0, unverified: 0 };
      w.u32(c.verified).u32(c.unverified);
    }
  }
  w.u32(image.pruned.length);
  for (const id of image.pruned) w.bytes(fromHex(id) as Uint8Array);
}

/**
 * Reads the section under `chainId` (content ids are checked against their content).
 * @throws Error or CORRUPTION on malformed bytes.
 */
export function readEvidenceImage(r: ImageReader, chainId: string): EvidenceImage {
  readSectionVersion(r, 'evidence');
  const evidence: StoredEvidence[] = [];
  const seen = new Set<string>();
  const count = readCount(r, 12, 'evidence');
  for (let i = 0; i < count; i++) {
    const lsn = readUint(r, 'evidence LSN');
    const decoded = decodeEvidenceRecord(r.bytes(r.remaining), lsn as Lsn);
    const e = canonicalEvidence(decoded.evidence, chainId);
    const id = toHex(decoded.id);
    if (seen.has(id) || toHex(evidenceContentId(e, chainId)) !== id) throw new Error(`evidence image: evidence ${i} is repeated or its content id does not match`);
    seen.add(id);
    const info = { id, lsn: lsn as Lsn, recordedAt: decoded.recordedAt, status: decoded.status };
    evidence.push((decoded.failure === undefined ? { ...e, ...info } : { ...e, ...info, failure: decoded.failure }) as StoredEvidence);
  }
  const counts: (readonly [string, EvidenceCounts])[] = [];
  const validators = readCount(r, 4 + 8 * EVIDENCE_TYPES.length, 'validators with offenses');
  for (let i = 0; i < validators; i++) {
    const validatorId = r.text(4 * MAX_VALIDATOR_ID_LENGTH);
    const row = [{ verified: 0, unverified: 0 }];
    for (let code = 1; code <= EVIDENCE_TYPES.length; code++) row.push({ verified: r.u32(), unverified: r.u32() });
    counts.push([validatorId, row]);
  }
  if (new Set(counts.map(([id]) => id)).size !== counts.length) throw new Error('evidence image: a validator has two rows of counts');
  const pruned: string[] = [];
  const prunedCount = readCount(r, 36, 'expired content ids');
  for (let i = 0; i < prunedCount; i++) {
    const id = r.bytes(32);
    if (id.length !== 32) throw new Error(`evidence image: expired content id ${i} is not 32 bytes`);
    pruned.push(toHex(id));
  }
  r.end();
  return { evidence, counts, pruned };
}
