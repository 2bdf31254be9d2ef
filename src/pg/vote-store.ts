/**
 * The vote store on PostgreSQL (docs/stores.md, "Votes"; docs/postgres.md): votes are rows of
 * `votes`, answered by its three indexes (round, validator, height orders), finalization marks
 * rows of `finalized`.
 *
 * Write path: every vote is checked as on the WAL (`checkVote`, and its signature against the
 * validator registry unless it is a `VerifiedVote` or verification is 'off': docs/stores.md, "Vote
 * verification") before it is queued; a vote refused for want of a key is checked once more
 * after the registry caught up with the records other processes wrote. Queued votes form a batch (group commit: the votes that arrive while a
 * batch is in flight form the next one, at most `MAX_BATCH`) written in ONE transaction:
 * advisory locks on the batch's (validator, round, type) slots, taken in a fixed order (so a
 * second process appending to a slot waits and then sees the first one's vote), the slots'
 * stored votes read, each vote decided in call order (duplicate, equivocation, new), the new
 * votes inserted, and for an equivocation its Evidence records (the evidence store's records,
 * `buildEquivocationRecord`) and its `EquivocationDetected` audit entries chained onto the
 * audit tip, in that same transaction (D3): all of it commits, or none.
 *
 * It must never: write anything for bad input, resolve an append before its commit answered,
 * or let two processes decide one slot without seeing each other's votes.
 */
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import { equalBytes } from '../codec/bytes.ts';
import { voteTypeCode } from '../codec/vote-sign.ts';
import type { Lsn } from '../log/types.ts';
import { checkObject, checkOneOf, checkSafeUint, checkU32 } from '../model/check.ts';
import { checkValidatorId, checkVote, VOTE_TYPES, type ValidatorVote, type VoteType } from '../model/vote.ts';
import { checkQuery, parseHeightRange, parseLimit, parseRoundRange, readClock, SerialQueue, type StoreContext } from '../stores/context.ts';
import { buildEquivocationRecord, type PublicKeyAt } from '../stores/evidence-store.ts';
import { MAX_EVIDENCE_PER_VOTE } from '../stores/evidence-types.ts';
import { resolveVoteStoreLimits } from '../stores/vote-store.ts';
import { checkVoteSignature, mintVerifiedVote, verifiedVoteFor, type VerifiedVote, type VoteVerification } from '../stores/verified-vote.ts';
import type { AppendVoteResult, FinalizedMark, RoundVotesOptions, ValidatorVotesOptions, VoteLogEntry, VoteQuery, VoteStore, VoteStoreLimits } from '../stores/vote-types.ts';
import type { Log } from '../log/types.ts';
import type { PgAuditLog } from './audit-log.ts';
import { bytea, bytes, num, type PgDb, type Queryable } from './db.ts';
import { appendRecords } from './record-log.ts';
import { inRecentOrder, parseRecentVotesOrder } from '../stores/recent-votes.ts';
import type { RecentVotesOptions } from '../stores/vote-types.ts';
import { lockKey } from './schema.ts';

/** Most votes in one transaction. */
export const MAX_BATCH = 256;

const ROUND_VOTES_KEYS: readonly string[] = ['limit'];
const VALIDATOR_VOTES_KEYS: readonly string[] = ['startRound', 'endRound', 'limit'];
const VOTE_QUERY_KEYS: readonly string[] = ['round', 'validatorId', 'voteType', 'startHeight', 'endHeight', 'limit'];
const COLUMNS = 'lsn, validator_id, height, round, vote_type, block_hash, ts, signature, recorded_at';

interface Pending {
  readonly vote: ValidatorVote;
  readonly resolve: (r: AppendVoteResult) => void;
  readonly reject: (err: unknown) => void;
}

