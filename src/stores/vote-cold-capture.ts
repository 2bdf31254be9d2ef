/**
 * The vote store's `captureCold` (docs/stores.md, "Bounded history"): which votes and
 * finalization marks held in memory are cold under the next cut and were not under the previous
 * one, fixed synchronously from the columns, and yielded later as ColdRecords in LSN order whose
 * payloads are the bytes `encodeVoteRecord` / `encodeFinalizedRecord` wrote for them (so that
 * `apply` of such a record rebuilds the same vote or mark).
 *
 * It must never: do I/O or change the store, or read a column array after the capture (it keeps
 * the arrays of the moment: the columns are only appended to, and replaced when they grow or are
 * compacted, so the captured ones stay as they were).
 */
import { RecordKind } from '../codec/kinds.ts';
import { encodeFinalizedRecord, encodeVoteRecord } from '../codec/vote-record.ts';
import type { ColdCut, ColdRecord } from '../cold/types.ts';
import { isColdByHeight } from '../cold/types.ts';
import { BLOCK_HASH_BYTES, SIGNATURE_BYTES, VOTE_TYPES } from '../model/vote.ts';
import type { VoteColumns } from '../btree/vote-columns.ts';
import type { Lsn } from '../log/types.ts';
import type { FinalizedMark } from './vote-types.ts';

/** What the store hands the capture: its columns, names, hash pool, slots in LSN order and marks. */
export interface VoteColdSource {
  readonly cols: VoteColumns;
  readonly names: readonly string[];
  readonly hashPool: Uint8Array;
  readonly slotsByLsn: Int32Array;
  readonly marks: Iterable<FinalizedMark>;
}

/** True when a record of `height` at `lsn` is cold under `next` and was not under `previous`. */
function newlyCold(previous: ColdCut, next: ColdCut, lsn: number, height: number): boolean {
  return isColdByHeight(next, lsn, height) && !isColdByHeight(previous, lsn, height);
}

/** See the file comment. Synchronous; the returned function yields the records. */
export function captureVoteColdRecords(src: VoteColdSource, previous: ColdCut, next: ColdCut): () => AsyncIterable<ColdRecord> {
  const { lsn, height, timestamp, recordedAt, round, type, validator, hash, signature } = src.cols;
  const { names, hashPool } = src;
  const slots: number[] = [];
  for (const s of src.slotsByLsn) if (newlyCold(previous, next, lsn[s]!, height[s]!)) slots.push(s);
  const marks = [...src.marks].filter((m) => newlyCold(previous, next, m.id, m.height)).sort((a, b) => a.id - b.id);
  const voteRecord = (s: number): ColdRecord => {
    const h = hash[s]!;
    const vote = {
      validatorId: names[validator[s]!]!,
      height: height[s]!,
      round: round[s]!,
      voteType: VOTE_TYPES[type[s]! - 1]!,
      blockHash: h < 0 ? null : hashPool.slice(h * BLOCK_HASH_BYTES, (h + 1) * BLOCK_HASH_BYTES),
      timestamp: timestamp[s]!,
      signature: signature.slice(s * SIGNATURE_BYTES, (s + 1) * SIGNATURE_BYTES),
    };
    return { kind: RecordKind.Vote, lsn: lsn[s]! as Lsn, payload: encodeVoteRecord(vote, recordedAt[s]!) };
  };
  const markRecord = (m: FinalizedMark): ColdRecord => ({ kind: RecordKind.Finalized, lsn: m.id, payload: encodeFinalizedRecord(m.height, m.round, m.recordedAt) });
  return async function* produce(): AsyncIterable<ColdRecord> {
    let v = 0;
    let f = 0;
    while (v < slots.length || f < marks.length) {
      const s = slots[v];
      const m = marks[f];
      if (m === undefined || (s !== undefined && lsn[s]! < m.id)) {
        yield voteRecord(s!);
        v++;
      } else {
        yield markRecord(m);
        f++;
      }
    }
  };
}
