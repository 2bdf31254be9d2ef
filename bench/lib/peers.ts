/**
 * The peers consensus-store is compared with (issue 6): better-sqlite3 12, classic-level
 * (LevelDB) and pg (PostgreSQL). They live in their own package, `bench/peers/package.json`,
 * installed here on first use (`npm ci --prefix bench/peers`, or `npm install` without a lock),
 * so that the library never depends on them. They are loaded with `createRequire` from
 * bench/peers/node_modules and typed locally (the root install has no types for them), with
 * only the members the benchmarks use.
 *
 * Must never: install anything into the root package, write to stdout (JSON mode keeps stdout
 * for JSON lines), or fail the whole run when a peer is missing (the reason is returned).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The peers' package directory. */
export const PEERS_DIR = fileURLToPath(new URL('../peers/', import.meta.url));

// ---- local types (the subset used) ------------------------------------------------------------

/** A better-sqlite3 prepared statement. */
export interface SqliteStatement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  pluck(on?: boolean): SqliteStatement;
}

/** A better-sqlite3 database. */
export interface SqliteDatabase {
  pragma(source: string, options?: { simple?: boolean }): unknown;
  prepare(sql: string): SqliteStatement;
  exec(sql: string): SqliteDatabase;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  close(): void;
}

/** The better-sqlite3 constructor. */
export type SqliteConstructor = new (path: string, options?: { readonly timeout?: number }) => SqliteDatabase;

/** A classic-level batch operation. */
export type LevelOp = { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array } | { readonly type: 'del'; readonly key: Uint8Array };

/** Range options of classic-level iterators. */
export interface LevelRange {
  readonly gt?: Uint8Array;
  readonly gte?: Uint8Array;
  readonly lt?: Uint8Array;
  readonly lte?: Uint8Array;
  readonly limit?: number;
  readonly reverse?: boolean;
}

/** A classic-level database (keyEncoding 'view', valueEncoding 'view'). */
export interface LevelDatabase {
  open(): Promise<void>;
  close(): Promise<void>;
  batch(ops: readonly LevelOp[], options?: { readonly sync?: boolean }): Promise<void>;
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]>;
  keys(range?: LevelRange): { all(): Promise<Uint8Array[]> };
  iterator(range?: LevelRange): { all(): Promise<[Uint8Array, Uint8Array][]> };
  compactRange(start: Uint8Array, end: Uint8Array): Promise<void>;
}

/** The classic-level constructor. */
export type LevelConstructor = new (
  location: string,
  options: { readonly keyEncoding: 'view'; readonly valueEncoding: 'view'; readonly createIfMissing?: boolean },
) => LevelDatabase;

/** A pg query result. */
export interface PgResult {
  readonly rows: Record<string, unknown>[];
  readonly rowCount: number | null;
}

/** A pg client (or pool: both query). */
export interface PgQueryable {
  query(text: string, values?: readonly unknown[]): Promise<PgResult>;
}

/** A pg client. */
export interface PgClient extends PgQueryable {
  connect(): Promise<void>;
  end(): Promise<void>;
}

/** A client checked out of a pool. */
export interface PgPoolClient extends PgQueryable {
  release(): void;
}

/** A pg pool. */
export interface PgPool extends PgQueryable {
  connect(): Promise<PgPoolClient>;
  end(): Promise<void>;
}

/** Connection settings for pg. */
export interface PgConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly options?: string;
  readonly max?: number;
  readonly connectionTimeoutMillis?: number;
}

/** The pg module. */
export interface PgModule {
  readonly Client: new (config: PgConfig) => PgClient;
  readonly Pool: new (config: PgConfig) => PgPool;
}

/** The peers that loaded, and why the others did not. */
export interface Peers {
  readonly Sqlite?: SqliteConstructor;
  readonly Level?: LevelConstructor;
  readonly pg?: PgModule;
  /** Versions of what loaded (package versions, and SQLite's library version). */
  readonly versions: Readonly<Record<string, string>>;
  /** Why a peer is missing, by peer name. */
  readonly missing: Readonly<Record<string, string>>;
}

let loaded: Peers | undefined;

function firstLine(err: unknown): string {
  return err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
}

