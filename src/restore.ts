/**
 * `restoreFromSnapshot`: a new node's data directory from a portable snapshot (docs/stores.md,
 * "Restoring from a snapshot"; docs/durability.md, "The restore fence").
 *
 * The order is the safety argument:
 * 1. The offer (chain id, height, root, sizes, attestations) is checked against the trust the
 *    caller gives (a root, or a validator set of which more than a third of the stake must have
 *    attested) and every size against its bound, before any chunk is read.
 * 2. Each chunk is checked by its inclusion proof against that root before it is kept; kept
 *    chunks (with their proofs) let an interrupted restore resume, and are checked again then.
 * 3. The whole content is decoded (every count, order and index checked) and the tip's decision
 *    certificate is verified signature by signature against the snapshot's own set.
 * 4. The store is written: registry history, decision certificates, finalization marks, a
 *    `SnapshotRestored` audit entry naming the snapshot, and the sign guard's fence at the
 *    snapshot's height (the key signs nothing until a watermark at or above it is imported).
 * 5. Only then is the `RESTORING` marker removed: until that moment `openStore` refuses the
 *    directory, so a half-restored directory never opens; a rerun resumes (the same root) or
 *    starts over (another root).
 *
 * It must never keep a byte of content that failed its proof, allocate by a size the trust did
 * not bound, or leave a directory that opens without the fence.
 */
import { ConsensusStoreError, invalidArgument } from './errors.ts';
import type { FileSystem } from './io/types.ts';
import { checkBigint, checkBytes, checkInteger, checkKeys, checkObject } from './model/check.ts';
import { checkChainId, checkValidatorId, SIGNATURE_BYTES } from './model/vote.ts';
import { MAX_STAKE } from './model/validator.ts';
import { equalBytes, toHex } from './codec/bytes.ts';
import { HASH_BYTES } from './codec/merkle.ts';
import { verifyEd25519 } from './codec/node-key.ts';
import { voteSignBytes } from './codec/vote-sign.ts';
import { chunkLength, chunkProof, chunksOffset, type SnapshotFileHeader, MAX_CHUNK_SIZE, MAX_CHUNKS, MIN_CHUNK_SIZE, verifyChunk } from './codec/snapshot-file.ts';
import { decodeSnapshotContent, type SnapshotContent } from './codec/snapshot-content.ts';
import { snapshotAttestationBytes } from './codec/snapshot-envelope.ts';
import type { SnapshotAttestation } from './stores/snapshot-types.ts';
import { readAttestationFile, readSnapshotSummary, writeFileAtomically } from './stores/snapshot-io.ts';
import { openStoreUnderRestore, writableLogOf, type ConsensusStore } from './store.ts';
import { RESTORING_FILE, type AuditOptions, type LogGroupOptions } from './store-options.ts';
import { RecordKind } from './codec/kinds.ts';
import { encodeSignFence } from './codec/sign-guard-record.ts';
import { encodeFinalizedRecord, encodeVoteRecord } from './codec/vote-record.ts';

/** Where a restore keeps the chunks it has checked (removed when it is done). */
const STAGING_DIR = 'restore';
/** Default bound on a snapshot's content: 2 GiB (it is decoded in memory). */
const DEFAULT_MAX_BYTES = 2 ** 31;
/** Largest bound a caller may set: what one buffer can hold. */
const MAX_MAX_BYTES = 2 ** 32 - 1;
/** Records of one batch while restoring certificates. */
const RECORDS_PER_BATCH = 4096;
/** Batches in flight while restoring certificates. */
const BATCHES_IN_FLIGHT = 8;

/** What a source says it offers: unverified until checked against the trust. */
export interface SnapshotOffer {
  readonly chainId: string;
  readonly height: number;
  /** The Merkle root over the chunk leaves (32 bytes). */
  readonly root: Uint8Array;
  readonly chunkSize: number;
  readonly chunkCount: number;
  readonly contentLength: number;
  readonly attestations: readonly SnapshotAttestation[];
}

