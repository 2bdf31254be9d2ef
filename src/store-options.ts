/**
 * The options of `openStore` and `openStoreOnLog`, in groups (`signer`, `audit`, `limits`,
 * `voteVerification`, `rounds`, `log`), and their one check: every level rejects a key it does
 * not know (a misspelt `durabilty` is INVALID_ARGUMENT, never a silent default), and every value
 * is checked before the log is opened, so that bad options create no file.
 *
 * This file must never open, read or write anything: it only checks and resolves.
 */
import { resolveRetention, type ResolvedRetention } from './stores/compactor.ts';
import { join } from 'node:path';
import { checkNodeKey, ED25519_KEY_BYTES, ed25519PublicKey, type NodeKey } from './codec/node-key.ts';
import { invalidArgument } from './errors.ts';
import type { FileSystem } from './io/types.ts';
import type { Durability, LogOptions } from './log/types.ts';
import { checkBoolean, checkBytes, checkInteger, checkKeys, checkObject, checkOneOf, checkString } from './model/check.ts';
import { MAX_SUBMITTER_LENGTH } from './model/evidence.ts';
import type { SignWatermark } from './model/sign.ts';
import { checkPrivateKey, checkWatermark } from './model/sign.ts';
import { LOG_OPTION_KEYS, resolveLogOptions } from './log/options.ts';
import { resolveAuditLimits } from './stores/audit-log.ts';
import { resolveCheckpointInterval } from './stores/round-state-store.ts';
import { resolveVoteStoreLimits } from './stores/vote-store.ts';
import { checkChainId, checkValidatorId } from './model/vote.ts';
import { equalBytes } from './codec/bytes.ts';
import { publicKeyOf } from './codec/vote-sign.ts';
import type { AuditLogLimits } from './stores/audit-types.ts';
import type { RoundStateStoreOptions } from './stores/round-types.ts';
import type { SignIdentity, SignState } from './stores/sign-guard-types.ts';
import type { VoteStoreLimits } from './stores/vote-types.ts';

/** File name of the node key in the data directory (created with mode 0600 on first open). */
export const NODE_KEY_FILE = 'node.key';

/** The marker of a restore (from a snapshot or a backup) in progress: `openStore` refuses a directory that has it. */
export const RESTORING_FILE = 'RESTORING';
/** How the RESTORING marker of a restore from a backup begins (a snapshot's begins with its root). */
export const BACKUP_MARKER_PREFIX = 'backup ';

/** An ed25519 key in options: the 32-byte seed, and optionally its public key (checked to match). */
export interface NodeKeyOption {
  readonly privateKey: Uint8Array;
  readonly publicKey?: Uint8Array;
}

/** The node's signing identity and how the sign guard treats a directory without its watermark. */
export interface SignerOptions extends SignIdentity {
  /**
   * `new-key`: this key never signed anywhere. `existing-key` (default): it may have; a log
   * with no watermark for it then needs `allowFreshState` or `importWatermark`, or the open
   * fails with FRESH_SIGN_STATE (D8, docs/durability.md).
   */
  readonly state?: SignState;
  /** Accept a log without the key's watermark although `state` is `existing-key`, for this open. Default false. */
  readonly allowFreshState?: boolean;
  /** A watermark carried over from the key's previous data directory, recorded on open. */
  readonly importWatermark?: SignWatermark;
}

/** The audit log's signing key. */
export interface AuditOptions {
  /**
   * The node's ed25519 key that signs the audit log's heads (docs/audit.md). `openStore`
   * default: loaded from `keyFile`, created there (mode 0600) on first open. `openStoreOnLog`
   * default: one ephemeral key per process, for a log that does not outlive the process.
   */
  readonly nodeKey?: NodeKeyOption;
  /** `openStore` only: where the node key lives when `nodeKey` is not given; default `<dir>/node.key`. */
  readonly keyFile?: string;
}

/** Result-size and batch limits of the stores (each has a default). */
export interface LimitOptions {
  readonly votes?: Partial<VoteStoreLimits>;
  readonly audit?: Partial<AuditLogLimits>;
}

