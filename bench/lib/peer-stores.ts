/**
 * The peers doing the same durable work as consensus-store, each in the durable mode a careful
 * user would pick (docs/bench-notes.md, The peers):
 * - SQLite (better-sqlite3): WAL mode, `synchronous=FULL`; a `votes` table with the vote
 *   store's keys and indexes (by round and type, by validator and round, by height);
 * - LevelDB (classic-level): every write `sync: true`; the vote under its LSN and three index
 *   keys (round/type/validator, validator/round/type, height) in one atomic batch;
 * - PostgreSQL (pg): `synchronous_commit=on`, the same table and indexes as SQLite.
 * Each offers one durable transaction per vote (the naive form), one per batch of votes (the
 * best batched form) and one per block (votes, round checkpoint, audit entries, reward).
 *
 * What they do not do, in their favour: no duplicate or equivocation check before a vote is
 * written (consensus-store checks every vote against its in-memory indexes). What they do, as
 * the engine does: the same vote/round/reward payload codecs, and for the audit entries the
 * same hash chain with one ed25519 signature of the head per transaction.
 *
 * Must never: acknowledge a write before the peer reports it committed in its durable mode,
 * or leave a PostgreSQL schema behind (each store drops its own on close).
 */
import { AUDIT_EVENT_CODES } from '../../src/model/audit.ts';
import type { ConsensusEvent } from '../../src/model/audit.ts';
import { encodeAuditEvent } from '../../src/codec/audit-event.ts';
import { AuditHasher, encodeEntryBody, encodeEntryPayload, encodeHeadPayload, GENESIS_PREV_HASH } from '../../src/codec/audit-record.ts';
import { generateNodeKey, signEd25519 } from '../../src/codec/node-key.ts';
import { encodeDistributionRecord } from '../../src/codec/reward-record.ts';
import { encodeRoundStateRecord } from '../../src/codec/round-record.ts';
import { encodeVoteRecord } from '../../src/codec/vote-record.ts';
import { voteTypeCode } from '../../src/codec/vote-sign.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import type { LevelConstructor, LevelDatabase, LevelOp, PgConfig, PgModule, PgPool, SqliteConstructor, SqliteDatabase, SqliteStatement } from './peers.ts';
import type { BlockWork } from './workload.ts';

/** What every peer offers the scenarios. */
export interface PeerStore {
  /** `sqlite`, `leveldb`, `postgres`. */
  readonly name: string;
  /** True when its calls block the event loop (better-sqlite3). */
  readonly blocking: boolean;
  /** One durable transaction for this vote. */
  appendVote(vote: ValidatorVote): Promise<void>;
  /** One durable transaction for all of `votes`. */
  appendVotes(votes: readonly ValidatorVote[]): Promise<void>;
  /** One durable transaction for a whole block's work. */
  appendBlock(block: BlockWork): Promise<void>;
  /** A round's votes (decoded rows); resolves with how many. */
  votesForRound(round: number): Promise<number>;
  /** A validator's votes from `fromRound` on, at most `limit`. */
  validatorVotes(validatorId: string, fromRound: number, limit: number): Promise<number>;
  /** Votes with height in [from, to], at most `limit`. */
  votesByHeight(from: number, to: number, limit: number): Promise<number>;
  /** Number of votes of a round. */
  countForRound(round: number): Promise<number>;
  close(): Promise<void>;
}

/** A vote with everything a peer writes for it. */
interface VoteFields {
  readonly lsn: number;
  readonly vote: ValidatorVote;
  readonly type: number;
  readonly payload: Uint8Array;
}

/** Assigns LSNs (as the log does) and encodes the vote with the vote store's own codec. */
class Sequencer {
  #next = 1;
  take(vote: ValidatorVote): VoteFields {
    return { lsn: this.#next++, vote, type: voteTypeCode(vote.voteType), payload: encodeVoteRecord(vote, Date.now()) };
  }
  set next(value: number) {
    this.#next = value;
  }
}

/** The audit hash chain of a peer, with one signed head per transaction (as the engine signs per commit batch). */
class PeerAuditChain {
  readonly #hasher: AuditHasher;
  readonly #key = generateNodeKey();
  #sequence = 0;
  #prevHash: Uint8Array = GENESIS_PREV_HASH;

