/**
 * The sign guard (D8, docs/durability.md): the only place the node's private key signs a vote
 * or a proposal. It keeps a durable watermark per validator key, the last (height, round, step)
 * signed, and follows CometBFT privval's rules, adapted to global rounds (docs/stores.md):
 * - a regression is refused with CONFLICT: a lower height; a lower round (at any height, since
 *   rounds are global and never go back); an earlier step at the same height and round;
 * - the same (height, round, step) again: identical sign bytes return the stored signature;
 *   sign bytes that differ only in the timestamp return the stored signature and the stored
 *   timestamp (the earlier vote is re-released, never a second one); anything else is CONFLICT;
 *   a watermark without sign bytes (imported) is CONFLICT; an entry without its signature is
 *   CORRUPTION;
 * - a new signature is persisted (the log's append resolved) before it is returned, and so is
 *   the second copy of the watermark (`sign-state-file.ts`), when the guard has one: a log that
 *   later loses its newest sign record cannot lower the watermark unnoticed (`checkCopy`).
 *
 * Image section (tag 3): u32 version; the repair barrier (flag, i64); the recorded repair ids
 * (u32 count, i64 each); the watermarks (u32 count; each: key hex text, i64 height, i64 round,
 * u8 step, then sign bytes and signature, each a flag and bytes). The SIGNSTATE copy stays a file.
 *
 * It must never: release a signature that is not durable, sign twice for one (height, round,
 * step) with different sign bytes, run two sign requests concurrently, or treat a missing
 * watermark as permission on a directory the operator said belongs to a key that signed before.
 */
import { mintVerifiedVote } from './verified-vote.ts';
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import { RecordKind } from '../codec/kinds.ts';
import { checkChainId, checkUnsignedProposal, checkUnsignedVote, checkValidatorId, ED25519_KEY_BYTES } from '../model/vote.ts';
import { checkPrivateKey, checkWatermark, SIGN_STEPS } from '../model/sign.ts';
import {
  differOnlyInTimestamp,
  proposalSignBytes,
  publicKeyOf,
  timestampOfSignBytes,
  signBytes,
  voteSignBytes,
} from '../codec/vote-sign.ts';
import { decodeRepairBarrier, decodeSignFence, decodeSignGuardRecord, encodeRepairBarrier, encodeSignFence, encodeSignGuardEntry, encodeSignGuardImport, stepCode } from '../codec/sign-guard-record.ts';
import type { LogRecord, RecordInput } from '../log/types.ts';
import { checkBytes, checkObject, checkSafeUint } from '../model/check.ts';
import { assertOpen, SerialQueue, type ImageSection, type RecordApplier, type StoreContext } from './context.ts';
import type { ImageReader, ImageWriter } from '../codec/image-section.ts';
import { readCount, readSectionVersion, readUint, writeSectionVersion } from './image-common.ts';
import { processMetrics, SignMetrics } from './metrics.ts';
import type { WatermarkCopy } from './sign-state-file.ts';
import type { SignGuard, SignIdentity, SignState } from './sign-guard-types.ts';
import type { SignedProposal, UnsignedProposal, UnsignedVote, ValidatorVote } from '../model/vote.ts';
import type { SignStep, SignWatermark } from '../model/sign.ts';
import { equalBytes, toHex } from '../codec/bytes.ts';

export type { SignIdentity, SignState } from './sign-guard-types.ts';

/** Options of `new LogSignGuard`. */
export interface SignGuardOptions {
  readonly chainId: string;
  /** Absent: the guard replays watermarks but refuses to sign (INVALID_ARGUMENT). */
  readonly identity?: SignIdentity;
  /** The second copy of the identity's watermark (openStore: `<dir>/SIGNSTATE`); none for a bare log. */
  readonly copy?: WatermarkCopy;
}

/** What the guard holds for one key: the last signed or imported (height, round, step). */
interface KeyState {
  readonly height: number;
  readonly round: number;
  readonly step: number;
  readonly signBytes: Uint8Array | null;
  readonly signature: Uint8Array | null;
}