/**
 * Signature checks of `votes.appendVote` (docs/stores.md, "Vote verification"). Without this
 * option every vote is verified against the validator registry's key at the vote's height.
 */
export interface VoteVerificationOptions {
  /**
   * The key `validatorId` votes with at `height`, in place of the registry's (undefined: the
   * vote is refused, INVALID_ARGUMENT with `details.reason` 'unknown-validator').
   */
  readonly publicKeyOf: (validatorId: string, height: number) => Uint8Array | undefined;
}

/** Options of the store's own log (`openStore` only). */
export interface LogGroupOptions extends Omit<LogOptions, 'dir' | 'fs'> {
  /** Default `fsync` (D1). */
  readonly durability?: Durability;
}

/** Options of `openStore` that do not concern where the log lives (also taken by `openStoreOnLog`). */
export interface StoreOptions {
  /** The chain id every signature is bound to (1..64 characters). */
  readonly chainId: string;
  /** The node's signing identity; without it the sign guard refuses to sign. */
  readonly signer?: SignerOptions;
  readonly audit?: AuditOptions;
  readonly limits?: LimitOptions;
  /**
   * How `votes.appendVote` verifies signatures. Default: against the validator registry's key of
   * the vote's validator at its height. `{ publicKeyOf }`: against that function's key instead.
   * `'off'`: votes are stored unverified (tools that import history already checked; docs/stores.md).
   */
  readonly voteVerification?: VoteVerificationOptions | 'off';
  readonly rounds?: RoundStateStoreOptions;
  /** `submittedBy` of the evidence this node detects itself. Default: the signer's validator id, else `local`. */
  readonly nodeId?: string;
  /** Wall clock in ms since the epoch; default `Date.now`. */
  readonly now?: () => number;
  /** File system `audit.export` writes through (`openStore`: also the data directory's); default the real one. */
  readonly fs?: FileSystem;
}

/** Options of `openStore`. */
/**
 * Local state images (docs/durability.md, "Images"): an open loads the newest one and replays
 * only the log after it.
 */
export interface ImageOptions {
  /**
   * Take an image in the background once this many records were written since the last one
   * (and at least a quarter of what the last image covered: each image writes the whole
   * state); default 1,000,000; 0: never.
   */
  readonly everyRecords?: number;
  /** Images kept, newest first (an older one is the fallback of a damaged newer one); default 2, 1..16. */
  readonly keep?: number;
  /** Take an image at a clean close when records were written since the last one; default true. */
  readonly onClose?: boolean;
  /** Load the newest valid image on open; default true (false: replay the whole log). */
  readonly load?: boolean;
}

/** Portable snapshots (docs/format.md, "Portable snapshot"). */
export interface SnapshotOptions {
  /** Create one automatically every this many finalized heights; default 1000; 0: never. */
  readonly interval?: number;
  /** Snapshots kept by the automatic pruning; default 3, 1..1000. */
  readonly keep?: number;
  /** Chunk size in bytes; default 1 MiB, 4 KiB..16 MiB. */
  readonly chunkSize?: number;
  /** Finalized heights whose decision certificates a snapshot carries; default 1000, 1..1,000,000. */
  readonly certificateHeights?: number;
}

export interface OpenStoreOptions extends StoreOptions {
  /** The data directory (created if absent). */
  readonly dir: string;
  /** The log's options: durability, segment size, batch limits, repair. */
  readonly log?: LogGroupOptions;
  readonly images?: ImageOptions;
  readonly snapshots?: SnapshotOptions;
  /**
   * Bounded history (docs/stores.md, "Bounded history"): finalized heights older than the hot
   * window move to cold files under `<dir>/cold/`, the hot log's older segments are released.
   */
  readonly retention?: RetentionOptions;
}

/** Bounded history: how many finalized heights stay hot, and how often to compact. */
export interface RetentionOptions {
  /** Finalized heights kept hot (memory, local image, hot log); default 1000; 0: keep everything hot. */
  readonly hotHeights?: number;
  /** Compact automatically once the window moved this many heights past the last cut; default a quarter of `hotHeights` (at least 1). */
  readonly compactEvery?: number;
}

