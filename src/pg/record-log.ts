/**
 * The `records` table as a `Log` (log/types.ts) for the stores this backend runs as they are on
 * the WAL (the evidence store and the reward history): their records (the WAL's kinds and
 * payloads, byte for byte) are rows of `records`, and each process's store is a cache of them,
 * brought up to date (`catchUp`) before every call.
 *
 * Every insert into `records` first takes one transaction-level advisory lock, then draws its
 * LSNs: two transactions never hold interleaved LSNs, so rows become visible in LSN order and a
 * catch-up that read up to LSN n never misses a row below n committed later.
 *
 * It must never: hand a store a record that is not committed, or apply a record twice.
 */
import { ConsensusStoreError } from '../errors.ts';
import type { Log, LogRecord, LogStatus, Lsn, OpenReport, RecordInput } from '../log/types.ts';
import { bytea, bytes, num, type PgDb, type Queryable } from './db.ts';
import { lockKey } from './schema.ts';

const EMPTY_REPORT: OpenReport = Object.freeze({
  segmentsScanned: 0,
  recordsScanned: 0,
  batchesScanned: 0,
  tornBytesCut: 0,
  pendingRepairs: [],
  durationMs: 0,
});

/** Takes the records lock and inserts `records`, returning their LSNs. */
export async function appendRecords(db: PgDb, c: Queryable, records: readonly RecordInput[]): Promise<number[]> {
  if (records.length === 0) return [];
  await c.query('SELECT pg_advisory_xact_lock($1)', [lockKey(`consensus-store:records:${db.schema}`)]);
  const lsns = await db.drawLsns(c, records.length);
  await c.query(`INSERT INTO ${db.t('records')} (lsn, kind, payload) SELECT * FROM unnest($1::bigint[], $2::integer[], $3::bytea[])`, [
    lsns,
    records.map((r) => r.kind),
    records.map((r) => bytea(r.payload)),
  ]);
  return lsns;
}

/** A store fed from `records`: the kinds it owns and how it folds one. */
export interface RecordConsumer {
  readonly kinds: readonly number[];
  apply(record: LogRecord): void;
}

/** The Log a WAL store writes through (see the file comment). */
export class PgRecordLog implements Pick<Log, 'append' | 'scan' | 'get' | 'status' | 'nextLsn' | 'openReport' | 'limits'> {
  readonly #db: PgDb;
  readonly #consumers: RecordConsumer[] = [];
  #appliedUpTo = 0;
  #catching: Promise<void> | undefined;

  constructor(db: PgDb) {
    this.#db = db;
  }

  /** Registers a store to feed on catch-up (before the first). */
  feed(consumer: RecordConsumer): void {
    this.#consumers.push(consumer);
  }

  get status(): LogStatus {
    return this.#db.status === 'open' ? 'open' : this.#db.status;
  }

  get nextLsn(): Lsn {
    return this.#db.nextLsn as Lsn;
  }

  get openReport(): OpenReport {
    return EMPTY_REPORT;
  }

  get limits(): undefined {
    return undefined;
  }

  /** Applies every committed record after the last one applied, in LSN order. */
  catchUp(): Promise<void> {
    this.#db.assertOpen();
    this.#catching ??= this.#catchUp().finally(() => {
      this.#catching = undefined;
    });
    return this.#catching;
  }

  async #catchUp(): Promise<void> {
    const kinds = this.#consumers.flatMap((c) => c.kinds);
    for (;;) {
      const { rows } = await this.#db.direct.query(
        `SELECT lsn, kind, payload FROM ${this.#db.t('records')} WHERE lsn > $1 AND kind = ANY($2::integer[]) ORDER BY lsn LIMIT 5000`,
        [this.#appliedUpTo, kinds],
      );
      for (const r of rows) this.#apply({ lsn: num(r['lsn']) as Lsn, kind: Number(r['kind']), payload: bytes(r['payload']) });
      if (rows.length < 5000) return;
    }
  }

  #apply(record: LogRecord): void {
    if (record.lsn <= this.#appliedUpTo) return;
    const consumer = this.#consumers.find((c) => c.kinds.includes(record.kind));
    consumer?.apply(record);
    this.#appliedUpTo = record.lsn;
  }

  /**
   * Records committed by this process elsewhere (a vote's transaction): applied now when they
   * follow what was applied; otherwise the next catch-up brings them with what precedes them.
   */
  committed(records: readonly LogRecord[]): void {
    for (const r of records) if (r.lsn === this.#appliedUpTo + 1) this.#apply(r);
  }

  /**
   * One atomic batch in its own transaction. The store folds the records itself once this
   * resolves (as on the WAL), so the records are marked applied here, after catching up with
   * what precedes them.
   */
  async append(records: readonly RecordInput[]): Promise<Lsn[]> {
    if (records.length === 0) throw new ConsensusStoreError('INVALID_ARGUMENT', 'append of an empty batch');
    const lsns = await this.#db.tx((c) => appendRecords(this.#db, c, records));
    await this.catchUpBelow(lsns[0] as number);
    this.#appliedUpTo = Math.max(this.#appliedUpTo, lsns[lsns.length - 1] as number);
    return lsns as Lsn[];
  }

  /** Applies the records committed before `lsn` that this process has not seen. */
  async catchUpBelow(lsn: number): Promise<void> {
    if (this.#appliedUpTo >= lsn - 1) return;
    const kinds = this.#consumers.flatMap((c) => c.kinds);
    const { rows } = await this.#db.direct.query(
      `SELECT lsn, kind, payload FROM ${this.#db.t('records')} WHERE lsn > $1 AND lsn < $2 AND kind = ANY($3::integer[]) ORDER BY lsn`,
      [this.#appliedUpTo, lsn, kinds],
    );
    for (const r of rows) this.#apply({ lsn: num(r['lsn']) as Lsn, kind: Number(r['kind']), payload: bytes(r['payload']) });
  }

  async scan(visit: (record: LogRecord) => boolean | void, from?: Lsn): Promise<void> {
    let after = (from ?? 1) - 1;
    for (;;) {
      const { rows } = await this.#db.direct.query(`SELECT lsn, kind, payload FROM ${this.#db.t('records')} WHERE lsn > $1 ORDER BY lsn LIMIT 2000`, [after]);
      for (const r of rows) {
        const record: LogRecord = { lsn: num(r['lsn']) as Lsn, kind: Number(r['kind']), payload: bytes(r['payload']) };
        after = record.lsn;
        if (visit(record) === false) return;
      }
      if (rows.length < 2000) return;
    }
  }

  async get(lsn: Lsn): Promise<LogRecord | undefined> {
    const { rows } = await this.#db.direct.query(`SELECT lsn, kind, payload FROM ${this.#db.t('records')} WHERE lsn = $1`, [lsn]);
    const r = rows[0];
    return r === undefined ? undefined : { lsn, kind: Number(r['kind']), payload: bytes(r['payload']) };
  }

  /** Nothing to close: the database is closed by the store. */
  async close(): Promise<void> {}
}
