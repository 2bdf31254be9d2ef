/**
 * `openPostgresStore`: the `ConsensusStore` interface on a PostgreSQL database
 * (docs/postgres.md). The driver (`pg`, an optional peer dependency) is loaded here, by a
 * dynamic import, and nowhere else: the embedded engine never loads it.
 *
 * The open, in order: check every option (nothing is connected for a bad one); connect; refuse a
 * server whose commits are not durable (`fsync` off, `synchronous_commit` off); create or
 * migrate the schema in one transaction (refused when the database is newer than this code);
 * record or check the chain id; build the stores; record the node key as audit entry 0 (or check
 * it is the one recorded); import a watermark and apply the sign guard's fresh-state rule. A
 * failed open ends the pool it created.
 *
 * What runs where: votes, finalization marks, the sign guard and the audit chain are tables of
 * their own, written and queried in SQL, safe with several processes on one database. The
 * round-state checkpoints, the validator registry, the evidence store and the reward history
 * run the WAL's own stores on the `records` table (their records as on the WAL), each process
 * catching up with the records committed since its last call before answering.
 *
 * It must never: load `pg` outside this function, open a store on a database whose commits are
 * not durable, or leave a pool it created open after a failed open.
 */
import type { Pool } from 'pg';
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import type { LogStatus, OpenReport } from '../log/types.ts';
import { checkObject, checkString } from '../model/check.ts';
import { noBackup, noCompaction, noSnapshots, voteVerificationOf, type ConsensusStore, type LogFacts, type ReplayReport, type StoreOptions, type StoreStatus } from '../store.ts';
import { resolveStoreOptions } from '../store-options.ts';
import type { StoreContext } from '../stores/context.ts';
import { LogEvidenceStore } from '../stores/evidence-store.ts';
import { countedSignGuard, processMetrics, renderStoreMetrics, SignMetrics } from '../stores/metrics.ts';
import { LogRewardHistory } from '../stores/reward-history.ts';
import { LogRoundStateStore } from '../stores/round-state-store.ts';
import { LogValidatorRegistry } from '../stores/validator-registry.ts';
import type { Log } from '../log/types.ts';
import { PgAuditLog } from './audit-log.ts';
import { PgDb, quoteIdent, storeErrorOf } from './db.ts';
import { PgRecordLog } from './record-log.ts';
import { PgRecoveryManager } from './recovery.ts';
import { migrate } from './schema.ts';
import { PgSignGuard } from './sign-guard.ts';
import { PgVoteStore } from './vote-store.ts';

/** Options of `openPostgresStore`: where the database is, and the options every backend takes. */
export interface PostgresStoreOptions extends StoreOptions {
  /** A libpq connection string (`postgres://user@host:5432/db`); the store creates and ends its pool. */
  readonly connectionString?: string;
  /** A `pg` Pool the caller owns (the store never ends it). Exactly one of `connectionString` and `pool`. */
  readonly pool?: Pool;
  /** The schema holding this chain's tables (default `cstore_<chain id>`, lowercased, other characters `_`). */
  readonly schema?: string;
  /** Connections of the pool the store creates (default 10). */
  readonly poolSize?: number;
}

const PG_KEYS = ['connectionString', 'pool', 'schema', 'poolSize'] as const;

