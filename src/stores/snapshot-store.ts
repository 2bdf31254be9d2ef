/**
 * The SnapshotStore on the data directory (docs/stores.md, "Snapshots"; bytes in
 * docs/format.md, "Portable snapshot"): portable snapshots in `snapshots/`, one file each
 * (`<id>.cssnap`), plus `<id>.attest` holding the attestations other validators sent later.
 *
 * The directory is the list: a file appears there only by rename, once written and fsync'ed
 * whole, and describes itself (header, root, content head), so no separate manifest can
 * disagree with it. A creation takes its frozen view inside `Log.capture` (no write lands
 * between the reads of the vote store and the registry), then encodes, hashes and writes
 * paced while votes go on. A failure while writing fails that snapshot and removes its temp
 * file; the store and its log are not touched (a snapshot is never on the commit path).
 *
 * It must never list a file it has not checked (header, leaf table, chunk 0), return content
 * from a file whose chunks fail their hashes, or accept an attestation that does not verify
 * with the key the snapshot's own set gives the validator.
 */
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import type { FileSystem } from '../io/types.ts';
import { checkBytes, checkInteger, checkObject, checkKeys, checkString } from '../model/check.ts';
import { checkValidatorId, SIGNATURE_BYTES } from '../model/vote.ts';
import type { Validator } from '../model/validator.ts';
import type { FinalizedMark } from './vote-types.ts';
import { equalBytes } from '../codec/bytes.ts';
import { signEd25519, verifyEd25519 } from '../codec/node-key.ts';
import { sealTrailer, SNAPSHOT_FORMAT_VERSION, snapshotFileSize, SnapshotFileKind, type SnapshotFileHeader } from '../codec/snapshot-file.ts';
import {
  decodeSnapshotContent,
  encodeSnapshotContent,
  type CertificateVote,
  type DecisionCertificate,
  type SnapshotContent,
  type SnapshotContentHead,
} from '../codec/snapshot-content.ts';
import { encodeAttestations, encodeEnvelope, decodeEnvelope, snapshotAttestationBytes } from '../codec/snapshot-envelope.ts';
import { assertOpen, SerialQueue, type StoreContext } from './context.ts';
import { WriteMetrics } from './metrics.ts';
import { ensureDurableDir, readAttestationFile, readSnapshotFile, readSnapshotSummary, writeFileAtomically, writeSnapshotStream } from './snapshot-io.ts';
import type { ConsensusSnapshot, CreateSnapshotOptions, SnapshotAttestation, SnapshotMetadata, SnapshotStore } from './snapshot-types.ts';
import type { LogValidatorRegistry } from './validator-registry.ts';
import type { LogVoteStore } from './vote-store.ts';

/** The snapshots directory inside the data directory. */
export const SNAPSHOTS_DIR = 'snapshots';
const SUFFIX = '.cssnap';
const ATTEST_SUFFIX = '.attest';
const ID_PATTERN = /^(\d{12})-(\d{6})$/;
const CREATE_KEYS = ['height'] as const;
const ATTESTATION_KEYS = ['validatorId', 'signature'] as const;
/** Finalized heights an automatic snapshot waits past its height (late precommits arrive meanwhile). */
export const AUTO_LAG = 10;
/** Heights of certificates built between two yields to the event loop. */
const VIEW_SLICE = 16;

/** What the snapshot store needs. */
export interface SnapshotStoreOptions {
  readonly fs: FileSystem;
  readonly dir: string;
  readonly chainId: string;
  readonly votes: LogVoteStore;
  readonly validators: LogValidatorRegistry;
  /** The node's validator key, when it is a validator: its attestation goes first in every snapshot it creates. */
  readonly attester?: { readonly validatorId: string; readonly privateKey: Uint8Array };
  readonly chunkSize: number;
  readonly certificateHeights: number;
  /** Automatic snapshots: every this many finalized heights (0: never), keeping `keep`. */
  readonly interval: number;
  readonly keep: number;
}

/**
 * The canonical decision certificate of (`height`, `round`) from the stored precommits, or
 * undefined without a quorum: the votes for the block whose voters' active stake (in the set
 * at `height`) passes two thirds, taken in validator id order until it does.
 */
