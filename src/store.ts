/**
 * `openStore`: the package's entry point. Opens the one log under every store (so that a write
 * touching several stores is one atomic batch, D3), builds each store on a shared
 * `StoreContext`, rebuilds every index in one pass over the log (dispatching each record by kind
 * to the store that owns it), applies the sign guard's fresh-directory rule, and hands back a
 * `ConsensusStore` with a clear lifecycle (`close()` idempotent; methods after it reject CLOSED).
 *
 * It must never: scan the log more than once on open, let two stores claim one record kind,
 * return a store whose indexes are not fully rebuilt, or leave the log open after a failed open.
 */
import { invalidArgument } from './errors.ts';
import type { FileSystem } from './io/types.ts';
import type { Durability, Log, LogOptions, LogRecord } from './log/types.ts';
import { checkBoolean, checkObject, checkOneOf, checkString } from './validate.ts';
import { checkChainId } from './codec/vote-sign.ts';
import type { RecordApplier, StoreContext } from './stores/context.ts';
import { RecoveryManager } from './stores/recovery.ts';
import { RoundStateStore } from './stores/round-state-store.ts';
import type { RoundStateStoreOptions } from './stores/round-types.ts';
import { SignGuard } from './stores/sign-guard.ts';
import type { SignIdentity, SignState } from './stores/sign-guard.ts';
import { ValidatorRegistry } from './stores/validator-registry.ts';
import { VoteStore } from './stores/vote-store.ts';
import type { SignWatermark, VoteStoreLimits } from './stores/vote-types.ts';

/** Options of `openStore` that do not concern where the log lives (also taken by `openStoreOnLog`). */
export interface StoreOptions {
  /** The chain id every signature is bound to (1..64 characters). */
  readonly chainId: string;
  /** The node's signing identity; without it the sign guard refuses to sign. */
  readonly identity?: SignIdentity;
  /**
   * `new-key`: the identity's key never signed anywhere. `existing-key` (default): it may have;
   * a log with no watermark for it then needs `allowFreshSignState` or `importWatermark`, or the
   * open fails with FRESH_SIGN_STATE (DESIGN D8).
   */
  readonly signState?: SignState;
  /** Accept a log without the key's watermark although `signState` is `existing-key`. Default false. */
  readonly allowFreshSignState?: boolean;
  /** A watermark carried over from the key's previous data directory, recorded (kind SignGuardImport) on open. */
  readonly importWatermark?: SignWatermark;
  /** Wall clock in ms since the epoch; default `Date.now`. */
  readonly now?: () => number;
  /** Result-size limits of the vote store. */
  readonly voteLimits?: Partial<VoteStoreLimits>;
  /**
   * When given, `votes.appendVote` verifies each vote's signature with the key this returns
   * (undefined: NOT_FOUND). Default: votes are stored unverified (the consensus engine verifies).
   */
  readonly votePublicKey?: (validatorId: string, height: number) => Uint8Array | undefined;
  /** Options of the round-state store. */
  readonly rounds?: RoundStateStoreOptions;
}

/** Options of `openStore`. */
export interface OpenStoreOptions extends StoreOptions {
  /** The data directory (created if absent). */
  readonly dir: string;
  /** File system; default the real one. Tests pass the simulated disk's. */
  readonly fs?: FileSystem;
  /** Default `fsync` (D1). */
  readonly durability?: Durability;
  /** Every other log option (segment size, batch limits, repair, ...). */
  readonly log?: Omit<LogOptions, 'dir' | 'fs' | 'durability'>;
}

