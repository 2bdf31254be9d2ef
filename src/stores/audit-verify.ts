/**
 * The audit chain check, written once and used by both `AuditLog.verifyIntegrity` (fed the
 * durable records from the log) and `verifyAuditExport` (fed the lines of an exported file), so
 * that an offline verifier runs exactly the code the node runs.
 *
 * Fed entries and heads in log order, it recomputes each entry's hash from its stored body,
 * checks sequence and link, keeps the Merkle frontier, and at each head checks tree size, last
 * hash, root and the ed25519 signature with the chain's node key in force there. It stops at
 * the first problem and names the entry. It must never trust a stored hash, root or key it
 * could recompute, and never throw on bad input: every problem becomes the report's `firstBad`.
 *
 * Node keys (docs/audit.md, "Rotating the node key"): entry 0 records the chain's first key; a
 * `KeyRotated` entry named `NODE_KEY_NAME` moves it to a new key, and the head that covers that
 * entry is signed by the old key (a planned rotation, which the old key vouches for) or by the
 * new one (the old key was lost: nothing in the chain vouches for it). The verifying key is
 * trusted from the first head it signs: that head's root covers every entry before it, so a
 * lost-key rotation before it is covered, and one after it fails (the trusted key never
 * vouched for the new key). A chain no head of which the verifying key (or a key it rotated to)
 * signed fails.
 *
 * Gaps (docs/durability.md, D5): an explicit repair that keeps the batches after the damage
 * leaves the audit entries it lost missing, so the sequence jumps. The verifier accepts such a
 * jump only where a StoreRepaired entry later in the chain names exactly those sequence
 * numbers (`lostAuditSequences`); the lost entries count as leaves whose hash is
 * `LOST_ENTRY_LEAF` (the audit log builds its tree the same way from then on); the heads signed
 * between the gap and that entry covered the real leaves, so their roots cannot be recomputed
 * and are not checked (their signature, size and last hash still are), and the link of the
 * entry right after the gap cannot be checked (the entry it links to is gone). Any other jump,
 * or a StoreRepaired naming a gap the chain does not have, fails.
 */
import { AuditHasher, decodeEntryBody, decodeHeadPayload, GENESIS_PREV_HASH, splitEntryPayload } from '../codec/audit-record.ts';
import { RecordKind } from '../codec/kinds.ts';
import type { HeadFields } from '../codec/audit-record.ts';
import { NODE_KEY_NAME } from '../model/audit.ts';
import { MerkleFrontier, merkleLeafHash } from '../codec/merkle.ts';
import { toHex, verifyEd25519 } from '../codec/node-key.ts';
import type { LogRecord, Lsn } from '../log/types.ts';
import type { IntegrityReport } from './audit-types.ts';
import { equalBytes } from '../codec/bytes.ts';

/** The Merkle leaf hash that stands for an audit entry a repair lost (the leaf of an all-zero entry hash). */
export const LOST_ENTRY_LEAF: Uint8Array = merkleLeafHash(new Uint8Array(32));

/** A chain state a verifier must find (an anchor kept elsewhere: catches a cut tail). */
export interface ExpectedHead {
  readonly treeSize: number;
  readonly root: Uint8Array;
}

/** Walks one audit chain; see the top comment. */
export class AuditChainVerifier {
  private readonly hasher: AuditHasher;
  /** The chain's node key in force (entry 0's, then each rotation's). */
  private chainKey: Uint8Array | undefined;
  /** A node-key rotation entry not yet covered by a head. */
  private rotation: { readonly id: number; readonly sequence: number; readonly to: Uint8Array } | undefined;
  /** True from the first head the verifying key signed on. */
  private trusted = false;
  private readonly frontier = new MerkleFrontier();
  private prevHash: Uint8Array = GENESIS_PREV_HASH;
  private prevId = 0;
  private pendingFirst: { id: number; sequence: number } | undefined;
  private entries = 0;
  private heads = 0;
  /** At the anchor's size: true when the roots matched, else the entry where they did not. */
  private anchorMatch: true | { id: number; sequence: number } | undefined;
  private bad: { id: number; sequence?: number; reason: string } | undefined;
  /** Gaps met (a sequence jump) that no StoreRepaired entry has named yet. */
  private readonly unnamedGaps: { first: number; last: number; id: number }[] = [];
  /** True from a gap until the StoreRepaired entry naming it: heads there signed roots over the lost entries. */
  private rootsUnverifiable = false;

  /**
   * @param chainId - the chain id the hashes are bound to.
   * @param publicKey - the node key the verifier trusts.
   * @param expect - optional anchor: the chain must reach this size with this root.
   */
  constructor(
    chainId: string,
    private readonly publicKey: Uint8Array,
    private readonly expect?: ExpectedHead,
  ) {
    this.hasher = new AuditHasher(chainId);
  }