/** One chunk with its inclusion proof (siblings from the leaf level up). */
export interface SnapshotChunk {
  readonly index: number;
  readonly bytes: Uint8Array;
  readonly proof: readonly Uint8Array[];
}

/** Where a restore reads a snapshot from: a file (`fileSnapshotSource`), a peer, anything. */
export interface SnapshotSource {
  /** What the source offers. */
  offer(): Promise<SnapshotOffer>;
  /** The chunks `wanted` (indices), in any order; a chunk that fails its proof stops the restore (rerun: it resumes). */
  chunks(wanted: readonly number[]): AsyncIterable<SnapshotChunk>;
}

/** What the restore trusts: the root itself, or a validator set (more than a third of its stake must attest the root). */
export type SnapshotTrust =
  | { readonly root: Uint8Array }
  | { readonly validators: readonly { readonly validatorId: string; readonly publicKey: Uint8Array; readonly stake: bigint }[] };

/** Options of `restoreFromSnapshot`. */
export interface RestoreOptions {
  /** The new node's data directory: absent, empty, or holding an unfinished restore. */
  readonly dir: string;
  readonly chainId: string;
  readonly source: SnapshotSource;
  readonly trust: SnapshotTrust;
  /** The node's audit key, as `openStore`'s `audit` (default: `<dir>/node.key`, created). */
  readonly audit?: AuditOptions;
  /** Log options of the store written (as `openStore`'s `log`). */
  readonly log?: LogGroupOptions;
  /** Largest content accepted, in bytes (default 2 GiB, at most 4 GiB - 1). */
  readonly maxBytes?: number;
  readonly fs?: FileSystem;
  readonly now?: () => number;
}

/** What a restore did. */
export interface RestoreReport {
  readonly height: number;
  readonly round: number;
  readonly root: Uint8Array;
  readonly chunks: number;
  /** Chunks fetched by this run (the others were kept by an interrupted one). */
  readonly chunksFetched: number;
  readonly validators: number;
  readonly certificates: number;
  readonly votes: number;
  readonly durationMs: number;
}

const RESTORE_KEYS = ['dir', 'chainId', 'source', 'trust', 'audit', 'log', 'maxBytes', 'fs', 'now'] as const;

/**
 * Restores a data directory from a portable snapshot (see the file comment), ready to open
 * with `openStore`; a signer then needs `signer.importWatermark` at or above the snapshot's height.
 * @throws ConsensusStoreError INVALID_ARGUMENT (bad option, a directory that is not empty, an
 *   offer the trust does not cover, sizes out of bounds), CORRUPTION (a chunk that fails its
 *   proof, content that does not decode, a tip certificate that does not verify: nothing of it
 *   is kept), and the file system's and the store's errors (rerun: it resumes).
 */