/** The result of checking a request against the watermark. */
type HrsCheck = 'advance' | 'same';

function refuse(reason: string, details: Record<string, unknown>): ConsensusStoreError {
  return new ConsensusStoreError('CONFLICT', `sign guard refused: ${reason}`, { details: { reason, ...details } });
}

/** Orders two (height, round, step) triples lexicographically. */
function compareHrs(a: { height: number; round: number; step: number }, b: { height: number; round: number; step: number }): number {
  return a.height - b.height || a.round - b.round || a.step - b.step;
}

/**
 * The sign guard over the shared log (record kinds SignGuardEntry and SignGuardImport).
 * Obtain it from `openStore(...).signGuard`.
 */
export class LogSignGuard implements SignGuard, RecordApplier, ImageSection {
  /** Record kinds this store owns. */
  readonly kinds: readonly number[] = [RecordKind.SignGuardEntry, RecordKind.SignGuardImport, RecordKind.SignGuardRepairBarrier, RecordKind.SignGuardFence];
  /** Its section's tag in the local state image. */
  readonly imageTag = 3;

  /** First LSN an explicit repair dropped, while no watermark has been imported since (D8). */
  private repairBarrier: number | undefined;
  /** The height of the snapshot this directory was restored from, if it was (the restore fence). */
  private fenceHeight: number | undefined;
  /**
   * The LSN of the backup this directory was restored from, while its fence is not lifted by a
   * floor (`checkFence`): no key signs until the operator gives the chain's height or imports
   * its watermark after the restore.
   */
  private backupFence: number | undefined;
  /** Keys whose watermark was imported after the backup fence (each is lifted for itself). */
  private readonly liftedKeys = new Set<string>();
  /** The operator's floor after a restore from a backup: nothing at or below this height is signed. */
  private signFloor: number | undefined;
  /** Ids of the log repairs whose barrier records are in the log. */
  private readonly recordedRepairs = new Set<number>();

  private readonly ctx: StoreContext;
  private readonly chainId: string;
  private readonly identity: { privateKey: Uint8Array; publicKey: Uint8Array; validatorId: string; keyHex: string } | undefined;
  private readonly states = new Map<string, KeyState>();
  private readonly copy: WatermarkCopy | undefined;
  /** Sign requests and imports run one at a time, each after every earlier one settled. */
  private readonly queue = new SerialQueue();
  /** What the sign requests of this open came to (metrics, docs/operations.md). */
  readonly metrics = new SignMetrics();

  /** @throws ConsensusStoreError INVALID_ARGUMENT on a bad chain id or identity. */
  constructor(ctx: StoreContext, options: SignGuardOptions) {
    this.ctx = ctx;
    const o = checkObject('options', options);
    this.chainId = checkChainId('chainId', o.chainId);
    this.copy = options.copy;
    if (o.identity === undefined) {
      this.identity = undefined;
      return;
    }
    const id = checkObject('identity', o.identity);
    const privateKey = checkPrivateKey('identity.privateKey', id.privateKey).slice();
    const publicKey = publicKeyOf(privateKey);
    if (id.publicKey !== undefined && !equalBytes(checkBytes('identity.publicKey', id.publicKey, ED25519_KEY_BYTES), publicKey)) {
      throw invalidArgument('identity.publicKey', 'does not belong to identity.privateKey');
    }
    const validatorId = checkValidatorId('identity.validatorId', id.validatorId);
    this.identity = { privateKey, publicKey, validatorId, keyHex: toHex(publicKey) };
  }

  /** The node's public key, or undefined without an identity. */
  get publicKey(): Uint8Array | undefined {
    return this.identity?.publicKey.slice();
  }

  /** The node key's watermark (last signed or imported height, round, step), or undefined if none is recorded. */
  watermark(): SignWatermark | undefined {
    assertOpen(this.ctx);
    const s = this.identity === undefined ? undefined : this.states.get(this.identity.keyHex);
    return s === undefined ? undefined : { height: s.height, round: s.round, step: SIGN_STEPS[s.step - 1] as SignStep };
  }

