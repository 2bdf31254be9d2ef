// What the engine does with a message it rejects, and with two proposals of one round
// (docs/audit.md, "Peer events"; docs/evidence-and-rewards.md): a badly signed vote, a replayed
// vote, malformed bytes and a vote of an unknown validator leave a PeerMessageRejected audit
// entry naming the peer that relayed them (the transport's `from`), and no evidence against the
// validator they name; a flooding peer gets at most PEER_EVENTS_PER_HEIGHT entries per height
// and one Flood count; a proposer signing two proposals for one (height, round) leaves verified
// ProposalEquivocation evidence and a ProposalEquivocationDetected entry on every honest node;
// a reward distribution keeps the round that decided its height, in the store.
import { afterEach, describe, expect, it } from 'vitest';
import { signVote } from '../../src/codec/vote-sign.ts';
import { createProposalEquivocator } from '../../src/consensus/byzantine.ts';
import { encodeMessage } from '../../src/consensus/codec.ts';
import { MemoryStoragePort } from '../../src/consensus/memory-storage.ts';
import { MAX_TRACKED_PEERS, PEER_EVENTS_PER_HEIGHT, PeerEventLimiter, peerEvent, peerName, UNNAMED_PEER } from '../../src/consensus/peer-events.ts';
import { verifyProposalFast } from '../../src/consensus/verify.ts';
import { MAX_PEER_MESSAGE_COPY, type PeerMessageRejected } from '../../src/model/audit.ts';
import type { ProposalEquivocationEvidence } from '../../src/model/evidence.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import type { ConsensusStore } from '../../src/store.ts';
import { simDiskBackend } from '../support/store-backends.ts';
import { CHAIN_ID, Cluster, keyOf, memoryState, storeStorage } from './cluster.ts';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** A prevote of validator `i` at `height`, signed with `key` (default: its own key). */
function vote(i: number, height: number, key: Uint8Array = keyOf(i)): ValidatorVote {
  return signVote({ validatorId: `v${i}`, height, round: 0, voteType: 'prevote', blockHash: new Uint8Array(32).fill(9), timestamp: 1_700_000_000_000 }, key, CHAIN_ID);
}

function badlySigned(v: ValidatorVote): ValidatorVote {
  const signature = v.signature.slice();
  signature[0] = (signature[0] as number) ^ 1;
  return { ...v, signature };
}

/** Peer events in `events` (anything with a `type`). */
function peerEvents(events: readonly { type: string }[]): PeerMessageRejected[] {
  return events.filter((e): e is PeerMessageRejected => e.type === 'PeerMessageRejected');
}

async function until(what: string, done: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  while (!(await done())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('rejected messages are peer events, never evidence', () => {
  it('a badly signed vote, malformed bytes and an unknown validator name the relayer; nothing accuses the validator named (on the write-ahead log, simulated disk)', async () => {
    const wal = storeStorage(simDiskBackend(CHAIN_ID, 901), 4);
    cluster = await Cluster.create({ n: 4, seed: 21, storage: wal.storage });
    const relayer = cluster.network.join('mallory');
    await cluster.start();
    await cluster.waitForHeight(2);
    const v0 = cluster.node('v0');
    const bad = encodeMessage({ type: 'vote', vote: badlySigned(vote(1, v0.engine.status.height)) });
    const malformed = Uint8Array.of(0xc1, 0x00, 0x01);
    const unknown = encodeMessage({ type: 'vote', vote: vote(9, v0.engine.status.height) });
    relayer.send('v0', bad);
    relayer.send('v0', malformed);
    relayer.send('v0', unknown);
    const store = wal.stores.get('v0') as ConsensusStore;
    const relayed = async (): Promise<PeerMessageRejected[]> => peerEvents((await store.audit.queryByValidator('mallory')).map((e) => e.event));
    await until('three peer events', async () => (await relayed()).length >= 3);
    await cluster.waitForHeight(v0.engine.status.height + 1);
    await cluster.stop();

    const events = await relayed();
    const byReason = new Map(events.map((e) => [e.reason, e]));
    expect([...byReason.keys()].sort()).toEqual(['BadSignature', 'Malformed', 'UnknownValidator']);
    expect(byReason.get('BadSignature')).toMatchObject({ peer: 'mallory', claimed: { validatorId: 'v1', round: 0 }, messageLength: bad.length, message: bad, suppressed: 0 });
    expect(byReason.get('Malformed')).toMatchObject({ peer: 'mallory', claimed: null, messageLength: 3, message: malformed });
    expect(byReason.get('UnknownValidator')).toMatchObject({ claimed: { validatorId: 'v9' }, message: unknown });
    // Nothing against the validators the messages named, and no honest node is a relayer of anything rejected.
    expect(await store.evidence.queryByValidator('v1')).toEqual([]);
    expect(await store.validators.getValidator('v1')).toMatchObject({ status: 'active', totalSlashed: 0n });
    for (const node of cluster.nodes) {
      const s = wal.stores.get(node.id) as ConsensusStore;
      for (const honest of ['v0', 'v1', 'v2', 'v3']) expect(peerEvents((await s.audit.queryByValidator(honest)).map((e) => e.event)), `${node.id} about ${honest}`).toEqual([]);
    }
    expect((await store.audit.verifyIntegrity()).ok).toBe(true);
  });

  it('a genuine vote relayed once the node is more than 64 heights past it is a Replay of the relayer, and no evidence', async () => {
    cluster = await Cluster.create({ n: 4, seed: 25 });
    const relayer = cluster.network.join('mallory');
    await cluster.start();
    await cluster.waitForHeight(67, ['v0'], 60_000);
    const replayed = encodeMessage({ type: 'vote', vote: vote(1, 1) });
    relayer.send('v0', replayed);
    const state = memoryState(cluster.node('v0'));
    await until('the replay', () => peerEvents(state.audit).length > 0);
    await cluster.stop();
    const events = peerEvents(state.audit);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ peer: 'mallory', reason: 'Replay', claimed: { validatorId: 'v1', height: 1, round: 0 }, message: replayed });
    expect(events[0]!.atHeight).toBeGreaterThan(65);
    expect(state.evidence).toEqual([]);
    expect(state.proposalEquivocations).toEqual([]);
  }, 90_000);
});