/** Options of `PgVoteStore`. */
export interface PgVoteStoreOptions {
  readonly chainId: string;
  readonly now: () => number;
  readonly limits?: Partial<VoteStoreLimits>;
  /** How appends verify signatures (docs/stores.md, "Vote verification"). */
  readonly verification: VoteVerification | 'off';
  /** Brings the key lookup up to date (the registry catches up with the records table); optional. */
  readonly refreshKeys?: () => Promise<void>;
  /** The evidence store's key lookup (the validator registry's), for the evidence of an equivocation. */
  readonly publicKeyAt: PublicKeyAt;
  /** `submittedBy` of the evidence this node detects. */
  readonly nodeId: string;
  readonly audit: PgAuditLog;
}

function entryOf(r: Record<string, unknown>): VoteLogEntry {
  const timestamp = num(r['ts']);
  const vote: ValidatorVote = {
    validatorId: r['validator_id'] as string,
    height: num(r['height']),
    round: num(r['round']),
    voteType: VOTE_TYPES[Number(r['vote_type']) - 1] as VoteType,
    blockHash: r['block_hash'] === null ? null : bytes(r['block_hash']),
    timestamp,
    signature: bytes(r['signature']),
  };
  return { id: num(r['lsn']) as Lsn, vote, timestamp, recordedAt: num(r['recorded_at']) };
}

function copyEntry(e: VoteLogEntry): VoteLogEntry {
  const v = e.vote;
  return { ...e, vote: { ...v, blockHash: v.blockHash === null ? null : v.blockHash.slice(), signature: v.signature.slice() } };
}

function sameBlock(a: ValidatorVote, b: ValidatorVote): boolean {
  return a.height === b.height && equalBytes(a.blockHash, b.blockHash);
}

/** The vote store over the `votes` and `finalized` tables. */
export class PgVoteStore implements VoteStore {
  readonly limits: VoteStoreLimits;
  readonly #db: PgDb;
  readonly #o: PgVoteStoreOptions;
  readonly #ctx: StoreContext;
  readonly #queue: Pending[] = [];
  #writing = false;
  #size = 0;
  readonly #finalizeWrites = new SerialQueue();

  constructor(db: PgDb, options: PgVoteStoreOptions) {
    this.#db = db;
    this.#o = options;
    this.#ctx = { log: undefined as unknown as Log, now: options.now };
    this.limits = resolveVoteStoreLimits('options.limits', options.limits);
  }

  /** Votes stored, as of this process's last count (open) and its own appends. */
  get size(): number {
    return this.#size;
  }

  async load(): Promise<void> {
    const [row] = await this.#db.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.#db.t('votes')}`);
    this.#size = num(row?.n ?? 0);
  }

  /**
   * Stores a vote (docs/stores.md, "Votes"), after its signature check ("Vote verification").
   * @throws INVALID_ARGUMENT (bad field, or a refused signature with `details.reason`), CLOSED,
   *   and the database's errors.
   */
  async appendVote(vote: ValidatorVote | VerifiedVote): Promise<AppendVoteResult> {
    this.#db.assertOpen();
    const [v] = await this.#checkedAll([vote], () => 'vote');
    return this.#enqueue(v as ValidatorVote);
  }

