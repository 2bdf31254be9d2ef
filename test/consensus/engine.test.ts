// The engine on a simulated in-process network with in-memory storage: honest nodes agree and
// finalize; a byzantine equivocator is caught by every honest node and no honest node is accused.
// The equivocator case runs again on the real stores (openStore, the write-ahead log on the
// simulated disk, wired as the devnet wires them): what each honest node stored (evidence, the
// slash, audit entries) is read back from its store, and again after a reopen.
import { afterEach, describe, expect, it } from 'vitest';
import { toHex } from '../../src/codec/bytes.ts';
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { signBond, signUnbond } from '../../src/consensus/block.ts';
import { decodeCheckpointData } from '../../src/consensus/checkpoint-data.ts';
import type { Block } from '../../src/consensus/types.ts';
import { verifyVoteFast } from '../../src/consensus/verify.ts';
import type { ConsensusStore } from '../../src/store.ts';
import type { EquivocationEvidence } from '../../src/model/evidence.ts';
import { simDiskBackend } from '../support/store-backends.ts';
import { CHAIN_ID, Cluster, keyOf, memoryState, storeStorage } from './cluster.ts';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

function conflictingPairs(votes: readonly { validatorId: string; round: number; voteType: string; height: number; blockHash: Uint8Array | null }[]): string[] {
  const seen = new Map<string, string>();
  const out: string[] = [];
  for (const v of votes) {
    const slot = `${v.validatorId}:${v.round}:${v.voteType}`;
    const what = `${v.height}:${v.blockHash === null ? 'nil' : toHex(v.blockHash)}`;
    const before = seen.get(slot);
    if (before === undefined) seen.set(slot, what);
    else if (before !== what) out.push(slot);
  }
  return out;
}