  constructor(chainId: string) {
    this.#hasher = new AuditHasher(chainId);
  }

  /** The entry payloads for `events` and the signed head after them. */
  entries(events: readonly ConsensusEvent[]): { entries: { sequence: number; height: number; payload: Uint8Array }[]; head: Uint8Array } {
    const out: { sequence: number; height: number; payload: Uint8Array }[] = [];
    for (const event of events) {
      const sequence = this.#sequence++;
      const body = encodeEntryBody({ sequence, prevHash: this.#prevHash, eventCode: AUDIT_EVENT_CODES[event.type], timestamp: Date.now(), eventBytes: encodeAuditEvent(event) });
      const hash = this.#hasher.entryHash(body);
      this.#prevHash = hash;
      out.push({ sequence, height: 'height' in event ? event.height : 0, payload: encodeEntryPayload(hash, body) });
    }
    const treeSize = this.#sequence;
    const signature = signEd25519(this.#hasher.headSignBytes(treeSize, this.#prevHash, this.#prevHash), this.#key.privateKey);
    return { entries: out, head: encodeHeadPayload({ treeSize, lastEntryHash: this.#prevHash, root: this.#prevHash, signature }) };
  }
}

const CHAIN_ID = 'bench-chain';

// ---- SQLite ---------------------------------------------------------------------------------

const SQL_SCHEMA = `
CREATE TABLE IF NOT EXISTS votes (
  lsn INTEGER PRIMARY KEY,
  validator_id TEXT NOT NULL,
  height INTEGER NOT NULL,
  round INTEGER NOT NULL,
  vote_type INTEGER NOT NULL,
  block_hash BLOB,
  ts INTEGER NOT NULL,
  signature BLOB NOT NULL,
  payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS votes_by_round ON votes (round, vote_type, validator_id);
CREATE INDEX IF NOT EXISTS votes_by_validator ON votes (validator_id, round, vote_type);
CREATE INDEX IF NOT EXISTS votes_by_height ON votes (height);
CREATE TABLE IF NOT EXISTS round_states (height INTEGER NOT NULL, round INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (height, round));
CREATE TABLE IF NOT EXISTS audit (sequence INTEGER PRIMARY KEY, height INTEGER NOT NULL, payload BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_height ON audit (height);
CREATE TABLE IF NOT EXISTS audit_heads (tree_size INTEGER PRIMARY KEY, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS rewards (height INTEGER PRIMARY KEY, payload BLOB NOT NULL);
`;

/** SQLite in WAL mode with synchronous=FULL (or OFF, only to fill a store fast: `fast`). */
export class SqlitePeer implements PeerStore {
  readonly name = 'sqlite';
  readonly blocking = true;
  readonly db: SqliteDatabase;
  readonly #seq = new Sequencer();
  readonly #audit = new PeerAuditChain(CHAIN_ID);
  readonly #insert: SqliteStatement;
  readonly #insertRound: SqliteStatement;
  readonly #insertAudit: SqliteStatement;
  readonly #insertHead: SqliteStatement;
  readonly #insertReward: SqliteStatement;
  readonly #many: (votes: readonly ValidatorVote[]) => void;
  readonly #block: (block: BlockWork) => void;
  readonly #qRound: SqliteStatement;
  readonly #qValidator: SqliteStatement;
  readonly #qHeight: SqliteStatement;
  readonly #qCount: SqliteStatement;

  constructor(Sqlite: SqliteConstructor, path: string, options: { fast?: boolean } = {}) {
    this.db = new Sqlite(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.fast === true ? 'OFF' : 'FULL'}`);
    this.db.exec(SQL_SCHEMA);
    const max = this.db.prepare('SELECT max(lsn) FROM votes').pluck().get();
    this.#seq.next = (typeof max === 'number' ? max : 0) + 1;
    this.#insert = this.db.prepare('INSERT INTO votes (lsn, validator_id, height, round, vote_type, block_hash, ts, signature, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.#insertRound = this.db.prepare('INSERT OR REPLACE INTO round_states (height, round, payload) VALUES (?, ?, ?)');
    this.#insertAudit = this.db.prepare('INSERT INTO audit (sequence, height, payload) VALUES (?, ?, ?)');
    this.#insertHead = this.db.prepare('INSERT INTO audit_heads (tree_size, payload) VALUES (?, ?)');
    this.#insertReward = this.db.prepare('INSERT INTO rewards (height, payload) VALUES (?, ?)');
    this.#many = this.db.transaction((votes: readonly ValidatorVote[]) => {
      for (const v of votes) this.#insertOne(v);
    });
    this.#block = this.db.transaction((block: BlockWork) => {
      for (const v of block.votes) this.#insertOne(v);
      this.#insertRound.run(block.height, block.round, encodeRoundStateRecord(block.checkpoint, Date.now()));
      const { entries, head } = this.#audit.entries(block.audit);
      for (const e of entries) this.#insertAudit.run(e.sequence, e.height, e.payload);
      this.#insertHead.run(entries.at(-1)?.sequence ?? 0, head);
      this.#insertReward.run(block.height, encodeDistributionRecord(block.reward, Date.now()).payload);
    });
    this.#qRound = this.db.prepare('SELECT lsn, payload FROM votes WHERE round = ? ORDER BY vote_type, validator_id, lsn');
    this.#qValidator = this.db.prepare('SELECT lsn, payload FROM votes WHERE validator_id = ? AND round >= ? ORDER BY round, vote_type, lsn LIMIT ?');
    this.#qHeight = this.db.prepare('SELECT lsn, payload FROM votes WHERE height BETWEEN ? AND ? ORDER BY height, lsn LIMIT ?');
    this.#qCount = this.db.prepare('SELECT count(*) FROM votes WHERE round = ?').pluck();
  }

  #insertOne(vote: ValidatorVote): void {
    const f = this.#seq.take(vote);
    const v = f.vote;
    this.#insert.run(f.lsn, v.validatorId, v.height, v.round, f.type, v.blockHash, v.timestamp, v.signature, f.payload);
  }

  appendVote(vote: ValidatorVote): Promise<void> {
    this.#insertOne(vote);
    return Promise.resolve();
  }
  appendVotes(votes: readonly ValidatorVote[]): Promise<void> {
    this.#many(votes);
    return Promise.resolve();
  }
  appendBlock(block: BlockWork): Promise<void> {
    this.#block(block);
    return Promise.resolve();
  }
  votesForRound(round: number): Promise<number> {
    return Promise.resolve(this.#qRound.all(round).length);
  }
  validatorVotes(validatorId: string, fromRound: number, limit: number): Promise<number> {
    return Promise.resolve(this.#qValidator.all(validatorId, fromRound, limit).length);
  }
  votesByHeight(from: number, to: number, limit: number): Promise<number> {
    return Promise.resolve(this.#qHeight.all(from, to, limit).length);
  }
  countForRound(round: number): Promise<number> {
    return Promise.resolve(Number(this.#qCount.get(round)));
  }
  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
}

// ---- LevelDB --------------------------------------------------------------------------------

const enc = new TextEncoder();

function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

function u64be(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const EMPTY = new Uint8Array(0);
const P_VOTE = enc.encode('v');
const P_ROUND = enc.encode('r');
const P_VALIDATOR = enc.encode('a');
const P_HEIGHT = enc.encode('h');
const P_CHECKPOINT = enc.encode('c');
const P_AUDIT = enc.encode('e');
const P_HEAD = enc.encode('E');
const P_REWARD = enc.encode('w');
const NUL = new Uint8Array([0]);
const FF = new Uint8Array([0xff]);

/** LevelDB (classic-level) with `sync: true` on every write (or without, only to fill fast). */
export class LevelPeer implements PeerStore {
  readonly name = 'leveldb';
  readonly blocking = false;
  readonly db: LevelDatabase;
  readonly #sync: boolean;
  readonly #seq = new Sequencer();
  readonly #audit = new PeerAuditChain(CHAIN_ID);

  private constructor(db: LevelDatabase, sync: boolean) {
    this.db = db;
    this.#sync = sync;
  }

  static async open(Level: LevelConstructor, path: string, options: { fast?: boolean } = {}): Promise<LevelPeer> {
    const db = new Level(path, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const peer = new LevelPeer(db, options.fast !== true);
    const last = await db.keys({ gte: P_VOTE, lt: concat([P_VOTE, FF]), reverse: true, limit: 1 }).all();
    const key = last[0];
    peer.#seq.next = key === undefined ? 1 : Number(new DataView(key.buffer, key.byteOffset + 1, 8).getBigUint64(0)) + 1;
    return peer;
  }

  #voteOps(vote: ValidatorVote, ops: LevelOp[]): void {
    const f = this.#seq.take(vote);
    const lsn = u64be(f.lsn);
    const id = enc.encode(vote.validatorId);
    const type = new Uint8Array([f.type]);
    ops.push(
      { type: 'put', key: concat([P_VOTE, lsn]), value: f.payload },
      { type: 'put', key: concat([P_ROUND, u32be(vote.round), type, id, NUL, lsn]), value: EMPTY },
      { type: 'put', key: concat([P_VALIDATOR, id, NUL, u32be(vote.round), type, lsn]), value: EMPTY },
      { type: 'put', key: concat([P_HEIGHT, u64be(vote.height), lsn]), value: EMPTY },
    );
  }

  #write(ops: readonly LevelOp[]): Promise<void> {
    return this.db.batch(ops, { sync: this.#sync });
  }

  appendVote(vote: ValidatorVote): Promise<void> {
    const ops: LevelOp[] = [];
    this.#voteOps(vote, ops);
    return this.#write(ops);
  }
  appendVotes(votes: readonly ValidatorVote[]): Promise<void> {
    const ops: LevelOp[] = [];
    for (const v of votes) this.#voteOps(v, ops);
    return this.#write(ops);
  }
  appendBlock(block: BlockWork): Promise<void> {
    const ops: LevelOp[] = [];
    for (const v of block.votes) this.#voteOps(v, ops);
    ops.push({ type: 'put', key: concat([P_CHECKPOINT, u64be(block.height), u32be(block.round)]), value: encodeRoundStateRecord(block.checkpoint, Date.now()) });
    const { entries, head } = this.#audit.entries(block.audit);
    for (const e of entries) ops.push({ type: 'put', key: concat([P_AUDIT, u64be(e.sequence)]), value: e.payload });
    ops.push({ type: 'put', key: concat([P_HEAD, u64be(entries.at(-1)?.sequence ?? 0)]), value: head });
    ops.push({ type: 'put', key: concat([P_REWARD, u64be(block.height)]), value: encodeDistributionRecord(block.reward, Date.now()).payload });
    return this.#write(ops);
  }

  /** Loads the votes whose index keys end with their 8-byte LSN. */
  async #load(indexKeys: readonly Uint8Array[]): Promise<number> {
    const keys = indexKeys.map((k) => concat([P_VOTE, k.subarray(k.length - 8)]));
    const values = await this.db.getMany(keys);
    return values.filter((v) => v !== undefined).length;
  }

  async votesForRound(round: number): Promise<number> {
    const prefix = concat([P_ROUND, u32be(round)]);
    return this.#load(await this.db.keys({ gte: prefix, lt: concat([prefix, FF]) }).all());
  }
  async validatorVotes(validatorId: string, fromRound: number, limit: number): Promise<number> {
    const prefix = concat([P_VALIDATOR, enc.encode(validatorId), NUL]);
    return this.#load(await this.db.keys({ gte: concat([prefix, u32be(fromRound)]), lt: concat([prefix, FF]), limit }).all());
  }
  async votesByHeight(from: number, to: number, limit: number): Promise<number> {
    return this.#load(await this.db.keys({ gte: concat([P_HEIGHT, u64be(from)]), lt: concat([P_HEIGHT, u64be(to + 1)]), limit }).all());
  }
  async countForRound(round: number): Promise<number> {
    const prefix = concat([P_ROUND, u32be(round)]);
    return (await this.db.keys({ gte: prefix, lt: concat([prefix, FF]) }).all()).length;
  }
  close(): Promise<void> {
    return this.db.close();
  }
}

// ---- PostgreSQL -----------------------------------------------------------------------------

function pgSchema(schema: string): string {
  return `
CREATE SCHEMA ${schema};
CREATE TABLE ${schema}.votes (
  lsn BIGINT PRIMARY KEY, validator_id TEXT NOT NULL, height BIGINT NOT NULL, round BIGINT NOT NULL,
  vote_type SMALLINT NOT NULL, block_hash BYTEA, ts BIGINT NOT NULL, signature BYTEA NOT NULL, payload BYTEA NOT NULL);
CREATE INDEX ON ${schema}.votes (round, vote_type, validator_id);
CREATE INDEX ON ${schema}.votes (validator_id, round, vote_type);
CREATE INDEX ON ${schema}.votes (height);
CREATE TABLE ${schema}.round_states (height BIGINT NOT NULL, round BIGINT NOT NULL, payload BYTEA NOT NULL, PRIMARY KEY (height, round));
CREATE TABLE ${schema}.audit (sequence BIGINT PRIMARY KEY, height BIGINT NOT NULL, payload BYTEA NOT NULL);
CREATE INDEX ON ${schema}.audit (height);
CREATE TABLE ${schema}.audit_heads (tree_size BIGINT PRIMARY KEY, payload BYTEA NOT NULL);
CREATE TABLE ${schema}.rewards (height BIGINT PRIMARY KEY, payload BYTEA NOT NULL);`;
}

let schemaCounter = 0;

/**
 * PostgreSQL with synchronous_commit=on, through a pool (naive concurrency: one autocommit
 * INSERT per vote, up to `poolSize` in flight; the server group-commits them). Batches are one
 * multi-row INSERT (unnest of arrays); a block is one transaction on one connection.
 */
export class PgPeer implements PeerStore {
  readonly name = 'postgres';
  readonly blocking = false;
  readonly pool: PgPool;
  readonly schema: string;
  readonly #seq = new Sequencer();
  readonly #audit = new PeerAuditChain(CHAIN_ID);
  readonly #insertMany: string;

  private constructor(pool: PgPool, schema: string) {
    this.pool = pool;
    this.schema = schema;
    this.#insertMany =
      `INSERT INTO ${schema}.votes (lsn, validator_id, height, round, vote_type, block_hash, ts, signature, payload) ` +
      'SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::smallint[], $6::bytea[], $7::bigint[], $8::bytea[], $9::bytea[])';
  }

  static async open(pg: PgModule, config: PgConfig, poolSize = 16): Promise<PgPeer> {
    const pool = new pg.Pool({ ...config, max: poolSize });
    const schema = `cstore_bench_${process.pid}_${++schemaCounter}`;
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.query(pgSchema(schema));
    return new PgPeer(pool, schema);
  }

  #columns(votes: readonly ValidatorVote[]): unknown[][] {
    const cols: unknown[][] = [[], [], [], [], [], [], [], [], []];
    for (const vote of votes) {
      const f = this.#seq.take(vote);
      const row = [f.lsn, vote.validatorId, vote.height, vote.round, f.type, vote.blockHash === null ? null : Buffer.from(vote.blockHash), vote.timestamp, Buffer.from(vote.signature), Buffer.from(f.payload)];
      row.forEach((value, i) => cols[i]?.push(value));
    }
    return cols;
  }

  async appendVote(vote: ValidatorVote): Promise<void> {
    const f = this.#seq.take(vote);
    await this.pool.query(
      `INSERT INTO ${this.schema}.votes (lsn, validator_id, height, round, vote_type, block_hash, ts, signature, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [f.lsn, vote.validatorId, vote.height, vote.round, f.type, vote.blockHash === null ? null : Buffer.from(vote.blockHash), vote.timestamp, Buffer.from(vote.signature), Buffer.from(f.payload)],
    );
  }
  async appendVotes(votes: readonly ValidatorVote[]): Promise<void> {
    await this.pool.query(this.#insertMany, this.#columns(votes));
  }
  async appendBlock(block: BlockWork): Promise<void> {
    const { entries, head } = this.#audit.entries(block.audit);
    const s = this.schema;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(this.#insertMany, this.#columns(block.votes));
      await client.query(`INSERT INTO ${s}.round_states (height, round, payload) VALUES ($1, $2, $3) ON CONFLICT (height, round) DO UPDATE SET payload = excluded.payload`, [
        block.height,
        block.round,
        Buffer.from(encodeRoundStateRecord(block.checkpoint, Date.now())),
      ]);
      await client.query(`INSERT INTO ${s}.audit (sequence, height, payload) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[])`, [
        entries.map((e) => e.sequence),
        entries.map((e) => e.height),
        entries.map((e) => Buffer.from(e.payload)),
      ]);
      await client.query(`INSERT INTO ${s}.audit_heads (tree_size, payload) VALUES ($1, $2)`, [entries.at(-1)?.sequence ?? 0, Buffer.from(head)]);
      await client.query(`INSERT INTO ${s}.rewards (height, payload) VALUES ($1, $2)`, [block.height, Buffer.from(encodeDistributionRecord(block.reward, Date.now()).payload)]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
  async votesForRound(round: number): Promise<number> {
    return (await this.pool.query(`SELECT lsn, payload FROM ${this.schema}.votes WHERE round = $1 ORDER BY vote_type, validator_id, lsn`, [round])).rows.length;
  }
  async validatorVotes(validatorId: string, fromRound: number, limit: number): Promise<number> {
    return (await this.pool.query(`SELECT lsn, payload FROM ${this.schema}.votes WHERE validator_id = $1 AND round >= $2 ORDER BY round, vote_type, lsn LIMIT $3`, [validatorId, fromRound, limit])).rows
      .length;
  }
  async votesByHeight(from: number, to: number, limit: number): Promise<number> {
    return (await this.pool.query(`SELECT lsn, payload FROM ${this.schema}.votes WHERE height BETWEEN $1 AND $2 ORDER BY height, lsn LIMIT $3`, [from, to, limit])).rows.length;
  }
  async countForRound(round: number): Promise<number> {
    return Number((await this.pool.query(`SELECT count(*) AS n FROM ${this.schema}.votes WHERE round = $1`, [round])).rows[0]?.['n'] ?? 0);
  }
  /** Bytes of the tables and their indexes (pg_total_relation_size), WAL not included. */
  async bytes(): Promise<number> {
    const r = await this.pool.query(
      `SELECT sum(pg_total_relation_size(c.oid))::bigint AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
      [this.schema],
    );
    return Number(r.rows[0]?.['n'] ?? 0);
  }
  async close(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`).catch(() => undefined);
    await this.pool.end();
  }
}

// ---- a careful user's queue -----------------------------------------------------------------

interface Waiting {
  readonly vote: ValidatorVote;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * What a careful user puts in front of a peer under concurrency: votes queue up, and at the
 * next turn of the event loop (and whenever the previous transaction completes) everything
 * queued, at most `maxBatch`, is committed as one transaction. For a blocking peer this is
 * SyncGroupCommit's shape, for an async one AsyncGroupCommit's.
 */
export class QueuedWriter {
  readonly #peer: PeerStore;
  readonly #maxBatch: number;
  #queue: Waiting[] = [];
  #busy = false;
  #scheduled = false;

  constructor(peer: PeerStore, maxBatch = 1000) {
    this.#peer = peer;
    this.#maxBatch = maxBatch;
  }

  append(vote: ValidatorVote): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ vote, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#busy || this.#scheduled || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#queue.splice(0, this.#maxBatch);
    this.#busy = true;
    try {
      await this.#peer.appendVotes(batch.map((w) => w.vote));
      for (const w of batch) w.resolve();
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      this.#busy = false;
      this.#schedule();
    }
  }
}
