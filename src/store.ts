/**
 * `openStore`: the package's entry point. Opens the one log under every store (so that a write
 * touching several stores is one atomic batch, D3), loads (or creates, mode 0600) the node's
 * audit key, builds each store on a shared `StoreContext`, rebuilds every index in one pass over
 * the log (dispatching each record by kind to the store that owns it), applies the sign guard's
 * fresh-directory rule, records the node key and any open-time repair in the audit log, and
 * hands back a `ConsensusStore` with a clear lifecycle (`close()` idempotent; methods after it
 * reject CLOSED).
 *
 * Equivocation (D3; docs/evidence-and-rewards.md, "In the vote's own batch"): the LogVoteStore's
 * batch hook is wired so that a conflicting vote, its Evidence records and its
 * `EquivocationDetected` audit entries (with the audit head) are ONE `log.append`, made by the
 * audit log (which alone may order its chain): the vote store writes through `AuditRoutedLog`,
 * which hands a batch carrying an audit marker to `audit.appendWithEvents` instead of the log.
 * Once that resolves, each store indexes its part.
 *
 * It must never: scan the log more than once on open, let two stores claim one record kind,
 * return a store whose indexes are not fully rebuilt, leave the log open after a failed open, or
 * let an equivocating vote reach the disk without its evidence and audit entry.
 */
import { ConsensusStoreError, fromFsError, invalidArgument, isStoreError } from './errors.ts';
import type { FileSystem } from './io/types.ts';
import type { Log, LogLimits, LogRecord, LogStatus, Lsn, OpenReport } from './log/types.ts';
import { generateNodeKey, type NodeKey } from './codec/node-key.ts';
import type { StoreRepaired } from './model/audit.ts';
import { resolveOpenStoreOptions, resolveStoreOptions, type ImageOptions, type OpenStoreOptions, type SnapshotOptions, type ResolvedStoreOptions, type StoreOptions } from './store-options.ts';
import { LogAuditLog } from './stores/audit-log.ts';
import type { AuditLog } from './stores/audit-types.ts';
import { CommitPipeline } from './stores/commit-pipeline.ts';
import type { ImageSection, RecordApplier, StoreContext } from './stores/context.ts';
import { Imager } from './stores/imager.ts';
import { AUTO_LAG as SNAPSHOT_AUTO_LAG, LogSnapshotStore, SNAPSHOTS_DIR } from './stores/snapshot-store.ts';
import { takeBackup, type BackupOptions, type BackupReport, type BackupSource } from './backup/take.ts';
import type { SnapshotStore } from './stores/snapshot-types.ts';
import { IMAGES_DIR, imageLsnOfName, listImages, loadSections, readLocalImage, removeImagesFrom, type ImageLoadReport, type WrittenImage } from './stores/local-image.ts';
import { bytesIn, processMetrics, renderStoreMetrics, WalMetrics } from './stores/metrics.ts';
import { LogEvidenceStore } from './stores/evidence-store.ts';
import type { ByzantineEvidenceStore } from './stores/evidence-types.ts';
import { loadOrCreateNodeKey } from './stores/node-key-file.ts';
import { LogRecoveryManager } from './stores/recovery.ts';
import { LogRewardHistory } from './stores/reward-history.ts';
import type { RewardHistory } from './stores/reward-types.ts';
import { LogRoundStateStore } from './stores/round-state-store.ts';
import type { RecoveryManager, RoundStateStore } from './stores/round-types.ts';
import { LogSignGuard } from './stores/sign-guard.ts';
import type { SignGuard } from './stores/sign-guard-types.ts';
import { openSignStateFile, type WatermarkCopy } from './stores/sign-state-file.ts';
import { StoreIdentity } from './stores/store-identity.ts';
import { LogValidatorRegistry } from './stores/validator-registry.ts';
import type { ValidatorRegistry } from './stores/validator-types.ts';
import { LogVoteStore } from './stores/vote-store.ts';
import { Compactor, type CompactionReport, type NamedParticipant, type ResolvedRetention } from './stores/compactor.ts';
import type { ColdDirectory } from './stores/compactor.ts';
import { FileColdDirectory } from './stores/cold-directory.ts';
import type { ColdParticipant, ColdTier } from './cold/types.ts';
import type { VoteVerification } from './stores/verified-vote.ts';
import type { VoteStore } from './stores/vote-types.ts';

export { NODE_KEY_FILE, RESTORING_FILE } from './store-options.ts';
import { BACKUP_MARKER_PREFIX, RESTORING_FILE } from './store-options.ts';
export type {
  AuditOptions,
  LimitOptions,
  LogGroupOptions,
  NodeKeyOption,
  OpenStoreOptions,
  SignerOptions,
  StoreOptions,
  VoteVerificationOptions,
} from './store-options.ts';

/**
 * What an open store tells about the log under it: facts to read, never a way to write (every
 * write goes through a store, which keeps its invariants).
 */
export interface LogFacts {
  readonly status: LogStatus;
  /** The LSN the next record will get (one past the last durable record). */
  readonly nextLsn: Lsn;
  /** What the open found: segments and records scanned, torn bytes cut, repairs. */
  readonly openReport: OpenReport;
  /** Batch and record size limits in force. */
  readonly limits: LogLimits | undefined;
}

/**
 * A store's lifecycle: `open`; `poisoned` after a failed write or fsync (D6: reads work, every
 * write rejects, reopen to go on); `closing`; `closed`.
 */
export type StoreStatus = 'open' | 'poisoned' | 'closing' | 'closed';

