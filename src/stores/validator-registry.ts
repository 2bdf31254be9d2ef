/**
 * LogValidatorRegistry: the validator set versioned by height (docs/stores-rounds-validators.md). Every change takes an
 * effective height and applies from that height on; any height answers with the set as it was.
 *
 * Index: per validator, its changes in (height, LSN) order, each with the validator as it stood
 * after it, so a point-in-time lookup is one binary search; plus the ids in sorted order and the
 * public keys in use. A validator's changes are append-only in height: a change below its latest
 * one is refused (CONFLICT), so no stored history is ever rewritten. Writes are serialized and
 * folded into the index only once the log reports them durable.
 *
 * Image section (tag 5): u32 version, i64 last applied LSN, u32 validators in first-registration
 * order; each: id text, u32 changes; each change: i64 LSN, u8 kind, i64 height, i64 recordedAt,
 * reason (flag, text), slash details (flag; requested, amount bigints, evidence id flag and text),
 * and the validator after it (public key bytes, stake, status, registered and updated heights,
 * total slashed). `before` is the previous change's `after`; ids sorted and keys are rebuilt.
 *
 * This module must never write for
 * a call that fails its checks, and never let a stake go negative or past 2^128-1.
 */
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import { decodeValidatorRecord, encodeValidatorRecord, VALIDATOR_RECORD_KINDS } from '../codec/validator-record.ts';
import type { ValidatorRecord } from '../codec/validator-record.ts';
import type { LogRecord, Lsn } from '../log/types.ts';
import { checkBigint, checkKeys, checkObject, checkOneOf, checkSafeUint, checkString } from '../model/check.ts';
import {
  assertOpen,
  checkQuery,
  parseHeightRange,
  parseLimit,
  readClock,
  SerialQueue,
  takePage,
  type ImageSection,
  type RecordApplier,
  type StoreContext,
} from './context.ts';
import type { ImageReader, ImageWriter } from '../codec/image-section.ts';
import { readCount, readSectionVersion, readUint, writeSectionVersion } from './image-common.ts';
import type { QueryPage } from './query-types.ts';
import type { SlashInput, Validator, ValidatorRegistration, ValidatorStatus } from '../model/validator.ts';
import type { ValidatorChange, ValidatorChangeKind, ValidatorHistoryQuery, ValidatorRegistry, ValidatorSetSnapshot } from './validator-types.ts';
import { DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT, MAX_VALIDATORS } from './validator-types.ts';
import {
  checkPublicKey,
  MAX_EVIDENCE_ID_LENGTH,
  MAX_REASON_LENGTH,
  MAX_STAKE,
  MAX_VALIDATOR_ID_LENGTH,
  SLASH_FRACTION_KEYS,
  SLASH_INPUT_KEYS,
  VALIDATOR_REGISTRATION_KEYS,
  VALIDATOR_STATUSES,
} from '../model/validator.ts';
import { toHex } from '../codec/bytes.ts';

/** The keys of a `ValidatorHistoryQuery`. */
const HISTORY_QUERY_KEYS: readonly string[] = ['startHeight', 'endHeight', 'limit'];

function copyValidator(v: Validator): Validator {
  return { ...v, publicKey: v.publicKey.slice() };
}

function copyChange(c: ValidatorChange): ValidatorChange {
  const copy = { ...c, after: copyValidator(c.after) };
  return c.before === undefined ? copy : { ...copy, before: copyValidator(c.before) };
}

/**
 * The validator after `record`, given the one before (undefined only for a registration). The
 * record codec names the validator `id` (its bytes are unchanged); the API says `validatorId`:
 * this is where one becomes the other.
 */