  /**
   * Signs the node's own vote if the watermark allows it, after persisting it (module comment).
   * `vote.validatorId` must be the identity's.
   * @returns the signed vote (with the stored timestamp when only the timestamp differed).
   * @throws INVALID_ARGUMENT (bad vote, other validator, no identity), CONFLICT (regression or
   *   conflicting request), CORRUPTION (stored entry without signature), CLOSED, log write errors.
   */
  signVote(vote: UnsignedVote): Promise<ValidatorVote> {
    return this.serialized(() => {
      const v = checkUnsignedVote('vote', vote);
      return { hrs: { height: v.height, round: v.round, step: v.voteType }, id: v.validatorId, bytes: voteSignBytes(v, this.chainId), value: v };
    }).then(({ value, signature, timestamp }) => this.verified({ ...value, timestamp, signature }));
  }

  /**
   * The node's own signed vote as a `VerifiedVote` (docs/stores.md, "Vote verification"): the
   * guard signed it with the identity's key, so `appendVote` need not check it again.
   */
  private verified(vote: ValidatorVote): ValidatorVote {
    return this.identity === undefined ? vote : mintVerifiedVote(vote, this.chainId, this.identity.publicKey);
  }

  /**
   * Signs the node's own proposal under the same rules (step `propose`, before every vote step
   * of its height and round). `proposal.validatorId` must be the identity's.
   * @throws as `signVote`.
   */
  signProposal(proposal: UnsignedProposal): Promise<SignedProposal> {
    return this.serialized(() => {
      const p = checkUnsignedProposal('proposal', proposal);
      return { hrs: { height: p.height, round: p.round, step: 'propose' as const }, id: p.validatorId, bytes: proposalSignBytes(p, this.chainId), value: p };
    }).then(({ value, signature, timestamp }) => ({ ...value, timestamp, signature }));
  }

  /**
   * Records a watermark carried over from the key's previous home (kind SignGuardImport), so
   * that nothing at or below it is ever signed here. A watermark at or below the recorded one
   * writes nothing. One that is higher in height but lower in round than the recorded one is
   * CONFLICT (rounds are global).
   * @returns the watermark in force afterwards.
   * @throws INVALID_ARGUMENT, CONFLICT, CLOSED, log write errors.
   */
  importWatermark(watermark: SignWatermark): Promise<SignWatermark> {
    return this.queue.run(async () => {
      const identity = this.requireIdentity();
      const { height, round, step } = checkWatermark('watermark', watermark);
      assertOpen(this.ctx);
      const current = this.states.get(identity.keyHex);
      const wanted = { height, round, step: stepCode(step) };
      if (current !== undefined) {
        if (compareHrs(wanted, current) <= 0 && this.repairBarrier === undefined) return this.watermark() as SignWatermark;
        if (round < current.round) throw refuse('imported watermark goes back in round', { height, round });
      }
      const payload = encodeSignGuardImport({ publicKey: identity.publicKey, height, round, step });
      const [lsn] = await this.ctx.log.append([{ kind: RecordKind.SignGuardImport, payload }]);
      this.apply({ lsn: lsn as NonNullable<typeof lsn>, kind: RecordKind.SignGuardImport, payload });
      await this.syncCopy(identity);
      return this.watermark() as SignWatermark;
    });
  }

  /**
   * The fresh-directory guard, run by openStore after replay: with `existing-key`, a log that
   * holds no watermark for the node's key is refused unless `allowFresh`.
   * @throws FRESH_SIGN_STATE.
   */
  checkSignState(signState: SignState, allowFresh: boolean): void {
    if (this.identity === undefined || signState === 'new-key' || allowFresh) return;
    if (this.states.has(this.identity.keyHex)) return;
    processMetrics.openRefusals.inc('fresh_state');
    throw new ConsensusStoreError(
      'FRESH_SIGN_STATE',
      'this data directory has no sign watermark for a key that may have signed before: pass signer.state "new-key" if it never signed, signer.importWatermark to carry its watermark over, or signer.allowFreshState to accept the risk',
      { details: { publicKey: this.identity.keyHex } },
    );
  }