/**
 * An open consensus store: every store of one node, over one backend. The members are the
 * interfaces every backend implements (the conformance suites check them); `openStore` builds
 * them on the segmented write-ahead log.
 */
export interface ConsensusStore {
  readonly votes: VoteStore;
  /** The only place the node's key signs (D8, docs/durability.md). */
  readonly signGuard: SignGuard;
  readonly rounds: RoundStateStore;
  readonly recovery: RecoveryManager;
  readonly validators: ValidatorRegistry;
  /** The signed, hash-chained audit log (docs/audit.md). */
  readonly audit: AuditLog;
  /** Portable snapshots of the finalized state (docs/stores.md, "Snapshots"). */
  readonly snapshots: SnapshotStore;
  /** Byzantine evidence (docs/evidence-and-rewards.md); keys come from `validators.publicKeyAt`. */
  readonly evidence: ByzantineEvidenceStore;
  /** Reward distributions (docs/evidence-and-rewards.md). */
  readonly rewards: RewardHistory;
  /** Facts about the log underneath (status, LSNs, what the open found), read-only. */
  readonly log: LogFacts;
  /** The store's lifecycle state. */
  readonly status: StoreStatus;
  /** Records replayed on open, per owning store, and those of kinds no store here owns (written by a newer version). */
  readonly replay: ReplayReport;
  /**
   * The store's metrics in the Prometheus text exposition format, version 0.0.4
   * (docs/operations.md, "Metrics"; serve them with `src/cli/metrics-http.ts`). After `close`
   * it still answers, without what needs an open store.
   */
  metrics(): Promise<string>;
  /**
   * An online backup into `dest` (absent or empty), consistent at one LSN while writes go on
   * (docs/operations.md, "Backup and restore"): the LSN is fixed between two acknowledged
   * batches, then sealed segments and the newest local image are hard-linked (copied across
   * file systems), the active segment copied up to that LSN, a manifest written for exactly
   * those segments, SIGNSTATE copied, the node key only with `includeKey` (mode 0600), and a
   * trailer signed by the node key written last. Check it with `verifyBackup`, restore it
   * with `restoreFromBackup`.
   * @throws ConsensusStoreError INVALID_ARGUMENT (bad arguments, `dest` not empty, a store
   *   without a data directory: nothing written), CLOSED, CORRUPTION, the file system's errors
   *   (the backup then has no trailer: incomplete).
   */
  backup(dest: string, options?: BackupOptions): Promise<BackupReport>;
  /**
   * Compacts now (docs/stores.md, "Bounded history"): finalized records older than the hot
   * window move to cold files, the stores drop them from memory (their queries read the cold
   * tier for them), a local image of the smaller state is written, and the hot segments no
   * open needs are released. Runs by itself in the background as finalization moves on
   * (`retention.compactEvery`); this call runs one now (after the one in progress).
   * @throws ConsensusStoreError INVALID_ARGUMENT (a store without a cold tier: built on a bare
   *   log, another backend, or `retention.hotHeights` 0), CLOSED, the file system's errors
   *   (nothing committed: the next compaction starts over).
   */
  compact(): Promise<CompactionReport>;
  /** Closes every store and the log; idempotent. Methods called afterwards reject CLOSED. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The writable log under each store that `openStore`/`openStoreOnLog` built. */
const writableLogs = new WeakMap<ConsensusStore, Log>();

/**
 * The writable log under `store`, for the project's own tests, benchmarks and fuzzer, which
 * write raw records (never exported from the package root: a caller that appends through it
 * can break the stores' invariants). Taking it turns local images off for the rest of this
 * open (the stores' memory no longer matches the log); the next open replays the log.
 * @internal
 * @throws ConsensusStoreError INVALID_ARGUMENT when `store` was not built here.
 */
export function writableLogOf(store: ConsensusStore): Log {
  const log = writableLogs.get(store);
  if (log === undefined) throw invalidArgument('store', 'was not opened by openStore or openStoreOnLog');
  // What is appended through it bypasses the stores: an image of their state would not match the log.
  imagers.get(store)?.disable();
  return log;
}

const DEFAULT_SNAPSHOT_OPTIONS: Required<SnapshotOptions> = { interval: 1000, keep: 3, chunkSize: 1 << 20, certificateHeights: 1000 };

/**
 * The snapshot store of a store without a data directory (built on a bare log, or a backend
 * whose snapshots have not landed yet): every method rejects INVALID_ARGUMENT saying so.
 * @internal
 */
export function noSnapshots(): SnapshotStore {
  const refuse = (): Promise<never> =>
    Promise.reject(invalidArgument('store', 'has no data directory (it was built on a bare log): snapshots need openStore'));
  return {
    createSnapshot: refuse,
    getSnapshotMetadata: refuse,
    loadFromSnapshot: refuse,
    listSnapshots: refuse,
    getLatestSnapshot: refuse,
    pruneSnapshots: refuse,
    verifySnapshotIntegrity: refuse,
    addAttestation: refuse,
  };
}

/**
 * The `backup` of a store without a data directory (built on a bare log, another backend):
 * it rejects INVALID_ARGUMENT saying so.
 * @internal
 */
export function noBackup(): ConsensusStore['backup'] {
  return () => Promise.reject(invalidArgument('store', 'has no data directory (it was built on a bare log or another backend): backups need openStore'));
}

/**
 * The `compact` of a store without a cold tier (a bare log, another backend, or retention off):
 * it rejects INVALID_ARGUMENT saying so.
 * @internal
 */
export function noCompaction(): ConsensusStore['compact'] {
  return () => Promise.reject(invalidArgument('store', 'has no cold tier (built on a bare log or another backend, or opened with retention.hotHeights 0): nothing to compact'));
}

/** The compactor of an `openStore` with a cold tier and every store able to move its records there; else undefined. */
function makeCompactor(log: Log, stores: Stores, env: OpenEnv, imager: Imager | undefined, chainId: string): Compactor | undefined {
  const cold = env.cold;
  const participants = coldParticipantsOf(stores);
  if (cold === undefined || participants === undefined || imager === undefined || env.fs === undefined || env.images === undefined) return undefined;
  if (cold.retention.hotHeights === 0) return undefined;
  const { fs } = env;
  const dir = env.images.dir;
  const snap = env.snapshots ?? DEFAULT_SNAPSHOT_OPTIONS;
  void chainId;
  return new Compactor({
    log,
    cold: cold.directory,
    participants,
    hotHeights: cold.retention.hotHeights,
    compactEvery: cold.retention.compactEvery,
    lastFinalized: async () => (await stores.votes.getLastFinalized())?.height,
    // The automatic snapshots read the decision certificates of their window from the hot votes.
    keepFrom: (last) => (snap.interval === 0 ? undefined : Math.max(0, last + 1 - (snap.certificateHeights + snap.interval + SNAPSHOT_AUTO_LAG))),
    takeImage: async () => (await imager.take(true, false, true))?.lsn,
    imageLsns: async () => (await listImages(fs, dir)).map(imageLsnOfName).filter((l): l is number => l !== undefined),
  });
}

/** The imager of each store `openStore` built. */
const imagers = new WeakMap<ConsensusStore, Imager>();

/**
 * Takes a local image of `store` now (the project's tests, benchmarks and fuzzer; operators get
 * them automatically). Resolves with the image written, or undefined when nothing was written
 * since the last one.
 * @internal
 * @throws ConsensusStoreError INVALID_ARGUMENT when `store` was not built by `openStore`; the file system's errors.
 */
export function takeImage(store: ConsensusStore, pace = true): Promise<WrittenImage | undefined> {
  const imager = imagers.get(store);
  if (imager === undefined) return Promise.reject(invalidArgument('store', 'was not opened by openStore'));
  return imager.take(pace);
}

/** What the one replay pass of the open saw. */
export interface ReplayReport {
  /** Records replayed (those after the image, when one was loaded). */
  readonly records: number;
  readonly unknownKindRecords: number;
  /**
   * Records after a repair's gap that their store could not apply because what they build on
   * was lost in it: skipped and counted (docs/durability.md, D5). Absent when none.
   */
  readonly skippedAfterGap?: number;
  readonly durationMs: number;
  /** The first LSN replayed: 1, or one past the loaded image's LSN. */
  readonly fromLsn: Lsn;
  /** The local image loaded (if any) and those that failed a check and were skipped. */
  readonly image: ImageLoadReport;
}

/**
 * Opens (creating if needed) the data directory `options.dir` and every store on it.
 * @throws ConsensusStoreError INVALID_ARGUMENT (bad option; a node key other than the one the
 *   audit log records), LOCKED, CORRUPTION (also a damaged node key file), FRESH_SIGN_STATE,
 *   IO_FAILED / DISK_FULL (creating the key file), and the log's open errors. The log is closed
 *   again when the open fails.
 */
export function openStore(options: OpenStoreOptions): Promise<ConsensusStore> {
  return openStoreIn(options, false).catch((err: unknown) => {
    processMetrics.openFailures.inc(err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code.toLowerCase() : 'internal');
    throw err;
  });
}

/**
 * `openStore` on a directory a restore from a snapshot is still writing (its RESTORING marker
 * is there), for `restoreFromSnapshot` alone.
 * @internal
 */
export function openStoreUnderRestore(options: OpenStoreOptions): Promise<ConsensusStore> {
  return openStoreIn(options, true);
}

/**
 * `openStore` with `options.audit.nodeKey`, the new key of a node whose old key is lost: when
 * the chain records another key, the open writes the lost-key rotation to the given key before
 * anything else reaches the audit chain. For `rotateNodeKey` alone.
 * @internal
 */
export function openStoreRotatingLostKey(options: OpenStoreOptions): Promise<ConsensusStore> {
  return openStoreIn(options, false, true);
}

async function openStoreIn(options: OpenStoreOptions, restoring: boolean, lostKeyRotation = false): Promise<ConsensusStore> {
  const startedAt = performance.now();
  // Every option is checked before anything is created on disk.
  const resolved = resolveOpenStoreOptions(options);
  const { dir, keyFile } = resolved;
  // Loaded on demand so that `openStoreOnLog` (tests, other backends) never loads the engine.
  const [{ openLog, LOCK_NAME }, { defaultFileSystem }, { WAL_DIR_NAME }, { probeDataDir, removeFreshDir }] = await Promise.all([
    import('./log/wal.ts'),
    import('./io/real-fs.ts'),
    import('./log/open.ts'),
    import('./log/fresh-dir.ts'),
  ]);
  const fs = resolved.fs ?? defaultFileSystem();
  // What was there before anything is created: a failed open of an absent or empty directory
  // removes what it made (docs/durability.md, "A clean open").
  const before = await probeDataDir(fs, dir);
  try {
    if (!restoring && before === 'existing' && (await fs.stat(`${dir}/${RESTORING_FILE}`)) !== undefined) {
      // The marker says which restore: a backup's starts with "backup ", a snapshot's with its root.
      const marker = new TextDecoder().decode(await fs.readFile(`${dir}/${RESTORING_FILE}`).catch(() => new Uint8Array(0)));
      throw invalidArgument(
        'options.dir',
        marker.startsWith(BACKUP_MARKER_PREFIX)
          ? 'holds a restore from a backup that did not finish: run restoreFromBackup (cstore restore) again (it starts over), or remove the directory'
          : 'holds a restore from a snapshot that did not finish: run restoreFromSnapshot again (it resumes), or remove the directory',
      );
    }
    const log = await openLog({ ...resolved.log, dir, fs }, { dirState: before });
    const wal = new WalMetrics();
    log.observe(wal);
    let nodeKey: NodeKey;
    let signCopy: WatermarkCopy | undefined;
    let cold: FileColdDirectory;
    try {
      // The cold tier first: every store skips what it holds (docs/stores.md, "Bounded history").
      cold = await FileColdDirectory.open(fs, dir, resolved.chainId);
      // After openLog: the directory exists and this process holds its lock (D7).
      nodeKey = resolved.nodeKey ?? (await loadNodeKeyFor(fs, keyFile, log.nextLsn));
      // The sign guard's second copy of its watermark, for a store that signs.
      if (resolved.signer !== undefined) signCopy = await openSignStateFile(fs, dir);
    } catch (err) {
      await log.close().catch(() => undefined);
      throw err;
    }
    return await openWith(log, resolved, {
      nodeKey,
      ...(lostKeyRotation ? { lostKeyRotation } : {}),
      fs,
      images: { ...resolved.images, dir },
      snapshots: resolved.snapshots,
      cold: { directory: cold, retention: resolved.retention },
      ...(signCopy === undefined ? {} : { signCopy }),
      metrics: { startedAt, wal, walDir: `${dir}/${WAL_DIR_NAME}` },
    });
  } catch (err) {
    // Every store and the log are closed by now (openWith and the step above close them).
    await removeFreshDir(fs, dir, before, LOCK_NAME);
    throw await withRotationHint(fs, fromFsError(err, `opening the store in ${dir}`), keyFile);
  }
}

/**
 * A node key that is not the chain's while `<keyFile>.next` lies beside it: a key rotation was
 * interrupted after the chain recorded it; the message says how to finish it.
 */
async function withRotationHint(fs: FileSystem, err: unknown, keyFile: string): Promise<unknown> {
  if (!(err instanceof ConsensusStoreError) || err.code !== 'INVALID_ARGUMENT' || err.details?.['argument'] !== 'options.publicKey') return err;
  if ((await fs.stat(`${keyFile}.next`).catch(() => undefined)) === undefined) return err;
  return new ConsensusStoreError('INVALID_ARGUMENT', `${err.message}; ${keyFile}.next is there: a node key rotation was interrupted, run \`cstore rotate-key <dir>\` again to finish it`, {
    cause: err,
    details: err.details,
  });
}

/**
 * The node key from `keyFile`, created there when the log is new (`nextLsn` 1: nothing was
 * recorded with any key yet). A log that holds records was written with a key: its file
 * missing is NOT_FOUND, never a new key (a new key would not match the one the audit chain
 * records, and would be left behind).
 */
async function loadNodeKeyFor(fs: FileSystem, keyFile: string, nextLsn: number): Promise<NodeKey> {
  if (nextLsn > 1 && (await statKeyFile(fs, keyFile)) === undefined) {
    throw new ConsensusStoreError(
      'NOT_FOUND',
      `the node key file ${keyFile} is missing, while the log holds records signed with the node key. ` +
        'Put the file back from a backup (a backup taken with --include-key holds it), or, if the key is lost, ' +
        'record a new one with `cstore rotate-key <dir> --lost` (docs/operations.md, "A lost node key")',
      { details: { path: keyFile } },
    );
  }
  return (await loadOrCreateNodeKey(fs, keyFile)).key;
}

async function statKeyFile(fs: FileSystem, keyFile: string): Promise<unknown> {
  try {
    return await fs.stat(keyFile);
  } catch (err) {
    throw fromFsError(err, `looking for the node key file ${keyFile}`);
  }
}

/**
 * Builds every store on an already open `log`, replays it once, and applies the sign guard's
 * fresh-directory rule. The returned store owns the log: its `close()` closes it, and a failed
 * open closes it too. Used by `openStore`, by the conformance suites (in-memory log) and by
 * other backends.
 * @internal
 */
export async function openStoreOnLog(log: Log, options: StoreOptions): Promise<ConsensusStore> {
  const startedAt = performance.now();
  let resolved: ResolvedStoreOptions;
  try {
    resolved = resolveStoreOptions(options);
  } catch (err) {
    await log.close().catch(() => undefined);
    throw err;
  }
  return openWith(log, resolved, { metrics: { startedAt } });
}

/**
 * The stores of a data directory opened read-only (the operator's tools, src/cli/read-only.ts):
 * built on `log` (opened read-only) with the cold tier `cold` (a FileColdTier over the
 * manifest read without deleting anything), the newest local image under `dir` signed by
 * `imageKey` loaded, then the log replayed after it. Keyless, so the open writes nothing; no
 * compactor, no imager. The store owns the log: closing it closes the log.
 * @internal
 */
export async function openStoreReadOnly(log: Log, options: StoreOptions, env: { readonly fs: FileSystem; readonly dir: string; readonly cold: ColdTier; readonly imageKey: Uint8Array }): Promise<ConsensusStore> {
  const startedAt = performance.now();
  let resolved: ResolvedStoreOptions;
  try {
    resolved = resolveStoreOptions(options);
  } catch (err) {
    await log.close().catch(() => undefined);
    throw err;
  }
  const refuse = (): Promise<never> => Promise.reject(invalidArgument('store', 'is opened read-only: its cold tier is never written'));
  const directory: ColdDirectory = { tier: env.cold, writeFile: refuse, commit: refuse, discard: refuse };
  return openWith(log, resolved, {
    fs: env.fs,
    images: { everyRecords: 0, keep: 1, onClose: false, load: true, dir: env.dir },
    cold: { directory, retention: { hotHeights: 0, compactEvery: 1 } },
    imageKey: env.imageKey,
    metrics: { startedAt },
  });
}

/** What `openStore` adds to the options of `openStoreOnLog`. */
interface OpenEnv {
  /** The node key loaded from the key file (`openStore`); else the options' or an ephemeral one. */
  readonly nodeKey?: NodeKey;
  /** The file system of the data directory (for `audit.export`). */
  readonly fs?: FileSystem;
  /** The sign guard's second copy of its watermark (`<dir>/SIGNSTATE`); closed with the store. */
  readonly signCopy?: WatermarkCopy;
  /** Local images (`openStore` only): where, and when to take them. */
  readonly images?: Required<ImageOptions> & { readonly dir: string };
  /** Portable snapshots (`openStore` only). */
  readonly snapshots?: Required<SnapshotOptions>;
  /** When the open began; the WAL's observer and its segment directory (`openStore` only). */
  readonly metrics?: { readonly startedAt: number; readonly wal?: WalMetrics; readonly walDir?: string };
  /** `openStoreRotatingLostKey`: `nodeKey` replaces a lost key the chain records (a lost-key rotation). */
  readonly lostKeyRotation?: boolean;
  /** The cold tier (`openStore` only) and how much stays hot. */
  readonly cold?: { readonly directory: ColdDirectory; readonly retention: ResolvedRetention };
  /** `openStoreReadOnly`: the public key the local images must be signed with (no node key is loaded). */
  readonly imageKey?: Uint8Array;
}

async function openWith(log: Log, options: ResolvedStoreOptions, env: OpenEnv): Promise<ConsensusStore> {
  try {
    return await buildStores(log, options, env);
  } catch (err) {
    await log.close().catch(() => undefined);
    await env.signCopy?.close().catch(() => undefined);
    throw err;
  }
}

/** One audit key per process for `openStoreOnLog` without `audit.nodeKey` (see `AuditOptions.nodeKey`). */
let processNodeKey: NodeKey | undefined;

/** Every store of one open, wired, before any record is folded in. */
interface Stores {
  readonly signGuard: LogSignGuard;
  readonly audit: LogAuditLog;
  readonly validators: LogValidatorRegistry;
  readonly evidence: LogEvidenceStore;
  readonly rewards: LogRewardHistory;
  readonly pipeline: CommitPipeline;
  readonly votes: LogVoteStore;
  readonly rounds: LogRoundStateStore;
  readonly recovery: LogRecoveryManager;
  readonly identity: StoreIdentity;
  /** Every replay hook, in the order the replay feeds them (the identity first). */
  readonly appliers: readonly RecordApplier[];
}

/** Constructs every store on `log` (empty: nothing folded in yet). */
function makeStores(log: Log, options: ResolvedStoreOptions, env: OpenEnv, nodeKey: NodeKey): Stores {
  const { chainId, now, signer, nodeId, auditLimits } = options;
  const ctx: StoreContext = { log, now };
  // First: it checks the identity, whose validator id is the default `nodeId`.
  const signGuard = new LogSignGuard(ctx, {
    chainId,
    ...(signer === undefined ? {} : { identity: signer.identity }),
    ...(env.signCopy === undefined ? {} : { copy: env.signCopy }),
  });
  const exportFs = env.fs ?? options.fs;
  const audit = new LogAuditLog(ctx, {
    ...nodeKey,
    chainId,
    ...(exportFs === undefined ? {} : { fs: exportFs }),
    ...(auditLimits === undefined ? {} : { limits: auditLimits }),
  });
  const validators = new LogValidatorRegistry(ctx);
  const evidence = new LogEvidenceStore(ctx, {
    chainId,
    nodeId: nodeId ?? signer?.identity.validatorId ?? 'local',
    publicKeyAt: (id, height) => validators.publicKeyAt(id, height),
  });
  const rewards = new LogRewardHistory(ctx);
  // One batch for a vote and what it causes: the pipeline's audit stage is the audit log.
  const pipeline = new CommitPipeline(log, audit);
  const votes = new LogVoteStore(ctx, {
    pipeline,
    ...(options.voteLimits === undefined ? {} : { limits: options.voteLimits }),
    verification: voteVerificationOf(options.voteVerification, chainId, validators),
  });
  const rounds = new LogRoundStateStore(ctx, options.rounds);
  const recovery = new LogRecoveryManager(ctx, rounds, (round) => votes.getVotesForRound(round));
  votes.setBatchContributors([(event) => evidence.voteBatchPart(event), (event) => audit.voteBatchPart(event)]);
  // The identity comes first in the log, so a wrong chain id fails before any record that depends on it.
  const identity = new StoreIdentity(chainId);
  const appliers: RecordApplier[] = [identity, votes, signGuard, rounds, validators, audit, evidence, rewards];
  const stores = { signGuard, audit, validators, evidence, rewards, pipeline, votes, rounds, recovery, identity, appliers };
  // Before any image or record: what the cold tier holds is skipped (docs/stores.md, "Bounded history").
  const tier = env.cold?.directory.tier;
  if (tier !== undefined) for (const p of coldParticipantsOf(stores) ?? []) p.participant.evictCold(tier.cut, tier);
  return stores;
}

/**
 * What the vote store verifies against (docs/stores.md, "Vote verification"): by default the
 * registry's key of the validator at the vote's height, read when the vote is appended.
 */
export function voteVerificationOf(
  option: ResolvedStoreOptions['voteVerification'],
  chainId: string,
  validators: Pick<LogValidatorRegistry, 'publicKeyAt'>,
): VoteVerification | 'off' {
  if (option === 'off') return 'off';
  if (option !== 'registry') return { chainId, publicKeyOf: option };
  return {
    chainId,
    publicKeyOf: (id, height) => validators.publicKeyAt(id, height),
    knownValidator: (id) => validators.publicKeyAt(id, Number.MAX_SAFE_INTEGER) !== undefined,
  };
}

/**
 * The stores whose records move to the cold tier, by the name their cold files carry; undefined
 * while one of them cannot (the hot log then keeps everything: releasing its segments would lose
 * that store's records).
 */
function coldParticipantsOf(stores: Stores): NamedParticipant[] | undefined {
  const named: [string, unknown][] = [
    ['votes', stores.votes],
    ['audit', stores.audit],
    ['rewards', stores.rewards],
    ['rounds', stores.rounds],
  ];
  const out: NamedParticipant[] = [];
  for (const [name, store] of named) {
    const p = store as Partial<ColdParticipant>;
    if (typeof p.captureCold !== 'function' || typeof p.evictCold !== 'function' || typeof p.coldKeys !== 'function' || !Array.isArray(p.coldKinds)) return undefined;
    out.push({ name, participant: store as ColdParticipant });
  }
  return out;
}

/** The image sections of `stores`, or undefined while some store cannot be imaged. */
function imageSectionsOf(stores: Stores): ImageSection[] | undefined {
  const sections: ImageSection[] = [];
  for (const a of stores.appliers) {
    const s = a as Partial<ImageSection>;
    if (typeof s.captureImage !== 'function' || typeof s.loadImage !== 'function' || typeof s.imageTag !== 'number') return undefined;
    sections.push(a as unknown as ImageSection);
  }
  return sections;
}

/**
 * Loads the newest valid local image into fresh stores. Each image that fails a check is
 * reported and the stores are built anew for the next one; without any, `fromLsn` is undefined
 * (replay everything).
 */
async function loadNewestImage(
  log: Log,
  options: ResolvedStoreOptions,
  env: OpenEnv,
  nodeKey: NodeKey,
): Promise<{ stores: Stores; fromLsn: Lsn | undefined; report: ImageLoadReport; damage?: { file: string; offset: number } }> {
  let stores = makeStores(log, options, env, nodeKey);
  const rejected: { file: string; reason: string }[] = [];
  // The first damage in the log an image's check met (an open left without an image names it).
  let damage: { file: string; offset: number } | undefined;
  const images = env.images;
  if (env.fs === undefined || images === undefined || !images.load || (log.capture === undefined && env.imageKey === undefined) || imageSectionsOf(stores) === undefined) {
    return { stores, fromLsn: undefined, report: { loaded: undefined, rejected } };
  }
  for (const file of await listImages(env.fs, images.dir)) {
    const started = performance.now();
    try {
      const image = await readLocalImage(env.fs, images.dir, file, log, options.chainId, env.lostKeyRotation === true ? 'carried' : (env.imageKey ?? nodeKey.publicKey));
      loadSections(image, imageSectionsOf(stores) as ImageSection[]);
      const loaded = { file, lsn: image.lsn, bytes: image.bytes, durationMs: performance.now() - started };
      return { stores, fromLsn: (image.lsn + 1) as Lsn, report: { loaded, rejected } };
    } catch (err) {
      if (damage === undefined && err instanceof ConsensusStoreError && err.code === 'CORRUPTION' && err.location !== undefined) damage = err.location;
      rejected.push({ file, reason: err instanceof Error ? err.message : String(err) });
      stores = makeStores(log, options, env, nodeKey);
    }
  }
  return { stores, fromLsn: undefined, report: { loaded: undefined, rejected }, ...(damage === undefined ? {} : { damage }) };
}

/** Builds the stores on `log`, replays, applies the sign guard's open-time rules, records key and repairs. */
async function buildStores(log: Log, options: ResolvedStoreOptions, env: OpenEnv): Promise<ConsensusStore> {
  const { signer } = options;
  const nodeKey = env.nodeKey ?? options.nodeKey ?? (processNodeKey ??= generateNodeKey());
  const keyed = env.nodeKey !== undefined || options.nodeKey !== undefined;

  const { stores, fromLsn, report: imageReport, damage } = await loadNewestImage(log, options, env, nodeKey);
  const { signGuard, audit, validators, evidence, rewards, pipeline, votes, rounds, recovery, identity } = stores;
  const firstLsn = log.firstLsn ?? 1;
  if (fromLsn === undefined && firstLsn > 1) {
    // Released segments: what they held lives only in the images and the cold tier.
    throw new ConsensusStoreError(
      'CORRUPTION',
      `the log starts at LSN ${firstLsn} (its older segments were released after a compaction) and no local image loads` +
        (imageReport.rejected.length === 0 ? '' : ` (${imageReport.rejected.map((r) => `${r.file}: ${r.reason}`).join('; ')})`) +
        ': the state before that LSN cannot be rebuilt; restore the directory from a backup (docs/operations.md, "Backup and restore")',
      { details: { firstLsn }, ...(damage === undefined ? {} : { location: damage }) },
    );
  }
  const replayed = await replayLog(log, stores.appliers, fromLsn);
  const replay: ReplayReport = { ...replayed, fromLsn: fromLsn ?? (1 as Lsn), image: imageReport };
  if (env.nodeKey !== undefined) await identity.ensureRecorded(log);
  // Without a node key (a keyless openStoreOnLog: the audit key is ephemeral) nothing may be
  // written to the audit chain: the repairs then act as barriers in memory and stay pending.
  // A lost node key: the rotation to the new one is the first thing the chain gets.
  if (env.lostKeyRotation === true && audit.recordsOtherKey()) await audit.rotateNodeKey(nodeKey, true);
  await recordRepairs(log, signGuard, audit, pipeline, keyed, env.fs !== undefined && env.images !== undefined ? { fs: env.fs, dir: env.images.dir } : undefined);
  if (signer?.importWatermark !== undefined) await signGuard.importWatermark(signer.importWatermark);
  // A restored directory says why it refuses first (the fence), before the generic fresh-state rule.
  signGuard.checkFence();
  signGuard.checkSignState(signer?.state ?? 'existing-key', signer?.allowFresh ?? false);
  signGuard.checkRepairBarrier(signer?.allowFresh ?? false);
  signGuard.checkCopy();
  // Entry 0 of a new chain ("recorded at first open"); INVALID_ARGUMENT when the chain records
  // another node key. With the ephemeral key of a keyless `openStoreOnLog` it is written with
  // the first audit batch instead, so that opening a test log writes nothing.
  if (keyed) await audit.recordNodeKey();

  const imager =
    env.images === undefined || env.fs === undefined || !keyed
      ? undefined
      : new Imager(
          log,
          { ...env.images, fs: env.fs, chainId: options.chainId, nodeKey, now: options.now, sections: imageSectionsOf(stores) },
          imageReport.loaded?.lsn ?? 0,
        );
  const compactor = makeCompactor(log, stores, env, imager, options.chainId);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    if (closing !== undefined) return closing;
    const fileSnapshots = snapshots instanceof LogSnapshotStore ? snapshots : undefined;
    if (imager === undefined && fileSnapshots === undefined) return (closing = log.close().finally(() => env.signCopy?.close()));
    // Writes stop now (they reject CLOSED, as after any close); snapshot writes already queued
    // finish (none starts after close), the last image is taken of what the writes left, then
    // the log closes.
    const clean = log.status === 'open';
    log.beginClose?.();
    return (closing = (async () => {
      // A compaction in progress finishes first (its commit point is one rename).
      await compactor?.stop();
      await fileSnapshots?.stop();
      await imager?.stop(clean);
      await log.close();
    })().finally(() => env.signCopy?.close()));
  };
  const facts: LogFacts = Object.freeze({
    get status() {
      return log.status;
    },
    get nextLsn() {
      return log.nextLsn;
    },
    get openReport() {
      return log.openReport;
    },
    get limits() {
      return log.limits;
    },
  });
  const snapshots: SnapshotStore =
    env.fs !== undefined && env.images !== undefined
      ? new LogSnapshotStore(
          { log, now: options.now },
          {
            fs: env.fs,
            dir: env.images.dir,
            chainId: options.chainId,
            votes,
            validators,
            ...(signer === undefined ? {} : { attester: { validatorId: signer.identity.validatorId, privateKey: signer.identity.privateKey } }),
            ...(env.snapshots ?? DEFAULT_SNAPSHOT_OPTIONS),
          },
        )
      : noSnapshots();
  if (snapshots instanceof LogSnapshotStore || compactor !== undefined) {
    votes.setFinalizedListener((height) => {
      if (snapshots instanceof LogSnapshotStore) snapshots.onFinalized(height);
      compactor?.onFinalized(height);
    });
  }
  const m = env.metrics;
  const openSeconds = m === undefined ? undefined : (performance.now() - m.startedAt) / 1000;
  const open = {
    walOpenSeconds: log.openReport.durationMs / 1000,
    replaySeconds: replay.durationMs / 1000,
    replayRecords: replay.records,
    imageLoaded: replay.image.loaded !== undefined,
    imageLoadSeconds: (replay.image.loaded?.durationMs ?? 0) / 1000,
    imagesRejected: replay.image.rejected.length,
    tornBytesCut: log.openReport.tornBytesCut,
    repairCut: log.openReport.repair !== undefined,
  };
  const { fs, images } = env;
  const metrics = (): Promise<string> =>
    renderStoreMetrics({
      backend: m?.wal === undefined ? 'log' : 'wal',
      now: options.now,
      status: () => storeStatusOf(log.status),
      nextLsn: () => log.nextLsn,
      sign: signGuard.metrics,
      watermark: () => signGuard.watermark(),
      evidence,
      ...(m?.wal === undefined ? {} : { wal: m.wal }),
      ...(openSeconds === undefined ? {} : { openSeconds }),
      open,
      ...(imager === undefined ? {} : { images: imager.metrics }),
      ...(snapshots instanceof LogSnapshotStore ? { snapshots: snapshots.metrics } : {}),
      ...(fs === undefined || images === undefined || m?.walDir === undefined
        ? {}
        : {
            diskBytes: async () => ({
              wal: await bytesIn(fs, m.walDir as string),
              image: await bytesIn(fs, `${images.dir}/${IMAGES_DIR}`),
              snapshot: await bytesIn(fs, `${images.dir}/${SNAPSHOTS_DIR}`),
            }),
          }),
    });
  const backupSource: BackupSource | undefined =
    fs === undefined || images === undefined || !keyed
      ? undefined
      : { fs, dir: images.dir, log, chainId: options.chainId, nodeKey, now: options.now, ...(compactor === undefined ? {} : { holdCompactions: () => compactor.hold() }) };
  const store: ConsensusStore = {
    votes,
    signGuard,
    snapshots,
    rounds,
    recovery,
    validators,
    audit,
    evidence,
    rewards,
    log: facts,
    get status(): StoreStatus {
      return storeStatusOf(log.status);
    },
    replay,
    metrics,
    backup: backupSource === undefined ? noBackup() : (dest, backupOptions) => takeBackup(backupSource, dest, backupOptions),
    compact: compactor === undefined ? noCompaction() : () => compactor.compact(),
    close,
    [Symbol.asyncDispose]: close,
  };
  writableLogs.set(store, log);
  if (imager !== undefined) imagers.set(store, imager);
  imager?.start();
  return store;
}