export async function restoreFromSnapshot(options: RestoreOptions): Promise<RestoreReport> {
  const started = performance.now();
  const o = checkObject('options', options);
  checkKeys('options', o, RESTORE_KEYS);
  const dir = o['dir'];
  if (typeof dir !== 'string' || dir.length === 0 || dir.length > 4096) throw invalidArgument('options.dir', 'must be a non-empty path');
  const chainId = checkChainId('options.chainId', o['chainId']);
  const source = checkObject('options.source', o['source']) as unknown as SnapshotSource;
  if (typeof source.offer !== 'function' || typeof source.chunks !== 'function') throw invalidArgument('options.source', 'must have offer() and chunks()');
  const trust = checkTrust(o['trust']);
  const maxBytes = o['maxBytes'] === undefined ? DEFAULT_MAX_BYTES : checkInteger('options.maxBytes', o['maxBytes'], 1, MAX_MAX_BYTES);
  const fs: FileSystem = (o['fs'] as FileSystem | undefined) ?? (await import('./io/real-fs.ts')).defaultFileSystem();

  // 1. The offer against the trust and the bounds, before any chunk.
  const offer = checkOffer(await source.offer(), chainId, maxBytes);
  checkTrusted(offer, trust);

  // The directory: new, or an unfinished restore (of this root: resume; of another: start over).
  const staging = `${dir}/${STAGING_DIR}`;
  const marker = `${dir}/${RESTORING_FILE}`;
  const markerText = new TextEncoder().encode(`${toHex(offer.root)} ${offer.height}\n`);
  const existing = (await fs.stat(dir)) === undefined ? [] : await fs.readdir(dir);
  if (existing.length > 0 && !existing.includes(RESTORING_FILE)) throw invalidArgument('options.dir', `is not empty (${existing.length} entries) and holds no unfinished restore`);
  // The marker first: a directory without it holds nothing of a restore (at most empty).
  await fs.mkdir(dir);
  const sameRoot = existing.includes(RESTORING_FILE) && equalBytes(await fs.readFile(marker), markerText);
  // Written in place, not renamed into place: from the moment its name exists (even empty or
  // half written) the directory is an unfinished restore that openStore refuses.
  const handle = await fs.open(marker, 'create');
  try {
    await handle.truncate(0);
    await handle.writeAndSync([markerText], 0);
  } finally {
    await handle.close();
  }
  await fs.syncDir(dir);
  await fs.mkdir(staging);
  if (!sameRoot) for (const name of await fs.readdir(staging)) await fs.unlink(`${staging}/${name}`);

  // 2. Chunks: keep those an earlier run checked (checked again), fetch the rest.
  const held = new Set<number>();
  for (const name of await fs.readdir(staging)) {
    const index = /^chunk-(\d+)$/.exec(name);
    if (index === null) continue;
    const i = Number(index[1]);
    const kept = i < offer.chunkCount ? decodeKept(await fs.readFile(`${staging}/${name}`)) : undefined;
    if (kept !== undefined && kept.bytes.length === chunkLength(offer, i) && verifyChunk(offer.root, offer.chunkCount, i, kept.bytes, kept.proof)) held.add(i);
    else await fs.unlink(`${staging}/${name}`);
  }
  const wanted: number[] = [];
  for (let i = 0; i < offer.chunkCount; i++) if (!held.has(i)) wanted.push(i);
  let fetched = 0;
  if (wanted.length > 0) {
    const want = new Set(wanted);
    for await (const chunk of source.chunks(wanted)) {
      const i = chunk?.index;
      if (typeof i !== 'number' || !want.has(i)) throw invalidArgument('source', `sent chunk ${String(i)}, which was not asked for`);
      if (!(chunk.bytes instanceof Uint8Array) || !Array.isArray(chunk.proof) || chunk.bytes.length !== chunkLength(offer, i) || !verifyChunk(offer.root, offer.chunkCount, i, chunk.bytes, chunk.proof)) {
        throw new ConsensusStoreError('CORRUPTION', `chunk ${i} from the source does not verify against the trusted root; nothing of it was kept`, {
          details: { chunk: i },
        });
      }
      await writeFileAtomically(fs, staging, `chunk-${i}`, encodeKept(chunk.bytes, chunk.proof), false);
      want.delete(i);
      held.add(i);
      fetched++;
      if (want.size === 0) break;
    }
    if (want.size > 0) throw new ConsensusStoreError('IO_FAILED', `the source ended with ${want.size} chunks missing; rerun to resume`, { details: { missing: want.size } });
    await fs.syncDir(staging);
  }

  // 3. The content, decoded and checked; the tip's certificate verified.
  const content = new Uint8Array(offer.contentLength);
  for (let i = 0; i < offer.chunkCount; i++) {
    const kept = decodeKept(await fs.readFile(`${staging}/chunk-${i}`));
    if (kept === undefined || !verifyChunk(offer.root, offer.chunkCount, i, kept.bytes, kept.proof)) {
      throw new ConsensusStoreError('CORRUPTION', `kept chunk ${i} changed on disk; rerun to fetch it again`, { details: { chunk: i } });
    }
    content.set(kept.bytes, i * offer.chunkSize);
  }
  let snapshot: SnapshotContent;
  try {
    snapshot = decodeSnapshotContent(content);
  } catch (err) {
    throw new ConsensusStoreError('CORRUPTION', `the snapshot's content does not decode: ${(err as Error).message}`, { cause: err });
  }
  if (snapshot.chainId !== chainId || snapshot.height !== offer.height) {
    throw new ConsensusStoreError('CORRUPTION', `the snapshot holds chain ${JSON.stringify(snapshot.chainId)} at height ${snapshot.height}, not what was offered`);
  }
  verifyTipCertificate(snapshot);

  // 4. The store: a fresh log (what an earlier run wrote is dropped), then the state.
  for (const name of existing) {
    if (name !== RESTORING_FILE && name !== STAGING_DIR && name !== 'node.key') await removeTree(fs, `${dir}/${name}`);
  }
  const store = await openStoreUnderRestore({
    dir,
    chainId,
    fs,
    images: { everyRecords: 0 },
    snapshots: { interval: 0 },
    ...(o['audit'] === undefined ? {} : { audit: o['audit'] as AuditOptions }),
    ...(o['log'] === undefined ? {} : { log: o['log'] as LogGroupOptions }),
    ...(o['now'] === undefined ? {} : { now: o['now'] as () => number }),
  });
  let votes = 0;
  try {
    // The new audit chain's first entry after its node key: where this node's state came from.
    await store.audit.logEvent({ type: 'SnapshotRestored', height: snapshot.height, round: snapshot.round, root: offer.root, attestations: offer.attestations });
    await writeRegistry(store, snapshot);
    votes = await writeCertificates(store, snapshot);
    await writableLogOf(store).append([{ kind: RecordKind.SignGuardFence, payload: encodeSignFence(snapshot.height) }]);
  } finally {
    await store.close();
  }

  // 5. Done: the directory's own entry made durable, then the marker goes (the commit point),
  // then the kept chunks.
  await fs.syncDir(parentOf(dir));
  await fs.unlink(marker);
  await fs.syncDir(dir);
  await removeTree(fs, staging);
  return {
    height: snapshot.height,
    round: snapshot.round,
    root: offer.root.slice(),
    chunks: offer.chunkCount,
    chunksFetched: fetched,
    validators: snapshot.validators.length,
    certificates: snapshot.certificates.length,
    votes,
    durationMs: performance.now() - started,
  };
}