describe('a flooding peer', () => {
  it('gets at most PEER_EVENTS_PER_HEIGHT entries per height of the node, and the rest counted in one Flood entry', async () => {
    cluster = await Cluster.create({ n: 4, seed: 22 });
    const relayer = cluster.network.join('mallory');
    await cluster.start();
    await cluster.waitForHeight(2);
    const v0 = cluster.node('v0');
    const sent = 300;
    const bad = encodeMessage({ type: 'vote', vote: badlySigned(vote(1, v0.engine.status.height)) });
    for (let i = 0; i < sent; i++) relayer.send('v0', bad);
    const after = v0.engine.status.height + 2;
    await cluster.waitForHeight(after, ['v0']);
    await until('the Flood entry', () => peerEvents(memoryState(v0).audit).some((e) => e.reason === 'Flood'));
    await cluster.stop();

    const events = peerEvents(memoryState(v0).audit);
    expect(events.every((e) => e.peer === 'mallory')).toBe(true);
    const single = events.filter((e) => e.reason !== 'Flood');
    const floods = events.filter((e) => e.reason === 'Flood');
    const perHeight = new Map<number, number>();
    for (const e of single) perHeight.set(e.atHeight, (perHeight.get(e.atHeight) ?? 0) + 1);
    for (const [h, n] of perHeight) expect(n, `entries at height ${h}`).toBeLessThanOrEqual(PEER_EVENTS_PER_HEIGHT);
    expect(new Set(floods.map((f) => f.atHeight)).size).toBe(floods.length);
    // Every message is accounted for: written one by one, or counted.
    expect(single.length + floods.reduce((s, f) => s + f.suppressed, 0)).toBe(sent);
    expect(events.length).toBeLessThan(3 * (PEER_EVENTS_PER_HEIGHT + 1));
    expect(memoryState(v0).evidence).toEqual([]);
  });
});

describe('a proposer that signs two proposals for one round (on the write-ahead log, simulated disk)', () => {
  it('leaves verified ProposalEquivocation evidence and a ProposalEquivocationDetected entry on every honest node, and no slash', async () => {
    const wal = storeStorage(simDiskBackend(CHAIN_ID, 902), 4);
    cluster = await Cluster.create({ n: 4, byzantine: 1, seed: 23, storage: wal.storage, equivocator: (key) => createProposalEquivocator(key, CHAIN_ID) });
    await cluster.start();
    const honest = ['v0', 'v1', 'v2'];
    const stored = async (id: string): Promise<number> => (await (wal.stores.get(id) as ConsensusStore).evidence.queryByValidator('v3')).length;
    await until('proposal equivocation evidence on every honest node', async () => (await Promise.all(honest.map(stored))).every((n) => n > 0), 30_000);
    await cluster.waitForHeight(4, honest);
    await cluster.stop();
    const v3Key = cluster.set.get('v3')!.publicKey;
    for (const id of honest) {
      const store = wal.stores.get(id) as ConsensusStore;
      const evidence = await store.evidence.queryByValidator('v3');
      expect(evidence.length, id).toBeGreaterThan(0);
      for (const e of evidence) {
        expect(e).toMatchObject({ type: 'ProposalEquivocation', validatorId: 'v3', status: 'verified', submittedBy: id });
        const { proposalA, proposalB } = (e as ProposalEquivocationEvidence).details;
        expect([proposalA.height, proposalA.round]).toEqual([proposalB.height, proposalB.round]);
        expect(proposalA.blockHash).not.toEqual(proposalB.blockHash);
        expect(verifyProposalFast(proposalA, v3Key, CHAIN_ID)).toBe(true);
        expect(verifyProposalFast(proposalB, v3Key, CHAIN_ID)).toBe(true);
      }
      const entries = (await store.audit.queryByValidator('v3')).filter((e) => e.event.type === 'ProposalEquivocationDetected');
      expect(entries.length, `${id} ProposalEquivocationDetected entries`).toBe(evidence.length);
      expect(await store.validators.getValidator('v3')).toMatchObject({ status: 'active', totalSlashed: 0n });
      for (const other of honest) expect(await store.evidence.queryByValidator(other), `${id} accuses ${other}`).toEqual([]);
      expect(peerEvents((await store.audit.queryByValidator('v3')).map((e) => e.event))).toEqual([]);
      expect((await store.audit.verifyIntegrity()).ok).toBe(true);
    }
  }, 60_000);
});

