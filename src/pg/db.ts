/**
 * The PostgreSQL backend's connection to its database: one `pg` pool, the schema every table
 * lives in, transactions, the LSN sequence, and the mapping of driver errors to the store's
 * error codes (docs/postgres.md).
 *
 * Failures: a statement the server refuses for a reason a caller can meet (a lost connection,
 * a server shutting down, a terminated backend) becomes IO_FAILED and the store stays usable:
 * the pool opens a new connection for the next call, so the store comes back when the database
 * does. A COMMIT whose answer never came (the connection died while it was in flight) is
 * IO_FAILED with `details.outcome: 'unknown'`: the transaction may or may not be durable, and
 * the callers that care (the sign guard) treat it as "maybe written".
 *
 * It must never: let a pool error reach the process as an uncaught 'error' event, run a
 * statement after `close()`, or hand a client back to the pool inside an open transaction.
 */
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { ConsensusStoreError } from '../errors.ts';

/** What a query function of the backend receives: a client inside a transaction, or the pool. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** The store's lifecycle on a database. */
export type PgStatus = 'open' | 'closing' | 'closed';

/** SQLSTATE classes and codes that mean "the server or the connection is gone", not "your statement is wrong". */
const CONNECTION_STATES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004', '53300']);

/** Whether `err` is a lost connection (driver or server side). */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e === null || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && (CONNECTION_STATES.has(e.code) || e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' || e.code === 'EPIPE' || e.code === 'ETIMEDOUT')) return true;
  const m = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable|ECONNREFUSED|ECONNRESET/i.test(m);
}

/** `err` as a ConsensusStoreError: store errors pass through, database errors become IO_FAILED. */
export function storeErrorOf(err: unknown, what: string, outcome?: 'unknown'): ConsensusStoreError {
  if (err instanceof ConsensusStoreError) return err;
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return new ConsensusStoreError('IO_FAILED', `PostgreSQL ${what}: ${message}${outcome === 'unknown' ? ' (the commit outcome is unknown)' : ''}`, {
    cause: err,
    details: { sqlstate: code ?? null, connectionLost: isConnectionError(err), ...(outcome === undefined ? {} : { outcome }) },
  });
}

/** A quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * The database under one store: the pool (owned or borrowed), the schema, transactions, LSNs.
 * `t(name)` is a table's qualified name.
 */
export class PgDb {
  readonly pool: Pool;
  readonly schema: string;
  readonly #ownsPool: boolean;
  #status: PgStatus = 'open';
  /** One past the highest LSN this process drew (the position of its next write). */
  #nextLsn = 1;
  readonly #onError = (): void => undefined;

  constructor(pool: Pool, schema: string, ownsPool: boolean) {
    this.pool = pool;
    this.schema = schema;
    this.#ownsPool = ownsPool;
    // An idle client whose connection dies emits 'error' on the pool: without a listener the
    // process would crash. The next query opens a new connection instead.
    pool.on('error', this.#onError);
  }

  get status(): PgStatus {
    return this.#status;
  }

  /** The LSN this process's next write will start at (exact while this process is the only writer). */
  get nextLsn(): number {
    return this.#nextLsn;
  }

  /** The qualified name of a table (or sequence) of this store's schema. */
  t(name: string): string {
    return `${quoteIdent(this.schema)}.${quoteIdent(name)}`;
  }

  /** @throws CLOSED once closing or closed. */
  assertOpen(): void {
    if (this.#status !== 'open') throw new ConsensusStoreError('CLOSED', 'the store is closed');
  }

  /** The pool as a `Queryable` (one statement, its own transaction), errors mapped. */
  readonly direct: Queryable = {
    query: async <R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]) => {
      this.assertOpen();
      try {
        const r = await this.pool.query<R>(text, values);
        return { rows: r.rows, rowCount: r.rowCount };
      } catch (err) {
        throw storeErrorOf(err, 'query failed');
      }
    },
  };

  /** One statement outside a transaction. @throws CLOSED, IO_FAILED. */
  async query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<R[]> {
    this.assertOpen();
    try {
      return (await this.pool.query<R>(text, values)).rows;
    } catch (err) {
      throw storeErrorOf(err, 'query failed');
    }
  }

  /**
   * Runs `body` in one transaction (READ COMMITTED) and commits. A store error thrown by `body`
   * rolls back and is rethrown as is; a database error becomes IO_FAILED; a COMMIT that got no
   * answer is IO_FAILED with `outcome: 'unknown'`. The client is destroyed, not reused, after a
   * connection error.
   */
  async tx<T>(body: (c: Queryable) => Promise<T>): Promise<T> {
    this.assertOpen();
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw storeErrorOf(err, 'connect failed');
    }
    let broken: unknown;
    try {
      await client.query('BEGIN');
      let result: T;
      try {
        result = await body(client as Queryable);
      } catch (err) {
        await client.query('ROLLBACK').catch((e: unknown) => {
          broken = e;
        });
        if (isConnectionError(err)) broken = err;
        throw err;
      }
      try {
        await client.query('COMMIT');
      } catch (err) {
        broken = err;
        throw storeErrorOf(err, 'commit failed', isConnectionError(err) ? 'unknown' : undefined);
      }
      return result;
    } catch (err) {
      if (isConnectionError(err)) broken ??= err;
      throw storeErrorOf(err, 'transaction failed');
    } finally {
      client.release(broken === undefined ? undefined : (broken as Error));
    }
  }

  /** Draws `n` LSNs from the store's sequence, ascending. */
  async drawLsns(c: Queryable, n: number): Promise<number[]> {
    if (n === 0) return [];
    const { rows } = await c.query<{ l: string }>(`SELECT nextval('${this.t('lsn')}') AS l FROM generate_series(1, $1)`, [n]);
    const lsns = rows.map((r) => Number(r.l)).sort((a, b) => a - b);
    this.noteLsn(lsns[lsns.length - 1] as number);
    return lsns;
  }

  /** Records that `lsn` was drawn (the next write goes after it). */
  noteLsn(lsn: number): void {
    if (lsn + 1 > this.#nextLsn) this.#nextLsn = lsn + 1;
  }

  /** Reads the sequence's position (at open). */
  async loadNextLsn(): Promise<void> {
    const [row] = await this.query<{ last_value: string; is_called: boolean }>(`SELECT last_value, is_called FROM ${this.t('lsn')}`);
    if (row !== undefined) this.#nextLsn = row.is_called ? Number(row.last_value) + 1 : Number(row.last_value);
  }

  /** Closes the store's side: later calls reject CLOSED; an owned pool is ended. Idempotent. */
  async close(): Promise<void> {
    if (this.#status !== 'open') return;
    this.#status = 'closing';
    try {
      if (this.#ownsPool) await this.pool.end();
    } finally {
      this.pool.off('error', this.#onError);
      this.#status = 'closed';
    }
  }
}

/** A bigint from a numeric column (returned as text by the driver). */
export function big(value: unknown): bigint {
  return BigInt(value as string);
}

/** A number from a bigint column (returned as text by the driver); heights and LSNs stay below 2^53. */
export function num(value: unknown): number {
  return Number(value as string);
}

/** A fresh Uint8Array from a bytea column (the driver returns Buffers). */
export function bytes(value: unknown): Uint8Array {
  const b = value as Uint8Array;
  return new Uint8Array(b);
}

/** A bytea parameter (the driver sends Buffers as bytea). */
export function bytea(value: Uint8Array): Buffer {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