function fold(before: Validator | undefined, record: ValidatorRecord): Validator {
  if (record.kind === 'register') {
    return {
      validatorId: record.id,
      publicKey: record.publicKey,
      stake: record.stake,
      status: record.status,
      registeredAtHeight: record.height,
      updatedAtHeight: record.height,
      totalSlashed: 0n,
    };
  }
  if (before === undefined) throw new Error(`${record.kind} change for an unregistered validator`);
  const base = { ...before, updatedAtHeight: record.height };
  switch (record.kind) {
    case 'stake':
      return { ...base, stake: record.stake };
    case 'status':
      return { ...base, status: record.status };
    case 'slash': {
      const status = before.status === 'tombstoned' || record.status === undefined ? before.status : record.status;
      return { ...base, stake: before.stake - record.amount, totalSlashed: before.totalSlashed + record.amount, status };
    }
  }
}

/** The changes (in (height, LSN) order) with `startHeight <= height <= endHeight`. */
function* changesIn(changes: readonly ValidatorChange[], startHeight: number, endHeight: number): Generator<ValidatorChange> {
  for (const change of changes) {
    if (change.height > endHeight) return;
    if (change.height >= startHeight) yield change;
  }
}

/** What makes `record` unable to follow `latest` (the validator's newest change), or undefined. */
function changeProblem(latest: ValidatorChange | undefined, record: ValidatorRecord): string | undefined {
  if (record.kind === 'register') {
    return latest === undefined ? undefined : `validator ${record.id} is already registered`;
  }
  if (latest === undefined) return `validator ${record.id} is not registered`;
  if (record.height < latest.height) {
    return `height ${record.height} is below validator ${record.id}'s latest change (height ${latest.height})`;
  }
  if (record.kind === 'status' && latest.after.status === 'tombstoned' && record.status !== 'tombstoned') {
    return `validator ${record.id} is tombstoned, which is final`;
  }
  if (record.kind === 'slash' && record.amount > latest.after.stake) {
    return `slash of ${record.amount} exceeds validator ${record.id}'s stake ${latest.after.stake}`;
  }
  return undefined;
}

const CHANGE_KINDS: readonly ValidatorChangeKind[] = ['register', 'stake', 'status', 'slash'];

function writeOptionalText(w: ImageWriter, text: string | undefined): void {
  w.flag(text !== undefined);
  if (text !== undefined) w.text(text);
}

function readStake(r: ImageReader, what: string): bigint {
  const n = r.bigint();
  if (n < 0n || n > MAX_STAKE) throw new Error(`validator image: ${what} ${n} is out of range`);
  return n;
}

/** One change of a validator's history in its image section (module comment). */
function writeChange(w: ImageWriter, c: ValidatorChange): void {
  w.i64(c.id).u8(CHANGE_KINDS.indexOf(c.kind)).i64(c.height).i64(c.recordedAt);
  writeOptionalText(w, c.reason);
  w.flag(c.slash !== undefined);
  if (c.slash !== undefined) {
    w.bigint(c.slash.requested).bigint(c.slash.amount);
    writeOptionalText(w, c.slash.evidenceId);
  }
  const a = c.after;
  w.bytes(a.publicKey).bigint(a.stake).u8(VALIDATOR_STATUSES.indexOf(a.status)).i64(a.registeredAtHeight).i64(a.updatedAtHeight).bigint(a.totalSlashed);
}

