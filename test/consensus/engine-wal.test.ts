// The engine on the write-ahead log over real files: a cluster whose nodes each run on a store
// from `openStore` in a temporary directory (small segments, so the logs roll over), wired as
// the devnet wires them (the genesis validators registered, the accountability sinks on the
// same store). It finalizes; a node whose store is closed and opened again resumes from the
// recovered round state and never double-signs; `checkpointInterval` is honoured (fewer
// checkpoints with a larger one) while the lock and valid value are durable before every
// signature, also when the store's policy would not ask for them, and the lock survives a crash
// right after a precommit; an equivocator leaves evidence and an audit entry in every honest
// node's store (docs/stores-rounds-validators.md, "`checkpointInterval`").
import { afterEach, describe, expect, it } from 'vitest';
import { equalBytes, toHex } from '../../src/codec/bytes.ts';
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { sinksFromStores } from '../../src/consensus/accountability-sinks.ts';
import { StoreStoragePort } from '../../src/consensus/store-adapter.ts';
import type { RoundState } from '../../src/model/round.ts';
import type { SignedProposal, UnsignedProposal, UnsignedVote, ValidatorVote } from '../../src/model/vote.ts';
import type { ConsensusStore } from '../../src/store.ts';
import { realFilesBackend, type StoreMedium } from '../support/store-backends.ts';
import { CHAIN_ID, Cluster, keyOf, type ClusterNode } from './cluster.ts';

/** Small segments: a run of a few heights fills several. */
const SEGMENT_SIZE = 16 * 1024;
const N = 4;

const backend = realFilesBackend(CHAIN_ID, 'engine-wal');

/**
 * The port over a node's store, watching what the engine does through it: the checkpoints it
 * writes, and, at each signature, whether the store's latest checkpoint holds the lock (before
 * a precommit for a block) and the valid value (before a proposal with a proof-of-lock round).
 * `policy`, when set, answers `shouldCheckpoint` instead of the store.
 */
class WatchedPort extends StoreStoragePort {
  readonly saved: RoundState[] = [];
  readonly violations: string[] = [];
  /** Armed: the next precommit for a block is signed, then the node "loses power" before it hears the signature. */
  crashAfterPrecommit: ((vote: ValidatorVote) => void) | undefined;
  dead = false;

  constructor(
    readonly store: ConsensusStore,
    id: string,
    readonly latest: { state: RoundState | undefined },
    readonly policy?: (state: RoundState, latest: RoundState | undefined) => boolean,
  ) {
    super(store, CHAIN_ID, sinksFromStores(store, id));
  }

  override async saveRoundState(state: RoundState): Promise<void> {
    this.#alive();
    await super.saveRoundState(state);
    this.saved.push(state);
    this.latest.state = state;
  }

  override shouldCheckpoint(state: RoundState): boolean {
    return this.policy === undefined ? super.shouldCheckpoint(state) : this.policy(state, this.latest.state);
  }

  override async signVote(vote: UnsignedVote): Promise<ValidatorVote> {
    this.#alive();
    const durable = (await this.store.rounds.loadRoundState())?.state;
    const signed = await super.signVote(vote);
    if (vote.voteType === 'precommit' && vote.blockHash !== null) {
      const held = durable?.height === vote.height && durable.lockedRound === vote.round && durable.lockedBlockHash !== undefined && equalBytes(durable.lockedBlockHash, vote.blockHash);
      if (!held) this.violations.push(`precommit ${vote.height}/${vote.round} signed without its lock durable`);
      const crash = this.crashAfterPrecommit;
      if (crash !== undefined) {
        this.crashAfterPrecommit = undefined;
        this.dead = true;
        crash(signed);
      }
    }
    this.#alive();
    return signed;
  }

  override async signProposal(proposal: UnsignedProposal): Promise<SignedProposal> {
    this.#alive();
    const durable = (await this.store.rounds.loadRoundState())?.state;
    if (proposal.polRound !== null) {
      const held = durable?.validRound === proposal.polRound && durable.validBlockHash !== undefined && equalBytes(durable.validBlockHash, proposal.blockHash);
      if (!held) this.violations.push(`proposal ${proposal.height}/${proposal.round} signed without its valid value durable`);
    }
    return super.signProposal(proposal);
  }

  #alive(): void {
    if (this.dead) throw new Error('power cut');
  }
}

/** Each node's directory (a medium of the real-files backend), kept across restarts within a test. */
const media = new Map<string, StoreMedium>();
let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  for (const node of cluster?.nodes ?? []) {
    const { store } = node.storage as WatchedPort;
    if (store.log.status === 'open') await store.close();
  }
  cluster = undefined;
  media.clear();
});

