/**
 * What the PostgreSQL tests share: whether a server answers at PG_TEST_URL (default
 * postgres://postgres@127.0.0.1:5432/test), a `describe` that skips with a printed reason when
 * none does (and fails instead under CI, where the server must be up), fresh schemas (one per
 * medium, random names, dropped after the file's tests) and media that open a whole store on a
 * schema again and again, like test/support/store-backends.ts does for the WAL.
 *
 * Test support only: never imported by library code.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe } from 'vitest';
import { openPostgresStore, type PostgresStoreOptions } from '../../src/pg/open.ts';
import type { ConsensusStore } from '../../src/store.ts';

export const PG_URL = process.env['PG_TEST_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The node key every store opens with (the audit heads' key). */
export const PG_NODE_KEY = { privateKey: new Uint8Array(32).fill(7) };

/** Undefined when a server answers, else why not. */
async function probe(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return `no PostgreSQL at ${PG_URL}: ${(err as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Why the PostgreSQL tests cannot run here, or undefined when they can. */
export const PG_UNAVAILABLE: string | undefined = await probe();

/**
 * `describe` for tests that need the server: skipped with a warning when none answers, unless
 * CI is set, where the suite runs and fails.
 */
export function describePg(name: string, body: () => void): void {
  if (PG_UNAVAILABLE !== undefined && process.env['CI'] === undefined) {
    console.warn(`skipping "${name}": ${PG_UNAVAILABLE} (set PG_TEST_URL, or run with CI=1 to fail instead)`);
    describe.skip(name, body);
    return;
  }
  describe(name, body);
}

/** Schemas created by this test file, dropped after its tests. */
const schemas: string[] = [];
let adminPool: pg.Pool | undefined;

/** A pool for the tests' own SQL (dropping schemas, killing backends). */
export function admin(): pg.Pool {
  if (adminPool === undefined) {
    adminPool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    adminPool.on('error', () => undefined);
  }
  return adminPool;
}

afterAll(async () => {
  if (PG_UNAVAILABLE !== undefined) return;
  const pool = admin();
  for (const s of schemas.splice(0)) await pool.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`).catch(() => undefined);
  await pool.end();
  adminPool = undefined;
});

/** A new random schema name, dropped after the file's tests. */
export function freshSchema(label: string): string {
  const name = `cst_${label}_${randomBytes(5).toString('hex')}`;
  schemas.push(name);
  return name;
}

/** Options of one open, over the medium's defaults. */
export type PgOverrides = Partial<Omit<PostgresStoreOptions, 'connectionString' | 'pool' | 'schema'>>;

/** One schema: every `open` opens the same data (empty the first time), with a ticking clock. */
export interface PgMedium {
  readonly schema: string;
  open(overrides?: PgOverrides): Promise<ConsensusStore>;
}

/** A fresh schema as a medium of `chainId`. */
export function pgMedium(chainId: string, label: string): PgMedium {
  const schema = freshSchema(label);
  let clock = 1_700_000_000_000;
  return {
    schema,
    open: (overrides = {}) =>
      openPostgresStore({ chainId, audit: { nodeKey: PG_NODE_KEY }, now: () => clock++, poolSize: 4, ...overrides, connectionString: PG_URL, schema }),
  };
}