/** Reads one change written by `writeChange`; `previous` is the validator's change before it. @throws Error when it could not follow. */
function readChange(r: ImageReader, validatorId: string, previous: ValidatorChange | undefined): ValidatorChange {
  const id = readUint(r, 'change LSN');
  const kind = CHANGE_KINDS[r.u8()];
  const height = readUint(r, 'change height');
  const recordedAt = readUint(r, 'change time');
  const reason = r.flag() ? r.text(4 * MAX_REASON_LENGTH) : undefined;
  let slash: ValidatorChange['slash'];
  if (r.flag()) {
    const requested = readStake(r, 'slash request');
    const amount = readStake(r, 'slash amount');
    slash = r.flag() ? { requested, amount, evidenceId: r.text(4 * MAX_EVIDENCE_ID_LENGTH) } : { requested, amount };
  }
  const publicKey = r.bytes(32);
  const stake = readStake(r, 'stake');
  const status = VALIDATOR_STATUSES[r.u8()];
  const registeredAtHeight = readUint(r, 'registration height');
  const updatedAtHeight = readUint(r, 'update height');
  const totalSlashed = readStake(r, 'total slashed');
  if (kind === undefined || status === undefined || publicKey.length !== 32) throw new Error(`validator image: change ${id} has a bad kind, status or key`);
  if ((kind === 'register') !== (previous === undefined) || (slash !== undefined) !== (kind === 'slash') || (kind === 'register' && reason !== undefined)) {
    throw new Error(`validator image: change ${id} (${kind}) cannot be where it is`);
  }
  if (previous !== undefined && (id <= previous.id || height < previous.height)) throw new Error(`validator image: change ${id} is out of order`);
  const after: Validator = { validatorId, publicKey, stake, status, registeredAtHeight, updatedAtHeight, totalSlashed };
  let change: ValidatorChange = { id: id as Lsn, kind, validatorId, height, after, recordedAt };
  if (previous !== undefined) change = { ...change, before: previous.after };
  if (reason !== undefined) change = { ...change, reason };
  if (slash !== undefined) change = { ...change, slash };
  return change;
}

/**
 * The validator set, versioned by height (the specification's LogValidatorRegistry).
 *
 * Errors: INVALID_ARGUMENT for malformed input; NOT_FOUND for an unknown id; CONFLICT for a
 * duplicate id or public key, a full registry, a change below the validator's latest change, or
 * a status change out of `tombstoned`; CLOSED for every method once the store is closed
 * (docs/stores.md, Opening). None of them writes anything.
 */
export class LogValidatorRegistry implements RecordApplier, ValidatorRegistry, ImageSection {
  /** The record kinds this store owns. */
  readonly kinds: readonly number[] = VALIDATOR_RECORD_KINDS;
  /** Its section's tag in the local state image. */
  readonly imageTag = 5;

  readonly #ctx: StoreContext;
  /** Per validator id, its changes in (height, LSN) order. */
  readonly #history = new Map<string, ValidatorChange[]>();
  /** Every id, sorted (code-unit order). */
  readonly #sortedIds: string[] = [];
  /** Public key (hex) to id. */
  readonly #idByKey = new Map<string, string>();
  #lastAppliedLsn = 0;
  /** The write queue: each write is checked against the state every earlier one left. */
  readonly #writes = new SerialQueue();

  /** @param ctx the shared log and clock. */
  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /**
   * Registers a validator from `effectiveHeight` on (status default `active`). Resolves with the
   * change once durable. Rejects INVALID_ARGUMENT (malformed input, a public key that is not an
   * ed25519 point), CONFLICT (id or public key already registered, registry full at
   * `MAX_VALIDATORS`).
   */
  registerValidator(validator: ValidatorRegistration, effectiveHeight: number): Promise<ValidatorChange> {
    return this.#write(() => {
      const v = checkObject('validator', validator);
      checkKeys('validator', v, VALIDATOR_REGISTRATION_KEYS);
      const id = checkString('validator.validatorId', v['validatorId'], MAX_VALIDATOR_ID_LENGTH);
      const publicKey = checkPublicKey('validator.publicKey', v['publicKey']);
      const stake = checkBigint('validator.stake', v['stake'], 0n, MAX_STAKE);
      const status =
        v['status'] === undefined ? 'active' : checkOneOf<ValidatorStatus>('validator.status', v['status'], VALIDATOR_STATUSES);
      const height = checkSafeUint('effectiveHeight', effectiveHeight);
      return () => {
        const owner = this.#idByKey.get(toHex(publicKey));
        if (owner !== undefined && owner !== id) {
          throw new ConsensusStoreError('CONFLICT', `public key already registered to validator ${owner}`, {
            details: { validatorId: id, owner },
          });
        }
        if (!this.#history.has(id) && this.#history.size >= MAX_VALIDATORS) {
          throw new ConsensusStoreError('CONFLICT', `the registry already holds the maximum of ${MAX_VALIDATORS} validators`);
        }
        return { kind: 'register', id, publicKey, stake, status, height, recordedAt: readClock(this.#ctx) };
      };
    });
  }

