/**
 * The audit log on PostgreSQL (docs/audit.md; docs/postgres.md, "The audit chain"). Entries,
 * hashes, heads and signatures are built by the library's own codec (`codec/audit-record.ts`,
 * `codec/audit-event.ts`, `codec/merkle.ts`), byte for byte as on the WAL: an entry row keeps
 * the WAL's AuditEvent payload (version, hash, body), a head row the AuditHead payload. So
 * `verifyIntegrity` feeds the same `AuditChainVerifier`, `export` writes through the same
 * `exportAuditRecords`, and `getEvidence` builds the same bundles; an export verifies with
 * `verifyAuditExport` of `consensus-store/verify`.
 *
 * Several processes append to one chain. The chain's tip is the one row of `audit_tip`: a batch
 * locks it (SELECT ... FOR UPDATE), catches up with the entries other processes appended since
 * this process last looked (their leaf hashes extend the Merkle frontier), chains its entries
 * from the tip, signs the head with the node key (the same key in every process: entry 0 records
 * it and a process with another key is refused), inserts entries and head, and moves the tip by
 * compare-and-set (`UPDATE ... WHERE tree_size = $old AND last_hash = $old`), all in the
 * transaction of the batch, which may also carry the records that caused the events (a
 * conflicting vote, its evidence). A batch that fails leaves nothing, and the tip where it was.
 *
 * In one process, calls are queued and one batch is in flight at a time (calls that arrive
 * meanwhile form the next batch), as on the WAL. `size` and `head` answer what this process
 * last saw.
 *
 * It must never: chain onto an entry that is not committed, move the tip without the entries,
 * or write anything for bad input.
 */
import { checkEventsWithCompanions, checkEventType, checkTime } from '../stores/audit-checks.ts';
import { AuditHasher, decodeEntryBody, decodeHeadPayload, encodeEntryBody, encodeEntryPayload, encodeHeadPayload, GENESIS_PREV_HASH, splitEntryPayload } from '../codec/audit-record.ts';
import { encodeAuditEvent, heightOfEvent, validatorOfEvent } from '../codec/audit-event.ts';
import { equalBytes, toHex } from '../codec/bytes.ts';
import { RecordKind } from '../codec/kinds.ts';
import { HASH_BYTES, MerkleFrontier, merkleLeafHash } from '../codec/merkle.ts';
import { checkNodeKey, signEd25519, type NodeKey } from '../codec/node-key.ts';
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import type { FileSystem } from '../io/types.ts';
import type { Log, LogRecord, Lsn, RecordInput } from '../log/types.ts';
import { AUDIT_EVENT_CODES, AUDIT_EVENT_TYPES, BYZANTINE_EVENT_TYPES, checkAuditEvent } from '../model/audit.ts';
import type { AuditEvent, AuditEventType, ByzantineEvent, ConsensusEvent, NodeKeyRecorded, OperationalEvent } from '../model/audit.ts';
import { checkBoolean, checkInteger, checkObject, checkSafeUint, MAX_SAFE } from '../model/check.ts';
import { checkChainId, checkValidatorId } from '../model/vote.ts';
import { exportAuditRecords } from '../stores/audit-export.ts';
import { makeEntry, type MutableEntry } from '../stores/audit-index.ts';
import { resolveAuditLimits } from '../stores/audit-log.ts';
import type { AuditHead, AuditLog, AuditLogLimits, AuditQueryOptions, DisputeEvidence, EvidenceQuery, HeightRange, IntegrityReport, LogEntry } from '../stores/audit-types.ts';
import { AuditChainVerifier } from '../stores/audit-verify.ts';
import { checkQuery, parseHeightRange, parseLimit, readClock, type StoreContext } from '../stores/context.ts';
import { buildDisputeEvidence } from '../stores/dispute-evidence.ts';
import { bytea, bytes, num, type PgDb, type Queryable } from './db.ts';
import { appendRecords } from './record-log.ts';

