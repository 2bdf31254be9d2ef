// The engine's checkpoint policy on its own (CheckpointWriter and countsOf, engine-storage.ts;
// docs/stores-rounds-validators.md, "`checkpointInterval`"): what it asks the port, when it
// writes, when it forces a checkpoint before a signature, and the specification's fields it
// fills. The engine runs with it in engine-wal.test.ts.
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/codec/bytes.ts';
import { blockHash } from '../../src/consensus/block.ts';
import { encodeCheckpointData, type CheckpointData } from '../../src/consensus/checkpoint-data.ts';
import { CheckpointWriter, countsOf } from '../../src/consensus/engine-storage.ts';
import type { ConsensusStoragePort } from '../../src/consensus/storage-port.ts';
import type { Block } from '../../src/consensus/types.ts';
import { ValidatorSet } from '../../src/consensus/validator-set.ts';
import { MAX_ROUND_VALIDATOR_COUNT, type RoundState } from '../../src/model/round.ts';

const CHAIN = 'writer-chain';
const parentHash = new Uint8Array(32);
const block: Block = { height: 5, round: 9, proposer: 'v1', parentHash };
const hashOfBlock = blockHash(block, CHAIN);

/** A state with its byte fields as hex, to compare by content (msgpackr's buffers share pools). */
function plain(s: RoundState | undefined): Record<string, unknown> | undefined {
  return s === undefined ? undefined : Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v instanceof Uint8Array ? toHex(v) : v]));
}

function data(extra: Partial<CheckpointData> = {}): Uint8Array {
  return encodeCheckpointData({ heightStartRound: 9, parentHash, blocks: [], ...extra });
}

function state(phase: RoundState['phase'], extra: Partial<RoundState> = {}): RoundState {
  return { height: 5, round: 9, phase, proposer: 'v1', appData: data(), startedAt: 1, updatedAt: 2, ...extra };
}

/** A port that records what it was asked and saved; `answer` is its policy (absent: no `shouldCheckpoint`). */
function fakePort(answer?: (s: RoundState) => boolean) {
  const asked: RoundState[] = [];
  const saved: RoundState[] = [];
  const port = {
    saveRoundState: async (s: RoundState) => {
      saved.push(s);
    },
    ...(answer === undefined
      ? {}
      : {
          shouldCheckpoint: (s: RoundState) => {
            asked.push(s);
            return answer(s);
          },
        }),
  } as unknown as ConsensusStoragePort;
  return { port, asked, saved };
}