/**
 * A node's port on its directory (made on first use): opened with the node's identity
 * (`new-key` the first time, `existing-key` after), `checkpointInterval` as given, the genesis
 * validators registered at height 0 as the devnet does (votes are verified against them).
 */
function walStorage(checkpointInterval = 1, policy?: WatchedPort['policy']) {
  return async (id: string, privateKey: Uint8Array): Promise<WatchedPort> => {
    let medium = media.get(id);
    const restart = medium !== undefined;
    if (medium === undefined) {
      medium = backend.medium();
      media.set(id, medium);
    }
    const store = await medium.open({
      signer: { validatorId: id, privateKey, state: restart ? 'existing-key' : 'new-key' },
      log: { segmentSize: SEGMENT_SIZE },
      rounds: { checkpointInterval },
    });
    for (let i = 0; i < N; i++) {
      if ((await store.validators.getValidator(`v${i}`)) === undefined) {
        await store.validators.registerValidator({ validatorId: `v${i}`, publicKey: publicKeyOf(keyOf(i)), stake: 100n }, 0);
      }
    }
    const latest = { state: (await store.rounds.loadRoundState())?.state };
    return new WatchedPort(store, id, latest, policy);
  };
}

/** Stops a node's engine, closes its store, opens it again and starts a new engine on it; resolves with where it resumed. */
async function restart(c: Cluster, node: ClusterNode, open: (id: string, key: Uint8Array) => Promise<WatchedPort>) {
  c.network.disconnect(node.id);
  await node.engine.stop();
  await (node.storage as WatchedPort).store.close();
  node.storage = await open(node.id, node.privateKey);
  const store = (node.storage as WatchedPort).store;
  const expected = await store.recovery.resumePoint();
  const recovered = (await store.rounds.loadRoundState())?.state;
  node.engine = c.makeEngine(node);
  c.network.reconnect(node.id);
  const resumed = await node.engine.initializeWithRecovery();
  node.engine.start();
  return { resumed, expected, recovered };
}

/** Every vote of `validatorId` any node stored: the (round, type) slots holding two different votes. */
async function conflictsOf(c: Cluster, validatorId: string): Promise<string[]> {
  const seen = new Map<string, string>();
  const bad: string[] = [];
  for (const n of c.nodes) {
    const { store } = n.storage as WatchedPort;
    if (store.log.status !== 'open') continue;
    for (const { vote: v } of await store.votes.getValidatorVotes(validatorId, { limit: 10_000 })) {
      const slot = `${v.round}:${v.voteType}`;
      const what = `${v.height}:${v.blockHash === null ? 'nil' : toHex(v.blockHash)}`;
      if (seen.has(slot) && seen.get(slot) !== what) bad.push(slot);
      seen.set(slot, what);
    }
  }
  return bad;
}

const highest = (c: Cluster): number => Math.max(...c.nodes.map((n) => n.engine.status.finalizedHeight));
const port = (c: Cluster, id: string): WatchedPort => c.node(id).storage as WatchedPort;

