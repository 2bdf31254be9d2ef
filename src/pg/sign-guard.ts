/**
 * The sign guard on PostgreSQL (D8, docs/durability.md; docs/postgres.md, "The sign guard"):
 * the same rules as the guard on the log (src/stores/sign-guard.ts), with the watermark a row
 * of `sign_state` shared by every process that signs with the key.
 *
 * A new signature is decided by ONE statement, a compare-and-set on the key's row:
 *
 *   UPDATE sign_state SET (height, round, step, sign_bytes, signature, lsn) = (...)
 *   WHERE public_key = $key AND (height, round, step) < ($h, $r, $s) AND round <= $r
 *
 * PostgreSQL takes the row's lock for the update and, when another transaction changed the row
 * meanwhile, re-evaluates the condition on the committed new version (READ COMMITTED's
 * re-check): of any number of processes racing on one key and one (height, round, step), one
 * updates the row, every other one finds the condition false. The signature leaves this module
 * only after the COMMIT answered; a commit without an answer is IO_FAILED ("maybe signed"), and
 * any later request for that step is decided against the row, whatever that commit did, so the
 * step is never signed with other data. The key's first signature inserts the row (`ON CONFLICT
 * DO NOTHING`, then the compare-and-set again if another process inserted it first).
 *
 * `watermark()` is synchronous: it answers the last watermark this process read or wrote.
 *
 * It must never: release a signature before its commit answered, sign for a (height, round,
 * step) whose row holds other sign bytes, or write anything for a refused request.
 */
import { mintVerifiedVote } from '../stores/verified-vote.ts';
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import { equalBytes, toHex } from '../codec/bytes.ts';
import { stepCode } from '../codec/sign-guard-record.ts';
import { differOnlyInTimestamp, proposalSignBytes, publicKeyOf, signBytes, timestampOfSignBytes, voteSignBytes } from '../codec/vote-sign.ts';
import { checkBytes, checkObject } from '../model/check.ts';
import { checkPrivateKey, checkWatermark, SIGN_STEPS, type SignStep, type SignWatermark } from '../model/sign.ts';
import { checkChainId, checkUnsignedProposal, checkUnsignedVote, checkValidatorId, ED25519_KEY_BYTES } from '../model/vote.ts';
import type { SignedProposal, UnsignedProposal, UnsignedVote, ValidatorVote } from '../model/vote.ts';
import { SerialQueue } from '../stores/context.ts';
import type { SignGuard, SignIdentity, SignState } from '../stores/sign-guard-types.ts';
import { bytea, bytes, num, type PgDb, type Queryable } from './db.ts';

/** A (height, round, step code). */
interface Hrs {
  readonly height: number;
  readonly round: number;
  readonly step: number;
}

/** The key's row. */
interface Row extends Hrs {
  readonly signBytes: Uint8Array | null;
  readonly signature: Uint8Array | null;
}

function refuse(reason: string, details: Record<string, unknown>): ConsensusStoreError {
  return new ConsensusStoreError('CONFLICT', `sign guard refused: ${reason}`, { details: { reason, ...details } });
}

function compareHrs(a: Hrs, b: Hrs): number {
  return a.height - b.height || a.round - b.round || a.step - b.step;
}

/** Options of `PgSignGuard`. */
export interface PgSignGuardOptions {
  readonly chainId: string;
  readonly identity?: SignIdentity;
  readonly now: () => number;
}

/** The sign guard over the `sign_state` row of the identity's key. */
export class PgSignGuard implements SignGuard {
  readonly #db: PgDb;
  readonly #chainId: string;
  readonly #now: () => number;
  readonly #identity: { privateKey: Uint8Array; publicKey: Uint8Array; validatorId: string } | undefined;
  readonly #queue = new SerialQueue();
  #cached: Row | undefined;

  /** @throws INVALID_ARGUMENT on a bad chain id or identity. */
  constructor(db: PgDb, options: PgSignGuardOptions) {
    this.#db = db;
    this.#chainId = checkChainId('chainId', options.chainId);
    this.#now = options.now;
    if (options.identity === undefined) {
      this.#identity = undefined;
      return;
    }
    const id = checkObject('identity', options.identity);
    const privateKey = checkPrivateKey('identity.privateKey', id['privateKey']).slice();
    const publicKey = publicKeyOf(privateKey);
    if (id['publicKey'] !== undefined && !equalBytes(checkBytes('identity.publicKey', id['publicKey'], ED25519_KEY_BYTES), publicKey)) {
      throw invalidArgument('identity.publicKey', 'does not belong to identity.privateKey');
    }
    this.#identity = { privateKey, publicKey, validatorId: checkValidatorId('identity.validatorId', id['validatorId']) };
  }

  get publicKey(): Uint8Array | undefined {
    return this.#identity?.publicKey.slice();
  }

  /** The watermark this process last read or wrote for the identity's key. @throws CLOSED. */
  watermark(): SignWatermark | undefined {
    this.#db.assertOpen();
    const s = this.#cached;
    return s === undefined ? undefined : { height: s.height, round: s.round, step: SIGN_STEPS[s.step - 1] as SignStep };
  }

