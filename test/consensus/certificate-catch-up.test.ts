// A node catching up by certificate after an equivocator's twin reached it first: the node
// counts each validator's first vote of a step, so a conflicting precommit that arrives before
// the validator's precommit for the decided block keeps the tally one vote short of the quorum
// the certificate proves. The certificate decides on its own signatures: whatever the order of
// the equivocator's twin, the honest precommits and the certificate, the node finalizes the
// certified block (every one of the 120 orders of those five messages).
import { afterEach, describe, expect, it } from 'vitest';
import { toHex } from '../../src/codec/bytes.ts';
import { publicKeyOf, signVote } from '../../src/codec/vote-sign.ts';
import { blockHash, GENESIS_PARENT_HASH } from '../../src/consensus/block.ts';
import { encodeMessage } from '../../src/consensus/codec.ts';
import { ConsensusEngine } from '../../src/consensus/engine.ts';
import { MemoryStoragePort, MemoryStorageState } from '../../src/consensus/memory-storage.ts';
import type { Transport } from '../../src/consensus/transport.ts';
import type { Block, ConsensusMessage, EngineEvent } from '../../src/consensus/types.ts';
import { ValidatorSet } from '../../src/consensus/validator-set.ts';
import { CHAIN_ID, keyOf } from './cluster.ts';

const set = new ValidatorSet([0, 1, 2, 3].map((i) => ({ validatorId: `v${i}`, publicKey: publicKeyOf(keyOf(i)), stake: 100n })), CHAIN_ID);
/** Timeouts long enough that the node stays in round 0 while the messages arrive. */
const SLOW = { proposeMs: 60_000, prevoteMs: 60_000, precommitMs: 60_000, gossipMs: 60_000 };
const ROUND = 0;
const block: Block = { height: 1, round: ROUND, proposer: set.proposerOf(ROUND).validatorId, parentHash: GENESIS_PARENT_HASH };
const hash = blockHash(block, CHAIN_ID);

function precommit(i: number, forHash: Uint8Array | null) {
  return signVote({ validatorId: `v${i}`, height: 1, round: ROUND, voteType: 'precommit', blockHash: forHash, timestamp: 1_000 + i }, keyOf(i), CHAIN_ID);
}

/** v3's twin (for nil), the honest precommits for the block, and the certificate of v1, v2, v3. */
const messages: Record<string, ConsensusMessage> = {
  'v3 nil': { type: 'vote', vote: precommit(3, null) },
  'v1 block': { type: 'vote', vote: precommit(1, hash) },
  'v2 block': { type: 'vote', vote: precommit(2, hash) },
  'v3 block': { type: 'vote', vote: precommit(3, hash) },
  certificate: { type: 'certificate', round: ROUND, block, precommits: [precommit(1, hash), precommit(2, hash), precommit(3, hash)] },
};

function orders(items: readonly string[]): string[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((first, i) => orders([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [first, ...rest]));
}

let engine: ConsensusEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** Runs v0 alone, delivers `order` one message at a time (each persisted before the next), and returns what it finalized. */
async function deliver(order: readonly string[]): Promise<{ finalized: string[]; votes: number }> {
  let handler: ((bytes: Uint8Array, from: string) => void) | undefined;
  const transport: Transport = { broadcast: () => undefined, send: () => undefined, setHandler: (h) => void (handler = h) };
  const storage = new MemoryStoragePort({ validatorId: 'v0', privateKey: keyOf(0) }, CHAIN_ID, new MemoryStorageState(set.validators));
  const finalized: string[] = [];
  const onEvent = (e: EngineEvent): void => void (e.type === 'finalized' && finalized.push(`${e.height}:${toHex(e.blockHash)}`));
  engine = new ConsensusEngine({ chainId: CHAIN_ID, validatorId: 'v0', storage, transport, timeouts: SLOW, onEvent });
  await engine.initializeWithRecovery();
  engine.start();
  for (const name of order) {
    handler?.(encodeMessage(messages[name] as ConsensusMessage), 'v1');
    await new Promise((r) => setTimeout(r, 2));
  }
  for (let waited = 0; finalized.length === 0 && waited < 2_000; waited += 5) await new Promise((r) => setTimeout(r, 5));
  await engine.stop();
  return { finalized, votes: storage.state.votes.filter((v) => v.validatorId === 'v3' && v.voteType === 'precommit').length };
}

describe('catching up by certificate after an equivocation', () => {
  it('finalizes the certified block when the twin arrived before every honest precommit, though the tally never reaches the quorum', async () => {
    const run = await deliver(['v3 nil', 'v1 block', 'v2 block', 'v3 block', 'certificate']);
    expect(run.finalized).toEqual([`1:${toHex(hash)}`]);
    expect(run.votes).toBe(2);
  });

  it('finalizes the certified block, and only it, in every order of the twin, the honest precommits and the certificate', async () => {
    const all = orders(Object.keys(messages));
    expect(all).toHaveLength(120);
    const failed: string[] = [];
    for (const order of all) {
      const run = await deliver(order);
      if (run.finalized.length !== 1 || run.finalized[0] !== `1:${toHex(hash)}`) failed.push(`${order.join(', ')}: ${run.finalized.join(' ') || 'nothing'}`);
    }
    expect(failed).toEqual([]);
  }, 60_000);
});