describe('the engine on the write-ahead log over real files', () => {
  it('finalizes, and a node whose store is closed and reopened resumes from its recovered round state without double-signing', async () => {
    cluster = await Cluster.create({ n: N, seed: 21, storage: walStorage() });
    await cluster.start();
    await cluster.waitForHeight(1);
    const victim = cluster.node('v1');
    const { resumed, expected, recovered } = await restart(cluster, victim, walStorage());
    expect(recovered).toBeDefined();
    expect(resumed).toMatchObject({ recovered: true, height: expected!.height, round: expected!.round, phase: expected!.phase });
    await cluster.waitForHeight(highest(cluster) + 2);
    await cluster.stop();
    const reference = cluster.node('v0').finalized;
    for (const node of cluster.nodes) {
      for (const [h, hash] of node.finalized) expect(reference.get(h) ?? hash, `${node.id} height ${h}`).toBe(hash);
      expect(await conflictsOf(cluster, node.id), node.id).toEqual([]);
      const { store } = node.storage as WatchedPort;
      expect((await store.votes.getLastFinalized())?.height).toBeGreaterThanOrEqual(2);
      // The engine fills the specification's fields at every checkpoint.
      const latest = (await store.rounds.loadRoundState())!.state;
      expect(latest).toMatchObject({ validatorCount: 4, quorumSize: 3, isProposer: latest.proposer === node.id });
      expect(port(cluster, node.id).violations).toEqual([]);
    }
  });

  it('a larger checkpointInterval writes fewer checkpoints, and the lock and valid value are durable before every signature', async () => {
    const HEIGHT = 3;
    const counts = new Map<number, { written: number; prevotes: number; heights: number }>();
    for (const interval of [1, 1000]) {
      cluster = await Cluster.create({ n: N, seed: 13, storage: walStorage(interval) });
      await cluster.start();
      await cluster.waitForHeight(HEIGHT);
      await cluster.stop();
      let written = 0;
      let prevotes = 0;
      for (const node of cluster.nodes) {
        const saved = port(cluster, node.id).saved.filter((s) => s.height <= HEIGHT);
        written += saved.length;
        prevotes += saved.filter((s) => s.phase === 'prevote').length;
        expect(port(cluster, node.id).violations, `${node.id} interval ${interval}`).toEqual([]);
        expect(await conflictsOf(cluster, node.id)).toEqual([]);
        // Every finalized height still has its finalize checkpoint (certificates are rebuilt from it).
        for (let h = 1; h <= HEIGHT; h++) expect((await port(cluster, node.id).store.rounds.getRoundStateAt(h))?.state.phase, `${node.id} ${h}`).toBe('finalize');
      }
      counts.set(interval, { written, prevotes, heights: HEIGHT * N });
      for (const node of cluster.nodes) await port(cluster, node.id).store.close();
      cluster = undefined;
      media.clear();
    }
    const every = counts.get(1)!;
    const sparse = counts.get(1000)!;
    console.info(`checkpoints over ${HEIGHT} heights on ${N} nodes: interval 1: ${every.written} (${every.prevotes} prevote); interval 1000: ${sparse.written} (${sparse.prevotes} prevote)`);
    expect(every.written).toBeGreaterThanOrEqual(5 * every.heights);
    expect(every.prevotes).toBeGreaterThanOrEqual(every.heights);
    // A phase change alone (propose to prevote) is never a checkpoint under interval 1000.
    expect(sparse.prevotes).toBe(0);
    expect(sparse.written).toBeLessThan(every.written);
  });

  it('with a policy blind to locks, the lock is durable before the precommit anyway, and survives a crash right after it', async () => {
    // Checkpoints only where a round or height starts, or the height is finalized: a lock
    // change alone would never be one. The engine must force it before signing.
    const blind = (state: RoundState, latest: RoundState | undefined): boolean =>
      latest === undefined || latest.height !== state.height || latest.round !== state.round || state.phase === 'finalize';
    const open = walStorage(1000, blind);
    cluster = await Cluster.create({ n: N, seed: 17, storage: open });
    await cluster.start();
    await cluster.waitForHeight(1);
    const victim = cluster.node('v2');
    const signed = await new Promise<ValidatorVote>((resolve) => {
      port(cluster!, 'v2').crashAfterPrecommit = resolve;
    });
    const { recovered } = await restart(cluster, victim, open);
    // The lock of the precommit signed just before the cut came back from the log.
    expect(recovered).toMatchObject({ height: signed.height, lockedRound: signed.round });
    expect(toHex(recovered!.lockedBlockHash!)).toBe(toHex(signed.blockHash!));
    await cluster.waitForHeight(signed.height + 1);
    await cluster.stop();
    for (const node of cluster.nodes) {
      expect(port(cluster, node.id).violations, node.id).toEqual([]);
      expect(await conflictsOf(cluster, node.id), node.id).toEqual([]);
    }
    // After the restart, no precommit of v2 at that height names another block in the locked round or before a newer one.
    const after = (await port(cluster, 'v2').store.votes.getValidatorVotes('v2', { limit: 10_000 })).map((e) => e.vote);
    for (const v of after) {
      if (v.height !== signed.height || v.voteType !== 'precommit' || v.blockHash === null) continue;
      if (v.round === signed.round) expect(toHex(v.blockHash)).toBe(toHex(signed.blockHash!));
    }
  });

  it('an equivocator leaves evidence and an audit entry in every honest store', async () => {
    cluster = await Cluster.create({ n: N, byzantine: 1, seed: 3, storage: walStorage() });
    await cluster.start();
    await cluster.waitForHeight(2, ['v0', 'v1', 'v2']);
    await new Promise((r) => setTimeout(r, 100));
    await cluster.stop();
    for (const id of ['v0', 'v1', 'v2']) {
      const { store } = port(cluster, id);
      const evidence = await store.evidence.queryByValidator('v3');
      expect(evidence.length, `${id} evidence`).toBeGreaterThan(0);
      for (const e of evidence) expect(e).toMatchObject({ type: 'Equivocation', validatorId: 'v3' });
      const detected = (await store.audit.queryByValidator('v3')).filter((e) => e.event.type === 'EquivocationDetected');
      expect(detected.length, `${id} audit`).toBeGreaterThan(0);
      expect((await store.audit.verifyIntegrity()).ok).toBe(true);
      for (const honest of ['v0', 'v1', 'v2']) expect(await store.evidence.queryByValidator(honest)).toEqual([]);
    }
  });
});