  /** Reads the key's row into the cache (open time). */
  async load(): Promise<void> {
    if (this.#identity === undefined) return;
    this.#cached = await this.#read(this.#db.direct, this.#identity.publicKey);
  }

  /**
   * The fresh-state rule at open: with `existing-key` and no row for the key, refused unless
   * `allowFresh` (FRESH_SIGN_STATE), as on the log.
   */
  checkSignState(state: SignState, allowFresh: boolean): void {
    if (this.#identity === undefined || state === 'new-key' || allowFresh || this.#cached !== undefined) return;
    throw new ConsensusStoreError(
      'FRESH_SIGN_STATE',
      'this database has no sign watermark for a key that may have signed before: pass signer.state "new-key" if it never signed, signer.importWatermark to carry its watermark over, or signer.allowFreshState to accept the risk',
      { details: { publicKey: toHex(this.#identity.publicKey) } },
    );
  }

  signVote(vote: UnsignedVote): Promise<ValidatorVote> {
    return this.#sign(() => {
      const v = checkUnsignedVote('vote', vote);
      return { hrs: { height: v.height, round: v.round, step: v.voteType }, id: v.validatorId, bytes: voteSignBytes(v, this.#chainId), value: v };
    }).then(({ value, signature, timestamp }) => {
      // The guard signed it with the identity's key: a VerifiedVote (docs/stores.md, "Vote verification").
      const signed = { ...value, timestamp, signature };
      return this.#identity === undefined ? signed : mintVerifiedVote(signed, this.#chainId, this.#identity.publicKey);
    });
  }

  signProposal(proposal: UnsignedProposal): Promise<SignedProposal> {
    return this.#sign(() => {
      const p = checkUnsignedProposal('proposal', proposal);
      return { hrs: { height: p.height, round: p.round, step: 'propose' as const }, id: p.validatorId, bytes: proposalSignBytes(p, this.#chainId), value: p };
    }).then(({ value, signature, timestamp }) => ({ ...value, timestamp, signature }));
  }

  /**
   * Records an imported watermark (no sign bytes), raising the row by compare-and-set; at or
   * below the row it writes nothing; higher in height but lower in round is CONFLICT.
   */
  importWatermark(watermark: SignWatermark): Promise<SignWatermark> {
    return this.#queue.run(async () => {
      this.#db.assertOpen();
      const identity = this.#requireIdentity();
      const w = checkWatermark('watermark', watermark);
      const wanted: Hrs = { height: w.height, round: w.round, step: stepCode(w.step) };
      for (;;) {
        const current = await this.#read(this.#db.direct, identity.publicKey);
        this.#cached = current;
        if (current !== undefined) {
          if (compareHrs(wanted, current) <= 0) return this.watermark() as SignWatermark;
          if (wanted.round < current.round) throw refuse('imported watermark goes back in round', { height: w.height, round: w.round });
        }
        const done = await this.#db.tx(async (c) => {
          const lsn = current === undefined ? await this.#insert(c, identity.publicKey, wanted, null, null) : await this.#advance(c, identity.publicKey, wanted, null, null);
          if (lsn !== undefined) await this.#logRow(c, lsn, identity.publicKey, wanted, null, null);
          return lsn;
        });
        if (done !== undefined) {
          this.#db.noteLsn(done);
          this.#cached = { ...wanted, signBytes: null, signature: null };
          return this.watermark() as SignWatermark;
        }
        // Another process moved the row meanwhile: decide again against it.
      }
    });
  }

  #requireIdentity(): { privateKey: Uint8Array; publicKey: Uint8Array; validatorId: string } {
    if (this.#identity === undefined) throw invalidArgument('identity', 'is required to sign (openPostgresStore was given no signer)');
    return this.#identity;
  }

  async #read(c: Queryable, key: Uint8Array): Promise<Row | undefined> {
    const { rows } = await c.query(`SELECT height, round, step, sign_bytes, signature FROM ${this.#db.t('sign_state')} WHERE public_key = $1`, [bytea(key)]);
    const r = rows[0];
    if (r === undefined) return undefined;
    return {
      height: num(r['height']),
      round: num(r['round']),
      step: Number(r['step']),
      signBytes: r['sign_bytes'] === null ? null : bytes(r['sign_bytes']),
      signature: r['signature'] === null ? null : bytes(r['signature']),
    };
  }