/**
 * Records every repair the log still reports as pending (this open's, or an earlier open's that
 * a crash kept from being recorded), then lets the log forget them. For each: the sign guard's
 * barrier (D8: the dropped records may hold the key's newest signatures; `checkRepairBarrier`
 * refuses to sign until a watermark is imported) and the `StoreRepaired` audit entry, in one
 * batch, so both or neither are durable; the entry names the lost LSN range, records, bytes,
 * the gap's end when the batches after it were kept, and the audit sequence numbers the gap
 * took; a repair whose barrier is already in the log (a crash
 * came after the batch, before the acknowledgement) is not recorded twice. Not `durable` (no
 * node key): barriers in memory only, nothing written, nothing acknowledged.
 */
async function recordRepairs(
  log: Log,
  signGuard: LogSignGuard,
  audit: LogAuditLog,
  pipeline: CommitPipeline,
  durable: boolean,
  images: { readonly fs: FileSystem; readonly dir: string } | undefined,
): Promise<void> {
  const pending = log.openReport.pendingRepairs;
  for (const repair of pending) {
    if (signGuard.hasRecordedRepair(repair.id)) continue;
    const barrier = signGuard.repairBarrierRecord(repair.firstLostLsn, repair.id);
    if (!durable) {
      signGuard.apply({ lsn: 0 as Lsn, kind: barrier.kind, payload: barrier.payload });
      continue;
    }
    const event: StoreRepaired = {
      type: 'StoreRepaired',
      file: repair.file,
      offset: repair.offset,
      firstLostLsn: repair.firstLostLsn ?? null,
      bytesDropped: repair.bytesDropped,
      brokenCopy: repair.brokenCopy,
      lastLostLsn: repair.lastLostLsn ?? null,
      recordsDropped: repair.recordsDropped ?? null,
      gapEnd: repair.gapEnd ?? null,
      // The audit entries the gap took, as the replay found them (the chain verifier accepts
      // the break only where this entry names it exactly).
      lostAuditSequences: repair.firstLostLsn === undefined || repair.gapEnd === undefined ? null : (audit.lostSequencesIn(repair.firstLostLsn, repair.lastLostLsn) ?? null),
    };
    await pipeline.commit([{ records: [barrier], events: [event], onDurable: ([record]) => signGuard.apply(record as LogRecord) }]);
  }
  const last = pending[pending.length - 1];
  if (last !== undefined && durable) {
    // Local images past the first lost record hold what the repair dropped; while the repair is
    // pending the open rejects them, and once it is acknowledged nothing would: they go first.
    const lost = pending.map((p) => p.firstLostLsn).filter((l): l is Lsn => l !== undefined);
    if (images !== undefined && lost.length > 0) await removeImagesFrom(images.fs, images.dir, Math.min(...lost));
    await log.acknowledgeRepairs(last.id);
  }
}