  /** True once a problem was found (later input is ignored). */
  get failed(): boolean {
    return this.bad !== undefined;
  }

  private fail(id: number, sequence: number | undefined, reason: string): void {
    this.bad ??= sequence === undefined ? { id, reason } : { id, sequence, reason };
  }

  /**
   * Fails at the first unnamed sequence jump, when there is one (the entries after it then do
   * not fit the chain: the jump was a reordering or deletion, not a repair's gap).
   * @returns whether it failed.
   */
  private failJump(): boolean {
    const jump = this.unnamedGaps[0];
    if (jump === undefined) return false;
    this.fail(jump.id, jump.last + 1, `sequence ${jump.last + 1} where ${jump.first} was expected (an entry was deleted, inserted or reordered)`);
    return true;
  }

  /** An entry record that could not even be split into hash and body. */
  damaged(id: number, reason: string): void {
    this.fail(id, undefined, `entry record does not decode: ${reason}`);
  }

  /** The next entry: its stored hash and body. */
  entry(id: number, stored: { readonly hash: Uint8Array; readonly body: Uint8Array }): void {
    if (this.bad !== undefined) return;
    let decoded: ReturnType<typeof decodeEntryBody>;
    try {
      decoded = decodeEntryBody(stored.body);
    } catch (err) {
      this.fail(id, undefined, `entry body does not decode: ${(err as Error).message}`);
      return;
    }
    const seq = decoded.sequence;
    if (!equalBytes(this.hasher.entryHash(stored.body), stored.hash)) {
      this.fail(id, seq, 'hash mismatch: the stored bytes are not the ones that were hashed (altered entry)');
      return;
    }
    const afterGap = seq > this.entries;
    if (afterGap) {
      // Entries this.entries..seq-1 are missing: accepted only if a StoreRepaired names them.
      this.unnamedGaps.push({ first: this.entries, last: seq - 1, id });
      this.frontier.appendRepeated(LOST_ENTRY_LEAF, seq - this.entries);
      this.entries = seq;
      this.rootsUnverifiable = true;
    } else if (seq !== this.entries) {
      // After a jump, an entry from before it: the jump was a reordering, not a gap.
      if (!this.failJump()) this.fail(id, seq, `sequence ${seq} where ${this.entries} was expected (an entry was deleted, inserted or reordered)`);
      return;
    }
    if (!afterGap && !equalBytes(decoded.prevHash, this.prevHash)) {
      // This entry's own hash checks out, so its prevHash is what was written: the entry before
      // it is the one that changed (rewritten with a recomputed hash).
      this.fail(this.prevId, seq - 1, `hash is not the one entry ${seq} links to (rewritten with a recomputed hash)`);
      return;
    }
    const event = decoded.event;
    if (seq === 0) {
      if (event.type !== 'NodeKeyRecorded') {
        this.fail(id, seq, 'the chain’s first entry does not record a node key');
        return;
      }
      this.chainKey = event.publicKey;
    } else if (event.type === 'NodeKeyRecorded') {
      // After a planned rotation the new key records itself and signs that batch.
      if (this.chainKey === undefined || this.rotation !== undefined || !equalBytes(event.publicKey, this.chainKey)) {
        this.fail(id, seq, 'a node key record that is not the chain’s key in force');
        return;
      }
    } else if (event.type === 'StoreRepaired' && event.lostAuditSequences != null) {
      const named = event.lostAuditSequences;
      const at = this.unnamedGaps.findIndex((g) => g.first === named.first && g.last === named.last);
      if (at < 0) {
        this.fail(id, seq, `a StoreRepaired entry names lost audit entries ${named.first}..${named.last}, a gap the chain does not have`);
        return;
      }
      this.unnamedGaps.splice(at, 1);
      if (this.unnamedGaps.length === 0) this.rootsUnverifiable = false;
    } else if (event.type === 'KeyRotated' && event.keyName === NODE_KEY_NAME) {
      if (this.chainKey === undefined || !equalBytes(event.oldPublicKey, this.chainKey) || this.rotation !== undefined) {
        this.fail(id, seq, 'a node key rotation from a key that is not the chain’s key in force (or two in one batch)');
        return;
      }
      this.rotation = { id, sequence: seq, to: event.newPublicKey };
    }
    this.frontier.append(merkleLeafHash(stored.hash));
    this.prevHash = stored.hash;
    this.prevId = id;
    this.entries++;
    this.pendingFirst ??= { id, sequence: seq };
    if (this.expect !== undefined && this.frontier.size === this.expect.treeSize) {
      // Judged in finish(), so that a head check can first name the entry more precisely.
      this.anchorMatch = equalBytes(this.frontier.root(), this.expect.root) ? true : { id, sequence: seq };
    }
  }