const LOG_EVENT_TYPES: readonly AuditEventType[] = AUDIT_EVENT_TYPES.filter((t) => t !== 'NodeKeyRecorded' && !BYZANTINE_EVENT_TYPES.includes(t));
const EVIDENCE_QUERY_KEYS: readonly string[] = ['validatorId', 'height', 'startHeight', 'endHeight', 'types', 'limit'];
const HEIGHT_RANGE_KEYS: readonly string[] = ['startHeight', 'endHeight'];
const LIST_OPTION_KEYS: readonly string[] = ['limit', 'descending'];
/** Rows read per page when the whole chain is walked (verify, export). */
const SCAN_PAGE = 2_000;

/** An event checked and encoded, waiting for its batch. */
export interface EncodedEvent {
  readonly event: AuditEvent;
  readonly bytes: Uint8Array;
  readonly timestamp: number;
}

/** Entries chained in a transaction, to be absorbed into the cache once it committed. */
export interface ChainedBatch {
  readonly entries: readonly LogEntry[];
  readonly leaves: readonly { sequence: number; hash: Uint8Array }[];
  readonly head: AuditHead;
}

interface WriteRequest {
  readonly events: readonly EncodedEvent[];
  readonly companions: readonly RecordInput[];
  readonly resolve: (r: { lsns: Lsn[]; entries: LogEntry[] }) => void;
  readonly reject: (err: unknown) => void;
}

/** Options of `PgAuditLog`. */
export interface PgAuditLogOptions {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly chainId: string;
  readonly now: () => number;
  readonly fs?: FileSystem;
  readonly limits?: Partial<AuditLogLimits>;
}

/** The audit log over the `audit_*` tables (see the file comment). */
export class PgAuditLog implements AuditLog {
  readonly limits: AuditLogLimits;
  readonly chainId: string;
  readonly #db: PgDb;
  readonly #ctx: StoreContext;
  readonly #key: NodeKey;
  readonly #hasher: AuditHasher;
  readonly #fs: FileSystem | undefined;
  /** What this process knows of the chain: its frontier, last hash, leaf hashes, latest head. */
  #frontier = new MerkleFrontier();
  #lastHash: Uint8Array = GENESIS_PREV_HASH;
  #leafHashes = new Uint8Array(32 * 1024);
  #head: AuditHead | undefined;
  readonly #queue: WriteRequest[] = [];
  #writing = false;

  constructor(db: PgDb, options: PgAuditLogOptions) {
    this.#db = db;
    this.#ctx = { log: undefined as unknown as Log, now: options.now };
    this.#key = checkNodeKey('options', options.privateKey, options.publicKey);
    this.chainId = checkChainId('options.chainId', options.chainId);
    this.#hasher = new AuditHasher(this.chainId);
    this.#fs = options.fs;
    this.limits = resolveAuditLimits('options.limits', options.limits);
  }

  get publicKey(): Uint8Array {
    return this.#key.publicKey.slice();
  }

  get head(): AuditHead | undefined {
    return this.#head;
  }

  get size(): number {
    return this.#frontier.size;
  }

  // ---- the chain cache ------------------------------------------------------------------

