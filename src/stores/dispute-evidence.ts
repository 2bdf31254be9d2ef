/**
 * Dispute bundles (docs/audit.md, "Dispute evidence"): a few audit entries exactly as stored,
 * each with an RFC 6962 inclusion proof under a signed head, plus that head and its ed25519
 * signature. Anyone with the node's public key can check a bundle offline:
 * `verifyDisputeEvidence(bundle, publicKey)` needs nothing from the node.
 *
 * A bundle travels as JSON text (`encodeDisputeEvidence`); the decoder accepts only the exact
 * text the encoder produces (key order, lowercase hex, numbers as decimal strings), so that no
 * byte of a bundle can change without the check failing.
 *
 * This file must never trust a hash, event or timestamp carried beside the body bytes: each is
 * recomputed from the body and compared. Verification never throws on a bad bundle.
 */
import { AuditHasher, decodeEntryBody, splitEntryPayload } from '../codec/audit-record.ts';
import { AUDIT_EVENT_CODES, AUDIT_EVENT_TYPES, checkAuditEvent } from '../model/audit.ts';
import { encodeAuditEvent } from '../codec/audit-event.ts';
import { merkleLeafHash, merkleProofsPacked, verifyMerkleInclusion, HASH_BYTES, MAX_PROOF_LENGTH } from '../codec/merkle.ts';
import { fromHex, toHex, verifyEd25519 } from '../codec/node-key.ts';
import { checkChainId } from '../model/vote.ts';
import { proposalSignBytes, verifyBytes, verifyVote } from '../codec/vote-sign.ts';
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import type { SignedProposal, ValidatorVote } from '../model/vote.ts';
import type { AuditEvent } from '../model/audit.ts';
import type { AuditHead, DisputeEvidence, EvidenceEntry, VerifyResult } from './audit-types.ts';
import { equalBytes } from '../codec/bytes.ts';

/** Most entries a bundle may carry (a verifier's bound on untrusted input). */
export const MAX_BUNDLE_ENTRIES = 100_000;

/** What `buildDisputeEvidence` needs from the audit log. */
export interface EvidenceSource {
  readonly chainId: string;
  readonly publicKey: Uint8Array;
  readonly head: AuditHead;
  /** Merkle leaf hashes of entries 0 .. head.treeSize - 1 (at least), packed 32 bytes each. */
  readonly leafHashes: Uint8Array;
  /** The matching entries: their sequence and their durable payload (kind AuditEvent). */
  readonly records: readonly { readonly sequence: number; readonly payload: Uint8Array }[];
}

function corrupt(problem: string): ConsensusStoreError {
  return new ConsensusStoreError('CORRUPTION', `dispute evidence: ${problem}`);
}

/**
 * Builds a bundle and checks it before returning it (a bundle that would not verify is a sign
 * that the disk changed under the node).
 * @throws ConsensusStoreError CORRUPTION when a stored entry does not decode or does not match
 *   the chain the node signed.
 */
export function buildDisputeEvidence(source: EvidenceSource): DisputeEvidence {
  const hasher = new AuditHasher(source.chainId);
  const { head } = source;
  const sequences = source.records.map((r) => r.sequence);
  const { root, proofs } = merkleProofsPacked(source.leafHashes, head.treeSize, sequences);
  if (!equalBytes(root, head.root)) throw corrupt('the entries in memory do not produce the signed root');
  const entries: EvidenceEntry[] = source.records.map((r, i) => {
    let parts: ReturnType<typeof decodeEntryBody> & { hash: Uint8Array; body: Uint8Array };
    try {
      const split = splitEntryPayload(r.payload);
      parts = { ...decodeEntryBody(split.body), ...split };
    } catch (err) {
      throw corrupt(`entry ${r.sequence} does not decode: ${(err as Error).message}`);
    }
    if (parts.sequence !== r.sequence || !equalBytes(hasher.entryHash(parts.body), parts.hash)) {
      throw corrupt(`entry ${r.sequence} on disk is not the entry the node chained`);
    }
    return { sequence: r.sequence, body: parts.body, hash: parts.hash, event: parts.event, timestamp: parts.timestamp, proof: proofs[i] as Uint8Array[] };
  });
  const evidence: DisputeEvidence = {
    format: 'cstore-dispute-evidence',
    version: 1,
    chainId: source.chainId,
    publicKey: source.publicKey.slice(),
    head: { treeSize: head.treeSize, lastEntryHash: head.lastEntryHash, root: head.root, signature: head.signature },
    entries,
  };
  const check = verifyDisputeEvidence(evidence, source.publicKey);
  if (!check.ok) throw corrupt(check.reason ?? 'bundle does not verify');
  return evidence;
}