function checkTrust(value: unknown): SnapshotTrust {
  const t = checkObject('options.trust', value);
  if ('root' in t) {
    checkKeys('options.trust', t, ['root']);
    return { root: new Uint8Array(checkBytes('options.trust.root', t['root'], HASH_BYTES)) };
  }
  checkKeys('options.trust', t, ['validators']);
  const list = t['validators'];
  if (!Array.isArray(list) || list.length === 0 || list.length > 100_000) throw invalidArgument('options.trust.validators', 'must be a non-empty array (of at most 100,000)');
  return {
    validators: list.map((v: unknown, i: number) => {
      const x = checkObject(`options.trust.validators[${i}]`, v);
      checkKeys(`options.trust.validators[${i}]`, x, ['validatorId', 'publicKey', 'stake']);
      return {
        validatorId: checkValidatorId(`options.trust.validators[${i}].validatorId`, x['validatorId']),
        publicKey: new Uint8Array(checkBytes(`options.trust.validators[${i}].publicKey`, x['publicKey'], 32)),
        stake: checkBigint(`options.trust.validators[${i}].stake`, x['stake'], 0n, MAX_STAKE),
      };
    }),
  };
}

function checkOffer(value: unknown, chainId: string, maxBytes: number): SnapshotOffer {
  const o = checkObject('offer', value);
  if (o['chainId'] !== chainId) throw invalidArgument('offer.chainId', `is ${JSON.stringify(o['chainId'])}, not ${JSON.stringify(chainId)}`);
  const height = checkInteger('offer.height', o['height'], 0, Number.MAX_SAFE_INTEGER);
  const root = new Uint8Array(checkBytes('offer.root', o['root'], HASH_BYTES));
  const chunkSize = checkInteger('offer.chunkSize', o['chunkSize'], MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
  const chunkCount = checkInteger('offer.chunkCount', o['chunkCount'], 1, MAX_CHUNKS);
  const contentLength = checkInteger('offer.contentLength', o['contentLength'], 1, maxBytes);
  if (contentLength > chunkCount * chunkSize || contentLength <= (chunkCount - 1) * chunkSize) {
    throw invalidArgument('offer.contentLength', `${contentLength} does not match ${chunkCount} chunks of ${chunkSize} bytes`);
  }
  const list = o['attestations'];
  if (!Array.isArray(list) || list.length > 100_000) throw invalidArgument('offer.attestations', 'must be an array (of at most 100,000)');
  const attestations = list.map((a: unknown, i: number) => {
    const x = checkObject(`offer.attestations[${i}]`, a);
    return {
      validatorId: checkValidatorId(`offer.attestations[${i}].validatorId`, x['validatorId']),
      signature: new Uint8Array(checkBytes(`offer.attestations[${i}].signature`, x['signature'], SIGNATURE_BYTES)),
    };
  });
  return { chainId, height, root, chunkSize, chunkCount, contentLength, attestations };
}

/** @throws INVALID_ARGUMENT when the trust does not cover the offer. */
function checkTrusted(offer: SnapshotOffer, trust: SnapshotTrust): void {
  if ('root' in trust) {
    if (!equalBytes(trust.root, offer.root)) throw invalidArgument('options.trust.root', `does not match the offered root ${toHex(offer.root)}`);
    return;
  }
  let total = 0n;
  for (const v of trust.validators) total += v.stake;
  const bytes = snapshotAttestationBytes(offer.chainId, offer.height, offer.root);
  const counted = new Set<string>();
  let attested = 0n;
  for (const a of offer.attestations) {
    const v = trust.validators.find((x) => x.validatorId === a.validatorId);
    if (v === undefined || counted.has(a.validatorId) || !verifyEd25519(a.signature, bytes, v.publicKey)) continue;
    counted.add(a.validatorId);
    attested += v.stake;
  }
  if (total === 0n || attested * 3n <= total) {
    throw invalidArgument('options.trust', `validators holding ${attested} of ${total} stake attested the offered root: more than a third is needed`);
  }
}

/** Verifies the tip's certificate: signatures of more than two thirds of the active stake at the snapshot's height. */
function verifyTipCertificate(s: SnapshotContent): void {
  const tip = s.certificates[s.certificates.length - 1];
  if (tip === undefined) throw new ConsensusStoreError('CORRUPTION', 'the snapshot has no decision certificate');
  let total = 0n;
  const active = new Map<string, (typeof s.validators)[number]>();
  for (const v of s.validators) {
    if (v.status !== 'active') continue;
    total += v.stake;
    active.set(v.validatorId, v);
  }
  let signed = 0n;
  for (const p of tip.precommits) {
    const v = active.get(p.validatorId);
    if (v === undefined) continue;
    const bytes = voteSignBytes({ validatorId: p.validatorId, height: tip.height, round: tip.round, voteType: 'precommit', blockHash: tip.blockHash, timestamp: p.timestamp }, s.chainId);
    if (!verifyEd25519(p.signature, bytes, v.publicKey)) {
      throw new ConsensusStoreError('CORRUPTION', `the precommit of ${p.validatorId} in the certificate of height ${tip.height} does not verify`, { details: { validatorId: p.validatorId } });
    }
    signed += v.stake;
  }
  if (total === 0n || signed * 3n <= total * 2n) {
    throw new ConsensusStoreError('CORRUPTION', `the certificate of height ${tip.height} is signed by ${signed} of ${total} active stake: not a quorum`);
  }
}

async function writeRegistry(store: ConsensusStore, s: SnapshotContent): Promise<void> {
  const reason = (r: string | undefined): string => (r === undefined || r.length === 0 ? 'restored from a snapshot' : r);
  if (s.history.length === 0) {
    await Promise.all(
      s.validators.map((v) => store.validators.registerValidator({ validatorId: v.validatorId, publicKey: v.publicKey, stake: v.stake, status: v.status }, v.registeredAtHeight)),
    );
    return;
  }
  // Each validator's changes in order; validators side by side (their batches share fdatasyncs).
  const byValidator = new Map<string, SnapshotContent['history'][number][]>();
  for (const c of s.history) {
    const list = byValidator.get(c.validatorId);
    if (list === undefined) byValidator.set(c.validatorId, [c]);
    else list.push(c);
  }
  await Promise.all([...byValidator.values()].map((changes) => writeChanges(store, changes, reason)));
}

async function writeChanges(store: ConsensusStore, changes: readonly SnapshotContent['history'][number][], reason: (r: string | undefined) => string): Promise<void> {
  for (const c of changes) {
    const a = c.after;
    if (c.kind === 'register') await store.validators.registerValidator({ validatorId: a.validatorId, publicKey: a.publicKey, stake: a.stake, status: a.status }, c.height);
    else if (c.kind === 'stake') await store.validators.updateStake(a.validatorId, a.stake, c.height, reason(c.reason));
    else if (c.kind === 'status') await store.validators.updateStatus(a.validatorId, a.status, c.height, reason(c.reason));
    else {
      const slash = c.slash as NonNullable<typeof c.slash>;
      await store.validators.recordSlash({
        validatorId: a.validatorId,
        height: c.height,
        amount: slash.requested,
        reason: reason(c.reason),
        ...(slash.evidenceId === undefined ? {} : { evidenceId: slash.evidenceId }),
        ...(a.status === 'jailed' || a.status === 'tombstoned' ? { status: a.status } : {}),
      });
    }
  }
}

/**
 * The certificates' precommits as Vote records and the marks as Finalized records, written
 * straight to the log many to a batch (each certificate holds one precommit per validator at a
 * round of its own, so no vote can conflict with another; a vote at a time through `appendVote`
 * would wait for an fdatasync per window). The store is closed right after; its next open
 * folds them in. Their durability is the batches' own, all before the marker goes.
 */
async function writeCertificates(store: ConsensusStore, s: SnapshotContent): Promise<number> {
  const log = writableLogOf(store);
  const limits = log.limits;
  const maxRecords = Math.min(limits?.maxBatchRecords ?? 1024, RECORDS_PER_BATCH);
  const maxBytes = (limits?.maxBatchBytes ?? 1 << 20) - 4096;
  const now = Date.now();
  let batch: { kind: number; payload: Uint8Array }[] = [];
  let bytes = 0;
  let votes = 0;
  const pending: Promise<unknown>[] = [];
  const flush = (): void => {
    if (batch.length === 0) return;
    pending.push(log.append(batch));
    batch = [];
    bytes = 0;
  };
  const add = (kind: number, payload: Uint8Array): void => {
    if (batch.length >= maxRecords || bytes + payload.length + 64 > maxBytes) flush();
    batch.push({ kind, payload });
    bytes += payload.length + 64;
  };
  for (const cert of s.certificates) {
    for (const p of cert.precommits) {
      add(RecordKind.Vote, encodeVoteRecord({ validatorId: p.validatorId, height: cert.height, round: cert.round, voteType: 'precommit', blockHash: cert.blockHash, timestamp: p.timestamp, signature: p.signature }, now));
      votes++;
    }
    if (pending.length >= BATCHES_IN_FLIGHT) {
      flush();
      await Promise.all(pending.splice(0));
    }
  }
  for (const cert of s.certificates) add(RecordKind.Finalized, encodeFinalizedRecord(cert.height, cert.round, now));
  flush();
  await Promise.all(pending);
  return votes;
}

/** A kept chunk: u32 proof length, the proof's hashes, the bytes. */
function encodeKept(bytes: Uint8Array, proof: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(4 + proof.length * HASH_BYTES + bytes.length);
  new DataView(out.buffer).setUint32(0, proof.length, true);
  proof.forEach((p, i) => out.set(p, 4 + i * HASH_BYTES));
  out.set(bytes, 4 + proof.length * HASH_BYTES);
  return out;
}

function decodeKept(b: Uint8Array): { bytes: Uint8Array; proof: Uint8Array[] } | undefined {
  if (b.length < 4) return undefined;
  const n = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
  if (n > 64 || 4 + n * HASH_BYTES > b.length) return undefined;
  const proof: Uint8Array[] = [];
  for (let i = 0; i < n; i++) proof.push(b.subarray(4 + i * HASH_BYTES, 4 + (i + 1) * HASH_BYTES));
  return { bytes: b.subarray(4 + n * HASH_BYTES), proof };
}

function parentOf(path: string): string {
  const cut = path.replace(/\/+$/, '').lastIndexOf('/');
  return cut <= 0 ? (path.startsWith('/') ? '/' : '.') : path.slice(0, cut);
}

/** Removes every file under `path` (directories stay: the file-system interface removes files only). @internal also the backup restore's */
export async function removeTree(fs: FileSystem, path: string): Promise<void> {
  const st = await fs.stat(path);
  if (st === undefined) return;
  if (!st.isDirectory) return fs.unlink(path);
  for (const name of await fs.readdir(path)) await removeTree(fs, `${path}/${name}`);
  await fs.syncDir(path);
}

/**
 * A source reading a snapshot file: the offer from its header, leaf table (checked against the
 * root), first chunk and envelope (plus the `.attest` file beside it, if any); each chunk with
 * the proof its leaf table gives.
 * @throws CORRUPTION (from `offer`) when the file's own checks fail.
 */
export function fileSnapshotSource(path: string, fs?: FileSystem): SnapshotSource {
  let leaves: Uint8Array[] | undefined;
  let header: SnapshotFileHeader | undefined;
  const fsOf = async (): Promise<FileSystem> => fs ?? (await import('./io/real-fs.ts')).defaultFileSystem();
  const bad = (problem: string, offset = 0): ConsensusStoreError => new ConsensusStoreError('CORRUPTION', `${problem} (file ${path})`, { location: { file: path, offset } });
  return {
    async offer(): Promise<SnapshotOffer> {
      const f = await fsOf();
      let summary: Awaited<ReturnType<typeof readSnapshotSummary>>;
      try {
        summary = await readSnapshotSummary(f, path);
      } catch (err) {
        throw bad(`snapshot file: ${(err as Error).message}`);
      }
      header = summary.header;
      leaves = [...summary.leaves];
      const attestations = [...summary.envelope.attestations];
      const side = path.replace(/\.cssnap$/, '.attest');
      if (side !== path) for (const a of await readAttestationFile(f, side)) if (!attestations.some((b) => b.validatorId === a.validatorId)) attestations.push(a);
      const { chainId, height } = summary.head;
      return { chainId, height, root: header.root, chunkSize: header.chunkSize, chunkCount: header.chunkCount, contentLength: header.contentLength, attestations };
    },
    async *chunks(wanted: readonly number[]): AsyncIterable<SnapshotChunk> {
      if (header === undefined || leaves === undefined) await this.offer();
      const h = header as NonNullable<typeof header>;
      const f = await fsOf();
      const handle = await f.open(path, 'read');
      try {
        for (const index of wanted) {
          const bytes = new Uint8Array(chunkLength(h, index));
          await handle.read(bytes, chunksOffset(h.chunkCount) + index * h.chunkSize);
          yield { index, bytes, proof: chunkProof(leaves as Uint8Array[], index) };
        }
      } finally {
        await handle.close();
      }
    },
  };
}
