/**
 * The model of what the workload asked for and what the store acknowledged. Every write is
 * recorded when issued (`pending`) and moves to `acked` when its promise resolves, `refused`
 * when it rejects without having written anything (CONFLICT, DISK_FULL, INVALID_ARGUMENT,
 * CLOSED), or `maybe` when its fate is unknown (pending at a power cut, or IO_FAILED: the write
 * may have reached the disk). After a reopen, acknowledged writes must be there exactly, and
 * anything else visible must be a `pending`/`maybe` write, whole.
 *
 * It must never treat a write as acknowledged before its promise resolved.
 */
import { isStoreError } from '../../src/errors.ts';
import type { RoundState } from '../../src/model/round.ts';
import type { SignStep } from '../../src/model/sign.ts';
import type { UnsignedVote, ValidatorVote } from '../../src/model/vote.ts';
import { hex } from '../keys.ts';

/** Where a write stands. */
export type WriteState = 'pending' | 'acked' | 'maybe' | 'refused';

/** One issued write and its fate. */
export interface Tracked {
  state: WriteState;
  /** The LSN the store acknowledged it with. */
  lsn?: number;
  /** Rejected with an I/O error before any power cut: the live store must not show it (D4). */
  failedLive?: boolean;
}

/** A vote the workload appended. */
export interface VoteWrite extends Tracked {
  readonly vote: ValidatorVote;
}

/** A round-state checkpoint the workload saved (`seq` orders them: the store serializes saves). */
export interface RoundWrite extends Tracked {
  readonly state_: RoundState;
  readonly seq: number;
}

/** A validator change. */
export interface ValidatorWrite extends Tracked {
  readonly id: string;
  readonly kind: 'register' | 'stake';
  readonly height: number;
  readonly stake: bigint;
}

/** An audit event (`RoundStarted` of one height and round). */
export interface AuditWrite extends Tracked {
  readonly height: number;
  readonly round: number;
}

/** A reward distribution (one per height). */
export interface RewardWrite extends Tracked {
  readonly height: number;
  readonly total: bigint;
}

/** A raw multi-record batch of an unowned kind, to check whole-call atomicity (D3) at the log. */
export interface ProbeWrite extends Tracked {
  readonly batchId: number;
  readonly count: number;
}

/** A local image requested with `takeImage` (acked: written, at `lsn`; refused: nothing new to image). */
export type ImageWrite = Tracked;

/** A portable snapshot `createSnapshot` acknowledged. */
export interface SnapshotWrite {
  readonly height: number;
  /** Its Merkle root, hex. */
  readonly root: string;
  /** A prune (explicit or automatic) may have removed it since. */
  mayGo: boolean;
}

/** A signature the sign guard released (a resolved `signVote`). */
export interface Release {
  readonly request: UnsignedVote;
  readonly signature: string;
}

/** Kind of the raw probe records (no store owns it: replay counts it as unknown). */
export const PROBE_KIND = 150;

/** Identity of a vote's content: one record per distinct content. */
export function voteKey(v: { validatorId: string; round: number; voteType: string; height: number; blockHash: Uint8Array | null }): string {
  return `${v.validatorId}|${v.round}|${v.voteType}|${v.height}|${v.blockHash === null ? 'nil' : hex(v.blockHash)}`;
}

/** Identity of a sign-guard slot. */
export function hrsKey(height: number, round: number, step: SignStep): string {
  return `${height}/${round}/${step}`;
}

/** True when a rejection proves nothing was written. */
export function provesNothingWritten(err: unknown): boolean {
  return (
    isStoreError(err, 'CONFLICT') ||
    isStoreError(err, 'DISK_FULL') ||
    isStoreError(err, 'INVALID_ARGUMENT') ||
    isStoreError(err, 'CLOSED') ||
    isStoreError(err, 'NOT_FOUND')
  );
}

/** Everything issued during a simulated run, across crashes. */
export class AckModel {
  readonly votes = new Map<string, VoteWrite>();
  readonly rounds: RoundWrite[] = [];
  readonly validators: ValidatorWrite[] = [];
  readonly probes = new Map<number, ProbeWrite>();
  readonly audits: AuditWrite[] = [];
  readonly rewards: RewardWrite[] = [];
  /** Every signature released per (height, round, step), as hex: more than one is a D8 violation. */
  readonly released = new Map<string, Set<string>>();
  /** The released signature of the highest (height, round, step), with the request. */
  lastRelease: (Release & { readonly order: number[] }) | undefined;
  /** Finalization marks acknowledged: the highest height. */
  lastFinalizedHeight = -1;
  /** Validator ids that ever voted (what the checker enumerates). */
  readonly voters = new Set<string>();
  /** Local images requested. */
  readonly images: ImageWrite[] = [];
  /** Portable snapshots acknowledged, by id. */
  readonly snapshots = new Map<string, SnapshotWrite>();
  /** Counters of calls that were refused / failed, for the summary. */
  refusals = 0;
  #nextSeq = 0;
  #nextProbe = 1;