export function canonicalCertificate(
  height: number,
  round: number,
  precommits: readonly { validatorId: string; blockHash: Uint8Array | null; timestamp: number; signature: Uint8Array }[],
  set: readonly Validator[],
): DecisionCertificate | undefined {
  const stakeOf = new Map<string, bigint>();
  let total = 0n;
  for (const v of set) {
    if (v.status !== 'active') continue;
    stakeOf.set(v.validatorId, v.stake);
    total += v.stake;
  }
  if (total === 0n) return undefined;
  // Few blocks per (height, round): a list compared by bytes.
  const byBlock: { hash: Uint8Array; votes: Map<string, CertificateVote>; power: bigint }[] = [];
  for (const p of precommits) {
    if (p.blockHash === null) continue;
    const stake = stakeOf.get(p.validatorId);
    if (stake === undefined) continue;
    const hash = p.blockHash;
    let b = byBlock.find((x) => equalBytes(x.hash, hash));
    if (b === undefined) byBlock.push((b = { hash, votes: new Map(), power: 0n }));
    if (b.votes.has(p.validatorId)) continue;
    b.votes.set(p.validatorId, { validatorId: p.validatorId, timestamp: p.timestamp, signature: p.signature });
    b.power += stake;
  }
  for (const b of byBlock) {
    if (b.power * 3n <= total * 2n) continue;
    const ordered = [...b.votes.values()].sort((x, y) => (x.validatorId < y.validatorId ? -1 : 1));
    const quorum: CertificateVote[] = [];
    let power = 0n;
    for (const v of ordered) {
      quorum.push(v);
      power += stakeOf.get(v.validatorId) as bigint;
      if (power * 3n > total * 2n) break;
    }
    return { height, round, blockHash: b.hash, precommits: quorum };
  }
  return undefined;
}

/** Portable snapshots of one open store. */
export class LogSnapshotStore implements SnapshotStore {
  readonly #ctx: StoreContext;
  readonly #o: SnapshotStoreOptions;
  readonly #writes = new SerialQueue();
  #autoRunning = false;
  #lastAutoHeight = -1;
  /** Why the last automatic snapshot failed, if it did. */
  lastAutoError: unknown;
  /** Creation durations and failures, automatic ones included (metrics, docs/operations.md). */
  readonly metrics = new WriteMetrics();

  constructor(ctx: StoreContext, options: SnapshotStoreOptions) {
    this.#ctx = ctx;
    this.#o = options;
  }

