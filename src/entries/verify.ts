/**
 * `consensus-store/verify`: offline verifiers of what the stores hand out, for a third party who
 * holds an export and a public key but no store: audit exports and dispute bundles
 * (docs/audit.md), Byzantine evidence (docs/evidence-and-rewards.md), RFC 6962 Merkle proofs,
 * reward statements, and the ed25519 and vote-signature checks they rest on. Nothing here opens
 * a file the caller did not name or writes anything.
 */
export { EXPORT_FORMAT as AUDIT_EXPORT_FORMAT, verifyAuditExport } from '../stores/audit-export.ts';
export { decodeDisputeEvidence, encodeDisputeEvidence, MAX_BUNDLE_ENTRIES, verifyDisputeEvidence } from '../stores/dispute-evidence.ts';
export type { VerifyEvidenceOptions } from '../stores/dispute-evidence.ts';
export type { DisputeEvidence, IntegrityReport as AuditIntegrityReport, VerifyResult } from '../stores/audit-types.ts';
export { evidenceContentId, verifyEvidenceContent } from '../codec/evidence-verify.ts';
export type { PublicKeyAt } from '../codec/evidence-verify.ts';
export type { EvidenceVerdict } from '../model/evidence.ts';
export {
  emptyMerkleRoot,
  HASH_BYTES,
  MAX_PROOF_LENGTH,
  merkleInclusionProof,
  merkleLeafHash,
  merkleNodeHash,
  merkleRoot,
  merkleRootOfData,
  sha256,
  verifyMerkleInclusion,
} from '../codec/merkle.ts';
export { parseRewardCSV, parseRewardStatementJSON } from '../stores/reward-statement.ts';
export { signEd25519, verifyEd25519, verifyEd25519Reference } from '../codec/node-key.ts';
export { proposalSignBytes, verifyBytes, verifyVote, voteSignBytes } from '../codec/vote-sign.ts';
// Snapshot chunks and attestations, checked without a store (a peer's chunk before it is kept).
export { chunkLeafHash, verifyChunk } from '../codec/snapshot-file.ts';
export { snapshotAttestationBytes } from '../codec/snapshot-envelope.ts';