/** Options after their check. */
export interface ResolvedStoreOptions {
  readonly chainId: string;
  readonly signer: { readonly identity: SignIdentity; readonly state: SignState; readonly allowFresh: boolean; readonly importWatermark: SignWatermark | undefined } | undefined;
  readonly nodeKey: NodeKey | undefined;
  readonly auditLimits: Partial<AuditLogLimits> | undefined;
  readonly voteLimits: Partial<VoteStoreLimits> | undefined;
  /** `registry`: the validator registry's keys (the default); `off`; or the caller's function. */
  readonly voteVerification: 'registry' | 'off' | VoteVerificationOptions['publicKeyOf'];
  readonly rounds: RoundStateStoreOptions;
  readonly nodeId: string | undefined;
  readonly now: () => number;
  readonly fs: FileSystem | undefined;
}

/** `openStore`'s options after their check. */
export interface ResolvedOpenStoreOptions extends ResolvedStoreOptions {
  readonly dir: string;
  readonly keyFile: string;
  readonly log: LogGroupOptions;
  readonly images: Required<ImageOptions>;
  readonly snapshots: Required<SnapshotOptions>;
  readonly retention: ResolvedRetention;
}

const STORE_KEYS = ['chainId', 'signer', 'audit', 'limits', 'voteVerification', 'rounds', 'nodeId', 'now', 'fs'] as const;
const OPEN_KEYS = [...STORE_KEYS, 'dir', 'log', 'images', 'snapshots', 'retention'] as const;
const IMAGE_KEYS = ['everyRecords', 'keep', 'onClose', 'load'] as const;
const SNAPSHOT_KEYS = ['interval', 'keep', 'chunkSize', 'certificateHeights'] as const;
const SIGNER_KEYS = ['privateKey', 'publicKey', 'validatorId', 'state', 'allowFreshState', 'importWatermark'] as const;
const AUDIT_KEYS = ['nodeKey', 'keyFile'] as const;
/** `openStoreOnLog` has no key file: the key comes in the options or is ephemeral. */
const STORE_AUDIT_KEYS = ['nodeKey'] as const;
const NODE_KEY_KEYS = ['privateKey', 'publicKey'] as const;
const LIMIT_KEYS = ['votes', 'audit'] as const;
const VOTE_LIMIT_KEYS = ['defaultQueryLimit', 'maxQueryLimit', 'maxRoundVotes'] as const;
const AUDIT_LIMIT_KEYS = ['defaultQueryLimit', 'maxQueryLimit', 'defaultEvidenceLimit', 'maxEvidenceLimit', 'maxBatchRecords', 'maxEventsPerCall'] as const;
const VERIFICATION_KEYS = ['publicKeyOf'] as const;
const ROUND_KEYS = ['checkpointInterval'] as const;
/** Where the options of earlier versions went (an old key gets a pointer, not just a refusal). */
const MOVED: Readonly<Record<string, string>> = {
  identity: 'signer (its privateKey, publicKey and validatorId)',
  signState: 'signer.state',
  allowFreshSignState: 'signer.allowFreshState',
  importWatermark: 'signer.importWatermark',
  durability: 'log.durability',
  nodeKey: 'audit.nodeKey',
  nodeKeyFile: 'audit.keyFile',
  voteLimits: 'limits.votes',
  auditLimits: 'limits.audit',
  votePublicKey: 'voteVerification.publicKeyOf',
};

/** The top-level keys: a key of an earlier version is named with where it went. */
function checkTopKeys(o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(o)) {
    const moved = MOVED[key];
    const group = moved?.split(/[. ]/)[0] ?? '';
    if (moved !== undefined && !allowed.includes(key) && allowed.includes(group) && (key !== 'nodeKeyFile' || allowed.includes('dir'))) throw invalidArgument(`options.${key}`, `is not an option any more: use options.${moved}`);
  }
  checkKeys('options', o, allowed);
}

/** The log group: every log option but where the log lives (`dir`, `fs`: the store's own). */
const LOG_KEYS = LOG_OPTION_KEYS.filter((k) => k !== 'dir' && k !== 'fs');

/**
 * Checks `options` of `openStoreOnLog`.
 * @throws ConsensusStoreError INVALID_ARGUMENT naming the first bad or unknown option.
 */