  /**
   * Sets a validator's stake from `effectiveHeight` on. Rejects INVALID_ARGUMENT, NOT_FOUND,
   * CONFLICT (below the validator's latest change).
   */
  updateStake(validatorId: string, stake: bigint, effectiveHeight: number, reason?: string): Promise<ValidatorChange> {
    return this.#write(() => {
      const id = checkString('validatorId', validatorId, MAX_VALIDATOR_ID_LENGTH);
      checkBigint('stake', stake, 0n, MAX_STAKE);
      const height = checkSafeUint('effectiveHeight', effectiveHeight);
      if (reason !== undefined) checkString('reason', reason, MAX_REASON_LENGTH);
      return () => {
        this.#requireKnown(id);
        const base = { kind: 'stake' as const, id, stake, height, recordedAt: readClock(this.#ctx) };
        return reason === undefined ? base : { ...base, reason };
      };
    });
  }

  /**
   * Sets a validator's status from `effectiveHeight` on, with a reason. Rejects
   * INVALID_ARGUMENT, NOT_FOUND, CONFLICT (below the latest change; leaving `tombstoned`).
   */
  updateStatus(validatorId: string, status: ValidatorStatus, effectiveHeight: number, reason: string): Promise<ValidatorChange> {
    return this.#write(() => {
      const id = checkString('validatorId', validatorId, MAX_VALIDATOR_ID_LENGTH);
      checkOneOf<ValidatorStatus>('status', status, VALIDATOR_STATUSES);
      const height = checkSafeUint('effectiveHeight', effectiveHeight);
      checkString('reason', reason, MAX_REASON_LENGTH);
      return () => {
        this.#requireKnown(id);
        return { kind: 'status', id, status, height, reason, recordedAt: readClock(this.#ctx) };
      };
    });
  }

  /**
   * Slashes a validator at `slash.height`: takes `amount`, or `fraction` of the stake then held
   * (rounded down), capped at that stake; adds it to `totalSlashed`; and sets `status` when
   * given (a tombstoned validator stays tombstoned). Rejects INVALID_ARGUMENT (malformed, both
   * or neither of amount and fraction, numerator > denominator), NOT_FOUND, CONFLICT (below the
   * validator's latest change).
   */
  recordSlash(slash: SlashInput): Promise<ValidatorChange> {
    return this.#write(() => {
      const s = checkObject('slash', slash);
      checkKeys('slash', s, SLASH_INPUT_KEYS);
      const id = checkString('slash.validatorId', s['validatorId'], MAX_VALIDATOR_ID_LENGTH);
      const height = checkSafeUint('slash.height', s['height']);
      const reason = checkString('slash.reason', s['reason'], MAX_REASON_LENGTH);
      const requestedOf = this.#slashAmountChecker(s);
      const evidenceId =
        s['evidenceId'] === undefined ? undefined : checkString('slash.evidenceId', s['evidenceId'], MAX_EVIDENCE_ID_LENGTH);
      const status =
        s['status'] === undefined ? undefined : checkOneOf('slash.status', s['status'], ['jailed', 'tombstoned'] as const);
      return () => {
        const latest = this.#requireKnown(id);
        const requested = requestedOf(latest.after.stake);
        const amount = requested < latest.after.stake ? requested : latest.after.stake;
        let record: ValidatorRecord = { kind: 'slash', id, height, requested, amount, reason, recordedAt: readClock(this.#ctx) };
        if (evidenceId !== undefined) record = { ...record, evidenceId };
        if (status !== undefined) record = { ...record, status };
        return record;
      };
    });
  }

