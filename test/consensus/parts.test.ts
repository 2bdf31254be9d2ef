// The engine's pure parts: stake-weighted proposer rotation, quorum thresholds and tallies,
// growing timeouts, exact reward splits, the wire codec's rejection of malformed bytes, and
// decision certificates.
import { describe, expect, it } from 'vitest';
import { publicKeyOf, signVote } from '../../src/codec/vote-sign.ts';
import { blockHash } from '../../src/consensus/block.ts';
import { buildCertificate, checkCertificate } from '../../src/consensus/certificate.ts';
import { decodeMessage, encodeMessage } from '../../src/consensus/codec.ts';
import { computeDistribution } from '../../src/consensus/rewards.ts';
import { VoteTally } from '../../src/consensus/tally.ts';
import { DEFAULT_TIMEOUTS, timeoutFor } from '../../src/consensus/timeouts.ts';
import { ValidatorSet } from '../../src/consensus/validator-set.ts';
import { CHAIN_ID, keyOf } from './cluster.ts';

const set = new ValidatorSet([0, 1, 2, 3].map((i) => ({ validatorId: `v${i}`, publicKey: publicKeyOf(keyOf(i)), stake: i === 0 ? 400n : 100n })), CHAIN_ID);

describe('proposer rotation', () => {
  it('is deterministic and proportional to stake', () => {
    const counts = new Map<string, number>();
    for (let r = 0; r < 7000; r++) counts.set(set.proposerOf(r).validatorId, (counts.get(set.proposerOf(r).validatorId) ?? 0) + 1);
    expect(set.proposerOf(123).validatorId).toBe(set.proposerOf(123).validatorId);
    expect((counts.get('v0') ?? 0) / 7000).toBeGreaterThan(0.5);
    expect((counts.get('v0') ?? 0) / 7000).toBeLessThan(0.64);
    for (const id of ['v1', 'v2', 'v3']) expect(counts.get(id) ?? 0).toBeGreaterThan(700);
  });
});

describe('quorum and tally', () => {
  it('needs more than two thirds of the stake, counts each validator once per step', () => {
    expect(set.isQuorum(466n)).toBe(false);
    expect(set.isQuorum(467n)).toBe(true);
    const tally = new VoteTally(() => set);
    const hash = new Uint8Array(32).fill(9);
    const vote = (i: number, h: Uint8Array | null) => signVote({ validatorId: `v${i}`, height: 1, round: 0, voteType: 'prevote', blockHash: h, timestamp: 1 }, keyOf(i), CHAIN_ID);
    expect(tally.add(vote(1, hash))).toBe(true);
    expect(tally.add(vote(1, null))).toBe(false);
    expect(tally.summary(1, 0, 'prevote').quorumAny).toBe(false);
    tally.add(vote(0, hash));
    expect(tally.summary(1, 0, 'prevote').quorumFor).toBe(Buffer.from(hash).toString('hex'));
  });
});

describe('timeouts', () => {
  it('grow with the rounds tried at a height, up to the cap', () => {
    expect(timeoutFor(DEFAULT_TIMEOUTS, 'propose', 0)).toBe(DEFAULT_TIMEOUTS.proposeMs);
    expect(timeoutFor(DEFAULT_TIMEOUTS, 'propose', 2)).toBe(DEFAULT_TIMEOUTS.proposeMs + 2 * DEFAULT_TIMEOUTS.proposeDeltaMs);
    expect(timeoutFor(DEFAULT_TIMEOUTS, 'precommit', 10_000)).toBe(DEFAULT_TIMEOUTS.maxMs);
    expect(() => timeoutFor(DEFAULT_TIMEOUTS, 'prevote', -1)).toThrow(RangeError);
  });
});

describe('rewards', () => {
  it('pay exactly the block reward and move the treasury by it, for any height', () => {
    for (const height of [1, 2, 1000, 2 ** 40]) {
      const d = computeDistribution({ height, round: 3, timestamp: 1, proposer: 'v2', voters: ['v0', 'v1', 'v3'] }, set, {
        genesisTreasury: 10n ** 30n,
        perBlock: 1_000_003n,
        proposerBps: 2_000n,
        votersBps: 5_000n,
      });
      expect(d.lines.reduce((s, l) => s + l.amount, 0n)).toBe(d.totalDistributed);
      expect(d.treasuryBefore - d.totalDistributed).toBe(d.treasuryAfter);
    }
  });
});

describe('wire codec', () => {
  it('round-trips a vote and rejects malformed messages', () => {
    const vote = signVote({ validatorId: 'v1', height: 1, round: 0, voteType: 'precommit', blockHash: null, timestamp: 5 }, keyOf(1), CHAIN_ID);
    expect(decodeMessage(encodeMessage({ type: 'vote', vote }))).toEqual({ type: 'vote', vote });
    expect(() => decodeMessage(encodeMessage({ type: 'vote', vote: { ...vote, height: -1 } }))).toThrow();
    expect(() => decodeMessage(new Uint8Array([0xc1]))).toThrow();
    expect(() => decodeMessage(encodeMessage({ type: 'status', validatorId: '', height: 1, round: 0 }))).toThrow();
  });
});

describe('decision certificates', () => {
  it('hold with 2/3+ of the stake for the block and fail otherwise', () => {
    const block = { height: 3, round: 7, proposer: 'v1', parentHash: new Uint8Array(32) };
    const hash = blockHash(block, CHAIN_ID);
    const pc = (i: number) => signVote({ validatorId: `v${i}`, height: 3, round: 7, voteType: 'precommit', blockHash: hash, timestamp: 1 }, keyOf(i), CHAIN_ID);
    const cert = buildCertificate(block, 7, [pc(0), pc(1)], set, CHAIN_ID);
    expect(cert).toBeDefined();
    expect(checkCertificate(cert!, set, CHAIN_ID)).toEqual(hash);
    expect(buildCertificate(block, 7, [pc(1), pc(2), pc(3)], set, CHAIN_ID)).toBeUndefined();
    const forged = { ...cert!, precommits: [pc(0), { ...pc(1), signature: new Uint8Array(64) }] };
    expect(checkCertificate(forged, set, CHAIN_ID)).toBeUndefined();
  });
});
