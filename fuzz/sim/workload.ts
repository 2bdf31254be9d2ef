/**
 * The seeded validator workload: what a node does at each height (checkpoints its round state,
 * signs its own prevote and precommit through the sign guard, stores every validator's votes,
 * some equivocating, some resent, registers validators and changes stakes, finalizes), issued
 * as waves of concurrent calls so that group commit forms real batches. Every write goes
 * through the `AckModel`; live queries check that acknowledged writes are readable at once (D4).
 *
 * It must never read a clock or `Math.random` (a run is a pure function of its seed), and never
 * await between the calls of one wave (they must be in flight together).
 */
import { signVote } from '../../src/codec/vote-sign.ts';
import type { Prng } from '../../src/io/prng.ts';
import type { ConsensusStore } from '../../src/store.ts';
import type { ConsensusPhase, RoundState } from '../../src/model/round.ts';
import type { UnsignedVote, ValidatorVote, VoteType } from '../../src/model/vote.ts';
import { blockHashOf, fakeSignature, FUZZ_CHAIN_ID, hex, keyOf, OWN_ID, validatorName } from '../keys.ts';
import { AckModel, PROBE_KIND, voteKey } from './model.ts';
import { takeImage, writableLogOf } from '../../src/store.ts';
import { isStoreError } from '../../src/errors.ts';

/** The image and snapshot parts of a workload (see `RunFeatures` in harness.ts). */
export interface WorkloadExtras {
  readonly images: boolean;
  readonly snapshots: boolean;
  readonly snapshotInterval: number;
  /** Bounded history on: `store.compact()` is issued in some waves, with the writes in flight. */
  readonly retention?: { readonly hotHeights: number; readonly compactEvery: number } | undefined;
  /** Draws for these parts (apart from the workload's own Prng). */
  readonly prng: Prng;
  /** Power cuts so far (an image or snapshot call that fails after one is expected to). */
  readonly crashes: () => number;
  /** Counts an event in the tally. */
  readonly tally: (kind: string) => void;
}

/** Share of the waves of a retention run that call `store.compact()`. */
export const COMPACT_SHARE = 0.35;

/** A deterministic clock: every read is one millisecond later. */
export class FakeClock {
  t = 1_700_000_000_000;
  readonly now = (): number => ++this.t;
}

/** Tuning of one run's workload, drawn from its seed. */
export interface WorkloadShape {
  readonly validators: number;
  readonly equivocationRate: number;
  readonly resendRate: number;
  readonly heightsPerWave: number;
}

/** Draws a workload shape. */
export function drawShape(prng: Prng): WorkloadShape {
  return {
    validators: prng.int(3, 9),
    equivocationRate: prng.pick([0, 0.01, 0.04]),
    resendRate: prng.pick([0, 0.05, 0.15]),
    heightsPerWave: prng.int(1, 2),
  };
}

const STEPS: readonly VoteType[] = ['prevote', 'precommit'];

/** Drives one store; survives reopen (call `attach` with the new store). */
export class Workload {
  readonly model = new AckModel();
  readonly clock = new FakeClock();
  readonly #prng: Prng;
  readonly #shape: WorkloadShape;
  #store: ConsensusStore | undefined;
  #height = 0;
  #round = 0;
  #stakeTick = 0n;
  /** Problems seen by live checks (reported by the run). */
  readonly problems: string[] = [];
  readonly #x: WorkloadExtras | undefined;
  /** Injected faults (EIO, ENOSPC) may fail an image or snapshot without a power cut. */
  lenient = false;

  constructor(prng: Prng, shape: WorkloadShape, extras?: WorkloadExtras) {
    this.#prng = prng;
    this.#shape = shape;
    this.#x = extras;
  }

  /** The store the next waves drive. */
  attach(store: ConsensusStore): void {
    this.#store = store;
  }

  /** The height the workload reached. */
  get height(): number {
    return this.#height;
  }