describe('four honest nodes on a simulated network', () => {
  it('finalize 12 heights, the same block at every height on every node, with marks, rewards and audit events', async () => {
    cluster = await Cluster.create({ n: 4, seed: 7 });
    await cluster.start();
    await cluster.waitForHeight(12);
    await cluster.stop();
    const reference = cluster.nodes[0]!.finalized;
    for (const node of cluster.nodes) {
      for (let h = 1; h <= 12; h++) expect(node.finalized.get(h), `${node.id} height ${h}`).toBe(reference.get(h));
      const state = memoryState(node);
      expect([...state.finalized.keys()].slice(0, 12)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      for (let h = 1; h <= 12; h++) {
        const d = state.rewards.get(h)!;
        expect(d.treasuryBefore - d.totalDistributed).toBe(d.treasuryAfter);
        expect(d.lines.reduce((s, l) => s + l.amount, 0n)).toBe(d.totalDistributed);
      }
      const types = new Set(state.audit.map((e) => e.type));
      for (const t of ['RoundStarted', 'ProposalReceived', 'VoteReceived', 'PhaseChanged', 'RoundCompleted']) expect(types.has(t as never), t).toBe(true);
      expect(state.evidence).toEqual([]);
      expect(conflictingPairs(state.signed)).toEqual([]);
    }
    expect(cluster.errors()).toEqual([]);
  });

  it('checkpoints every phase of a round in order, and rounds never go back', async () => {
    cluster = await Cluster.create({ n: 4, seed: 11 });
    await cluster.start();
    await cluster.waitForHeight(4);
    await cluster.stop();
    const states = memoryState(cluster.nodes[1]!).roundStates;
    const phases = states.filter((s) => s.height === 2).map((s) => s.phase);
    expect(phases.slice(0, 5)).toEqual(['propose', 'prevote', 'precommit', 'commit', 'finalize']);
    for (let i = 1; i < states.length; i++) expect(states[i]!.round).toBeGreaterThanOrEqual(states[i - 1]!.round);
  });
});

describe('one byzantine equivocator out of four', () => {
  it('every honest node records evidence and a slash against it, and no honest node is accused', async () => {
    cluster = await Cluster.create({ n: 4, byzantine: 1, seed: 3 });
    await cluster.start();
    await cluster.waitForHeight(6, ['v0', 'v1', 'v2']);
    await new Promise((r) => setTimeout(r, 100));
    await cluster.stop();
    const byzantine = cluster.node('v3');
    const reference = cluster.node('v0').finalized;
    for (const id of ['v0', 'v1', 'v2']) {
      const node = cluster.node(id);
      const state = memoryState(node);
      for (let h = 1; h <= 6; h++) expect(node.finalized.get(h)).toBe(reference.get(h));
      expect(state.evidence.length, `${id} evidence`).toBeGreaterThan(0);
      for (const e of state.evidence) {
        expect(e.validatorId).toBe('v3');
        expect(e.first.round).toBe(e.second.round);
        expect(e.first.voteType).toBe(e.second.voteType);
        expect(toHex(e.first.blockHash ?? new Uint8Array())).not.toBe(toHex(e.second.blockHash ?? new Uint8Array()));
        const key = cluster.set.get('v3')!.publicKey;
        expect(verifyVoteFast(e.first, key, CHAIN_ID)).toBe(true);
        expect(verifyVoteFast(e.second, key, CHAIN_ID)).toBe(true);
      }
      expect(state.slashes.map((s) => s.validatorId)).toEqual(['v3']);
      for (const honest of ['v0', 'v1', 'v2']) expect(conflictingPairs(state.votes.filter((v) => v.validatorId === honest))).toEqual([]);
    }
    expect(byzantine.byzantine).toBe(true);
  });
});

describe('one byzantine equivocator out of four, on the write-ahead log (simulated disk)', () => {
  /** What an honest node's store must hold about the equivocator v3 and the honest v0..v2. */
  async function checkAccountability(store: ConsensusStore, id: string, v3Key: Uint8Array): Promise<number> {
    const evidence = await store.evidence.queryByValidator('v3');
    expect(evidence.length, `${id} evidence`).toBeGreaterThan(0);
    for (const e of evidence) {
      expect(e).toMatchObject({ type: 'Equivocation', validatorId: 'v3', status: 'verified' });
      const { voteA, voteB } = (e as EquivocationEvidence).details;
      expect(voteA.round).toBe(voteB.round);
      expect(voteA.voteType).toBe(voteB.voteType);
      expect(toHex(voteA.blockHash ?? new Uint8Array())).not.toBe(toHex(voteB.blockHash ?? new Uint8Array()));
      expect(verifyVoteFast(voteA, v3Key, CHAIN_ID)).toBe(true);
      expect(verifyVoteFast(voteB, v3Key, CHAIN_ID)).toBe(true);
    }
    const detected = (await store.audit.queryByValidator('v3')).filter((e) => e.event.type === 'EquivocationDetected');
    expect(detected.length, `${id} EquivocationDetected entries`).toBeGreaterThan(0);
    expect((await store.audit.verifyIntegrity()).ok).toBe(true);
    const v3 = await store.validators.getValidator('v3');
    expect(v3, `${id}: v3 in the registry`).toMatchObject({ status: 'tombstoned', stake: 95n, totalSlashed: 5n });
    const slashes = (await store.validators.getValidatorHistory('v3')).items.filter((c) => c.kind === 'slash');
    expect(slashes).toHaveLength(1);
    for (const honest of ['v0', 'v1', 'v2']) {
      expect(await store.evidence.queryByValidator(honest), `${id} accuses ${honest}`).toEqual([]);
      expect(await store.validators.getValidator(honest)).toMatchObject({ status: 'active', stake: 100n, totalSlashed: 0n });
      expect((await store.audit.queryByValidator(honest)).filter((e) => e.event.type === 'EquivocationDetected')).toEqual([]);
    }
    return evidence.length;
  }

  it('every honest node stores verified evidence, one tombstoning slash and audit entries against it, none against an honest node, also after a reopen', async () => {
    const wal = storeStorage(simDiskBackend(CHAIN_ID, 300), 4);
    cluster = await Cluster.create({ n: 4, byzantine: 1, seed: 3, storage: wal.storage });
    await cluster.start();
    await cluster.waitForHeight(6, ['v0', 'v1', 'v2']);
    await new Promise((r) => setTimeout(r, 100));
    await cluster.stop();
    const v3Key = cluster.set.get('v3')!.publicKey;
    const reference = cluster.node('v0').finalized;
    for (const id of ['v0', 'v1', 'v2']) {
      for (let h = 1; h <= 6; h++) expect(cluster.node(id).finalized.get(h)).toBe(reference.get(h));
      const store = wal.stores.get(id)!;
      const count = await checkAccountability(store, id, v3Key);
      await store.close();
      const privateKey = keyOf(Number(id.slice(1)));
      const reopened = await wal.media.get(id)!.open({ signer: { validatorId: id, privateKey } });
      expect(await checkAccountability(reopened, id, v3Key)).toBe(count);
      await reopened.close();
    }
    await wal.stores.get('v3')!.close();
    // No storage call of an honest node failed (a store refusing what the engine wrote would show here).
    for (const id of ['v0', 'v1', 'v2']) expect(cluster.errors(id), id).toEqual([]);
  });
});

describe('the equivocator is slashed through a block (docs/devnet.md, "Validator-set changes")', () => {
  it('every node removes it at the same height, two heights after the block carrying the evidence, and the chain goes on with the three honest validators', async () => {
    cluster = await Cluster.create({ n: 4, byzantine: 1, seed: 5 });
    await cluster.start();
    const honest = ['v0', 'v1', 'v2'];
    // Wait for the removal on every honest node, then for five more heights.
    const started = Date.now();
    while (!honest.every((id) => memoryState(cluster!.node(id)).slashes.length > 0)) {
      if (Date.now() - started > 20_000) throw new Error('no slash through a block in 20 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    const removedAt = memoryState(cluster.node('v0')).slashes[0]!.height;
    await cluster.waitForHeight(removedAt + 5, honest);
    await cluster.stop();
    for (const id of honest) {
      const node = cluster.node(id);
      const state = memoryState(node);
      // One slash, the same on every node: decided in the block at D, in effect at D + 2.
      expect(state.slashes, id).toEqual([{ validatorId: 'v3', height: removedAt, decidedAt: removedAt - 2 }]);
      const decided = new Map<number, Block>();
      for (const s of state.roundStates) {
        const decision = s.phase === 'finalize' && s.appData !== undefined ? decodeCheckpointData(s.appData).decision : undefined;
        if (decision !== undefined) decided.set(s.height, decision.block);
      }
      const withTxs = [...decided].filter(([, b]) => b.txs !== undefined);
      expect(withTxs.map(([h]) => h), `${id}: the heights whose block carries transactions`).toEqual([removedAt - 2]);
      const tx = withTxs[0]![1].txs![0]!;
      expect(tx.type).toBe('slash');
      expect(tx.type === 'slash' && tx.evidence.voteA.validatorId).toBe('v3');
      expect(state.committedEvidence.map((e) => e.height)).toEqual([removedAt - 2]);
      // v3's votes counted up to removedAt - 1 and are dropped from removedAt on.
      const v3Heights = new Set(state.votes.filter((v) => v.validatorId === 'v3').map((v) => v.height));
      expect(v3Heights.has(removedAt - 1), `${id} stored v3's votes of ${removedAt - 1}`).toBe(true);
      expect([...v3Heights].filter((h) => h >= removedAt), `${id} stored v3's votes from ${removedAt} on`).toEqual([]);
      // Proposers and rewards from removedAt on are of the three honest validators only.
      const proposers = node.events.filter((e) => e.type === 'round-started' && e.height >= removedAt).map((e) => (e as { proposer: string }).proposer);
      expect(proposers.length).toBeGreaterThan(0);
      expect(proposers).not.toContain('v3');
      for (let h = removedAt; h <= removedAt + 5; h++) expect(state.rewards.get(h)!.lines.map((l) => l.validatorId)).not.toContain('v3');
      expect(state.rewards.get(removedAt - 1)!.lines.map((l) => l.validatorId)).toContain('v3');
      expect(node.engine.status.validators).toEqual(honest);
      for (let h = 1; h <= removedAt + 5; h++) expect(node.finalized.get(h), `${id} height ${h}`).toBe(cluster.node('v0').finalized.get(h));
      expect(node.events.filter((e) => e.type === 'validators-changed')).toEqual([{ type: 'validators-changed', decidedAt: removedAt - 2, effectiveAt: removedAt, added: [], removed: ['v3'] }]);
    }
    // The equivocator's own node applied the same block: it is out of the set and signs nothing more.
    expect(memoryState(cluster.node('v3')).slashes).toEqual([{ validatorId: 'v3', height: removedAt, decidedAt: removedAt - 2 }]);
    expect(memoryState(cluster.node('v3')).signed.filter((v) => v.height >= removedAt)).toEqual([]);
    for (const id of honest) expect(cluster.errors(id), id).toEqual([]);
  });
});

describe('bond and unbond through blocks (docs/devnet.md, "Validator-set changes")', () => {
  it('a bonded validator joins the set two heights after its block on every node, an unbonded one leaves the same way, and the chain goes on', async () => {
    cluster = await Cluster.create({ n: 4, seed: 13 });
    await cluster.start();
    await cluster.waitForHeight(2);
    // v4 is not running: with it in the set, 400 of 500 must still decide every height.
    const bond = signBond({ validatorId: 'v4', publicKey: publicKeyOf(keyOf(4)), stake: '100' }, keyOf(4), CHAIN_ID);
    for (const node of cluster.nodes) node.engine.submitValidatorTx(bond);
    const changeOf = (id: string, kind: 'added' | 'removed') =>
      cluster!.node(id).events.find((e) => e.type === 'validators-changed' && e[kind].includes('v4')) as { decidedAt: number; effectiveAt: number } | undefined;
    const waitFor = async (kind: 'added' | 'removed'): Promise<number> => {
      const started = Date.now();
      while (!cluster!.nodes.every((n) => changeOf(n.id, kind) !== undefined)) {
        if (Date.now() - started > 20_000) throw new Error(`v4 not ${kind} in 20 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
      const heights = new Set(cluster!.nodes.map((n) => changeOf(n.id, kind)!.effectiveAt));
      expect(heights.size, `${kind} at one height on every node`).toBe(1);
      for (const n of cluster!.nodes) expect(changeOf(n.id, kind)!.effectiveAt - changeOf(n.id, kind)!.decidedAt).toBe(2);
      return [...heights][0]!;
    };
    const joinedAt = await waitFor('added');
    await cluster.waitForHeight(joinedAt + 2);
    for (const node of cluster.nodes) {
      const state = memoryState(node);
      expect(state.bonded.map((b) => [b.validator.validatorId, b.height, b.validator.stake])).toEqual([['v4', joinedAt, 100n]]);
      // Rewards weigh v4's stake from joinedAt on, not before.
      expect(state.rewards.get(joinedAt - 1)!.lines.map((l) => l.validatorId)).not.toContain('v4');
      expect(state.rewards.get(joinedAt)!.lines.map((l) => l.validatorId)).toContain('v4');
    }
    const unbond = signUnbond('v4', keyOf(4), CHAIN_ID);
    for (const node of cluster.nodes) node.engine.submitValidatorTx(unbond);
    const leftAt = await waitFor('removed');
    await cluster.waitForHeight(leftAt + 2);
    await cluster.stop();
    for (const node of cluster.nodes) {
      expect(memoryState(node).unbonded).toEqual([{ validatorId: 'v4', height: leftAt }]);
      expect(memoryState(node).rewards.get(leftAt)!.lines.map((l) => l.validatorId)).not.toContain('v4');
      expect(node.engine.status.validators).toEqual(['v0', 'v1', 'v2', 'v3']);
      for (let h = 1; h <= leftAt + 2; h++) expect(node.finalized.get(h), `${node.id} height ${h}`).toBe(cluster.node('v0').finalized.get(h));
    }
    expect(cluster.errors()).toEqual([]);
    expect(() => cluster!.node('v0').engine.submitValidatorTx({ ...bond, stake: '0' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