  /**
   * The set as it was at `height`: every validator registered at or before it, in id order,
   * each as its changes up to and including `height` left it. Bounded by `MAX_VALIDATORS`.
   * Rejects INVALID_ARGUMENT on a bad height.
   */
  async getValidatorsAtHeight(height: number): Promise<ValidatorSetSnapshot> {
    assertOpen(this.#ctx);
    checkSafeUint('height', height);
    const validators: Validator[] = [];
    let totalStake = 0n;
    let activeStake = 0n;
    for (const id of this.#sortedIds) {
      const v = this.#versionAt(id, height)?.after;
      if (v === undefined) continue;
      validators.push(copyValidator(v));
      totalStake += v.stake;
      if (v.status === 'active') activeStake += v.stake;
    }
    return { height, validators, totalStake, activeStake };
  }

  /**
   * The validator as it stood at `atHeight` (default: after its latest change), or undefined if
   * the id is unknown or was not registered yet at that height. Rejects INVALID_ARGUMENT.
   */
  async getValidator(validatorId: string, atHeight?: number): Promise<Validator | undefined> {
    assertOpen(this.#ctx);
    const id = checkString('validatorId', validatorId, MAX_VALIDATOR_ID_LENGTH);
    const height = atHeight === undefined ? Number.MAX_SAFE_INTEGER : checkSafeUint('atHeight', atHeight);
    const v = this.#versionAt(id, height)?.after;
    return v === undefined ? undefined : copyValidator(v);
  }

  /**
   * A validator's changes with `startHeight <= height <= endHeight`, oldest first, at most
   * `limit` (default 1,000, at most 10,000); `truncated` says when more matched. Rejects
   * INVALID_ARGUMENT (a malformed id or query, an unknown query key, a limit above the maximum,
   * `startHeight > endHeight`), NOT_FOUND (unknown id).
   */
  async getValidatorHistory(validatorId: string, query: ValidatorHistoryQuery = {}): Promise<QueryPage<ValidatorChange>> {
    assertOpen(this.#ctx);
    const id = checkString('validatorId', validatorId, MAX_VALIDATOR_ID_LENGTH);
    const q = checkQuery('query', query, HISTORY_QUERY_KEYS);
    const { startHeight, endHeight } = parseHeightRange('query', q);
    const limit = parseLimit('query.limit', q['limit'], { defaultLimit: DEFAULT_HISTORY_LIMIT, maxLimit: MAX_HISTORY_LIMIT });
    this.#requireKnown(id);
    return takePage(changesIn(this.#history.get(id) ?? [], startHeight, endHeight), limit, copyChange);
  }

  /**
   * The set at `height` (as `getValidatorsAtHeight`) and every change at a height <= `height`,
   * per validator in id order, each validator's in history order, counting only changes of an
   * LSN <= `maxLsn` (a snapshot's frozen view: changes are only appended, so the registry as
   * it stood at `maxLsn` is read back whatever came after). Synchronous; copies.
   * @internal used by the snapshot store.
   */
  registryAt(height: number, maxLsn = Number.MAX_SAFE_INTEGER): { validators: Validator[]; history: ValidatorChange[] } {
    const validators: Validator[] = [];
    const history: ValidatorChange[] = [];
    for (const id of this.#sortedIds) {
      let version: ValidatorChange | undefined;
      for (const change of this.#history.get(id) ?? []) {
        if (change.id > maxLsn || change.height > height) break;
        history.push(copyChange(change));
        version = change;
      }
      if (version !== undefined) validators.push(copyValidator(version.after));
    }
    return { validators, history };
  }

  /**
   * The distinct heights at which changes of an LSN <= `maxLsn` take effect, ascending: between
   * two of them the set does not change. Synchronous.
   * @internal used by the snapshot store.
   */
  changeHeights(maxLsn = Number.MAX_SAFE_INTEGER): number[] {
    const heights = new Set<number>();
    for (const changes of this.#history.values()) for (const c of changes) if (c.id <= maxLsn) heights.add(c.height);
    return [...heights].sort((a, b) => a - b);
  }

  /**
   * The public key `validatorId` signed with at `height` (the key of the validator as its changes up to
   * and including `height` left it, whatever its status: a jailed or tombstoned validator's old
   * signatures still verify), or undefined when `validatorId` was not registered at that height.
   * Synchronous, from the in-memory index; a copy. Backs the evidence store's `publicKeyAt`.
   * Throws CLOSED after close, INVALID_ARGUMENT on a malformed id or height.
   */
  publicKeyAt(validatorId: string, height: number): Uint8Array | undefined {
    assertOpen(this.#ctx);
    const id = checkString('validatorId', validatorId, MAX_VALIDATOR_ID_LENGTH);
    checkSafeUint('height', height);
    return this.#versionAt(id, height)?.after.publicKey.slice();
  }

  /**
   * Folds one durable validator record (replay, or this store's own append). Records at or below
   * the last applied LSN are ignored. Throws CORRUPTION when the payload does not decode or the
   * change could not have been written (unknown validator, duplicate, out of height order).
   */
  apply(record: LogRecord): void {
    if (record.lsn <= this.#lastAppliedLsn) return;
    const decoded = decodeValidatorRecord(record.kind, record.payload, record.lsn);
    this.#fold(record.lsn, decoded);
    this.#lastAppliedLsn = record.lsn;
  }

  /**
   * Captures the histories (module comment): changes are only appended and never changed, so
   * each validator's count of changes at capture is enough.
   */
  captureImage(): (w: ImageWriter) => void {
    const counts = [...this.#history].map(([id, changes]) => [id, changes, changes.length] as const);
    const lastApplied = this.#lastAppliedLsn;
    return (w) => {
      writeSectionVersion(w);
      w.i64(lastApplied).u32(counts.length);
      for (const [id, changes, count] of counts) {
        w.text(id).u32(count);
        for (let i = 0; i < count; i++) writeChange(w, changes[i] as ValidatorChange);
      }
    };
  }

  /** Loads the section into this fresh registry. @throws Error on malformed bytes or a history that could not have been written. */
  loadImage(r: ImageReader): void {
    readSectionVersion(r, 'validator registry');
    const lastApplied = readUint(r, 'last applied LSN');
    const validators = readCount(r, 8, 'validators');
    if (validators > MAX_VALIDATORS) throw new Error(`validator image: ${validators} validators, more than ${MAX_VALIDATORS}`);
    for (let v = 0; v < validators; v++) {
      const id = r.text(4 * MAX_VALIDATOR_ID_LENGTH);
      if (id.length === 0 || id.length > MAX_VALIDATOR_ID_LENGTH || this.#history.has(id)) throw new Error(`validator image: id ${v} is malformed or repeated`);
      const count = readCount(r, 40, 'validator changes');
      if (count === 0) throw new Error(`validator image: validator ${id} has no change`);
      const changes: ValidatorChange[] = [];
      for (let i = 0; i < count; i++) {
        const change = readChange(r, id, changes[i - 1]);
        if (change.id > lastApplied) throw new Error(`validator image: change LSN ${change.id} is past the last applied ${lastApplied}`);
        changes.push(change);
      }
      this.#addValidator(id, (changes[0] as ValidatorChange).after.publicKey, changes[0] as ValidatorChange);
      this.#history.set(id, changes);
    }
    r.end();
    this.#lastAppliedLsn = lastApplied;
  }

  /** Checks a durable `record` against the index (CORRUPTION if it could not have been written) and adds it. */
  #fold(lsn: Lsn, record: ValidatorRecord): void {
    const changes = this.#history.get(record.id);
    const latest = changes?.[changes.length - 1];
    const problem = changeProblem(latest, record);
    if (problem !== undefined) {
      throw new ConsensusStoreError('CORRUPTION', `validator record at LSN ${lsn} cannot follow: ${problem}`, {
        details: { validatorId: record.id, lsn },
      });
    }
    const after = fold(latest?.after, record);
    let change: ValidatorChange = {
      id: lsn,
      kind: record.kind,
      validatorId: record.id,
      height: record.height,
      after,
      recordedAt: record.recordedAt,
    };
    if (latest !== undefined) change = { ...change, before: latest.after };
    if (record.kind !== 'register' && record.reason !== undefined) change = { ...change, reason: record.reason };
    if (record.kind === 'slash') {
      const slash = { requested: record.requested, amount: record.amount };
      change = { ...change, slash: record.evidenceId === undefined ? slash : { ...slash, evidenceId: record.evidenceId } };
    }
    if (changes === undefined) this.#addValidator(record.id, after.publicKey, change);
    else changes.push(change);
  }

  #addValidator(id: string, publicKey: Uint8Array, first: ValidatorChange): void {
    const key = toHex(publicKey);
    const owner = this.#idByKey.get(key);
    if (owner !== undefined) {
      throw new ConsensusStoreError('CORRUPTION', `validator ${id} registered with the public key of ${owner}`, {
        details: { lsn: first.id },
      });
    }
    this.#history.set(id, [first]);
    this.#idByKey.set(key, id);
    let lo = 0;
    let hi = this.#sortedIds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#sortedIds[mid] as string) < id) lo = mid + 1;
      else hi = mid;
    }
    this.#sortedIds.splice(lo, 0, id);
  }

  /** The latest change of `id` at or below `height`. */
  #versionAt(id: string, height: number): ValidatorChange | undefined {
    const changes = this.#history.get(id);
    if (changes === undefined) return undefined;
    let lo = 0;
    let hi = changes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((changes[mid] as ValidatorChange).height <= height) lo = mid + 1;
      else hi = mid;
    }
    return changes[lo - 1];
  }

  #requireKnown(id: string): ValidatorChange {
    const latest = this.#history.get(id)?.at(-1);
    if (latest === undefined) {
      throw new ConsensusStoreError('NOT_FOUND', `no validator ${id}`, { details: { validatorId: id } });
    }
    return latest;
  }

  /** Checks the amount/fraction of a slash and returns how to compute the requested amount from the stake held. */
  #slashAmountChecker(s: Record<string, unknown>): (stake: bigint) => bigint {
    const hasAmount = s['amount'] !== undefined;
    if (hasAmount === (s['fraction'] !== undefined)) {
      throw invalidArgument('slash.amount', 'or slash.fraction must be given, not both or neither');
    }
    if (hasAmount) {
      const amount = checkBigint('slash.amount', s['amount'], 0n, MAX_STAKE);
      return () => amount;
    }
    const f = checkObject('slash.fraction', s['fraction']);
    checkKeys('slash.fraction', f, SLASH_FRACTION_KEYS);
    const denominator = checkBigint('slash.fraction.denominator', f['denominator'], 1n, MAX_STAKE);
    const numerator = checkBigint('slash.fraction.numerator', f['numerator'], 0n, denominator);
    return (stake) => (stake * numerator) / denominator;
  }

  /**
   * Runs one write: `check` validates the arguments synchronously (before anything is queued);
   * the record builder it returns runs in the write queue, against the state every earlier write
   * left, then the record is appended and folded once durable.
   */
  #write(check: () => () => ValidatorRecord): Promise<ValidatorChange> {
    let build: () => ValidatorRecord;
    try {
      assertOpen(this.#ctx);
      build = check();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#writes.run(async () => {
      assertOpen(this.#ctx);
      const record = build();
      const changes = this.#history.get(record.id);
      const problem = changeProblem(changes?.[changes.length - 1], record);
      if (problem !== undefined) {
        throw new ConsensusStoreError('CONFLICT', problem, { details: { validatorId: record.id } });
      }
      const input = encodeValidatorRecord(record);
      const [lsn] = await this.#ctx.log.append([input]);
      if (lsn === undefined) throw new ConsensusStoreError('CORRUPTION', 'log append resolved without an LSN');
      this.apply({ lsn, kind: input.kind, payload: input.payload });
      return copyChange(this.#history.get(record.id)?.at(-1) as ValidatorChange);
    });
  }
}