/** Options of `verifyDisputeEvidence`. */
export interface VerifyEvidenceOptions {
  /**
   * When given, every vote carried in the entries (VoteReceived, EquivocationDetected,
   * DoubleVote, ReplayAttack) and every proposal (ProposalEquivocationDetected) must carry a
   * valid signature by the key this returns for its validator and height (undefined: the check
   * fails). A PeerMessageRejected entry carries no signed message this checks: it accuses no one.
   */
  readonly votePublicKey?: (validatorId: string, height: number) => Uint8Array | undefined;
}

function proposalsOf(event: AuditEvent): SignedProposal[] {
  return event.type === 'ProposalEquivocationDetected' ? [event.proposalA, event.proposalB] : [];
}

function votesOf(event: AuditEvent): ValidatorVote[] {
  switch (event.type) {
    case 'VoteReceived':
    case 'ReplayAttack':
      return [event.vote];
    case 'EquivocationDetected':
    case 'DoubleVote':
      return [event.voteA, event.voteB];
    default:
      return [];
  }
}

/**
 * Checks a dispute bundle against the node public key the checker trusts. Accepts the bundle
 * object or its JSON text (`encodeDisputeEvidence`).
 * @returns `{ ok: true }`, or `{ ok: false, reason }` naming the first problem. Never throws.
 */