/** Installs the peers' package when its node_modules lack one of them; returns a reason when that failed. */
function ensureInstalled(log: (message: string) => void): string | undefined {
  const needed = ['better-sqlite3', 'classic-level', 'pg'];
  if (needed.every((name) => existsSync(join(PEERS_DIR, 'node_modules', name, 'package.json')))) return undefined;
  const useCi = existsSync(join(PEERS_DIR, 'package-lock.json'));
  const args = useCi ? ['ci', '--prefix', PEERS_DIR, '--no-audit', '--no-fund'] : ['install', '--prefix', PEERS_DIR, '--no-audit', '--no-fund'];
  log(`peers: installing bench/peers (npm ${args[0]}; better-sqlite3 builds from source, about a minute)`);
  try {
    // stdout of npm goes to our stderr: in JSON mode stdout carries only JSON lines.
    execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, { stdio: ['ignore', 2, 2] });
    return undefined;
  } catch (err) {
    return `npm ${args[0]} --prefix bench/peers failed: ${firstLine(err)}`;
  }
}

function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(PEERS_DIR, 'node_modules', name, 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '?';
  } catch {
    return '?';
  }
}

/** Loads the peers once (installing them on first use); a peer that fails to load is listed in `missing`. */
export function loadPeers(log: (message: string) => void): Peers {
  if (loaded !== undefined) return loaded;
  const versions: Record<string, string> = {};
  const missing: Record<string, string> = {};
  const installFailure = ensureInstalled(log);
  const require = createRequire(join(PEERS_DIR, 'package.json'));
  let Sqlite: SqliteConstructor | undefined;
  let Level: LevelConstructor | undefined;
  let pg: PgModule | undefined;
  try {
    Sqlite = require('better-sqlite3') as SqliteConstructor;
    const probe = new Sqlite(':memory:');
    versions['better-sqlite3'] = packageVersion('better-sqlite3');
    versions['sqlite'] = String(probe.prepare('select sqlite_version()').pluck().get());
    probe.close();
  } catch (err) {
    Sqlite = undefined;
    missing['sqlite'] = installFailure ?? `better-sqlite3 did not load: ${firstLine(err)}`;
  }
  try {
    Level = (require('classic-level') as { ClassicLevel: LevelConstructor }).ClassicLevel;
    versions['classic-level'] = packageVersion('classic-level');
  } catch (err) {
    missing['leveldb'] = installFailure ?? `classic-level did not load: ${firstLine(err)}`;
  }
  try {
    pg = require('pg') as PgModule;
    versions['pg'] = packageVersion('pg');
  } catch (err) {
    missing['postgres'] = installFailure ?? `pg did not load: ${firstLine(err)}`;
  }
  loaded = {
    ...(Sqlite === undefined ? {} : { Sqlite }),
    ...(Level === undefined ? {} : { Level }),
    ...(pg === undefined ? {} : { pg }),
    versions,
    missing,
  };
  return loaded;
}

/** Where PostgreSQL is expected (PGHOST/PGPORT/PGDATABASE override): 127.0.0.1:5432, database `test`. */
export function pgTarget(): { host: string; port: number; database: string; users: string[] } {
  const env = process.env;
  return {
    host: env['PGHOST'] ?? '127.0.0.1',
    port: Number(env['PGPORT'] ?? 5432),
    database: env['PGDATABASE'] ?? 'test',
    users: env['PGUSER'] !== undefined ? [env['PGUSER']] : ['postgres', 'root'],
  };
}

/**
 * Connects to PostgreSQL with `synchronous_commit=on`, trying each user; resolves with the
 * config that worked and the server's version, or a reason it does not answer.
 */
export async function probePostgres(pg: PgModule): Promise<{ config: PgConfig; version: string; settings: string } | string> {
  const target = pgTarget();
  const reasons: string[] = [];
  for (const user of target.users) {
    const config: PgConfig = {
      host: target.host,
      port: target.port,
      database: target.database,
      user,
      options: '-c synchronous_commit=on',
      connectionTimeoutMillis: 2000,
    };
    const client = new pg.Client(config);
    try {
      await client.connect();
      const v = await client.query('select current_setting($1) as v, current_setting($2) as f, current_setting($3) as s, current_setting($4) as w', [
        'server_version',
        'fsync',
        'synchronous_commit',
        'wal_sync_method',
      ]);
      const row = v.rows[0] ?? {};
      await client.end();
      return { config, version: String(row['v']), settings: `fsync=${String(row['f'])}, synchronous_commit=${String(row['s'])}, wal_sync_method=${String(row['w'])}` };
    } catch (err) {
      reasons.push(`${user}: ${firstLine(err)}`);
      await client.end().catch(() => undefined);
    }
  }
  return `PostgreSQL at ${target.host}:${target.port}/${target.database} does not answer (${reasons.join('; ')})`;
}