  /**
   * Issues one wave: `heightsPerWave` heights of calls, all in flight together. Returns the
   * promises (settled with errors swallowed) so that the caller decides when to await them.
   */
  wave(): Promise<unknown>[] {
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < this.#shape.heightsPerWave; i++) this.#height_(calls);
    const x = this.#x;
    // Images and snapshots start in the middle of the wave, with its writes in flight.
    if (x?.images === true && x.prng.bool(0.4)) calls.splice(x.prng.int(0, calls.length), 0, this.#image());
    if (x?.snapshots === true && x.prng.bool(0.3)) calls.splice(x.prng.int(0, calls.length), 0, this.#snapshot());
    if (x?.snapshots === true && x.prng.bool(0.1)) calls.splice(x.prng.int(0, calls.length), 0, this.#prune(x.prng.int(1, 2)));
    // Compactions too (besides the background ones finalization starts every `compactEvery` heights).
    if (x?.retention !== undefined && x.prng.bool(COMPACT_SHARE)) calls.splice(x.prng.int(0, calls.length), 0, this.#compact());
    return calls.map((p) => p.catch(() => undefined));
  }

  /** Registers validators the store does not know yet (after a cut that lost registrations). */
  async registerMissing(): Promise<void> {
    const store = this.#requireStore();
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < this.#shape.validators; i++) {
      const id = validatorName(i);
      if ((await store.validators.getValidator(id)) !== undefined) continue;
      const w = this.model.validator(id, 'register', this.#height, 1000n);
      calls.push(this.model.track(w, store.validators.registerValidator({ validatorId: id, publicKey: keyOf(id).publicKey, stake: 1000n }, this.#height), (c) => c.id).catch(() => undefined));
    }
    await Promise.all(calls);
  }

  #requireStore(): ConsensusStore {
    if (this.#store === undefined) throw new Error('workload has no store attached');
    return this.#store;
  }

  /** One height: checkpoints, own votes, everyone's votes, extras. */
  #height_(calls: Promise<unknown>[]): void {
    const store = this.#requireStore();
    const prng = this.#prng;
    this.#height += 1;
    this.#round += prng.bool(0.2) ? 2 : 1;
    const h = this.#height;
    const r = this.#round;
    const startedAt = this.clock.now();
    const save = (phase: ConsensusPhase): void => {
      const state: RoundState = { height: h, round: r, phase, startedAt, updatedAt: this.clock.now(), proposer: OWN_ID };
      const w = this.model.round(state);
      calls.push(this.model.track(w, store.rounds.saveRoundState(state), (s) => s.id));
    };
    save('propose');
    for (const step of STEPS) {
      calls.push(this.#ownVote(h, r, step));
      for (let i = 0; i < this.#shape.validators; i++) calls.push(...this.#othersVote(validatorName(i), h, r, step));
      save(step);
    }
    save('finalize');
    calls.push(store.votes.markFinalized(h, r).then((m) => {
      this.model.lastFinalizedHeight = Math.max(this.model.lastFinalizedHeight, m.height);
    }));
    // A raw batch takes the writable log, which turns images off for the open.
    if (prng.bool(0.35) && this.#x?.images !== true) calls.push(this.#probe());
    if (prng.bool(0.15)) calls.push(this.#stakeChange(h));
    if (prng.bool(0.25)) calls.push(this.#liveRead());
    if (prng.bool(0.15)) calls.push(this.#audit(h, r));
    if (prng.bool(0.3)) calls.push(this.#reward(h));
  }

  /** The node's own vote: signed through the guard (a release), then stored. */
  #ownVote(h: number, r: number, step: VoteType): Promise<unknown> {
    const store = this.#requireStore();
    const request: UnsignedVote = { validatorId: OWN_ID, height: h, round: r, voteType: step, blockHash: blockHashOf(h, 0), timestamp: this.clock.now() };
    return store.signGuard.signVote(request).then((signed) => {
      const problem = this.model.release(request, signed.signature, [h, r, step === 'prevote' ? 2 : 3]);
      if (problem !== undefined) this.problems.push(problem);
      const w = this.model.vote(signed);
      return this.model.track(w, store.votes.appendVote(signed), (e) => e.id);
    });
  }

  /** Another validator's vote, sometimes with an equivocating twin or a resend. */
  #othersVote(id: string, h: number, r: number, step: VoteType): Promise<unknown>[] {
    this.#requireStore();
    const prng = this.#prng;
    const equivocate = prng.bool(this.#shape.equivocationRate);
    const make = (variant: number): ValidatorVote => {
      const unsigned: UnsignedVote = { validatorId: id, height: h, round: r, voteType: step, blockHash: prng.bool(0.05) && variant === 0 ? null : blockHashOf(h, variant), timestamp: this.clock.now() };
      // Only votes that may become evidence need real signatures (ed25519 costs ~1 ms).
      // Snapshots carry precommits as decision certificates, which a restore verifies.
      const real = equivocate || (this.#x?.snapshots === true && step === 'precommit');
      return real ? signVote(unsigned, keyOf(id).privateKey, FUZZ_CHAIN_ID) : { ...unsigned, signature: fakeSignature(h * 7 + r + variant) };
    };
    const out: Promise<unknown>[] = [];
    const first = make(0);
    out.push(this.#append(first));
    if (equivocate) out.push(this.#append(make(1)));
    if (prng.bool(this.#shape.resendRate)) out.push(this.#append(first));
    return out;
  }

  #append(vote: ValidatorVote): Promise<unknown> {
    const w = this.model.vote(vote);
    return this.model.track(w, this.#requireStore().votes.appendVote(vote), (e) => e.id);
  }

  /** A raw batch of 2..5 records of an unowned kind: after any cut, all of it or none (D3). */
  #probe(): Promise<unknown> {
    const count = this.#prng.int(2, 5);
    const w = this.model.probe(count);
    const records = [];
    for (let i = 0; i < count; i++) {
      const payload = new Uint8Array(8 + this.#prng.int(0, 200));
      const view = new DataView(payload.buffer);
      view.setUint32(0, w.batchId);
      view.setUint16(4, i);
      view.setUint16(6, count);
      records.push({ kind: PROBE_KIND, payload });
    }
    return this.model.track(w, writableLogOf(this.#requireStore()).append(records), (lsns) => lsns[0]);
  }

  #stakeChange(h: number): Promise<unknown> {
    const id = validatorName(this.#prng.int(0, this.#shape.validators - 1));
    this.#stakeTick += 1n;
    const stake = 1000n + this.#stakeTick;
    const w = this.model.validator(id, 'stake', h, stake);
    return this.model.track(w, this.#requireStore().validators.updateStake(id, stake, h, 'fuzz'), (c) => c.id);
  }

  #audit(h: number, r: number): Promise<unknown> {
    const w = { height: h, round: r, state: 'pending' as const };
    const tracked: import('./model.ts').AuditWrite = { ...w };
    this.model.audits.push(tracked);
    return this.model.track(tracked, this.#requireStore().audit.logEvent({ type: 'RoundStarted', height: h, round: r, proposer: OWN_ID }), (e) => e.id);
  }

  #reward(h: number): Promise<unknown> {
    const a = BigInt(this.#prng.int(0, 1000));
    const b = BigInt(this.#prng.int(0, 1000));
    const before = 10n ** 12n;
    const w: import('./model.ts').RewardWrite = { height: h, total: a + b, state: 'pending' };
    this.model.rewards.push(w);
    const lines = [
      { validatorId: OWN_ID, reason: 'BlockProposal' as const, amount: a },
      { validatorId: validatorName(0), reason: 'SuccessfulVote' as const, amount: b },
    ];
    return this.model.track(w, this.#requireStore().rewards.recordDistribution({ height: h, timestamp: this.clock.now(), treasuryBefore: before, treasuryAfter: before - a - b, totalDistributed: a + b, lines }), (d) => d.id);
  }

  /** A failure of an image or snapshot call: expected after a cut or an injected fault, else a problem. */
  #failed(what: string, err: unknown, crashesBefore: number, store: ConsensusStore): void {
    const x = this.#x!;
    if (x.crashes() !== crashesBefore || store.status !== 'open' || this.lenient || isStoreError(err, 'CLOSED')) {
      x.tally(`${what}:failed-after-cut-or-fault`);
      return;
    }
    this.problems.push(`${what} failed without a power cut or fault: ${isStoreError(err) ? `${err.code}: ${err.message}` : String(err)}`);
  }

  /**
   * `store.compact()` now, with the wave's writes in flight (docs/architecture.md, "The path of
   * a compaction"): it must not fail on a healthy disk; what it moved and released is tallied.
   */
  #compact(): Promise<unknown> {
    const store = this.#requireStore();
    const x = this.#x!;
    const crashes = x.crashes();
    return store.compact().then(
      (report) => {
        x.tally(report.to.height > report.from.height ? 'compact:moved' : 'compact:nothing-new');
        if (report.segmentsReleased > 0) x.tally('compact:released-segments');
      },
      (err: unknown) => this.#failed('compact', err, crashes, store),
    );
  }

  /** A local image taken now, with the wave's writes in flight (not paced). */
  #image(): Promise<unknown> {
    const store = this.#requireStore();
    const x = this.#x!;
    const crashes = x.crashes();
    const w = this.model.image();
    return takeImage(store, false).then(
      (img) => {
        if (img === undefined) {
          w.state = 'refused';
          x.tally('image:nothing-new');
        } else {
          w.state = 'acked';
          w.lsn = img.lsn;
          x.tally('image:taken');
        }
      },
      (err: unknown) => {
        w.state = 'maybe';
        this.#failed('image', err, crashes, store);
      },
    );
  }

  /** A portable snapshot of the last finalized height, with the wave's writes in flight. */
  #snapshot(): Promise<unknown> {
    const store = this.#requireStore();
    const x = this.#x!;
    const crashes = x.crashes();
    return store.snapshots.createSnapshot().then(
      (meta) => {
        // Automatic snapshots prune in the background: then any snapshot may go.
        this.model.snapshots.set(meta.id, { height: meta.height, root: hex(meta.merkleRoot), mayGo: x.snapshotInterval > 0 });
        x.tally('snapshot:created');
      },
      (err: unknown) => {
        // Nothing finalized yet, or the finalized height's precommits not all stored yet.
        if (isStoreError(err, 'NOT_FOUND') || isStoreError(err, 'CONFLICT')) x.tally('snapshot:refused');
        else this.#failed('snapshot', err, crashes, store);
      },
    );
  }

  /** Prunes snapshots to `keep`: every one there now may go. */
  #prune(keep: number): Promise<unknown> {
    const store = this.#requireStore();
    const x = this.#x!;
    const crashes = x.crashes();
    for (const s of this.model.snapshots.values()) s.mayGo = true;
    return store.snapshots.pruneSnapshots(keep).then(
      (n) => x.tally(n > 0 ? 'snapshot:pruned' : 'snapshot:prune-nothing'),
      (err: unknown) => this.#failed('prune', err, crashes, store),
    );
  }

  /**
   * Snapshots after a reopen: every acknowledged one not pruned since is listed with its root;
   * every listed one verifies whole (a cut never leaves a torn snapshot); a damaged one
   * (`damaged`, by id) fails its integrity check and its load with CORRUPTION.
   */
  async checkSnapshots(store: ConsensusStore, problems: string[], damaged?: string): Promise<void> {
    const listed = await store.snapshots.listSnapshots();
    const ids = new Set(listed.map((m) => m.id));
    for (const [id, s] of this.model.snapshots) {
      if (s.mayGo || id === damaged) continue;
      if (!ids.has(id)) problems.push(`snapshot ${id} (height ${s.height}) was acknowledged and never pruned, but is not listed`);
    }
    for (const m of listed) {
      const s = this.model.snapshots.get(m.id);
      if (s !== undefined && hex(m.merkleRoot) !== s.root) problems.push(`snapshot ${m.id}: root ${hex(m.merkleRoot)} listed, ${s.root} acknowledged`);
      if (m.id === damaged) continue;
      if (!(await store.snapshots.verifySnapshotIntegrity(m.id))) problems.push(`snapshot ${m.id} is listed but fails verifySnapshotIntegrity (no damage done to it)`);
    }
    if (damaged !== undefined) {
      let whole: boolean | string;
      try {
        whole = await store.snapshots.verifySnapshotIntegrity(damaged);
      } catch (err) {
        whole = isStoreError(err) ? err.code : String(err);
      }
      if (whole !== false) problems.push(`damaged snapshot ${damaged}: verifySnapshotIntegrity answered ${String(whole)}, not false`);
      try {
        await store.snapshots.loadFromSnapshot(damaged);
        problems.push(`damaged snapshot ${damaged}: loadFromSnapshot returned its content`);
      } catch (err) {
        if (!isStoreError(err, 'CORRUPTION')) problems.push(`damaged snapshot ${damaged}: loadFromSnapshot failed with ${isStoreError(err) ? err.code : String(err)}, not CORRUPTION`);
      }
      this.#x?.tally('snapshot:damage-detected');
    }
  }

  /** D4 live: every acknowledged vote of a random round is returned by the round query now. */
  async #liveRead(): Promise<void> {
    const store = this.#requireStore();
    const acked = [...this.model.votes.values()].filter((w) => w.state === 'acked');
    if (acked.length === 0) return;
    const round = this.#prng.pick(acked).vote.round;
    let entries;
    try {
      entries = await store.votes.getVotesForRound(round);
    } catch {
      return; // closed by a cut in the meantime
    }
    const seen = new Set(entries.map((e) => voteKey(e.vote)));
    for (const w of this.model.votes.values()) {
      if (w.state === 'acked' && w.vote.round === round && !seen.has(voteKey(w.vote))) {
        this.problems.push(`live read: acknowledged vote ${voteKey(w.vote)} (LSN ${w.lsn}) missing from getVotesForRound(${round})`);
      }
    }
    for (const e of entries) {
      const w = this.model.votes.get(voteKey(e.vote));
      if (w === undefined || w.state === 'refused') this.problems.push(`live read: getVotesForRound(${round}) returned a vote never written: ${voteKey(e.vote)}`);
    }
  }
}