/** The default schema of a chain id. */
export function defaultSchemaOf(chainId: string): string {
  return `cstore_${chainId.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

const EMPTY_REPORT: OpenReport = Object.freeze({ segmentsScanned: 0, recordsScanned: 0, batchesScanned: 0, tornBytesCut: 0, pendingRepairs: [], durationMs: 0 });

/**
 * Opens (creating the schema if needed) the store of `options.chainId` on PostgreSQL.
 * @throws ConsensusStoreError INVALID_ARGUMENT (a bad option; no `audit.nodeKey`; another chain
 *   id or another node key recorded), UNSUPPORTED_FORMAT (schema newer than this code),
 *   IO_FAILED (the server does not answer, or its commits are not durable), FRESH_SIGN_STATE.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<ConsensusStore> {
  const o = checkObject('options', options);
  const rest: Record<string, unknown> = { ...o };
  for (const k of PG_KEYS) delete rest[k];
  const resolved = resolveStoreOptions(rest as unknown as StoreOptions);
  if ((o['connectionString'] === undefined) === (o['pool'] === undefined)) throw invalidArgument('options.connectionString', 'or options.pool must be given, not both or neither');
  const connectionString = o['connectionString'] === undefined ? undefined : checkString('options.connectionString', o['connectionString'], 4096);
  if (o['pool'] !== undefined && (typeof o['pool'] !== 'object' || o['pool'] === null || typeof (o['pool'] as { query?: unknown }).query !== 'function')) {
    throw invalidArgument('options.pool', 'must be a pg Pool');
  }
  const schema = o['schema'] === undefined ? defaultSchemaOf(resolved.chainId) : checkString('options.schema', o['schema'], 63);
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw invalidArgument('options.schema', 'must be a lowercase SQL identifier (a-z, 0-9, _)');
  const poolSize = o['poolSize'] === undefined ? 10 : (o['poolSize'] as number);
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000) throw invalidArgument('options.poolSize', 'must be an integer in 1..1000');
  const nodeKey = resolved.nodeKey;
  if (nodeKey === undefined) {
    throw invalidArgument('options.audit.nodeKey', 'is required on PostgreSQL: every process of the node signs the audit heads with this one key (docs/postgres.md)');
  }

  const pg = (await import('pg')).default;
  const pool: Pool = connectionString === undefined ? (o['pool'] as Pool) : new pg.Pool({ connectionString, max: poolSize });
  const db = new PgDb(pool, schema, connectionString !== undefined);
  try {
    return await build(db, resolved, nodeKey);
  } catch (err) {
    processMetrics.openFailures.inc(err instanceof ConsensusStoreError ? err.code.toLowerCase() : 'internal');
    await db.close().catch(() => undefined);
    throw err;
  }
}

/** Refuses a server whose commits are not durable (docs/postgres.md, "Durability"). */
async function checkDurable(db: PgDb): Promise<void> {
  let settings: Record<string, string>;
  try {
    const { rows } = await db.pool.query<{ name: string; setting: string }>(`SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit')`);
    settings = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  } catch (err) {
    throw storeErrorOf(err, 'connect failed');
  }
  if (settings['fsync'] !== 'on') {
    throw new ConsensusStoreError('IO_FAILED', `PostgreSQL runs with fsync = ${settings['fsync'] ?? 'unknown'}: a commit would not survive a power cut; set fsync = on`, { details: { fsync: settings['fsync'] ?? null } });
  }
  const sc = settings['synchronous_commit'];
  if (sc === undefined || sc === 'off') {
    throw new ConsensusStoreError('IO_FAILED', `PostgreSQL runs with synchronous_commit = ${sc ?? 'unknown'}: a commit could be acknowledged before it is durable; set synchronous_commit = on`, { details: { synchronous_commit: sc ?? null } });
  }
}