export function verifyDisputeEvidence(
  evidence: DisputeEvidence | string | Uint8Array,
  publicKey: Uint8Array,
  options: VerifyEvidenceOptions = {},
): VerifyResult {
  try {
    const e = typeof evidence === 'string' || evidence instanceof Uint8Array ? decodeDisputeEvidence(evidence) : evidence;
    return verifyObject(e, publicKey, options);
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

function fail(reason: string): VerifyResult {
  return { ok: false, reason };
}

function verifyObject(e: DisputeEvidence, publicKey: Uint8Array, options: VerifyEvidenceOptions): VerifyResult {
  if (e === null || typeof e !== 'object' || e.format !== 'cstore-dispute-evidence' || e.version !== 1) return fail('not a version 1 dispute bundle');
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return fail('the trusted public key must be 32 bytes');
  if (!(e.publicKey instanceof Uint8Array) || !equalBytes(e.publicKey, publicKey)) return fail('the bundle names another node key');
  const chainId = checkChainId('chainId', e.chainId);
  const hasher = new AuditHasher(chainId);
  const h = e.head;
  if (h === null || typeof h !== 'object' || !Number.isSafeInteger(h.treeSize) || h.treeSize < 1) return fail('head tree size is not a positive integer');
  for (const field of ['lastEntryHash', 'root'] as const) if (!(h[field] instanceof Uint8Array) || h[field].length !== HASH_BYTES) return fail(`head ${field} must be 32 bytes`);
  if (!verifyEd25519(h.signature, hasher.headSignBytes(h.treeSize, h.lastEntryHash, h.root), publicKey)) return fail('head signature does not verify with the node key');
  if (!Array.isArray(e.entries) || e.entries.length === 0 || e.entries.length > MAX_BUNDLE_ENTRIES) return fail('the bundle carries no entries (or too many)');
  let previous = -1;
  for (const entry of e.entries) {
    const where = `entry ${String(entry?.sequence)}`;
    if (!Number.isSafeInteger(entry.sequence) || entry.sequence <= previous || entry.sequence >= h.treeSize) return fail(`${where}: sequence out of order or outside the head`);
    previous = entry.sequence;
    if (!(entry.body instanceof Uint8Array)) return fail(`${where}: body must be bytes`);
    let parts: ReturnType<typeof decodeEntryBody>;
    try {
      parts = decodeEntryBody(entry.body);
    } catch (err) {
      return fail(`${where}: body does not decode: ${(err as Error).message}`);
    }
    if (parts.sequence !== entry.sequence) return fail(`${where}: body holds sequence ${parts.sequence}`);
    const hash = hasher.entryHash(entry.body);
    if (!(entry.hash instanceof Uint8Array) || !equalBytes(hash, entry.hash)) return fail(`${where}: hash does not match the body`);
    if (entry.sequence === h.treeSize - 1 && !equalBytes(hash, h.lastEntryHash)) return fail(`${where}: is the head's last entry but has another hash`);
    if (entry.timestamp !== parts.timestamp) return fail(`${where}: timestamp differs from the body`);
    let claimed: AuditEvent;
    try {
      claimed = checkAuditEvent('event', entry.event, AUDIT_EVENT_TYPES);
    } catch (err) {
      return fail(`${where}: event is malformed: ${(err as Error).message}`);
    }
    if (AUDIT_EVENT_CODES[claimed.type] !== parts.eventCode || !equalBytes(encodeAuditEvent(claimed), parts.eventBytes)) return fail(`${where}: event differs from the body`);
    if (!Array.isArray(entry.proof) || !verifyMerkleInclusion(merkleLeafHash(hash), entry.sequence, h.treeSize, entry.proof, h.root)) {
      return fail(`${where}: inclusion proof does not lead to the signed root`);
    }
    if (options.votePublicKey !== undefined) {
      for (const vote of votesOf(parts.event)) {
        const key = options.votePublicKey(vote.validatorId, vote.height);
        if (key === undefined || !verifyVote(vote, key, chainId)) return fail(`${where}: vote of ${vote.validatorId} at height ${vote.height} does not verify`);
      }
      for (const p of proposalsOf(parts.event)) {
        const key = options.votePublicKey(p.validatorId, p.height);
        if (key === undefined || !verifyBytes(p.signature, proposalSignBytes(p, chainId), key)) {
          return fail(`${where}: proposal of ${p.validatorId} at height ${p.height} does not verify`);
        }
      }
    }
  }
  return { ok: true };
}

/** The JSON text of a bundle (one line, fixed key order, lowercase hex, numbers as strings). */
export function encodeDisputeEvidence(e: DisputeEvidence): string {
  return JSON.stringify({
    format: e.format,
    version: e.version,
    chainId: e.chainId,
    publicKey: toHex(e.publicKey),
    head: {
      treeSize: String(e.head.treeSize),
      lastEntryHash: toHex(e.head.lastEntryHash),
      root: toHex(e.head.root),
      signature: toHex(e.head.signature),
    },
    entries: e.entries.map((x) => ({ sequence: String(x.sequence), body: toHex(x.body), proof: x.proof.map(toHex) })),
  });
}

function hexField(name: string, value: unknown): Uint8Array {
  const bytes = typeof value === 'string' ? fromHex(value) : undefined;
  if (bytes === undefined) throw invalidArgument(name, 'must be lowercase hex');
  return bytes;
}

function decimalField(name: string, value: unknown): number {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(value) || !Number.isSafeInteger(Number(value))) throw invalidArgument(name, 'must be a decimal string');
  return Number(value);
}

/**
 * Parses the JSON text of a bundle. The body of each entry is decoded to fill `event`, `hash`
 * and `timestamp` (the verifier still checks them), and the text must be exactly what
 * `encodeDisputeEvidence` writes for the result.
 * @throws ConsensusStoreError INVALID_ARGUMENT naming what is malformed.
 */
export function decodeDisputeEvidence(text: string | Uint8Array): DisputeEvidence {
  const s = typeof text === 'string' ? text : new TextDecoder('utf-8', { fatal: true }).decode(text);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(s) as Record<string, unknown>;
  } catch {
    throw invalidArgument('evidence', 'is not JSON');
  }
  if (raw === null || typeof raw !== 'object' || raw.format !== 'cstore-dispute-evidence' || raw.version !== 1) throw invalidArgument('evidence', 'is not a version 1 dispute bundle');
  const chainId = checkChainId('evidence.chainId', raw.chainId);
  const hasher = new AuditHasher(chainId);
  const head = raw.head as Record<string, unknown> | null;
  if (head === null || typeof head !== 'object') throw invalidArgument('evidence.head', 'must be an object');
  if (!Array.isArray(raw.entries) || raw.entries.length > MAX_BUNDLE_ENTRIES) throw invalidArgument('evidence.entries', 'must be an array');
  const entries: EvidenceEntry[] = (raw.entries as Record<string, unknown>[]).map((x, i) => {
    const name = `evidence.entries[${i}]`;
    if (x === null || typeof x !== 'object' || !Array.isArray(x.proof) || x.proof.length > MAX_PROOF_LENGTH) throw invalidArgument(name, 'is malformed');
    const body = hexField(`${name}.body`, x.body);
    let parts: ReturnType<typeof decodeEntryBody>;
    try {
      parts = decodeEntryBody(body);
    } catch (err) {
      throw invalidArgument(`${name}.body`, `does not decode: ${(err as Error).message}`);
    }
    return {
      sequence: decimalField(`${name}.sequence`, x.sequence),
      body,
      hash: hasher.entryHash(body),
      event: parts.event,
      timestamp: parts.timestamp,
      proof: (x.proof as unknown[]).map((p, j) => hexField(`${name}.proof[${j}]`, p)),
    };
  });
  const evidence: DisputeEvidence = {
    format: 'cstore-dispute-evidence',
    version: 1,
    chainId,
    publicKey: hexField('evidence.publicKey', raw.publicKey),
    head: {
      treeSize: decimalField('evidence.head.treeSize', head.treeSize),
      lastEntryHash: hexField('evidence.head.lastEntryHash', head.lastEntryHash),
      root: hexField('evidence.head.root', head.root),
      signature: hexField('evidence.head.signature', head.signature),
    },
    entries,
  };
  if (encodeDisputeEvidence(evidence) !== s) throw invalidArgument('evidence', 'is not in canonical form (re-encoding differs)');
  return evidence;
}