/** An open consensus store: every store over one log. */
export interface ConsensusStore {
  readonly votes: VoteStore;
  readonly signGuard: SignGuard;
  readonly rounds: RoundStateStore;
  readonly recovery: RecoveryManager;
  readonly validators: ValidatorRegistry;
  /** The log underneath (for operators and tests; stores write through it). */
  readonly log: Log;
  /** Records replayed on open, per owning store, and those of kinds no store here owns (written by a newer version). */
  readonly replay: ReplayReport;
  /** Closes every store and the log; idempotent. Methods called afterwards reject CLOSED. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** What the one replay pass of the open saw. */
export interface ReplayReport {
  readonly records: number;
  readonly unknownKindRecords: number;
  readonly durationMs: number;
}

/**
 * Opens (creating if needed) the data directory `options.dir` and every store on it.
 * @throws ConsensusStoreError INVALID_ARGUMENT (bad option), LOCKED, CORRUPTION, FRESH_SIGN_STATE,
 *   and the log's open errors. The log is closed again when the open fails.
 */
export async function openStore(options: OpenStoreOptions): Promise<ConsensusStore> {
  const o = checkObject('options', options);
  const dir = checkString('options.dir', o.dir, 4096);
  const logExtra = o.log === undefined ? {} : checkObject('options.log', o.log);
  // Loaded on demand so that `openStoreOnLog` (tests, other backends) never loads the engine.
  const { openLog } = await import('./log/wal.ts');
  const log = await openLog({
    ...logExtra,
    dir,
    ...(options.fs === undefined ? {} : { fs: options.fs }),
    ...(options.durability === undefined ? {} : { durability: options.durability }),
  });
  return openStoreOnLog(log, options);
}

/**
 * Builds every store on an already open `log`, replays it once, and applies the sign guard's
 * fresh-directory rule. The returned store owns the log: its `close()` closes it, and a failed
 * open closes it too. Used by `openStore`, by the conformance suites (in-memory log) and by
 * other backends.
 * @internal
 */
export async function openStoreOnLog(log: Log, options: StoreOptions): Promise<ConsensusStore> {
  try {
    return await buildStores(log, options);
  } catch (err) {
    await log.close().catch(() => undefined);
    throw err;
  }
}

/** Checks the options, builds the stores on `ctx`, replays, applies the fresh-directory rule. */
async function buildStores(log: Log, options: StoreOptions): Promise<ConsensusStore> {
  const o = checkObject('options', options);
  const chainId = checkChainId('options.chainId', o.chainId);
  const signState = o.signState === undefined ? 'existing-key' : checkOneOf('options.signState', o.signState, ['new-key', 'existing-key'] as const);
  const allowFresh = o.allowFreshSignState === undefined ? false : checkBoolean('options.allowFreshSignState', o.allowFreshSignState);
  const now = o.now === undefined ? Date.now : checkFunction<() => number>('options.now', o.now);
  const votePublicKey = options.votePublicKey === undefined ? undefined : checkFunction<NonNullable<StoreOptions['votePublicKey']>>('options.votePublicKey', options.votePublicKey);
  if (o.importWatermark !== undefined) checkObject('options.importWatermark', o.importWatermark);
  const ctx: StoreContext = { log, now };

  const votes = new VoteStore(ctx, {
    ...(options.voteLimits === undefined ? {} : { limits: options.voteLimits }),
    ...(votePublicKey === undefined ? {} : { verification: { chainId, publicKeyOf: votePublicKey } }),
  });
  const signGuard = new SignGuard(ctx, { chainId, ...(options.identity === undefined ? {} : { identity: options.identity }) });
  const rounds = new RoundStateStore(ctx, options.rounds ?? {});
  const validators = new ValidatorRegistry(ctx);
  const recovery = new RecoveryManager(ctx, rounds, (round) => votes.getVotesForRound(round));

  const replay = await replayLog(log, [votes, signGuard, rounds, validators]);
  if (options.importWatermark !== undefined) await signGuard.importWatermark(options.importWatermark);
  signGuard.checkSignState(signState, allowFresh);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= log.close());
  return { votes, signGuard, rounds, recovery, validators, log, replay, close, [Symbol.asyncDispose]: close };
}

/** Feeds every durable record to the store owning its kind, in LSN order, in one pass. */
async function replayLog(log: Log, appliers: readonly RecordApplier[]): Promise<ReplayReport> {
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
  await log.scan((record: LogRecord) => {
    records++;
    const applier = byKind.get(record.kind);
    if (applier === undefined) unknownKindRecords++;
    else applier.apply(record);
  });
  return { records, unknownKindRecords, durationMs: performance.now() - started };
}

function checkFunction<F>(name: string, value: unknown): F {
  if (typeof value !== 'function') throw invalidArgument(name, 'must be a function');
  return value as F;
}