/** Wraps a store so that each of its async `methods` first brings the record log up to date. */
function caughtUp<T extends object>(store: T, records: PgRecordLog, methods: readonly string[]): T {
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof prop === 'string' && methods.includes(prop)) {
        return async (...args: unknown[]) => {
          await records.catchUp();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

async function build(db: PgDb, options: ReturnType<typeof resolveStoreOptions>, nodeKey: { privateKey: Uint8Array; publicKey: Uint8Array }): Promise<ConsensusStore> {
  const started = performance.now();
  const { chainId, now, signer } = options;
  await checkDurable(db);
  await db.tx((c) => migrate(c, quoteIdent(db.schema), db.schema));
  await db.query(`INSERT INTO ${db.t('meta')} (key, value) VALUES ('chain_id', $1) ON CONFLICT (key) DO NOTHING`, [chainId]);
  const [recorded] = await db.query<{ value: string }>(`SELECT value FROM ${db.t('meta')} WHERE key = 'chain_id'`);
  if (recorded?.value !== chainId) {
    throw new ConsensusStoreError('INVALID_ARGUMENT', `options.chainId is '${chainId}' but schema ${db.schema} belongs to chain '${recorded?.value}'`, {
      details: { argument: 'options.chainId', recorded: recorded?.value ?? null },
    });
  }
  await db.loadNextLsn();

  const records = new PgRecordLog(db);
  const ctx: StoreContext = { log: records as unknown as Log, now };
  const signGuard = new PgSignGuard(db, { chainId, now, ...(signer === undefined ? {} : { identity: signer.identity }) });
  const audit = new PgAuditLog(db, { ...nodeKey, chainId, now, ...(options.fs === undefined ? {} : { fs: options.fs }), ...(options.auditLimits === undefined ? {} : { limits: options.auditLimits }) });
  const validators = new LogValidatorRegistry(ctx);
  const nodeId = options.nodeId ?? signer?.identity.validatorId ?? 'local';
  const publicKeyAt = (id: string, height: number): Uint8Array | undefined => validators.publicKeyAt(id, height);
  const evidence = new LogEvidenceStore(ctx, { chainId, nodeId, publicKeyAt });
  const rewards = new LogRewardHistory(ctx);
  const rounds = new LogRoundStateStore(ctx, options.rounds);
  for (const s of [validators, evidence, rewards, rounds]) records.feed(s);
  const votes = new PgVoteStore(db, {
    chainId,
    now,
    audit,
    publicKeyAt,
    nodeId,
    ...(options.voteLimits === undefined ? {} : { limits: options.voteLimits }),
    verification: voteVerificationOf(options.voteVerification, chainId, validators),
    refreshKeys: () => records.catchUp(),
  });

  await records.catchUp();
  await votes.load();
  await audit.catchUp();
  await audit.recordNodeKey();
  await signGuard.load();
  if (signer?.importWatermark !== undefined) await signGuard.importWatermark(signer.importWatermark);
  try {
    signGuard.checkSignState(signer?.state ?? 'existing-key', signer?.allowFresh ?? false);
  } catch (err) {
    processMetrics.openRefusals.inc('fresh_state');
    throw err;
  }

  const roundsView = caughtUp(rounds, records, ['saveRoundState', 'loadRoundState', 'getRoundStateAt', 'listRoundStates', 'pruneBeforeHeight']);
  const validatorsView = caughtUp(validators, records, ['registerValidator', 'getValidatorsAtHeight', 'updateStake', 'updateStatus', 'getValidator', 'getValidatorHistory', 'recordSlash']);
  const evidenceView = caughtUp(evidence, records, ['recordEvidence', 'getEvidence', 'queryByValidator', 'queryByType', 'getOffenseCount', 'verifyEvidence', 'pruneExpired']);
  const rewardsView = caughtUp(rewards, records, ['recordDistribution', 'getValidatorRewards', 'getTotalDistributed', 'getCumulativeDistributed', 'queryDistributions', 'exportRewards']);
  const recovery = new PgRecoveryManager(db, records, roundsView, votes);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= db.close());
  const logStatus = (): LogStatus => (db.status === 'open' ? 'open' : db.status);
  const facts: LogFacts = Object.freeze({
    get status() {
      return logStatus();
    },
    get nextLsn() {
      return db.nextLsn as LogFacts['nextLsn'];
    },
    get openReport() {
      return EMPTY_REPORT;
    },
    get limits() {
      return undefined;
    },
  });
  // No log to replay: the database answers. (The image fields of a WAL open are empty here.)
  const replay = { records: 0, unknownKindRecords: 0, durationMs: performance.now() - started, fromLsn: 1, image: { loaded: undefined, rejected: [] } } as unknown as ReplayReport;
  // What this backend can tell (docs/operations.md, "Metrics"): the sign guard's outcomes, the
  // watermark, evidence, the open, the process. No WAL, images or snapshots here.
  const signMetrics = new SignMetrics();
  const openSeconds = (performance.now() - started) / 1000;
  const metrics = (): Promise<string> =>
    renderStoreMetrics({
      backend: 'postgres',
      now,
      status: () => db.status,
      nextLsn: () => db.nextLsn,
      openSeconds,
      sign: signMetrics,
      watermark: () => signGuard.watermark(),
      evidence: evidenceView,
    });
  return {
    votes,
    signGuard: countedSignGuard(signGuard, signMetrics, now),
    rounds: roundsView,
    recovery,
    validators: validatorsView,
    audit,
    evidence: evidenceView,
    rewards: rewardsView,
    // Portable snapshots join this backend later: until then every method says so.
    snapshots: noSnapshots(),
    // Retention joins this backend later: until then compact() says so.
    compact: noCompaction(),
    // Backups are the WAL engine's (a database has its own: pg_basebackup).
    backup: noBackup(),
    log: facts,
    get status(): StoreStatus {
      return db.status;
    },
    replay,
    metrics,
    close,
    [Symbol.asyncDispose]: close,
  };
}