  /**
   * The copy guard, run by openStore after `checkSignState` (and after an `importWatermark`
   * option was recorded): a second copy of the key's watermark above the log's means the log
   * lost its newest sign record (damage, a cut, a restored older log). Never resolved to the
   * lower value: refused until a watermark at least as high as the copy is imported.
   * `signer.allowFreshState` does not lift it.
   * @throws FRESH_SIGN_STATE.
   */
  checkCopy(): void {
    const copied = this.copiedFor(this.identity);
    if (this.identity === undefined || copied === undefined) return;
    const state = this.states.get(this.identity.keyHex);
    if (state !== undefined && compareHrs(copied, state) <= 0) return;
    const copy = { height: copied.height, round: copied.round, step: SIGN_STEPS[copied.step - 1] };
    const log = state === undefined ? null : { height: state.height, round: state.round, step: SIGN_STEPS[state.step - 1] };
    processMetrics.openRefusals.inc('sign_state_copy');
    throw new ConsensusStoreError(
      'FRESH_SIGN_STATE',
      `the sign-state copy (SIGNSTATE) records height ${copy.height}, round ${copy.round}, step ${copy.step}, above the log's ${log === null ? 'none' : `height ${log.height}, round ${log.round}, step ${log.step}`}: the log lost its newest sign record; pass signer.importWatermark with at least the copy's watermark (or the last one this key signed anywhere, if higher)`,
      { details: { publicKey: this.identity.keyHex, copy, log } },
    );
  }

  /**
   * The barrier record for the log's repair `repairId` (D8 after an explicit repair), for
   * openStore to write in one batch with the repair's audit entry, then `apply`. Until a
   * watermark is imported after it, `checkRepairBarrier` refuses an open with an identity. A
   * barrier without a lost LSN blocks nothing; it records that the repair was seen.
   */
  repairBarrierRecord(firstLostLsn: number | undefined, repairId: number): RecordInput {
    const lost = firstLostLsn === undefined ? undefined : checkSafeUint('firstLostLsn', firstLostLsn);
    if (!Number.isSafeInteger(repairId) || repairId < 1) throw invalidArgument('repairId', 'must be a positive safe integer');
    return { kind: RecordKind.SignGuardRepairBarrier, payload: encodeRepairBarrier(lost, repairId) };
  }

  /** Whether a barrier for the log's repair `repairId` is in the log (replayed or written). */
  hasRecordedRepair(repairId: number): boolean {
    return this.recordedRepairs.has(repairId);
  }

  /**
   * The repair guard, run by openStore after `checkSignState`: while a repair barrier has no
   * imported watermark after it, an open with an identity is refused unless `allowFresh`.
   * @throws FRESH_SIGN_STATE.
   */
  checkRepairBarrier(allowFresh: boolean): void {
    if (this.identity === undefined || allowFresh || this.repairBarrier === undefined) return;
    processMetrics.openRefusals.inc('repair_barrier');
    throw new ConsensusStoreError(
      'FRESH_SIGN_STATE',
      `an explicit repair dropped every record from LSN ${this.repairBarrier} on, which may include this key's newest signatures: pass signer.importWatermark with the last signed height, round and step (recorded, and asked no more), or signer.allowFreshState to accept the risk for this open`,
      { details: { firstLostLsn: this.repairBarrier } },
    );
  }

  /**
   * The restore fence, run by openStore after an `importWatermark` option was recorded: a
   * directory restored from a snapshot at height H signs nothing until this key's watermark
   * reaches H (its own state is in no snapshot: the key may have signed up to the chain's tip
   * elsewhere). A directory restored from a backup (docs/operations.md, "Backup and restore")
   * signs nothing until a floor fence (the chain's height, given by the operator) or an import
   * of this key's watermark recorded after the restore lifts it; after a floor at H nothing at
   * or below H is signed. `signer.allowFreshState` and `signer.state: "new-key"` lift neither.
   * @throws FRESH_SIGN_STATE.
   */
  checkFence(): void {
    if (this.identity === undefined) return;
    this.checkSnapshotFence(this.identity);
    if (this.backupFence === undefined || this.liftedKeys.has(this.identity.keyHex)) return;
    processMetrics.openRefusals.inc('restore_fence');
    throw new ConsensusStoreError(
      'FRESH_SIGN_STATE',
      `this directory was restored from a backup taken at LSN ${this.backupFence}: its sign state may be older than what this key signed since, so it signs nothing until the operator gives the chain's current height (cstore restore --min-sign-height H, restoreFromBackup's minSignHeight) or imports this key's up-to-date watermark (cstore sign-state import, signer.importWatermark); then nothing at or below it is signed`,
      { details: { backupLsn: this.backupFence, publicKey: this.identity.keyHex } },
    );
  }