  /** The compare-and-set (see the file comment). Resolves with the new row's LSN, or undefined when the condition was false. */
  async #advance(c: Queryable, key: Uint8Array, to: Hrs, signBytesValue: Uint8Array | null, signature: Uint8Array | null): Promise<number | undefined> {
    const { rows } = await c.query<{ lsn: string }>(
      `UPDATE ${this.#db.t('sign_state')}
          SET height = $2, round = $3, step = $4, sign_bytes = $5, signature = $6, lsn = nextval('${this.#db.t('lsn')}')
        WHERE public_key = $1 AND (height, round, step) < ($2, $3, $4) AND round <= $3
        RETURNING lsn`,
      [bytea(key), to.height, to.round, to.step, signBytesValue === null ? null : bytea(signBytesValue), signature === null ? null : bytea(signature)],
    );
    return rows[0] === undefined ? undefined : num(rows[0].lsn);
  }

  /** The key's first row; undefined when another process inserted it first. */
  async #insert(c: Queryable, key: Uint8Array, to: Hrs, signBytesValue: Uint8Array | null, signature: Uint8Array | null): Promise<number | undefined> {
    const { rows } = await c.query<{ lsn: string }>(
      `INSERT INTO ${this.#db.t('sign_state')} (public_key, height, round, step, sign_bytes, signature, lsn)
       SELECT $1, $2, $3, $4, $5, $6, nextval('${this.#db.t('lsn')}')
       WHERE NOT EXISTS (SELECT 1 FROM ${this.#db.t('sign_state')} WHERE public_key = $1)
       ON CONFLICT (public_key) DO NOTHING
       RETURNING lsn`,
      [bytea(key), to.height, to.round, to.step, signBytesValue === null ? null : bytea(signBytesValue), signature === null ? null : bytea(signature)],
    );
    return rows[0] === undefined ? undefined : num(rows[0].lsn);
  }

  async #logRow(c: Queryable, lsn: number, key: Uint8Array, hrs: Hrs, signBytesValue: Uint8Array | null, signature: Uint8Array | null): Promise<void> {
    await c.query(
      `INSERT INTO ${this.#db.t('sign_log')} (lsn, public_key, height, round, step, sign_bytes, signature, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [lsn, bytea(key), hrs.height, hrs.round, hrs.step, signBytesValue === null ? null : bytea(signBytesValue), signature === null ? null : bytea(signature), this.#now()],
    );
  }

  /** The common sign path: decide by compare-and-set, commit, then release. */
  #sign<T>(prepare: () => { hrs: { height: number; round: number; step: SignStep }; id: string; bytes: Uint8Array; value: T }): Promise<{ value: T; signature: Uint8Array; timestamp: number }> {
    return this.#queue.run(async () => {
      this.#db.assertOpen();
      const identity = this.#requireIdentity();
      const { hrs, id, bytes: message, value } = prepare();
      if (id !== identity.validatorId) throw invalidArgument('validatorId', `must be the node's own (${identity.validatorId})`);
      const requested: Hrs = { height: hrs.height, round: hrs.round, step: stepCode(hrs.step) };
      // Decided from the cache first: a request the last known row refuses never reaches the database.
      if (this.#cached !== undefined) {
        const reused = this.#check(this.#cached, requested, message);
        if (reused !== undefined) return { value, ...reused };
      }
      const signature = signBytes(message, identity.privateKey);
      for (;;) {
        const outcome = await this.#db.tx(async (c) => {
          const lsn = (await this.#advance(c, identity.publicKey, requested, message, signature)) ?? (await this.#insert(c, identity.publicKey, requested, message, signature));
          if (lsn !== undefined) {
            await this.#logRow(c, lsn, identity.publicKey, requested, message, signature);
            return { lsn };
          }
          return { row: await this.#read(c, identity.publicKey) };
        });
        if ('lsn' in outcome) {
          // Committed: only now does the signature leave.
          this.#db.noteLsn(outcome.lsn);
          this.#cached = { ...requested, signBytes: message, signature };
          return { value, signature: signature.slice(), timestamp: timestampOfSignBytes(message) };
        }
        if (outcome.row === undefined) continue; // inserted and deleted meanwhile: cannot happen, but decide again
        this.#cached = outcome.row;
        const reused = this.#check(outcome.row, requested, message);
        if (reused !== undefined) return { value, ...reused };
      }
    });
  }

  /**
   * Decides `requested` against `row`: undefined when it is above (sign anew), the stored
   * signature for the same request, CONFLICT otherwise.
   */
  #check(row: Row, r: Hrs, message: Uint8Array): { signature: Uint8Array; timestamp: number } | undefined {
    const details = { requested: r, watermark: { height: row.height, round: row.round, step: row.step } };
    if (r.height < row.height) throw refuse('height regression', details);
    if (r.round < row.round) throw refuse('round regression', details);
    if (r.height > row.height || r.round > row.round) return undefined;
    if (r.step < row.step) throw refuse('step regression', details);
    if (r.step > row.step) return undefined;
    if (row.signBytes === null) throw refuse('watermark has no sign bytes for this height, round and step (imported)', { requested: r });
    if (row.signature === null) throw new ConsensusStoreError('CORRUPTION', 'sign guard row has sign bytes but no signature', { details: { requested: r } });
    if (equalBytes(message, row.signBytes) || differOnlyInTimestamp(message, row.signBytes)) {
      return { signature: row.signature.slice(), timestamp: timestampOfSignBytes(row.signBytes) };
    }
    throw refuse('conflicting data for an already signed height, round and step', { requested: r });
  }
}