/** The store's lifecycle state for the log's. */
function storeStatusOf(status: LogStatus): StoreStatus {
  if (status === 'poisoned' || status === 'closing' || status === 'closed') return status;
  return 'open';
}

/** Feeds every durable record to the store owning its kind, in LSN order, in one pass. */
async function replayLog(log: Log, appliers: readonly RecordApplier[], from: Lsn | undefined): Promise<Omit<ReplayReport, 'fromLsn' | 'image'>> {
  const started = performance.now();
  const byKind = new Map<number, RecordApplier>();
  for (const applier of appliers) {
    for (const kind of applier.kinds) {
      if (byKind.has(kind)) throw new RangeError(`record kind ${kind} is claimed by two stores`);
      byKind.set(kind, applier);
    }
  }
  let records = 0;
  let unknownKindRecords = 0;
  let skippedAfterGap = 0;
  // A repair's gap (docs/format.md, "Filler") shows as a jump in the LSNs. After one, a record
  // whose store cannot apply it because what it builds on was lost (an update of a validator
  // whose registration was in the gap) is skipped and counted, not fatal: the repair already
  // reported the loss, and refusing to open would lose everything else too.
  let expected: number = from ?? 1;
  let afterGap = false;
  await log.scan((record: LogRecord) => {
    records++;
    if (record.lsn > expected) afterGap = true;
    expected = record.lsn + 1;
    const applier = byKind.get(record.kind);
    if (applier === undefined) unknownKindRecords++;
    else if (!afterGap) applier.apply(record);
    else {
      try {
        applier.apply(record);
      } catch (err) {
        if (!isStoreError(err, 'CORRUPTION')) throw err;
        skippedAfterGap++;
      }
    }
  }, from);
  return { records, unknownKindRecords, ...(skippedAfterGap > 0 ? { skippedAfterGap } : {}), durationMs: performance.now() - started };
}