describe('rewards keep their round', () => {
  it('the stored distribution of each height carries the round that decided it (on the write-ahead log, simulated disk)', async () => {
    const wal = storeStorage(simDiskBackend(CHAIN_ID, 903), 4);
    cluster = await Cluster.create({ n: 4, seed: 24, storage: wal.storage });
    await cluster.start();
    await cluster.waitForHeight(4);
    await cluster.stop();
    const node = cluster.node('v1');
    const rounds = new Map(node.events.flatMap((e) => (e.type === 'finalized' ? [[e.height, e.round] as const] : [])));
    const { items } = await (wal.stores.get('v1') as ConsensusStore).rewards.queryDistributions({ startHeight: 1, endHeight: 4 });
    expect(items.map((d) => d.height)).toEqual([1, 2, 3, 4]);
    for (const d of items) expect(d.round, `height ${d.height}`).toBe(rounds.get(d.height));
    // Rounds are global and never reset: height 4 was decided in round 3 or later.
    expect(items[3]!.round).toBeGreaterThanOrEqual(3);
  });
});

describe('the peer event bound and names (peer-events.ts)', () => {
  it('writes PEER_EVENTS_PER_HEIGHT per peer per height, counts the rest, and gives one Flood per peer that went over when the height moves on', () => {
    const limiter = new PeerEventLimiter(2);
    expect(limiter.advance(5)).toEqual([]);
    const e = (peer: string): PeerMessageRejected => peerEvent(peer, 'BadSignature', 5, null, Uint8Array.of(1));
    expect([1, 2, 3, 4].map(() => limiter.admit(e('a')))).toEqual([true, true, false, false]);
    expect([1, 2].map(() => limiter.admit(e('b')))).toEqual([true, true]);
    expect(limiter.advance(5)).toEqual([]);
    const floods = limiter.advance(6);
    expect(floods).toEqual([{ type: 'PeerMessageRejected', peer: 'a', reason: 'Flood', atHeight: 5, claimed: null, messageLength: 0, message: new Uint8Array(0), suppressed: 2 }]);
    expect(limiter.admit(e('a'))).toBe(true);
    expect(limiter.advance(7)).toEqual([]);
  });

  it('counts at most MAX_TRACKED_PEERS peers per height, keeps a bounded copy of a message, and names a peer the transport did not name validly UNNAMED_PEER', () => {
    const limiter = new PeerEventLimiter();
    limiter.advance(1);
    for (let i = 0; i < MAX_TRACKED_PEERS; i++) expect(limiter.admit(peerEvent(`p${i}`, 'Malformed', 1, null, new Uint8Array(0)))).toBe(true);
    expect(limiter.admit(peerEvent('one-too-many', 'Malformed', 1, null, new Uint8Array(0)))).toBe(false);
    expect(limiter.advance(2)).toEqual([]);
    const big = peerEvent('p', 'Malformed', 1, null, new Uint8Array(10_000).fill(7));
    expect([big.messageLength, big.message.length]).toEqual([10_000, MAX_PEER_MESSAGE_COPY]);
    expect(peerName('v1')).toBe('v1');
    for (const bad of ['', 'x'.repeat(129), '\ud800', undefined, 7]) expect(peerName(bad)).toBe(UNNAMED_PEER);
  });

  it('the memory port refuses an event the audit log would refuse, with INVALID_ARGUMENT', async () => {
    const port = new MemoryStoragePort({ validatorId: 'v0', privateKey: keyOf(0) }, CHAIN_ID);
    const good = peerEvent('mallory', 'Replay', 3, { validatorId: 'v1', height: 1, round: 0 }, Uint8Array.of(1, 2));
    await port.logAudit(good);
    expect(port.state.audit).toEqual([good]);
    for (const bad of [{ ...good, peer: '' }, { ...good, messageLength: 3 }, { ...good, suppressed: 1 }, { ...good, reason: 'Flood' as const }]) {
      await expect(port.logAudit(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(port.state.audit).toHaveLength(1);
  });
});