export function resolveStoreOptions(options: StoreOptions): ResolvedStoreOptions {
  const o = checkObject('options', options);
  checkTopKeys(o, STORE_KEYS);
  if (o['audit'] !== undefined) checkKeys('options.audit', checkObject('options.audit', o['audit']), STORE_AUDIT_KEYS);
  return resolveCommon(o);
}

/**
 * Checks `options` of `openStore`, before anything is opened.
 * @throws ConsensusStoreError INVALID_ARGUMENT naming the first bad or unknown option.
 */
export function resolveOpenStoreOptions(options: OpenStoreOptions): ResolvedOpenStoreOptions {
  const o = checkObject('options', options);
  checkTopKeys(o, OPEN_KEYS);
  const dir = checkString('options.dir', o['dir'], 4096);
  if (dir.length === 0) throw invalidArgument('options.dir', 'must not be empty');
  const common = resolveCommon(o);
  const audit = o['audit'] === undefined ? {} : checkObject('options.audit', o['audit']);
  const keyFile = audit['keyFile'] === undefined ? join(dir, NODE_KEY_FILE) : checkString('options.audit.keyFile', audit['keyFile'], 4096);
  const log = o['log'] === undefined ? {} : checkObject('options.log', o['log']);
  checkKeys('options.log', log, LOG_KEYS);
  // The log's own check, with the names the caller wrote (the open repeats it).
  resolveLogOptions({ ...(log as LogGroupOptions), dir }, 'options.log');
  const images = o['images'] === undefined ? {} : checkObject('options.images', o['images']);
  checkKeys('options.images', images, IMAGE_KEYS);
  const snapshots = o['snapshots'] === undefined ? {} : checkObject('options.snapshots', o['snapshots']);
  checkKeys('options.snapshots', snapshots, SNAPSHOT_KEYS);
  const int = (group: Record<string, unknown>, name: string, key: string, def: number, min: number, max: number): number =>
    group[key] === undefined ? def : checkInteger(`options.${name}.${key}`, group[key], min, max);
  const flag = (group: Record<string, unknown>, name: string, key: string, def: boolean): boolean =>
    group[key] === undefined ? def : checkBoolean(`options.${name}.${key}`, group[key]);
  return {
    ...common,
    dir,
    keyFile,
    log: log as LogGroupOptions,
    images: {
      everyRecords: int(images, 'images', 'everyRecords', 1_000_000, 0, Number.MAX_SAFE_INTEGER),
      keep: int(images, 'images', 'keep', 2, 1, 16),
      onClose: flag(images, 'images', 'onClose', true),
      load: flag(images, 'images', 'load', true),
    },
    snapshots: {
      interval: int(snapshots, 'snapshots', 'interval', 1000, 0, Number.MAX_SAFE_INTEGER),
      keep: int(snapshots, 'snapshots', 'keep', 3, 1, 1000),
      chunkSize: int(snapshots, 'snapshots', 'chunkSize', 1 << 20, 4096, 16 << 20),
      certificateHeights: int(snapshots, 'snapshots', 'certificateHeights', 1000, 1, 1_000_000),
    },
    retention: resolveRetention(o['retention']),
  };
}