  private checkSnapshotFence(identity: NonNullable<LogSignGuard['identity']>): void {
    if (this.fenceHeight === undefined) return;
    const state = this.states.get(identity.keyHex);
    if (state !== undefined && state.height >= this.fenceHeight) return;
    processMetrics.openRefusals.inc('restore_fence');
    throw new ConsensusStoreError(
      'FRESH_SIGN_STATE',
      `this directory was restored from a snapshot at height ${this.fenceHeight} and holds no signature of this key: pass signer.importWatermark with a height at or above ${this.fenceHeight} (the last height this key signed anywhere, if higher); signing below it stays refused`,
      { details: { fenceHeight: this.fenceHeight, publicKey: identity.keyHex } },
    );
  }

  /**
   * The fence record of a restore from a snapshot at `height` (see `checkFence`), for the
   * restore to append, then `apply`.
   * @internal used by restoreFromSnapshot.
   */
  fenceRecord(height: number): RecordInput {
    return { kind: RecordKind.SignGuardFence, payload: encodeSignFence(checkSafeUint('height', height)) };
  }

  /** Folds one durable sign-guard record into the watermarks (replay). Throws CORRUPTION on a bad payload. */
  apply(record: LogRecord): void {
    if (record.kind === RecordKind.SignGuardFence) {
      const fence = decodeSignFence(record);
      if (fence.kind === 'snapshot') this.fenceHeight = this.fenceHeight === undefined ? fence.height : Math.max(this.fenceHeight, fence.height);
      else if (fence.kind === 'backup') {
        this.backupFence = fence.lsn;
        this.liftedKeys.clear();
      } else {
        this.signFloor = this.signFloor === undefined ? fence.height : Math.max(this.signFloor, fence.height);
        this.backupFence = undefined;
      }
      return;
    }
    if (record.kind === RecordKind.SignGuardRepairBarrier) {
      const barrier = decodeRepairBarrier(record);
      if (barrier.repairId !== undefined) this.recordedRepairs.add(barrier.repairId);
      // Several repairs before an import: the earliest loss bounds what may be missing.
      const lost = barrier.firstLostLsn;
      if (lost !== undefined) this.repairBarrier = this.repairBarrier === undefined ? lost : Math.min(this.repairBarrier, lost);
      return;
    }
    const imported = record.kind === RecordKind.SignGuardImport;
    const r = decodeSignGuardRecord(record, imported);
    if (imported) this.repairBarrier = undefined;
    const key = toHex(r.publicKey);
    if (imported && this.backupFence !== undefined) this.liftedKeys.add(key);
    const next: KeyState = { height: r.height, round: r.round, step: stepCode(r.step), signBytes: r.signBytes, signature: r.signature };
    const current = this.states.get(key);
    const order = current === undefined ? 1 : compareHrs(next, current);
    // An import equal to a signed entry keeps the entry, so an identical request still gets its signature back.
    if (order > 0 || (order === 0 && !imported)) this.states.set(key, next);
  }