  /**
   * Appends several votes: all are checked and verified before any is queued (one bad vote,
   * named `votes[i]`, writes nothing); then each as by `appendVote`.
   * @throws INVALID_ARGUMENT, CLOSED, and the database's errors.
   */
  async appendVotes(votes: readonly (ValidatorVote | VerifiedVote)[]): Promise<AppendVoteResult[]> {
    this.#db.assertOpen();
    if (!Array.isArray(votes)) throw invalidArgument('votes', 'must be an array');
    if (votes.length > this.limits.maxRoundVotes) throw invalidArgument('votes', `must hold at most ${this.limits.maxRoundVotes} votes`);
    const checked = await this.#checkedAll(votes, (i) => `votes[${i}]`);
    return Promise.all(checked.map((v) => this.#enqueue(v)));
  }

  /**
   * Checks and verifies `vote` and returns it as a `VerifiedVote` (docs/stores.md, "Vote verification").
   * @throws INVALID_ARGUMENT (also when verification is 'off'), CLOSED.
   */
  async verify(vote: ValidatorVote): Promise<VerifiedVote> {
    this.#db.assertOpen();
    const verification = this.#o.verification;
    if (verification !== 'off' && verifiedVoteFor(vote, verification.chainId) !== undefined) return vote as VerifiedVote;
    const v = checkVote('vote', vote);
    if (verification === 'off') throw invalidArgument('vote', "cannot be verified: this store's vote verification is 'off'");
    let key: Uint8Array;
    try {
      key = checkVoteSignature('vote', v, verification);
    } catch (err) {
      if (!this.#wantsRefresh(err)) throw err;
      await this.#o.refreshKeys?.();
      key = checkVoteSignature('vote', v, verification);
    }
    return mintVerifiedVote(v, verification.chainId, key);
  }

  #enqueue(v: ValidatorVote): Promise<AppendVoteResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ vote: v, resolve, reject });
      this.#pump();
    });
  }