function resolveCommon(o: Record<string, unknown>): ResolvedStoreOptions {
  const chainId = checkChainId('options.chainId', o['chainId']);
  const now = o['now'] === undefined ? Date.now : checkFunction<() => number>('options.now', o['now']);
  const nodeId = o['nodeId'] === undefined ? undefined : checkString('options.nodeId', o['nodeId'], MAX_SUBMITTER_LENGTH);
  if (o['fs'] !== undefined) checkObject('options.fs', o['fs']);
  const audit = o['audit'] === undefined ? {} : checkObject('options.audit', o['audit']);
  checkKeys('options.audit', audit, AUDIT_KEYS);
  const nodeKey = audit['nodeKey'] === undefined ? undefined : checkNodeKeyOption('options.audit.nodeKey', audit['nodeKey']);
  const limits = o['limits'] === undefined ? {} : checkObject('options.limits', o['limits']);
  checkKeys('options.limits', limits, LIMIT_KEYS);
  const voteLimits = limits['votes'] === undefined ? undefined : checkObject('options.limits.votes', limits['votes']);
  if (voteLimits !== undefined) {
    checkKeys('options.limits.votes', voteLimits, VOTE_LIMIT_KEYS);
    resolveVoteStoreLimits('options.limits.votes', voteLimits);
  }
  const auditLimits = limits['audit'] === undefined ? undefined : checkObject('options.limits.audit', limits['audit']);
  if (auditLimits !== undefined) {
    checkKeys('options.limits.audit', auditLimits, AUDIT_LIMIT_KEYS);
    resolveAuditLimits('options.limits.audit', auditLimits);
  }
  let voteVerification: ResolvedStoreOptions['voteVerification'] = 'registry';
  if (o['voteVerification'] === 'off') voteVerification = 'off';
  else if (o['voteVerification'] !== undefined) {
    if (typeof o['voteVerification'] !== 'object' || o['voteVerification'] === null || Array.isArray(o['voteVerification'])) {
      throw invalidArgument('options.voteVerification', "must be { publicKeyOf } or 'off'");
    }
    const v = checkObject('options.voteVerification', o['voteVerification']);
    checkKeys('options.voteVerification', v, VERIFICATION_KEYS);
    voteVerification = checkFunction('options.voteVerification.publicKeyOf', v['publicKeyOf']);
  }
  const rounds = o['rounds'] === undefined ? {} : checkObject('options.rounds', o['rounds']);
  checkKeys('options.rounds', rounds, ROUND_KEYS);
  resolveCheckpointInterval('options.rounds.checkpointInterval', rounds['checkpointInterval']);
  return {
    chainId,
    signer: o['signer'] === undefined ? undefined : resolveSigner(checkObject('options.signer', o['signer'])),
    nodeKey,
    auditLimits: auditLimits as Partial<AuditLogLimits> | undefined,
    voteLimits: voteLimits as Partial<VoteStoreLimits> | undefined,
    voteVerification,
    rounds: rounds as RoundStateStoreOptions,
    nodeId,
    now,
    fs: o['fs'] as FileSystem | undefined,
  };
}

function resolveSigner(s: Record<string, unknown>): NonNullable<ResolvedStoreOptions['signer']> {
  checkKeys('options.signer', s, SIGNER_KEYS);
  const state = s['state'] === undefined ? 'existing-key' : checkOneOf('options.signer.state', s['state'], ['new-key', 'existing-key'] as const);
  const allowFresh = s['allowFreshState'] === undefined ? false : checkBoolean('options.signer.allowFreshState', s['allowFreshState']);
  const importWatermark = s['importWatermark'] === undefined ? undefined : checkWatermark('options.signer.importWatermark', s['importWatermark']);
  const privateKey = checkPrivateKey('options.signer.privateKey', s['privateKey']);
  const validatorId = checkValidatorId('options.signer.validatorId', s['validatorId']);
  let publicKey: Uint8Array | undefined;
  if (s['publicKey'] !== undefined) {
    publicKey = checkBytes('options.signer.publicKey', s['publicKey'], ED25519_KEY_BYTES);
    if (!equalBytes(publicKey, publicKeyOf(privateKey))) throw invalidArgument('options.signer.publicKey', 'does not belong to options.signer.privateKey');
  }
  const identity: SignIdentity = { privateKey, validatorId, ...(publicKey === undefined ? {} : { publicKey }) };
  return { identity, state, allowFresh, importWatermark };
}

function checkNodeKeyOption(name: string, value: unknown): NodeKey {
  const k = checkObject(name, value);
  checkKeys(name, k, NODE_KEY_KEYS);
  const privateKey = checkBytes(`${name}.privateKey`, k['privateKey'], ED25519_KEY_BYTES);
  return checkNodeKey(name, privateKey, k['publicKey'] === undefined ? ed25519PublicKey(privateKey) : k['publicKey']);
}

function checkFunction<T>(name: string, value: unknown): T {
  if (typeof value !== 'function') throw invalidArgument(name, 'must be a function');
  return value as T;
}