  /**
   * Captures the watermarks, the repair barrier and the recorded repairs (module comment). Key
   * states are replaced, never changed, so copying the map's entries is enough.
   */
  captureImage(): (w: ImageWriter) => void {
    const barrier = this.repairBarrier;
    const repairs = [...this.recordedRepairs];
    const states = [...this.states];
    const fence = this.fenceHeight;
    const backupFence = this.backupFence;
    const lifted = [...this.liftedKeys];
    const floor = this.signFloor;
    return (w) => {
      writeSectionVersion(w);
      w.flag(barrier !== undefined);
      if (barrier !== undefined) w.i64(barrier);
      w.u32(repairs.length);
      for (const id of repairs) w.i64(id);
      w.u32(states.length);
      for (const [key, s] of states) {
        w.text(key).i64(s.height).i64(s.round).u8(s.step);
        w.flag(s.signBytes !== null);
        if (s.signBytes !== null) w.bytes(s.signBytes);
        w.flag(s.signature !== null);
        if (s.signature !== null) w.bytes(s.signature);
      }
      w.flag(fence !== undefined);
      if (fence !== undefined) w.i64(fence);
      w.flag(backupFence !== undefined);
      if (backupFence !== undefined) w.i64(backupFence);
      w.u32(lifted.length);
      for (const key of lifted) w.text(key);
      w.flag(floor !== undefined);
      if (floor !== undefined) w.i64(floor);
    };
  }