  /** True when `err` refused a vote for want of a key, which another process may have registered. */
  #wantsRefresh(err: unknown): boolean {
    const reason = (err as { details?: { reason?: unknown } } | null)?.details?.reason;
    return this.#o.refreshKeys !== undefined && (reason === 'unknown-validator' || reason === 'key-not-valid-at-height');
  }

  /** Each vote checked and, unless a token of this chain or verification is off, verified. */
  async #checkedAll(votes: readonly ValidatorVote[], name: (i: number) => string): Promise<ValidatorVote[]> {
    const verification = this.#o.verification;
    const check = (vote: ValidatorVote, i: number): ValidatorVote => {
      if (verification === 'off') return checkVote(name(i), vote);
      const trusted = verifiedVoteFor(vote, verification.chainId);
      if (trusted !== undefined) return { ...trusted, blockHash: trusted.blockHash === null ? null : trusted.blockHash.slice(), signature: trusted.signature.slice() };
      const v = checkVote(name(i), vote);
      checkVoteSignature(name(i), v, verification);
      return v;
    };
    try {
      return votes.map(check);
    } catch (err) {
      if (!this.#wantsRefresh(err)) throw err;
      await this.#o.refreshKeys?.();
      return votes.map(check);
    }
  }

  #pump(): void {
    if (this.#writing || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, MAX_BATCH);
    this.#writing = true;
    void this.#write(batch).finally(() => {
      this.#writing = false;
      this.#pump();
    });
  }

  async #write(batch: readonly Pending[]): Promise<void> {
    let results: AppendVoteResult[];
    let chained: Awaited<ReturnType<PgAuditLog['chainInTx']>>;
    try {
      this.#db.assertOpen();
      const recordedAt = readClock(this.#ctx);
      ({ results, chained } = await this.#db.tx((c) => this.#decideAndWrite(c, batch, recordedAt)));
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    if (chained !== undefined) this.#o.audit.absorbBatch(chained);
    this.#size += results.filter((r) => r.outcome !== 'duplicate').length;
    batch.forEach((p, i) => p.resolve(results[i] as AppendVoteResult));
  }

  async #decideAndWrite(c: Queryable, batch: readonly Pending[], recordedAt: number) {
    const slotOf = (v: ValidatorVote): string => `${v.validatorId}\u0000${v.round}\u0000${voteTypeCode(v.voteType)}`;
    const keys = [...new Set(batch.map((p) => lockKey(`consensus-store:vote-slot:${this.#db.schema}:${slotOf(p.vote)}`)))].sort();
    await c.query('SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS t(k, i) ORDER BY i', [keys]);
    const slots = new Map<string, VoteLogEntry[]>();
    const { rows } = await c.query(
      `SELECT ${COLUMNS} FROM ${this.#db.t('votes')} WHERE (validator_id, round, vote_type) IN
         (SELECT * FROM unnest($1::text[], $2::bigint[], $3::smallint[])) ORDER BY lsn`,
      [batch.map((p) => p.vote.validatorId), batch.map((p) => p.vote.round), batch.map((p) => voteTypeCode(p.vote.voteType))],
    );
    for (const r of rows) {
      const e = entryOf(r);
      const key = slotOf(e.vote);
      const list = slots.get(key) ?? [];
      list.push(e);
      slots.set(key, list);
    }
    // Decide in call order; new votes get their LSNs in that order.
    const decided: { outcome: 'stored' | 'equivocation' | 'duplicate'; entry?: VoteLogEntry; twin?: VoteLogEntry; conflicts: VoteLogEntry[]; at: number }[] = [];
    const fresh: ValidatorVote[] = [];
    for (const p of batch) {
      const key = slotOf(p.vote);
      const existing = slots.get(key) ?? [];
      const twin = existing.find((e) => sameBlock(e.vote, p.vote));
      if (twin !== undefined) {
        decided.push({ outcome: 'duplicate', twin, conflicts: [], at: -1 });
        continue;
      }
      const placeholder: VoteLogEntry = { id: 0 as Lsn, vote: p.vote, timestamp: p.vote.timestamp, recordedAt };
      decided.push({ outcome: existing.length === 0 ? 'stored' : 'equivocation', entry: placeholder, conflicts: [...existing], at: fresh.length });
      fresh.push(p.vote);
      existing.push(placeholder);
      slots.set(key, existing);
    }
    const lsns = await this.#db.drawLsns(c, fresh.length);
    // Fill in the LSNs (the placeholders are shared with later conflicts of the same batch).
    for (const d of decided) {
      if (d.entry !== undefined) (d.entry as { id: Lsn }).id = lsns[d.at] as Lsn;
    }
    if (fresh.length > 0) {
      await c.query(
        `INSERT INTO ${this.#db.t('votes')} (${COLUMNS})
         SELECT l, v, h, r, t, b, ts, s, $9 FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::smallint[], $6::bytea[], $7::bigint[], $8::bytea[]) AS x(l, v, h, r, t, b, ts, s)`,
        [
          lsns,
          fresh.map((v) => v.validatorId),
          fresh.map((v) => v.height),
          fresh.map((v) => v.round),
          fresh.map((v) => voteTypeCode(v.voteType)),
          fresh.map((v) => (v.blockHash === null ? null : bytea(v.blockHash))),
          fresh.map((v) => v.timestamp),
          fresh.map((v) => bytea(v.signature)),
          recordedAt,
        ],
      );
    }
    // Equivocations: their evidence records, then their audit entries, in this transaction.
    const evidence = [];
    const events = [];
    for (const d of decided) {
      if (d.outcome !== 'equivocation' || d.entry === undefined) continue;
      for (const earlier of d.conflicts.slice(0, MAX_EVIDENCE_PER_VOTE)) {
        events.push(this.#o.audit.encode({ type: 'EquivocationDetected', voteA: earlier.vote, voteB: d.entry.vote }));
        try {
          evidence.push(
            buildEquivocationRecord(earlier.vote, d.entry.vote, { chainId: this.#o.chainId, publicKeyAt: this.#o.publicKeyAt, detectedAt: recordedAt, submittedBy: this.#o.nodeId }),
          );
        } catch (err) {
          if (!(err instanceof ConsensusStoreError && err.code === 'INVALID_ARGUMENT')) throw err;
        }
      }
    }
    await appendRecords(this.#db, c, evidence);
    const chained = events.length === 0 ? undefined : await this.#o.audit.chainInTx(c, events);
    const results: AppendVoteResult[] = decided.map((d) => {
      if (d.outcome === 'duplicate') return { ...copyEntry(d.twin as VoteLogEntry), outcome: 'duplicate', conflictsWith: [] };
      const e = d.entry as VoteLogEntry;
      return { ...copyEntry(e), outcome: d.outcome, conflictsWith: d.conflicts.map(copyEntry) };
    });
    return { results, chained };
  }

  async #rows(sql: string, params: unknown[]): Promise<VoteLogEntry[]> {
    const { rows } = await this.#db.direct.query(sql, params);
    return rows.map(entryOf);
  }

  #queryLimits(): { defaultLimit: number; maxLimit: number } {
    return { defaultLimit: this.limits.defaultQueryLimit, maxLimit: this.limits.maxQueryLimit };
  }

  async getVotesForRound(round: number, options: RoundVotesOptions = {}): Promise<VoteLogEntry[]> {
    this.#db.assertOpen();
    const r = checkU32('round', round);
    const o = checkQuery('options', options, ROUND_VOTES_KEYS);
    const limit = parseLimit('options.limit', o['limit'], { defaultLimit: this.limits.maxRoundVotes, maxLimit: this.limits.maxRoundVotes });
    return this.#rows(`SELECT ${COLUMNS} FROM ${this.#db.t('votes')} WHERE round = $1 ORDER BY vote_type, validator_id COLLATE "C", lsn LIMIT $2`, [r, limit]);
  }

  async getValidatorVotes(validatorId: string, options: ValidatorVotesOptions = {}): Promise<VoteLogEntry[]> {
    this.#db.assertOpen();
    const id = checkValidatorId('validatorId', validatorId);
    const o = checkQuery('options', options, VALIDATOR_VOTES_KEYS);
    const { startRound, endRound } = parseRoundRange('options', o);
    const limit = parseLimit('options.limit', o['limit'], this.#queryLimits());
    return this.#rows(
      `SELECT ${COLUMNS} FROM ${this.#db.t('votes')} WHERE validator_id = $1 AND round BETWEEN $2 AND $3 ORDER BY round, vote_type, lsn LIMIT $4`,
      [id, startRound, endRound, limit],
    );
  }

  async getRecentVotes(limit?: number, options?: RecentVotesOptions): Promise<VoteLogEntry[]> {
    this.#db.assertOpen();
    const n = parseLimit('limit', limit, this.#queryLimits());
    const order = parseRecentVotesOrder(options);
    return inRecentOrder(await this.#rows(`SELECT ${COLUMNS} FROM ${this.#db.t('votes')} ORDER BY lsn DESC LIMIT $1`, [n]), order);
  }

  async queryVotes(query: VoteQuery): Promise<VoteLogEntry[]> {
    this.#db.assertOpen();
    const q = checkQuery('query', checkObject('query', query), VOTE_QUERY_KEYS);
    const round = q['round'] === undefined ? undefined : checkU32('query.round', q['round']);
    const validatorId = q['validatorId'] === undefined ? undefined : checkValidatorId('query.validatorId', q['validatorId']);
    const type = q['voteType'] === undefined ? undefined : checkOneOf('query.voteType', q['voteType'], VOTE_TYPES);
    const { startHeight, endHeight } = parseHeightRange('query', q);
    const limit = parseLimit('query.limit', q['limit'], this.#queryLimits());
    const where = ['height BETWEEN $1 AND $2'];
    const params: unknown[] = [startHeight, endHeight];
    if (round !== undefined) where.push(`round = $${params.push(round)}`);
    if (validatorId !== undefined) where.push(`validator_id = $${params.push(validatorId)}`);
    if (type !== undefined) where.push(`vote_type = $${params.push(voteTypeCode(type))}`);
    const order = round === undefined && validatorId === undefined ? 'height, lsn' : 'round, vote_type, validator_id COLLATE "C", lsn';
    return this.#rows(`SELECT ${COLUMNS} FROM ${this.#db.t('votes')} WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT $${params.push(limit)}`, params);
  }

  async countVotesForRound(round: number, voteType?: VoteType): Promise<number> {
    this.#db.assertOpen();
    const r = checkU32('round', round);
    const code = voteType === undefined ? 0 : voteTypeCode(checkOneOf('voteType', voteType, VOTE_TYPES));
    const [row] = await this.#db.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.#db.t('votes')} WHERE round = $1 AND ($2 = 0 OR vote_type = $2)`, [r, code]);
    return num(row?.n ?? 0);
  }

  async voteExists(validatorId: string, round: number, voteType: VoteType): Promise<boolean> {
    this.#db.assertOpen();
    const id = checkValidatorId('validatorId', validatorId);
    const r = checkU32('round', round);
    const code = voteTypeCode(checkOneOf('voteType', voteType, VOTE_TYPES));
    const rows = await this.#db.query(`SELECT 1 FROM ${this.#db.t('votes')} WHERE validator_id = $1 AND round = $2 AND vote_type = $3 LIMIT 1`, [id, r, code]);
    return rows.length > 0;
  }

  async getEarliestOpenRound(): Promise<number | undefined> {
    this.#db.assertOpen();
    const f = await this.getLastFinalized();
    const [row] =
      f === undefined
        ? await this.#db.query<{ r: string | null }>(`SELECT min(round) AS r FROM ${this.#db.t('votes')}`)
        : await this.#db.query<{ r: string | null }>(`SELECT min(round) AS r FROM ${this.#db.t('votes')} WHERE round > $1 OR (round = $1 AND height > $2)`, [f.round, f.height]);
    return row?.r === null || row?.r === undefined ? undefined : num(row.r);
  }

  markFinalized(height: number, round: number): Promise<FinalizedMark> {
    try {
      this.#db.assertOpen();
      const h = checkSafeUint('height', height);
      const r = checkU32('round', round);
      return this.#finalizeWrites.run(() => this.#writeFinalized(h, r));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async getLastFinalized(): Promise<FinalizedMark | undefined> {
    this.#db.assertOpen();
    const [row] = await this.#db.query(`SELECT lsn, height, round, recorded_at FROM ${this.#db.t('finalized')} ORDER BY height DESC LIMIT 1`);
    return row === undefined ? undefined : markOf(row);
  }

  async #writeFinalized(height: number, round: number): Promise<FinalizedMark> {
    this.#db.assertOpen();
    return this.#db.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [lockKey(`consensus-store:finalized:${this.#db.schema}`)]);
      const known = (await c.query(`SELECT lsn, height, round, recorded_at FROM ${this.#db.t('finalized')} WHERE height = $1`, [height])).rows[0];
      if (known !== undefined) {
        const mark = markOf(known);
        if (mark.round === round) return mark;
        throw new ConsensusStoreError('CONFLICT', `height ${height} was finalized in round ${mark.round}, not ${round}`, { details: { height, round } });
      }
      const lastRow = (await c.query(`SELECT lsn, height, round, recorded_at FROM ${this.#db.t('finalized')} ORDER BY height DESC LIMIT 1`)).rows[0];
      const last = lastRow === undefined ? undefined : markOf(lastRow);
      if (last !== undefined && (height < last.height || round < last.round)) {
        throw new ConsensusStoreError('CONFLICT', `finalization of (${height}, ${round}) is behind the last mark (${last.height}, ${last.round})`, { details: { height, round } });
      }
      const recordedAt = readClock(this.#ctx);
      const [lsn] = await this.#db.drawLsns(c, 1);
      await c.query(`INSERT INTO ${this.#db.t('finalized')} (lsn, height, round, recorded_at) VALUES ($1, $2, $3, $4)`, [lsn, height, round, recordedAt]);
      return Object.freeze({ id: lsn as Lsn, height, round, recordedAt });
    });
  }
}

function markOf(r: Record<string, unknown>): FinalizedMark {
  return Object.freeze({ id: num(r['lsn']) as Lsn, height: num(r['height']), round: num(r['round']), recordedAt: num(r['recorded_at']) });
}