describe('CheckpointWriter', () => {
  it('a port without shouldCheckpoint gets every checkpoint', async () => {
    const { port, saved } = fakePort();
    const w = new CheckpointWriter(port, 'v1', CHAIN);
    for (const phase of ['propose', 'prevote', 'precommit'] as const) expect(await w.save(state(phase))).toBe(true);
    expect(saved.map((s) => s.phase)).toEqual(['propose', 'prevote', 'precommit']);
    expect(w.written).toBe(3);
  });

  it('the first checkpoint is written without asking; then the policy decides, and a skip is counted', async () => {
    const { port, asked, saved } = fakePort(() => false);
    const w = new CheckpointWriter(port, 'v2', CHAIN);
    expect(await w.save(state('propose'))).toBe(true);
    expect(asked).toEqual([]);
    expect(await w.save(state('prevote'))).toBe(false);
    expect(saved).toHaveLength(1);
    expect(w.skipped).toBe(1);
  });

  it('fills isProposer from the proposer and this node', async () => {
    const { port, saved } = fakePort();
    await new CheckpointWriter(port, 'v1', CHAIN).save(state('propose'));
    await new CheckpointWriter(port, 'v2', CHAIN).save(state('propose'));
    expect(saved.map((s) => s.isProposer)).toEqual([true, false]);
  });

  it('asks about the new phase with the last durable hints: proposal hash and engine data, unless the decision changed', async () => {
    const { port, asked } = fakePort(() => false);
    const w = new CheckpointWriter(port, 'v1', CHAIN);
    await w.save(state('propose'));
    const withHints = state('prevote', { proposalBlockHash: hashOfBlock, appData: data({ intent: hashOfBlock, blocks: [block] }) });
    await w.save(withHints);
    expect(plain(asked[0])).toEqual(plain({ ...state('prevote'), isProposer: true }));
    const decided = state('commit', { proposalBlockHash: hashOfBlock, appData: data({ intent: hashOfBlock, blocks: [block], decision: { round: 9, block } }) });
    await w.save(decided);
    expect(toHex(asked[1]!.appData!)).toBe(toHex(decided.appData!));
    expect(asked[1]?.proposalBlockHash).toBeUndefined();
    // In another round, the state is asked about as it is.
    const next = state('propose', { round: 10, proposalBlockHash: hashOfBlock });
    await w.save(next);
    expect(plain(asked[2])).toEqual(plain({ ...next, isProposer: true }));
  });

  it('a change of lock or valid value is written whatever the policy says, and is then durable for signing', async () => {
    const { port, saved } = fakePort(() => false);
    const w = new CheckpointWriter(port, 'v1', CHAIN);
    await w.save(state('propose'));
    const position = { height: 5, round: 9, locked: { round: 9, hash: hashOfBlock }, valid: { round: 9, block } };
    expect(w.mustCheckpointBeforeSigning(position)).toBe(true);
    expect(await w.save(state('precommit', { lockedRound: 9, lockedBlockHash: hashOfBlock }))).toBe(true);
    // The lock is durable, the valid value not yet.
    expect(w.mustCheckpointBeforeSigning(position)).toBe(true);
    expect(w.mustCheckpointBeforeSigning({ ...position, valid: undefined })).toBe(false);
    expect(await w.save(state('precommit', { lockedRound: 9, lockedBlockHash: hashOfBlock, validRound: 9, validBlockHash: hashOfBlock }))).toBe(true);
    expect(w.mustCheckpointBeforeSigning(position)).toBe(false);
    // Another lock hash, round or valid block than the durable one.
    expect(w.mustCheckpointBeforeSigning({ ...position, locked: { round: 9, hash: new Uint8Array(32).fill(1) } })).toBe(true);
    expect(w.mustCheckpointBeforeSigning({ ...position, locked: { round: 8, hash: hashOfBlock } })).toBe(true);
    expect(w.mustCheckpointBeforeSigning({ ...position, valid: { round: 9, block: { ...block, proposer: 'v2' } } })).toBe(true);
    expect(w.mustCheckpointBeforeSigning({ ...position, locked: undefined })).toBe(true);
    // A forced save writes even what the policy and the lock rule would skip.
    expect(await w.save(state('precommit', { lockedRound: 9, lockedBlockHash: hashOfBlock, validRound: 9, validBlockHash: hashOfBlock }), true)).toBe(true);
    expect(saved).toHaveLength(4);
  });

  it('a recovered checkpoint counts as durable; at a new height, nothing locked is nothing to force', async () => {
    const { port } = fakePort(() => false);
    const w = new CheckpointWriter(port, 'v1', CHAIN);
    expect(w.mustCheckpointBeforeSigning({ height: 5, round: 9, locked: undefined, valid: undefined })).toBe(false);
    expect(w.mustCheckpointBeforeSigning({ height: 5, round: 9, locked: { round: 9, hash: hashOfBlock }, valid: undefined })).toBe(true);
    w.recovered(state('precommit', { lockedRound: 9, lockedBlockHash: hashOfBlock }));
    expect(w.mustCheckpointBeforeSigning({ height: 5, round: 9, locked: { round: 9, hash: hashOfBlock }, valid: undefined })).toBe(false);
    expect(await w.save(state('commit', { lockedRound: 9, lockedBlockHash: hashOfBlock }))).toBe(false);
    expect(w.mustCheckpointBeforeSigning({ height: 6, round: 10, locked: undefined, valid: undefined })).toBe(false);
    expect(w.mustCheckpointBeforeSigning({ height: 6, round: 10, locked: { round: 10, hash: hashOfBlock }, valid: undefined })).toBe(true);
  });
});

describe('countsOf', () => {
  const set = (stakes: bigint[]) =>
    new ValidatorSet(
      stakes.map((stake, i) => ({ validatorId: `v${String(i).padStart(6, '0')}`, publicKey: new Uint8Array(32).fill(i % 256), stake })),
      CHAIN,
    );

  it('the size, and the fewest validators whose stake is a quorum, the largest first', () => {
    expect(countsOf(set([1n]))).toEqual({ validatorCount: 1, quorumSize: 1 });
    expect(countsOf(set([1n, 1n, 1n]))).toEqual({ validatorCount: 3, quorumSize: 3 });
    expect(countsOf(set([1n, 1n, 1n, 1n]))).toEqual({ validatorCount: 4, quorumSize: 3 });
    expect(countsOf(set(Array.from({ length: 7 }, () => 5n)))).toEqual({ validatorCount: 7, quorumSize: 5 });
    expect(countsOf(set([100n, 1n, 1n, 1n]))).toEqual({ validatorCount: 4, quorumSize: 1 });
    expect(countsOf(set([2n, 1n, 1n]))).toEqual({ validatorCount: 3, quorumSize: 2 });
  });

  it('nothing for a set larger than a round state may name', () => {
    expect(countsOf(set(Array.from({ length: MAX_ROUND_VALIDATOR_COUNT + 1 }, () => 1n)))).toEqual({});
    expect(countsOf(set(Array.from({ length: MAX_ROUND_VALIDATOR_COUNT }, () => 1n)))).toEqual({ validatorCount: MAX_ROUND_VALIDATOR_COUNT, quorumSize: 43_691 });
  });
});
