/**
 * The PostgreSQL backend's schema and its migrations (docs/postgres.md, "Schema"). One schema per
 * chain: every table of a store lives in the schema the store was opened with, and the chain id is
 * recorded in its `meta` table at the first open and checked at every later one.
 *
 * Migrations are numbered from 1, applied in order, each in the same transaction as the version
 * bump, under a transaction-level advisory lock on the schema (two processes opening a fresh
 * database at once apply them once). A database whose version is above `SCHEMA_VERSION` was
 * written by a newer release: the open is refused (UNSUPPORTED_FORMAT), nothing is changed.
 *
 * Column conventions: heights, rounds, LSNs and times are `bigint` (below 2^53 by the model's
 * checks); byte strings are `bytea`. The stores that run on `records` (round states,
 * validators, evidence, rewards) keep the WAL's record payloads there.
 *
 * It must never: change a migration once released (add a new one), or apply part of one.
 */
import { ConsensusStoreError } from '../errors.ts';
import type { Queryable } from './db.ts';

/** A migration: its version and its statements (`$S` stands for the quoted schema). */
interface Migration {
  readonly version: number;
  readonly statements: readonly string[];
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    statements: [
      `CREATE TABLE $S.meta (key text PRIMARY KEY, value text NOT NULL)`,
      `CREATE SEQUENCE $S.lsn AS bigint MINVALUE 1 START 1`,
      // Votes: the round, validator and height orders of the VoteStore's queries.
      `CREATE TABLE $S.votes (
         lsn bigint PRIMARY KEY,
         validator_id text NOT NULL,
         height bigint NOT NULL,
         round bigint NOT NULL,
         vote_type smallint NOT NULL CHECK (vote_type BETWEEN 1 AND 3),
         block_hash bytea CHECK (block_hash IS NULL OR length(block_hash) = 32),
         ts bigint NOT NULL,
         signature bytea NOT NULL CHECK (length(signature) = 64),
         recorded_at bigint NOT NULL)`,
      `CREATE INDEX votes_by_round ON $S.votes (round, vote_type, validator_id, lsn)`,
      `CREATE INDEX votes_by_validator ON $S.votes (validator_id, round, vote_type, lsn)`,
      `CREATE INDEX votes_by_height ON $S.votes (height, lsn)`,
      `CREATE TABLE $S.finalized (
         lsn bigint PRIMARY KEY,
         height bigint NOT NULL UNIQUE,
         round bigint NOT NULL,
         recorded_at bigint NOT NULL)`,
      // The sign guard: one watermark row per key (the compare-and-set target) and its history.
      `CREATE TABLE $S.sign_state (
         public_key bytea PRIMARY KEY CHECK (length(public_key) = 32),
         height bigint NOT NULL,
         round bigint NOT NULL,
         step smallint NOT NULL CHECK (step BETWEEN 1 AND 4),
         sign_bytes bytea,
         signature bytea,
         lsn bigint NOT NULL)`,
      `CREATE TABLE $S.sign_log (
         lsn bigint PRIMARY KEY,
         public_key bytea NOT NULL,
         height bigint NOT NULL,
         round bigint NOT NULL,
         step smallint NOT NULL,
         sign_bytes bytea,
         signature bytea,
         recorded_at bigint NOT NULL)`,
      // Records of other stores written with audit entries (AuditLog.appendWithEvents companions).
      `CREATE TABLE $S.records (lsn bigint PRIMARY KEY, kind integer NOT NULL, payload bytea NOT NULL)`,
      // The audit chain: entries (payload = the WAL's AuditEvent payload: version, hash, body),
      // signed heads, and the tip every writer advances by compare-and-set.
      `CREATE TABLE $S.audit_entries (
         sequence bigint PRIMARY KEY,
         lsn bigint NOT NULL UNIQUE,
         ts bigint NOT NULL,
         event_type text NOT NULL,
         height bigint,
         validator_id text,
         hash bytea NOT NULL,
         payload bytea NOT NULL,
         head_lsn bigint NOT NULL)`,
      `CREATE INDEX audit_by_height ON $S.audit_entries (height, lsn) WHERE height IS NOT NULL`,
      `CREATE INDEX audit_by_validator ON $S.audit_entries (validator_id, lsn) WHERE validator_id IS NOT NULL`,
      `CREATE INDEX audit_by_time ON $S.audit_entries (ts, lsn)`,
      `CREATE TABLE $S.audit_heads (
         lsn bigint PRIMARY KEY,
         tree_size bigint NOT NULL UNIQUE,
         last_entry_hash bytea NOT NULL,
         root bytea NOT NULL,
         signature bytea NOT NULL,
         last_entry_lsn bigint NOT NULL,
         payload bytea NOT NULL)`,
      `CREATE TABLE $S.audit_tip (
         id smallint PRIMARY KEY CHECK (id = 1),
         tree_size bigint NOT NULL,
         last_hash bytea NOT NULL,
         head_lsn bigint)`,
      `INSERT INTO $S.audit_tip VALUES (1, 0, '\\x${'00'.repeat(32)}', NULL)`,
    ],
  },
];

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/** A 64-bit advisory lock key for `text` (FNV-1a), as a decimal string. */
export function lockKey(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return BigInt.asIntN(64, h).toString();
}

/**
 * Creates the schema if needed and brings it to `SCHEMA_VERSION`, in one transaction on `c`
 * (the caller's BEGIN/COMMIT), under an advisory lock on the schema's name.
 * @returns the version found before (0 for a new schema).
 * @throws UNSUPPORTED_FORMAT when the database's version is newer than this code's.
 */
export async function migrate(c: Queryable, quotedSchema: string, schema: string): Promise<number> {
  await c.query('SELECT pg_advisory_xact_lock($1)', [lockKey(`consensus-store:migrate:${schema}`)]);
  await c.query(`CREATE SCHEMA IF NOT EXISTS ${quotedSchema}`);
  await c.query(`CREATE TABLE IF NOT EXISTS ${quotedSchema}.schema_version (id smallint PRIMARY KEY CHECK (id = 1), version integer NOT NULL)`);
  const { rows } = await c.query<{ version: number }>(`SELECT version FROM ${quotedSchema}.schema_version WHERE id = 1`);
  const found = rows[0]?.version ?? 0;
  if (found > SCHEMA_VERSION) {
    throw new ConsensusStoreError(
      'UNSUPPORTED_FORMAT',
      `schema ${schema} is at version ${found}, newer than this code's ${SCHEMA_VERSION}: upgrade consensus-store before opening it`,
      { details: { schema, found, supported: SCHEMA_VERSION } },
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= found) continue;
    for (const statement of m.statements) await c.query(statement.replaceAll('$S', quotedSchema));
  }
  if (found < SCHEMA_VERSION) {
    await c.query(
      `INSERT INTO ${quotedSchema}.schema_version (id, version) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version`,
      [SCHEMA_VERSION],
    );
  }
  return found;
}