  /** Loads the section into this fresh guard. @throws Error on malformed bytes. */
  loadImage(r: ImageReader): void {
    readSectionVersion(r, 'sign guard');
    const barrier = r.flag() ? readUint(r, 'repair barrier') : undefined;
    const repairs = new Set<number>();
    const repairCount = readCount(r, 8, 'recorded repairs');
    for (let i = 0; i < repairCount; i++) {
      const id = readUint(r, 'repair id');
      if (id < 1) throw new Error(`sign guard image: repair id ${id} is not positive`);
      repairs.add(id);
    }
    const states = new Map<string, KeyState>();
    const stateCount = readCount(r, 4 + 64 + 8 + 8 + 1 + 2, 'watermarks');
    for (let i = 0; i < stateCount; i++) {
      const key = r.text(64);
      if (!/^[0-9a-f]{64}$/.test(key) || states.has(key)) throw new Error(`sign guard image: key ${i} is malformed or repeated`);
      const height = readUint(r, 'watermark height');
      const round = readUint(r, 'watermark round');
      const step = r.u8();
      if (round > 0xffff_ffff || step < 1 || step > SIGN_STEPS.length) throw new Error(`sign guard image: watermark ${i} has a bad round or step`);
      const signBytes = r.flag() ? r.bytes(1 << 20) : null;
      const signature = r.flag() ? r.bytes(64) : null;
      states.set(key, { height, round, step, signBytes, signature });
    }
    const fence = r.flag() ? readUint(r, 'restore fence') : undefined;
    // The backup fence's part came later: an image written before it ends here.
    const backupFence = r.remaining > 0 && r.flag() ? readUint(r, 'backup fence') : undefined;
    const lifted = r.remaining > 0 ? readCount(r, 4 + 64, 'lifted keys') : 0;
    for (let i = 0; i < lifted; i++) {
      const key = r.text(64);
      if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`sign guard image: lifted key ${i} is malformed`);
      this.liftedKeys.add(key);
    }
    const floor = r.remaining > 0 && r.flag() ? readUint(r, 'sign floor') : undefined;
    r.end();
    this.fenceHeight = fence;
    this.backupFence = backupFence;
    this.signFloor = floor;
    this.repairBarrier = barrier;
    for (const id of repairs) this.recordedRepairs.add(id);
    for (const [key, state] of states) this.states.set(key, state);
  }

  private requireIdentity(): NonNullable<LogSignGuard['identity']> {
    if (this.identity === undefined) throw invalidArgument('identity', 'is required to sign (openStore was given none)');
    return this.identity;
  }

  /** The common sign path: check the watermark, reuse or sign, persist, release. */
  private serialized<T>(prepare: () => { hrs: { height: number; round: number; step: SignStep }; id: string; bytes: Uint8Array; value: T }): Promise<{
    value: T;
    signature: Uint8Array;
    timestamp: number;
  }> {
    return this.queue.run(() =>
      this.signOnce(prepare).then(
        (out) => {
          this.metrics.signedNow(out.repeat, this.ctx.now());
          return out;
        },
        (err: unknown) => {
          this.metrics.failedWith(err);
          throw err;
        },
      ),
    );
  }

  /** One sign request, in the queue: `repeat` when the stored signature is returned. */
  private async signOnce<T>(prepare: () => { hrs: { height: number; round: number; step: SignStep }; id: string; bytes: Uint8Array; value: T }): Promise<{
    value: T;
    signature: Uint8Array;
    timestamp: number;
    repeat: boolean;
  }> {
    assertOpen(this.ctx);
    const identity = this.requireIdentity();
    const { hrs, id, bytes, value } = prepare();
    if (id !== identity.validatorId) throw invalidArgument('validatorId', `must be the node's own (${identity.validatorId})`);
    const requested = { height: hrs.height, round: hrs.round, step: stepCode(hrs.step) };
    if (this.signFloor !== undefined && requested.height <= this.signFloor) {
      throw refuse('at or below the restore fence', { requested, floor: this.signFloor });
    }
    const state = this.states.get(identity.keyHex);
    if (state !== undefined && this.checkHrs(state, requested) === 'same') {
      const reused = this.reuse(state, bytes, requested);
      // A save cut short by an error before the first release: done now, before this one.
      await this.syncCopy(identity);
      return { value, ...reused, repeat: true };
    }
    const signature = signBytes(bytes, identity.privateKey);
    const payload = encodeSignGuardEntry({ publicKey: identity.publicKey, ...hrs, signBytes: bytes, signature });
    const [lsn] = await this.ctx.log.append([{ kind: RecordKind.SignGuardEntry, payload }]);
    this.apply({ lsn: lsn as NonNullable<typeof lsn>, kind: RecordKind.SignGuardEntry, payload });
    await this.syncCopy(identity);
    return { value, signature, timestamp: timestampOfSignBytes(bytes), repeat: false };
  }

  /** The copy's watermark when it belongs to `identity`'s key. */
  private copiedFor(identity: LogSignGuard['identity']): { height: number; round: number; step: number } | undefined {
    const copied = this.copy?.current;
    if (identity === undefined || copied === undefined || !equalBytes(copied.publicKey, identity.publicKey)) return undefined;
    return copied;
  }

  /** Brings the second copy up to the key's watermark (durably) when it is behind. */
  private async syncCopy(identity: NonNullable<LogSignGuard['identity']>): Promise<void> {
    const state = this.states.get(identity.keyHex);
    if (this.copy === undefined || state === undefined) return;
    const copied = this.copiedFor(identity);
    if (copied !== undefined && compareHrs(copied, state) >= 0) return;
    await this.copy.save({ height: state.height, round: state.round, step: state.step, publicKey: identity.publicKey });
  }

  /** CometBFT's CheckHRS, with rounds global: a lower round is a regression at any height. */
  private checkHrs(s: KeyState, r: { height: number; round: number; step: number }): HrsCheck {
    const details = { requested: r, watermark: { height: s.height, round: s.round, step: s.step } };
    if (r.height < s.height) throw refuse('height regression', details);
    if (r.round < s.round) throw refuse('round regression', details);
    if (r.height > s.height || r.round > s.round) return 'advance';
    if (r.step < s.step) throw refuse('step regression', details);
    return r.step > s.step ? 'advance' : 'same';
  }

  /** Same (height, round, step): the stored signature for the same request, else refuse. */
  private reuse(s: KeyState, bytes: Uint8Array, requested: object): { signature: Uint8Array; timestamp: number } {
    if (s.signBytes === null) throw refuse('watermark has no sign bytes for this height, round and step (imported)', { requested });
    if (s.signature === null) {
      throw new ConsensusStoreError('CORRUPTION', 'sign guard entry has sign bytes but no signature', { details: { requested } });
    }
    if (equalBytes(bytes, s.signBytes) || differOnlyInTimestamp(bytes, s.signBytes)) {
      return { signature: s.signature.slice(), timestamp: timestampOfSignBytes(s.signBytes) };
    }
    throw refuse('conflicting data for an already signed height, round and step', { requested });
  }
}