  /** A head record (the end of a batch). */
  head(id: number, head: HeadFields): void {
    if (this.bad !== undefined) return;
    const first = this.pendingFirst;
    if (first === undefined) {
      this.fail(id, undefined, `head record at ${id} follows no unsigned entry (a duplicated or moved head)`);
      return;
    }
    const where = `head record at ${id}`;
    // The signature first: once it verifies, the head's fields are the node's word, and a
    // mismatch below convicts the entries, not the head.
    const signBytes = this.hasher.headSignBytes(head.treeSize, head.lastEntryHash, head.root);
    const key = this.chainKey ?? this.publicKey;
    const rotation = this.rotation;
    let signedBy: Uint8Array | undefined;
    if (verifyEd25519(head.signature, signBytes, key)) {
      signedBy = key;
    } else if (rotation !== undefined && verifyEd25519(head.signature, signBytes, rotation.to)) {
      // A lost-key rotation: only the new key signs it. Covered by a later head of the trusted
      // key, or vouched for by nothing.
      if (this.trusted) {
        this.fail(rotation.id, rotation.sequence, `the node key was rotated without the old key’s signature (a lost key); the verifying key ${toHex(this.publicKey).slice(0, 16)}… does not vouch for the new key ${toHex(rotation.to).slice(0, 16)}…: verify with the new key to accept it`);
        return;
      }
      signedBy = rotation.to;
    }
    if (signedBy === undefined) {
      this.fail(first.id, first.sequence, `${where}: signature does not verify with public key ${toHex(key).slice(0, 16)}…`);
    } else if (head.treeSize !== this.entries && this.failJump()) {
      return;
    } else if (head.treeSize !== this.entries) {
      this.fail(first.id, first.sequence, `${where} signs ${head.treeSize} entries, the chain has ${this.entries} here (entries were added or removed)`);
    } else if (!equalBytes(head.lastEntryHash, this.prevHash)) {
      this.fail(this.prevId, this.entries - 1, `hash is not the one ${where} signed (rewritten with a recomputed hash)`);
    } else if (!this.rootsUnverifiable && !equalBytes(head.root, this.frontier.root())) {
      this.fail(first.id, first.sequence, `${where} signs a Merkle root the entries do not produce`);
    } else {
      this.heads++;
      this.pendingFirst = undefined;
      if (rotation !== undefined) {
        this.chainKey = rotation.to;
        this.rotation = undefined;
      }
      if (equalBytes(signedBy, this.publicKey)) this.trusted = true;
    }
  }

  /** The report, once every record was fed. */
  finish(): IntegrityReport {
    const gap = this.unnamedGaps[0];
    if (gap !== undefined) {
      this.fail(gap.id, gap.last + 1, `entries ${gap.first}..${gap.last} are missing (an entry was deleted, inserted or reordered), and no signed StoreRepaired entry names that gap`);
    }
    const first = this.pendingFirst;
    if (first !== undefined) {
      this.fail(first.id, first.sequence, 'entry not covered by a signed head (a head was removed, or the chain was cut inside a batch)');
    }
    if (this.bad === undefined && this.entries > 0 && !this.trusted) {
      this.fail(0, 0, `no head of the chain is signed by the verifying public key ${toHex(this.publicKey).slice(0, 16)}… (the chain records other node keys)`);
    }
    const anchor = this.anchorMatch;
    if (this.expect !== undefined && anchor === undefined) {
      this.fail(this.prevId, undefined, `the chain has ${this.entries} entries, the anchor names ${this.expect.treeSize} (the chain was truncated)`);
    } else if (anchor !== undefined && anchor !== true) {
      this.fail(anchor.id, anchor.sequence, 'the chain’s root at the anchor’s size differs from the anchor (the chain was rewritten)');
    }
    const base = { checked: this.entries, heads: this.heads };
    if (this.bad === undefined) return { ok: true, ...base };
    const b = this.bad;
    return { ok: false, ...base, firstBad: { ...b, id: b.id as Lsn } };
  }
}

/**
 * Feeds one durable log record to `verifier` (entries and heads; any other kind is skipped); a
 * record that does not decode is reported as damage at its LSN. Returns false once the
 * verifier has failed (a scan may stop there).
 */
export function feedAuditRecord(verifier: AuditChainVerifier, record: LogRecord): boolean {
  if (record.kind === RecordKind.AuditEvent) {
    try {
      verifier.entry(record.lsn, splitEntryPayload(record.payload));
    } catch (err) {
      verifier.damaged(record.lsn, (err as Error).message);
    }
  } else if (record.kind === RecordKind.AuditHead) {
    try {
      verifier.head(record.lsn, decodeHeadPayload(record.payload));
    } catch (err) {
      verifier.damaged(record.lsn, `head: ${(err as Error).message}`);
    }
  }
  return !verifier.failed;
}
