// A proposed block whose slash transactions do not hold gets a nil prevote (docs/devnet.md,
// "Validator-set changes"), while the same block with a proven equivocation gets the node's
// prevote for it: one engine, the round's proposer's proposal delivered by hand.
import { afterEach, describe, expect, it } from 'vitest';
import { toHex } from '../../src/codec/bytes.ts';
import { proposalSignBytes, publicKeyOf, signBytes, signVote } from '../../src/codec/vote-sign.ts';
import { blockHash, GENESIS_PARENT_HASH } from '../../src/consensus/block.ts';
import { encodeMessage } from '../../src/consensus/codec.ts';
import { ConsensusEngine } from '../../src/consensus/engine.ts';
import { MemoryStoragePort, MemoryStorageState } from '../../src/consensus/memory-storage.ts';
import type { Transport } from '../../src/consensus/transport.ts';
import type { Block, EquivocationPair, ProposalMessage } from '../../src/consensus/types.ts';
import { ValidatorSet } from '../../src/consensus/validator-set.ts';
import { CHAIN_ID, keyOf } from './cluster.ts';

const set = new ValidatorSet([0, 1, 2, 3].map((i) => ({ validatorId: `v${i}`, publicKey: publicKeyOf(keyOf(i)), stake: 100n })), CHAIN_ID);
const SLOW = { proposeMs: 60_000, prevoteMs: 60_000, precommitMs: 60_000, gossipMs: 60_000 };
/** The first round at height 1 whose proposer is not v0 (v0 is the node under test). */
const ROUND = [0, 1, 2, 3, 4, 5, 6, 7].find((r) => set.proposerOf(r).validatorId !== 'v0') as number;
const PROPOSER = set.proposerOf(ROUND).validatorId;
const PROPOSER_KEY = keyOf(Number(PROPOSER.slice(1)));

function pair(signer: Uint8Array): EquivocationPair {
  const v = (fill: number, key: Uint8Array) =>
    signVote({ validatorId: 'v3', height: 1, round: 0, voteType: 'prevote', blockHash: new Uint8Array(32).fill(fill), timestamp: 1 }, key, CHAIN_ID);
  return { voteA: v(1, keyOf(3)), voteB: v(2, signer) };
}

function proposalOf(block: Block): ProposalMessage {
  const unsigned = { validatorId: PROPOSER, height: 1, round: ROUND, blockHash: blockHash(block, CHAIN_ID), polRound: null, timestamp: 5 };
  return { type: 'proposal', proposal: { ...unsigned, signature: signBytes(proposalSignBytes(unsigned, CHAIN_ID), PROPOSER_KEY) }, block };
}

let engine: ConsensusEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** v0 alone at height 1, moved to ROUND, given the proposal of `block`: what it prevotes. */
async function prevoteOf(block: Block): Promise<string | null> {
  let handler: ((bytes: Uint8Array, from: string) => void) | undefined;
  const transport: Transport = { broadcast: () => undefined, send: () => undefined, setHandler: (h) => void (handler = h) };
  const storage = new MemoryStoragePort({ validatorId: 'v0', privateKey: keyOf(0) }, CHAIN_ID, new MemoryStorageState(set.validators));
  engine = new ConsensusEngine({ chainId: CHAIN_ID, validatorId: 'v0', storage, transport, timeouts: SLOW });
  await engine.initializeWithRecovery();
  engine.start();
  // Votes of 1/3+ of the stake at ROUND move v0 there (a round skip), if ROUND is not 0.
  for (const i of [1, 2]) {
    const hint = signVote({ validatorId: `v${i}`, height: 1, round: ROUND, voteType: 'prevote', blockHash: null, timestamp: 1 }, keyOf(i), CHAIN_ID);
    if (ROUND > 0) handler?.(encodeMessage({ type: 'vote', vote: hint }), `v${i}`);
  }
  for (let waited = 0; engine.status.round !== ROUND && waited < 5_000; waited += 5) await new Promise((r) => setTimeout(r, 5));
  handler?.(encodeMessage(proposalOf(block)), PROPOSER);
  for (let waited = 0; waited < 5_000; waited += 5) {
    const prevote = storage.state.signed.find((v) => v.voteType === 'prevote' && v.round === ROUND);
    if (prevote !== undefined) return prevote.blockHash === null ? null : toHex(prevote.blockHash);
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`v0 did not prevote in round ${ROUND}`);
}

describe('a proposed block with slash transactions', () => {
  const base: Block = { height: 1, round: ROUND, proposer: PROPOSER, parentHash: GENESIS_PARENT_HASH };

  it('gets the prevote for it when each transaction proves an equivocation', async () => {
    const block = { ...base, txs: [{ type: 'slash' as const, evidence: pair(keyOf(3)) }] };
    expect(await prevoteOf(block)).toBe(toHex(blockHash(block, CHAIN_ID)));
  });

  it('gets a nil prevote when one does not (a vote signed with another key)', async () => {
    const block = { ...base, txs: [{ type: 'slash' as const, evidence: pair(keyOf(9)) }] };
    expect(await prevoteOf(block)).toBeNull();
  });
});