  /** Adds entry `sequence` (its hash) to the cache when it is the next one; ignores one already known. */
  #absorb(sequence: number, hash: Uint8Array): void {
    if (sequence !== this.#frontier.size) return;
    const leaf = merkleLeafHash(hash);
    const at = sequence * HASH_BYTES;
    if (at + HASH_BYTES > this.#leafHashes.length) {
      const bigger = new Uint8Array(Math.max(this.#leafHashes.length * 2, at + HASH_BYTES));
      bigger.set(this.#leafHashes);
      this.#leafHashes = bigger;
    }
    this.#leafHashes.set(leaf, at);
    this.#frontier.append(leaf);
    this.#lastHash = hash;
  }

  #absorbHead(head: AuditHead): void {
    if (this.#head === undefined || head.treeSize > this.#head.treeSize) this.#head = head;
  }

  /** Reads the entries and the head committed since this process last looked. */
  async catchUp(c: Queryable = this.#db.direct): Promise<void> {
    const known = this.#frontier.size;
    const { rows } = await c.query(`SELECT sequence, hash, payload FROM ${this.#db.t('audit_entries')} WHERE sequence >= $1 ORDER BY sequence`, [known]);
    for (const r of rows) {
      const sequence = num(r['sequence']);
      if (sequence === 0) this.#checkEntryZero(bytes(r['payload']));
      this.#absorb(sequence, bytes(r['hash']));
    }
    const heads = await c.query(`SELECT lsn, payload FROM ${this.#db.t('audit_heads')} ORDER BY tree_size DESC LIMIT 1`);
    const h = heads.rows[0];
    if (h !== undefined) this.#absorbHead({ id: num(h['lsn']) as Lsn, ...decodeHeadPayload(bytes(h['payload'])) });
  }

  /** Entry 0 must record this process's node key. */
  #checkEntryZero(payload: Uint8Array): void {
    const event = decodeEntryBody(splitEntryPayload(payload).body).event;
    if (event.type === 'NodeKeyRecorded' && !equalBytes(event.publicKey, this.#key.publicKey)) {
      throw invalidArgument('options.audit.nodeKey', `is not the node key recorded in this audit log (${toHex(event.publicKey)})`);
    }
  }

  // ---- writes ---------------------------------------------------------------------------

  async logEvent(event: ConsensusEvent | Exclude<OperationalEvent, NodeKeyRecorded>): Promise<LogEntry> {
    this.#db.assertOpen();
    const encoded = this.encode(checkAuditEvent('event', event, LOG_EVENT_TYPES));
    return (await this.#enqueue([encoded], [])).entries[0] as LogEntry;
  }

  async logByzantineEvent(event: ByzantineEvent): Promise<LogEntry> {
    this.#db.assertOpen();
    const encoded = this.encode(checkAuditEvent('event', event, BYZANTINE_EVENT_TYPES));
    return (await this.#enqueue([encoded], [])).entries[0] as LogEntry;
  }

  async appendWithEvents(events: readonly AuditEvent[], companions: readonly RecordInput[]): Promise<{ lsns: Lsn[]; entries: LogEntry[] }> {
    this.#db.assertOpen();
    const checked = checkEventsWithCompanions(events, companions, this.limits);
    return this.#enqueue(checked.events.map((e) => this.encode(e)), checked.companions);
  }

  /** Writes entry 0 (the node key) when the chain is empty; checks it otherwise. */
  async recordNodeKey(): Promise<void> {
    this.#db.assertOpen();
    await this.catchUp();
    if (this.#frontier.size > 0) return;
    await this.#enqueue([], []);
  }

  /** An event checked by the caller, encoded and timestamped by the store's clock. */
  encode(event: AuditEvent): EncodedEvent {
    return { event, bytes: encodeAuditEvent(event), timestamp: readClock(this.#ctx) };
  }

  #enqueue(events: readonly EncodedEvent[], companions: readonly RecordInput[]): Promise<{ lsns: Lsn[]; entries: LogEntry[] }> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ events, companions, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#writing || this.#queue.length === 0) return;
    const batch: WriteRequest[] = [];
    let records = 2;
    while (this.#queue.length > 0) {
      const next = this.#queue[0] as WriteRequest;
      const n = next.events.length + next.companions.length;
      if (batch.length > 0 && records + n > this.limits.maxBatchRecords) break;
      batch.push(this.#queue.shift() as WriteRequest);
      records += n;
    }
    this.#writing = true;
    void this.#writeBatch(batch).finally(() => {
      this.#writing = false;
      this.#pump();
    });
  }

  async #writeBatch(batch: readonly WriteRequest[]): Promise<void> {
    try {
      const { chained, perRequest } = await this.#db.tx(async (c) => {
        const lsnsOf: Lsn[][] = [];
        for (const req of batch) lsnsOf.push((await appendRecords(this.#db, c, req.companions)) as Lsn[]);
        const chained = await this.chainInTx(c, batch.flatMap((r) => r.events));
        return { chained, perRequest: lsnsOf };
      });
      if (chained === undefined) {
        for (const req of batch) req.resolve({ lsns: [], entries: [] });
        return;
      }
      this.absorbBatch(chained);
      // The entries of the key entry (if any) come first; each call gets its own.
      let at = chained.entries.length - batch.reduce((n, r) => n + r.events.length, 0);
      batch.forEach((req, i) => {
        const entries = chained.entries.slice(at, at + req.events.length);
        at += req.events.length;
        req.resolve({ lsns: perRequest[i] as Lsn[], entries: [...entries] });
      });
    } catch (err) {
      for (const req of batch) req.reject(err);
    }
  }

  /**
   * Chains `events` onto the tip inside the caller's transaction `c` (see the file comment):
   * lock the tip, catch up, build and sign, insert, compare-and-set the tip. The chain's entry 0
   * (the node key) comes first when the chain is empty. Call `absorbBatch` once `c` committed.
   * @throws CONFLICT when the tip moved under the lock (cannot happen with a sound database).
   */
  async chainInTx(c: Queryable, events: readonly EncodedEvent[]): Promise<ChainedBatch | undefined> {
    const tip = (await c.query(`SELECT tree_size, last_hash FROM ${this.#db.t('audit_tip')} WHERE id = 1 FOR UPDATE`)).rows[0];
    if (tip === undefined) throw new ConsensusStoreError('CORRUPTION', 'the audit tip row is missing');
    const oldSize = num(tip['tree_size']);
    const oldHash = bytes(tip['last_hash']);
    if (oldSize !== this.#frontier.size) await this.catchUp(c);
    if (oldSize !== this.#frontier.size || !equalBytes(oldHash, this.#lastHash)) {
      throw new ConsensusStoreError('CORRUPTION', `the audit tip (size ${oldSize}) does not match the chain's entries (${this.#frontier.size})`);
    }
    const all: EncodedEvent[] = [];
    if (oldSize === 0) {
      const keyEvent: AuditEvent = { type: 'NodeKeyRecorded', publicKey: this.#key.publicKey.slice() };
      const first = events[0]?.timestamp ?? readClock(this.#ctx);
      all.push({ event: keyEvent, bytes: encodeAuditEvent(keyEvent), timestamp: first });
    }
    all.push(...events);
    // recordNodeKey after another process wrote entry 0: nothing to chain.
    if (all.length === 0) return undefined;
    const lsns = await this.#db.drawLsns(c, all.length + 1);
    const headLsn = lsns[all.length] as number;
    const frontier = this.#frontier.clone();
    let sequence = oldSize;
    let prevHash = oldHash;
    const built: { sequence: number; prevHash: Uint8Array; hash: Uint8Array; payload: Uint8Array; e: EncodedEvent; lsn: number }[] = [];
    for (const [i, e] of all.entries()) {
      const body = encodeEntryBody({ sequence, prevHash, eventCode: AUDIT_EVENT_CODES[e.event.type], timestamp: e.timestamp, eventBytes: e.bytes });
      const hash = this.#hasher.entryHash(body);
      frontier.append(merkleLeafHash(hash));
      built.push({ sequence, prevHash, hash, payload: encodeEntryPayload(hash, body), e, lsn: lsns[i] as number });
      prevHash = hash;
      sequence++;
    }
    const root = frontier.root();
    const signature = signEd25519(this.#hasher.headSignBytes(sequence, prevHash, root), this.#key.privateKey);
    const lastLsn = lsns[all.length - 1] as number;
    await c.query(
      `INSERT INTO ${this.#db.t('audit_entries')} (sequence, lsn, ts, event_type, height, validator_id, hash, payload, head_lsn)
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::bytea[], $8::bytea[], $9::bigint[])`,
      [
        built.map((b) => b.sequence),
        built.map((b) => b.lsn),
        built.map((b) => b.e.timestamp),
        built.map((b) => b.e.event.type),
        built.map((b) => heightOfEvent(b.e.event) ?? null),
        built.map((b) => validatorOfEvent(b.e.event) ?? null),
        built.map((b) => bytea(b.hash)),
        built.map((b) => bytea(b.payload)),
        built.map(() => headLsn),
      ],
    );
    const headPayload = encodeHeadPayload({ treeSize: sequence, lastEntryHash: prevHash, root, signature });
    await c.query(
      `INSERT INTO ${this.#db.t('audit_heads')} (lsn, tree_size, last_entry_hash, root, signature, last_entry_lsn, payload) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [headLsn, sequence, bytea(prevHash), bytea(root), bytea(signature), lastLsn, bytea(headPayload)],
    );
    const moved = await c.query(
      `UPDATE ${this.#db.t('audit_tip')} SET tree_size = $1, last_hash = $2, head_lsn = $3 WHERE id = 1 AND tree_size = $4 AND last_hash = $5`,
      [sequence, bytea(prevHash), headLsn, oldSize, bytea(oldHash)],
    );
    if (moved.rowCount !== 1) throw new ConsensusStoreError('CONFLICT', 'the audit tip moved under its lock');
    const entries = built.map((b) => {
      const entry: MutableEntry = makeEntry(b.lsn as Lsn, b.sequence, b.e.event, b.e.timestamp, b.prevHash, b.hash);
      entry.signature = signature;
      entry.signedHeadId = lastLsn as Lsn;
      return entry as LogEntry;
    });
    return {
      entries,
      leaves: built.map((b) => ({ sequence: b.sequence, hash: b.hash })),
      head: { id: headLsn as Lsn, treeSize: sequence, lastEntryHash: prevHash, root, signature },
    };
  }

  /** The batch committed: its entries and head join this process's view of the chain. */
  absorbBatch(batch: ChainedBatch): void {
    for (const l of batch.leaves) this.#absorb(l.sequence, l.hash);
    this.#absorbHead(batch.head);
  }

  // ---- queries --------------------------------------------------------------------------

  #listOptions(options: unknown): { limit: number; descending: boolean } {
    const o = checkQuery('options', checkObject('options', options), LIST_OPTION_KEYS);
    const limit = parseLimit('options.limit', o['limit'], { defaultLimit: this.limits.defaultQueryLimit, maxLimit: this.limits.maxQueryLimit });
    return { limit, descending: o['descending'] === undefined ? false : checkBoolean('options.descending', o['descending']) };
  }

  /** Entries of the rows (with their head's signature). */
  #entries(rows: readonly Record<string, unknown>[]): LogEntry[] {
    return rows.map((r) => {
      const { hash, body } = splitEntryPayload(bytes(r['payload']));
      const parts = decodeEntryBody(body);
      const entry = makeEntry(num(r['lsn']) as Lsn, parts.sequence, parts.event, parts.timestamp, parts.prevHash, hash);
      entry.signature = r['signature'] === null ? null : bytes(r['signature']);
      entry.signedHeadId = r['last_entry_lsn'] === null ? null : (num(r['last_entry_lsn']) as Lsn);
      return entry as LogEntry;
    });
  }

  #select(where: string, order: string): string {
    return `SELECT e.lsn, e.payload, h.signature, h.last_entry_lsn FROM ${this.#db.t('audit_entries')} e
            LEFT JOIN ${this.#db.t('audit_heads')} h ON h.lsn = e.head_lsn WHERE ${where} ORDER BY ${order}`;
  }

  async queryByHeight(height: number | HeightRange, options: AuditQueryOptions = {}): Promise<LogEntry[]> {
    this.#db.assertOpen();
    let from: number;
    let to: number;
    if (typeof height === 'number') from = to = checkSafeUint('height', height);
    else {
      const r = checkQuery('height', checkObject('height', height), HEIGHT_RANGE_KEYS);
      if (r['startHeight'] === undefined || r['endHeight'] === undefined) throw invalidArgument('height', 'must give startHeight and endHeight');
      ({ startHeight: from, endHeight: to } = parseHeightRange('height', r));
    }
    const o = this.#listOptions(options);
    const dir = o.descending ? 'DESC' : 'ASC';
    const { rows } = await this.#db.direct.query(`${this.#select('e.height BETWEEN $1 AND $2', `e.height ${dir}, e.lsn ${dir}`)} LIMIT $3`, [from, to, o.limit]);
    return this.#entries(rows);
  }

  async queryByValidator(validatorId: string, options: AuditQueryOptions = {}): Promise<LogEntry[]> {
    this.#db.assertOpen();
    const id = checkValidatorId('validatorId', validatorId);
    const o = this.#listOptions(options);
    const dir = o.descending ? 'DESC' : 'ASC';
    const { rows } = await this.#db.direct.query(`${this.#select('e.validator_id = $1', `e.lsn ${dir}`)} LIMIT $2`, [id, o.limit]);
    return this.#entries(rows);
  }

  async queryByDateRange(from: Date | number, to: Date | number, options: AuditQueryOptions = {}): Promise<LogEntry[]> {
    this.#db.assertOpen();
    const lo = checkTime('from', from);
    const hi = checkTime('to', to);
    if (lo > hi) throw invalidArgument('from', 'must not be after to');
    const o = this.#listOptions(options);
    const dir = o.descending ? 'DESC' : 'ASC';
    const { rows } = await this.#db.direct.query(`${this.#select('e.ts BETWEEN $1 AND $2', `e.ts ${dir}, e.lsn ${dir}`)} LIMIT $3`, [lo, hi, o.limit]);
    return this.#entries(rows);
  }

  async getEvidence(query: EvidenceQuery): Promise<DisputeEvidence> {
    this.#db.assertOpen();
    const q = checkObject('query', query);
    checkQuery('query', q, EVIDENCE_QUERY_KEYS);
    const validatorId = q['validatorId'] === undefined ? undefined : checkValidatorId('query.validatorId', q['validatorId']);
    let { startHeight: from, endHeight: to } = parseHeightRange('query', q);
    if (q['height'] !== undefined) {
      const h = checkSafeUint('query.height', q['height']);
      from = Math.max(from, h);
      to = Math.min(to, h);
    }
    if (from > to) throw invalidArgument('query', 'height range is empty');
    const heightGiven = q['height'] !== undefined || q['startHeight'] !== undefined || q['endHeight'] !== undefined;
    let types: AuditEventType[] | undefined;
    if (q['types'] !== undefined) {
      if (!Array.isArray(q['types']) || q['types'].length === 0) throw invalidArgument('query.types', 'must be a non-empty array of event types');
      types = [...new Set((q['types'] as unknown[]).map((t, i) => checkEventType(`query.types[${i}]`, t)))];
    }
    const limit = parseLimit('query.limit', q['limit'], { defaultLimit: this.limits.defaultEvidenceLimit, maxLimit: this.limits.maxEvidenceLimit });
    await this.catchUp();
    const head = this.#head;
    if (head === undefined) throw new ConsensusStoreError('NOT_FOUND', 'no audit entry matches the query');
    const where: string[] = ['sequence < $1'];
    const params: unknown[] = [head.treeSize];
    if (validatorId !== undefined) where.push(`validator_id = $${params.push(validatorId)}`);
    if (heightGiven) where.push(`height BETWEEN $${params.push(from)} AND $${params.push(to)}`);
    if (types !== undefined) where.push(`event_type = ANY($${params.push(types)}::text[])`);
    const order = validatorId === undefined && heightGiven ? 'height, lsn' : 'lsn';
    const { rows } = await this.#db.direct.query(
      `SELECT sequence, payload FROM ${this.#db.t('audit_entries')} WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT $${params.push(limit)}`,
      params,
    );
    if (rows.length === 0) throw new ConsensusStoreError('NOT_FOUND', 'no audit entry matches the query');
    return buildDisputeEvidence({
      chainId: this.chainId,
      publicKey: this.#key.publicKey,
      head,
      leafHashes: this.#leafHashes,
      records: rows.map((r) => ({ sequence: num(r['sequence']), payload: bytes(r['payload']) })),
    });
  }

  // ---- integrity and export -------------------------------------------------------------

  /**
   * Every audit row (entries and heads) in LSN order from `from`, as the WAL's records (kinds
   * AuditEvent and AuditHead with their payloads), in pages; stops when `visit` returns false.
   */
  async scanRecords(visit: (record: LogRecord) => boolean | void, from = 0): Promise<void> {
    let after = from - 1;
    for (;;) {
      const { rows } = await this.#db.direct.query(
        `(SELECT lsn, ${RecordKind.AuditEvent} AS kind, payload FROM ${this.#db.t('audit_entries')} WHERE lsn > $1 ORDER BY lsn LIMIT $2)
         UNION ALL
         (SELECT lsn, ${RecordKind.AuditHead} AS kind, payload FROM ${this.#db.t('audit_heads')} WHERE lsn > $1 ORDER BY lsn LIMIT $2)
         ORDER BY lsn LIMIT $2`,
        [after, SCAN_PAGE],
      );
      for (const r of rows) {
        const record: LogRecord = { lsn: num(r['lsn']) as Lsn, kind: Number(r['kind']), payload: bytes(r['payload']) };
        after = record.lsn;
        if (visit(record) === false) return;
      }
      if (rows.length < SCAN_PAGE) return;
    }
  }

  async verifyIntegrity(options: { expectHead?: { treeSize: number; root: Uint8Array } } = {}): Promise<IntegrityReport> {
    this.#db.assertOpen();
    const o = checkObject('options', options);
    let expect: { treeSize: number; root: Uint8Array } | undefined;
    if (o['expectHead'] !== undefined) {
      const a = checkObject('options.expectHead', o['expectHead']);
      const root = a['root'];
      if (!(root instanceof Uint8Array) || root.length !== HASH_BYTES) throw invalidArgument('options.expectHead.root', 'must be 32 bytes');
      expect = { treeSize: checkInteger('options.expectHead.treeSize', a['treeSize'], 1, MAX_SAFE), root };
    } else {
      await this.catchUp();
      if (this.#head !== undefined) expect = { treeSize: this.#head.treeSize, root: this.#head.root };
    }
    const verifier = new AuditChainVerifier(this.chainId, this.#key.publicKey, expect);
    await this.scanRecords((record) => {
      if (record.kind === RecordKind.AuditEvent) {
        try {
          verifier.entry(record.lsn, splitEntryPayload(record.payload));
        } catch (err) {
          verifier.damaged(record.lsn, (err as Error).message);
        }
      } else {
        try {
          verifier.head(record.lsn, decodeHeadPayload(record.payload));
        } catch (err) {
          verifier.damaged(record.lsn, `head: ${(err as Error).message}`);
        }
      }
      return !verifier.failed;
    });
    return verifier.finish();
  }

  /** Writes the chain as the WAL's export (docs/audit.md, "Export"), through the same writer. */
  async export(path: string): Promise<{ entries: number; heads: number; bytes: number }> {
    this.#db.assertOpen();
    const fs = this.#fs ?? (await import('../io/real-fs.ts')).defaultFileSystem();
    // The exporter reads the records through `scan`, the one method of a Log it uses.
    const source = {
      scan: async (visit: (record: LogRecord) => boolean | void, from?: Lsn) => {
        await this.scanRecords(visit, from ?? 0);
      },
    } as unknown as Log;
    return exportAuditRecords({ log: source, fs, path, chainId: this.chainId, publicKey: this.#key.publicKey });
  }
}