  /** Tracks `promise` as the fate of `w`. */
  track<T>(w: Tracked, promise: Promise<T>, lsnOf: (value: T) => number | undefined): Promise<T> {
    return promise.then(
      (value) => {
        if (w.state === 'pending' || w.state === 'maybe' || w.state === 'refused') {
          w.state = 'acked';
          const lsn = lsnOf(value);
          if (lsn !== undefined) w.lsn = lsn;
        }
        return value;
      },
      (err: unknown) => {
        if (w.state === 'pending') {
          w.state = provesNothingWritten(err) ? 'refused' : 'maybe';
          if (w.state === 'maybe') w.failedLive = true;
        }
        if (w.state === 'refused') this.refusals++;
        throw err;
      },
    );
  }

  /** Records an appended vote (a resend of the same content shares the entry). */
  vote(vote: ValidatorVote): VoteWrite {
    const key = voteKey(vote);
    this.voters.add(vote.validatorId);
    let w = this.votes.get(key);
    if (w === undefined) {
      w = { vote, state: 'pending' };
      this.votes.set(key, w);
    } else if (w.state === 'refused') {
      w.state = 'pending';
    }
    return w;
  }

  /** Records a round-state save. */
  round(state: RoundState): RoundWrite {
    const w: RoundWrite = { state_: state, seq: this.#nextSeq++, state: 'pending' };
    this.rounds.push(w);
    return w;
  }

  /** Records a requested image. */
  image(): ImageWrite {
    const w: ImageWrite = { state: 'pending' };
    this.images.push(w);
    return w;
  }

  /** The LSN of the newest image acknowledged (written and renamed), if any. */
  newestImage(): number | undefined {
    let newest: number | undefined;
    for (const w of this.images) if (w.state === 'acked' && w.lsn !== undefined && (newest === undefined || w.lsn > newest)) newest = w.lsn;
    return newest;
  }

  /** Records a validator change. */
  validator(id: string, kind: 'register' | 'stake', height: number, stake: bigint): ValidatorWrite {
    const w: ValidatorWrite = { id, kind, height, stake, state: 'pending' };
    this.validators.push(w);
    return w;
  }

  /** Records a probe batch of `count` records; returns it with its id. */
  probe(count: number): ProbeWrite {
    const w: ProbeWrite = { batchId: this.#nextProbe++, count, state: 'pending' };
    this.probes.set(w.batchId, w);
    return w;
  }

  /** Records a released signature. Returns a violation message when the slot already released another. */
  release(request: UnsignedVote, signature: Uint8Array, order: number[]): string | undefined {
    const key = hrsKey(request.height, request.round, request.voteType);
    const sig = hex(signature);
    let set = this.released.get(key);
    if (set === undefined) {
      set = new Set();
      this.released.set(key, set);
    }
    set.add(sig);
    const last = this.lastRelease;
    if (last === undefined || compareOrder(order, last.order) >= 0) this.lastRelease = { request, signature: sig, order };
    return set.size > 1 ? `sign guard released ${set.size} different signatures for (height, round, step) ${key}` : undefined;
  }

  /** A power cut: every write still pending may or may not have reached the disk. */
  powerCut(): void {
    for (const list of [this.votes.values(), this.rounds, this.validators, this.probes.values(), this.audits, this.rewards]) {
      for (const w of list) w.failedLive = false;
    }
    for (const w of this.votes.values()) if (w.state === 'pending') w.state = 'maybe';
    for (const w of this.rounds) if (w.state === 'pending') w.state = 'maybe';
    for (const w of this.validators) if (w.state === 'pending') w.state = 'maybe';
    for (const w of this.probes.values()) if (w.state === 'pending') w.state = 'maybe';
    for (const w of this.audits) if (w.state === 'pending') w.state = 'maybe';
    for (const w of this.rewards) if (w.state === 'pending') w.state = 'maybe';
  }

  /** Number of acknowledged writes (what a check verifies). */
  ackedCount(): number {
    let n = 0;
    for (const w of this.votes.values()) if (w.state === 'acked') n++;
    for (const w of this.rounds) if (w.state === 'acked') n++;
    for (const w of this.validators) if (w.state === 'acked') n++;
    for (const w of this.probes.values()) if (w.state === 'acked') n++;
    for (const w of this.audits) if (w.state === 'acked') n++;
    for (const w of this.rewards) if (w.state === 'acked') n++;
    for (const s of this.released.values()) n += s.size;
    return n;
  }
}

/** Lexicographic comparison of number tuples. */
export function compareOrder(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
