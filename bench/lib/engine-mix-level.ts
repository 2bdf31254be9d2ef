/**
 * LevelDB holding the engine mix's records (bench/lib/engine-mix.ts), for the storage
 * scenario's comparison: what the store acknowledged is handed here and written, one LevelDB
 * batch per wave of the engine, with the same payload codecs as the store's records and the
 * key layout of the LevelDB peer (bench/lib/peer-stores.ts): a vote under its sequence number
 * and three index keys (round/type/validator, validator/round/type, height); every checkpoint
 * under (height, round, its number), as the store keeps every one; each audit entry under its
 * sequence and, per audit commit batch of the store, one signed head (ed25519, the chain's own
 * key) under its tree size; the sign-guard entries under (height, round, step); finalization
 * marks, reward distributions and validator registrations under their height or id.
 *
 * What it does not do, in LevelDB's favour: no check of anything (consensus-store checks every
 * call), no in-memory index. The bytes counted are the directory's after close.
 *
 * Must never: write a record the store did not acknowledge, or merge two checkpoints into one
 * key (the store keeps each: the bytes would not be the same records).
 */
import { encodeAuditEvent } from '../../src/codec/audit-event.ts';
import { AuditHasher, encodeEntryBody, encodeEntryPayload, encodeHeadPayload } from '../../src/codec/audit-record.ts';
import { generateNodeKey, signEd25519 } from '../../src/codec/node-key.ts';
import { encodeDistributionRecord } from '../../src/codec/reward-record.ts';
import { encodeRoundStateRecord } from '../../src/codec/round-record.ts';
import { encodeSignGuardEntry } from '../../src/codec/sign-guard-record.ts';
import { encodeValidatorRecord } from '../../src/codec/validator-record.ts';
import { encodeFinalizedRecord, encodeVoteRecord } from '../../src/codec/vote-record.ts';
import { voteTypeCode } from '../../src/codec/vote-sign.ts';
import { AUDIT_EVENT_CODES } from '../../src/model/audit.ts';
import type { RewardDistribution } from '../../src/model/reward.ts';
import type { RoundState } from '../../src/model/round.ts';
import type { ValidatorVote, VoteType } from '../../src/model/vote.ts';
import type { LogEntry } from '../../src/stores/audit-types.ts';
import { MIX_STAKE, type MixSink, type MixValidator } from './engine-mix.ts';
import type { LevelDatabase, LevelOp } from './peers.ts';

const enc = new TextEncoder();
const EMPTY = new Uint8Array(0);
const NUL = new Uint8Array([0]);
const STEP_CODES: Readonly<Record<'propose' | VoteType, number>> = { propose: 0, prevote: 1, precommit: 2, commit: 3 };

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

function key(prefix: string, ...parts: Uint8Array[]): Uint8Array {
  const head = enc.encode(prefix);
  let n = head.length;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  out.set(head);
  let at = head.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The engine mix's records in a LevelDB database, written without `sync` (the bytes are the same). */
export class EngineMixLevel implements MixSink {
  readonly #db: LevelDatabase;
  readonly #hasher: AuditHasher;
  readonly #key = generateNodeKey();
  #ops: LevelOp[] = [];
  #voteSeq = 0;
  #checkpointSeq = 0;
  /** Records handed over (for the row's note). */
  records = 0;

  /** @param db an open, empty database with `view` key and value encodings. */
  constructor(db: LevelDatabase, chainId: string) {
    this.#db = db;
    this.#hasher = new AuditHasher(chainId);
  }

  registered(v: MixValidator): void {
    const payload = encodeValidatorRecord({ kind: 'register', id: v.validatorId, publicKey: v.publicKey, stake: MIX_STAKE, status: 'active', height: 0, recordedAt: Date.now() }).payload;
    this.#put(key('V', enc.encode(v.validatorId)), payload);
  }

  vote(vote: ValidatorVote): void {
    const seq = u64be(++this.#voteSeq);
    const id = enc.encode(vote.validatorId);
    const type = new Uint8Array([voteTypeCode(vote.voteType)]);
    this.#put(key('v', seq), encodeVoteRecord(vote, Date.now()));
    this.#ops.push(
      { type: 'put', key: key('r', u32be(vote.round), type, id, NUL, seq), value: EMPTY },
      { type: 'put', key: key('a', id, NUL, u32be(vote.round), type, seq), value: EMPTY },
      { type: 'put', key: key('h', u64be(vote.height), seq), value: EMPTY },
    );
  }

  checkpoint(state: RoundState): void {
    this.#put(key('c', u64be(state.height), u32be(state.round), u32be(++this.#checkpointSeq)), encodeRoundStateRecord(state, Date.now()));
  }

  auditBatch(entries: readonly LogEntry[]): void {
    let last: LogEntry | undefined;
    for (const e of entries) {
      const body = encodeEntryBody({ sequence: e.sequence, prevHash: e.prevHash, eventCode: AUDIT_EVENT_CODES[e.event.type], timestamp: e.timestamp, eventBytes: encodeAuditEvent(e.event) });
      this.#put(key('e', u64be(e.sequence)), encodeEntryPayload(e.hash, body));
      last = e;
    }
    if (last === undefined) return;
    const treeSize = last.sequence + 1;
    const signature = signEd25519(this.#hasher.headSignBytes(treeSize, last.hash, last.hash), this.#key.privateKey);
    this.#put(key('E', u64be(treeSize)), encodeHeadPayload({ treeSize, lastEntryHash: last.hash, root: last.hash, signature }));
  }

  signed(e: { height: number; round: number; step: 'propose' | VoteType; signBytes: Uint8Array; signature: Uint8Array; publicKey: Uint8Array }): void {
    this.#put(key('s', u64be(e.height), u32be(e.round), new Uint8Array([STEP_CODES[e.step]])), encodeSignGuardEntry(e));
  }

  finalized(height: number, round: number): void {
    this.#put(key('f', u64be(height)), encodeFinalizedRecord(height, round, Date.now()));
  }

  reward(d: RewardDistribution & { readonly round: number }): void {
    this.#put(key('w', u64be(d.height)), encodeDistributionRecord(d, Date.now()).payload);
  }

  async flush(): Promise<void> {
    if (this.#ops.length === 0) return;
    const ops = this.#ops;
    this.#ops = [];
    await this.#db.batch(ops, { sync: false });
  }

  #put(k: Uint8Array, value: Uint8Array): void {
    this.#ops.push({ type: 'put', key: k, value });
    this.records++;
  }
}