  get #dir(): string {
    return `${this.#o.dir}/${SNAPSHOTS_DIR}`;
  }

  createSnapshot(options: CreateSnapshotOptions = {}): Promise<SnapshotMetadata> {
    try {
      assertOpen(this.#ctx);
      const o = checkObject('options', options);
      checkKeys('options', o, CREATE_KEYS);
      const height = o['height'] === undefined ? undefined : checkInteger('options.height', o['height'], 0, Number.MAX_SAFE_INTEGER);
      return this.#track(this.#writes.run(() => this.metrics.time(() => this.#create(height))));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The frozen view at LSN `at`: the marks, votes and registry changes of an LSN <= `at` (all
   * three are only ever appended to, so this reads the state as it stood at `at` while writes go
   * on), built a slice at a time with a yield between slices.
   */
  async #view(height: number | undefined, at: number): Promise<SnapshotContent> {
    const { votes, validators, chainId, certificateHeights } = this.#o;
    const last = votes.finalizedMarks(0, Number.MAX_SAFE_INTEGER, at).pop();
    if (last === undefined) throw new ConsensusStoreError('NOT_FOUND', 'no height is finalized: nothing to snapshot');
    const h = height ?? last.height;
    const marks = votes.finalizedMarks(Math.max(0, h - certificateHeights + 1), h, at);
    const tip = marks[marks.length - 1];
    if (tip === undefined || tip.height !== h) throw new ConsensusStoreError('NOT_FOUND', `height ${h} is not finalized`, { details: { height: h } });
    const changes = validators.changeHeights(at);
    const certificates: DecisionCertificate[] = [];
    let set: Validator[] | undefined;
    let setFrom = -1;
    let next = 0;
    for (let i = 0; i < marks.length; i++) {
      const m = marks[i] as FinalizedMark;
      // The set changes only at a change height: read it again only past one.
      while (next < changes.length && (changes[next] as number) <= m.height) next++;
      const changedAt = next === 0 ? -1 : (changes[next - 1] as number);
      if (set === undefined || changedAt > setFrom) {
        set = validators.registryAt(m.height, at).validators;
        setFrom = m.height;
      }
      const cert = canonicalCertificate(m.height, m.round, votes.precommitsAt(m.height, m.round, at), set);
      if (cert !== undefined) certificates.push(cert);
      if (i % VIEW_SLICE === VIEW_SLICE - 1) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const own = certificates[certificates.length - 1];
    if (own === undefined || own.height !== h) {
      throw new ConsensusStoreError('CONFLICT', `no quorum of precommits is stored for height ${h} round ${tip.round}`, { details: { height: h, round: tip.round } });
    }
    const { validators: atH, history } = validators.registryAt(h, at);
    let power = 0n;
    for (const v of atH) if (v.status === 'active') power += v.stake;
    return {
      chainId,
      height: h,
      round: tip.round,
      decidedAt: Math.max(...own.precommits.map((p) => p.timestamp)),
      validators: atH,
      totalVotingPower: power,
      history: history.map((c) => ({
        validatorId: c.validatorId,
        kind: c.kind,
        height: c.height,
        after: c.after,
        ...(c.reason === undefined ? {} : { reason: c.reason }),
        ...(c.slash === undefined ? {} : { slash: c.slash }),
      })),
      certificates,
    };
  }

  async #create(height: number | undefined): Promise<SnapshotMetadata> {
    assertOpen(this.#ctx);
    const log = this.#ctx.log;
    const at = log.capture === undefined ? log.nextLsn - 1 : await log.capture((lsn) => lsn);
    const view = await this.#view(height, at);
    const content = encodeSnapshotContent(view);
    const createdAt = this.#ctx.now();
    const trailerBody = (root: Uint8Array): Uint8Array => {
      const attester = this.#o.attester;
      const own: SnapshotAttestation[] = [];
      if (attester !== undefined && view.validators.some((v) => v.validatorId === attester.validatorId)) {
        own.push({ validatorId: attester.validatorId, signature: signEd25519(snapshotAttestationBytes(view.chainId, view.height, root), attester.privateKey) });
      }
      return encodeEnvelope(createdAt, own);
    };
    await ensureDurableDir(this.#o.fs, this.#o.dir, this.#dir);
    const names = await this.#o.fs.readdir(this.#dir);
    let seq = 0;
    for (const name of names) {
      const m = ID_PATTERN.exec(name.slice(0, -SUFFIX.length));
      if (name.endsWith(SUFFIX) && m !== null) seq = Math.max(seq, Number(m[2]));
    }
    const id = `${String(view.height).padStart(12, '0')}-${String(seq + 1).padStart(6, '0')}`;
    const written = await writeSnapshotStream(this.#o.fs, this.#dir, `${id}${SUFFIX}`, SnapshotFileKind.Portable, this.#o.chunkSize, [content], trailerBody);
    return this.#metadata(id, written.header, view, decodeEnvelope(written.trailer), []);
  }

  #metadata(
    id: string,
    header: SnapshotFileHeader,
    head: SnapshotContentHead | SnapshotContent,
    envelope: { createdAt: number; attestations: readonly SnapshotAttestation[] },
    extra: readonly SnapshotAttestation[],
  ): SnapshotMetadata {
    const attestations = [...envelope.attestations];
    for (const a of extra) if (!attestations.some((b) => b.validatorId === a.validatorId)) attestations.push(a);
    const validatorCount = 'validators' in head ? head.validators.length : head.validatorCount;
    return Object.freeze({
      id,
      height: head.height,
      round: head.round,
      timestamp: envelope.createdAt,
      validatorCount,
      totalVotingPower: head.totalVotingPower,
      fileSize: snapshotFileSize(header),
      merkleRoot: header.root.slice(),
      chainId: head.chainId,
      formatVersion: SNAPSHOT_FORMAT_VERSION,
      chunkSize: header.chunkSize,
      chunkCount: header.chunkCount,
      certificateCount: 'certificates' in head ? head.certificates.length : head.certificateCount,
      attestations: Object.freeze(attestations.map((a) => Object.freeze({ validatorId: a.validatorId, signature: a.signature.slice() }))),
    });
  }

  #checkId(id: unknown): string {
    const s = checkString('id', id, 19);
    if (!ID_PATTERN.test(s)) throw invalidArgument('id', 'is not a snapshot id (<12-digit height>-<6-digit sequence>)');
    return s;
  }

  #path(id: string): string {
    return `${this.#dir}/${id}${SUFFIX}`;
  }

  async #exists(id: string): Promise<boolean> {
    return (await this.#o.fs.stat(this.#path(id))) !== undefined;
  }

  #extraAttestations(id: string): Promise<SnapshotAttestation[]> {
    return readAttestationFile(this.#o.fs, `${this.#dir}/${id}${ATTEST_SUFFIX}`);
  }


  /**
   * Reads what listing needs, checked: the header, the leaf table against the root, chunk 0
   * against its leaf (it holds the content head), the trailer.
   */
  async #summary(id: string): Promise<SnapshotMetadata> {
    const { header, head, envelope } = await readSnapshotSummary(this.#o.fs, this.#path(id));
    return this.#metadata(id, header, head, envelope, await this.#extraAttestations(id));
  }


  async getSnapshotMetadata(id: string): Promise<SnapshotMetadata | undefined> {
    assertOpen(this.#ctx);
    const s = this.#checkId(id);
    if (!(await this.#exists(s))) return undefined;
    try {
      return await this.#summary(s);
    } catch (err) {
      throw new ConsensusStoreError('CORRUPTION', `snapshot ${s}: ${(err as Error).message}`, { location: { file: this.#path(s), offset: 0 }, cause: err });
    }
  }

  async #read(id: string): Promise<{ header: SnapshotFileHeader; content: SnapshotContent; envelope: { createdAt: number; attestations: SnapshotAttestation[] } }> {
    const parts = await readSnapshotFile(this.#o.fs, this.#path(id), SnapshotFileKind.Portable);
    let content: SnapshotContent;
    let envelope: { createdAt: number; attestations: SnapshotAttestation[] };
    try {
      content = decodeSnapshotContent(parts.content);
      envelope = decodeEnvelope(parts.trailer);
    } catch (err) {
      throw new ConsensusStoreError('CORRUPTION', `snapshot ${id}: ${(err as Error).message}`, { location: { file: this.#path(id), offset: 0 }, cause: err });
    }
    return { header: parts.header, content, envelope };
  }

  async loadFromSnapshot(id: string): Promise<ConsensusSnapshot> {
    assertOpen(this.#ctx);
    const s = this.#checkId(id);
    if (!(await this.#exists(s))) throw new ConsensusStoreError('NOT_FOUND', `no snapshot ${s}`, { details: { id: s } });
    const { header, content, envelope } = await this.#read(s);
    const metadata = this.#metadata(s, header, content, envelope, await this.#extraAttestations(s));
    return Object.freeze({
      metadata,
      validators: content.validators,
      registryHistory: content.history,
      decisions: content.certificates,
      lastFinalized: { height: content.height, round: content.round },
      decidedAt: content.decidedAt,
    });
  }

  async listSnapshots(): Promise<SnapshotMetadata[]> {
    assertOpen(this.#ctx);
    const out: SnapshotMetadata[] = [];
    for (const id of await this.#ids()) {
      try {
        out.push(await this.#summary(id));
      } catch {
        // A damaged file is not listed; verifySnapshotIntegrity names it.
      }
    }
    return out.sort((a, b) => a.height - b.height || (a.id < b.id ? -1 : 1));
  }

  async #ids(): Promise<string[]> {
    if ((await this.#o.fs.stat(this.#dir)) === undefined) return [];
    const names = await this.#o.fs.readdir(this.#dir);
    return names.filter((n) => n.endsWith(SUFFIX) && ID_PATTERN.test(n.slice(0, -SUFFIX.length))).map((n) => n.slice(0, -SUFFIX.length));
  }

  async getLatestSnapshot(): Promise<SnapshotMetadata | undefined> {
    const all = await this.listSnapshots();
    const latest = all[all.length - 1];
    return latest;
  }

  pruneSnapshots(keepCount: number): Promise<number> {
    try {
      assertOpen(this.#ctx);
      const keep = checkInteger('keepCount', keepCount, 0, 1_000_000);
      return this.#track(this.#writes.run(() => this.#prune(keep)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async #prune(keep: number): Promise<number> {
    // By id (height, then sequence), so that damaged files age out too.
    const ids = (await this.#ids()).sort();
    const doomed = ids.slice(0, Math.max(0, ids.length - keep));
    for (const id of doomed) {
      await this.#o.fs.unlink(this.#path(id));
      await this.#o.fs.unlink(`${this.#dir}/${id}${ATTEST_SUFFIX}`).catch(() => undefined);
    }
    // Temp files of crashed writers.
    for (const name of await this.#o.fs.readdir(this.#dir).catch(() => [] as string[])) {
      if (name.endsWith('.tmp')) await this.#o.fs.unlink(`${this.#dir}/${name}`).catch(() => undefined);
    }
    if (doomed.length > 0) await this.#o.fs.syncDir(this.#dir);
    return doomed.length;
  }

  async verifySnapshotIntegrity(id: string): Promise<boolean> {
    assertOpen(this.#ctx);
    const s = this.#checkId(id);
    if (!(await this.#exists(s))) throw new ConsensusStoreError('NOT_FOUND', `no snapshot ${s}`, { details: { id: s } });
    try {
      const { header, content, envelope } = await this.#read(s);
      const all = [...envelope.attestations, ...(await this.#extraAttestations(s))];
      return all.every((a) => attestationVerifies(content, header.root, a));
    } catch (err) {
      // Pruned while it was read: gone, not damaged.
      if (!(await this.#exists(s))) throw new ConsensusStoreError('NOT_FOUND', `no snapshot ${s} (pruned while it was read)`, { details: { id: s }, cause: err });
      return false;
    }
  }

  addAttestation(id: string, attestation: SnapshotAttestation): Promise<SnapshotMetadata> {
    try {
      assertOpen(this.#ctx);
      const s = this.#checkId(id);
      const a = checkObject('attestation', attestation);
      checkKeys('attestation', a, ATTESTATION_KEYS);
      const checked = {
        validatorId: checkValidatorId('attestation.validatorId', a['validatorId']),
        signature: new Uint8Array(checkBytes('attestation.signature', a['signature'], SIGNATURE_BYTES)),
      };
      return this.#track(this.#writes.run(() => this.#attest(s, checked)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async #attest(id: string, a: SnapshotAttestation): Promise<SnapshotMetadata> {
    if (!(await this.#exists(id))) throw new ConsensusStoreError('NOT_FOUND', `no snapshot ${id}`, { details: { id } });
    const { header, content, envelope } = await this.#read(id);
    if (!content.validators.some((v) => v.validatorId === a.validatorId)) {
      throw invalidArgument('attestation.validatorId', `is not in the set at height ${content.height}`);
    }
    if (!attestationVerifies(content, header.root, a)) throw invalidArgument('attestation.signature', 'does not verify with the validator key of the snapshot\'s set');
    const extra = await this.#extraAttestations(id);
    const known = [...envelope.attestations, ...extra].some((b) => b.validatorId === a.validatorId);
    if (!known) {
      const body = encodeAttestations([...extra, a]);
      await writeFileAtomically(this.#o.fs, this.#dir, `${id}${ATTEST_SUFFIX}`, sealTrailer(body));
      extra.push(a);
    }
    return this.#metadata(id, header, content, envelope, extra);
  }

  /** Writes in the queue (creations, prunes, attestations), the last one queued: `stop` waits for it. */
  #last: Promise<unknown> = Promise.resolve();
  #stopped = false;

  #track<T>(p: Promise<T>): Promise<T> {
    this.#last = p.catch(() => undefined);
    return p;
  }

  /**
   * Stops automatic snapshots and waits for every snapshot write already queued (the store's
   * close calls it before the log closes, so no file is written or pruned after close).
   * @internal wired by openStore.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#last;
  }

  /**
   * Called after a height is finalized (not on replay): creates a snapshot in the background
   * when `height` crosses a multiple of `interval`, then prunes to `keep`. A failure is kept
   * in `lastAutoError`; it never reaches the caller that finalized.
   * @internal wired by openStore.
   */
  onFinalized(height: number): void {
    const { interval, keep } = this.#o;
    if (interval === 0 || this.#autoRunning || this.#stopped) return;
    // The multiple of the interval is snapshotted AUTO_LAG heights later: the precommits of it
    // that arrive after its finalization (a node moves on at the first quorum) are stored by
    // then, so nodes hold the same lowest-id quorum and write the same root.
    const ready = height - AUTO_LAG;
    if (ready < interval) return;
    const target = ready - (ready % interval);
    if (target <= this.#lastAutoHeight) return;
    this.#lastAutoHeight = target;
    if (this.#o.votes.finalizedMarks(target, target).length === 0) return;
    this.#autoRunning = true;
    this.createSnapshot({ height: target })
      .then(() => this.pruneSnapshots(keep))
      .then(
        () => {
          this.lastAutoError = undefined;
        },
        (err: unknown) => {
          this.lastAutoError = err;
        },
      )
      .finally(() => {
        this.#autoRunning = false;
      });
  }
}

/** True when `a` is a signature by the key the snapshot's set gives its validator over (chain id, height, root). */
export function attestationVerifies(content: Pick<SnapshotContent, 'chainId' | 'height' | 'validators'>, root: Uint8Array, a: SnapshotAttestation): boolean {
  const v = content.validators.find((x) => x.validatorId === a.validatorId);
  if (v === undefined || a.signature.length !== SIGNATURE_BYTES) return false;
  return verifyEd25519(a.signature, snapshotAttestationBytes(content.chainId, content.height, root), v.publicKey);
}
