// A node crashed mid-round (power cut right after a phase's checkpoint became durable) restarts
// on the real stores at exactly that height, round and phase, with its votes, never signs
// anything conflicting, and the network keeps finalizing; repeated for every phase. On two
// backends: the in-memory log (a cut loses the batches not yet durable), and the write-ahead log
// through openStore on the simulated disk (a real power cut: every unsynced write is lost, kept
// or torn as the disk's seed decides, and the reopen recovers the log). The restart opens with
// the default `existing-key`, so the key's watermark must have survived the cut.
import { afterEach, describe, expect, it } from 'vitest';
import type { ConsensusStore } from '../../src/store.ts';
import { StoreStoragePort } from '../../src/consensus/store-adapter.ts';
import type { RoundState } from '../../src/model/round.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import { toHex } from '../../src/codec/bytes.ts';
import { memoryBackend, simDiskBackend, type StoreBackend, type StoreMedium } from '../support/store-backends.ts';
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { CHAIN_ID, Cluster, keyOf, type ClusterNode } from './cluster.ts';

/** A port that cuts power under its store right after a checkpoint of the armed phase is durable. */
class CrashingPort extends StoreStoragePort {
  armed: { phase: RoundState['phase']; minHeight: number; onCrash: (state: RoundState) => void } | undefined;

  constructor(
    readonly store: ConsensusStore,
    readonly powerCut: () => void,
  ) {
    super(store, CHAIN_ID);
  }

  override async saveRoundState(state: RoundState): Promise<void> {
    await super.saveRoundState(state);
    const a = this.armed;
    if (a !== undefined && state.phase === a.phase && state.height >= a.minHeight) {
      this.armed = undefined;
      this.powerCut();
      a.onCrash(state);
    }
  }
}

const backends: readonly StoreBackend[] = [memoryBackend(CHAIN_ID), simDiskBackend(CHAIN_ID, 500)];

for (const backend of backends) {
  /** Each node's medium: its store's data, kept across restarts. */
  const media = new Map<string, StoreMedium>();

  const openPort = async (id: string, privateKey: Uint8Array): Promise<CrashingPort> => {
    let medium = media.get(id);
    const restart = medium !== undefined;
    if (medium === undefined) {
      medium = backend.medium();
      media.set(id, medium);
    }
    const store = await medium.open({ signer: { validatorId: id, privateKey, state: restart ? 'existing-key' : 'new-key' } });
    // The cluster's validators in the registry, as the devnet registers its genesis set.
    if (!restart) for (let i = 0; i < 4; i++) await store.validators.registerValidator({ validatorId: `v${i}`, publicKey: publicKeyOf(keyOf(i)), stake: 100n }, 0);
    const { powerCut } = medium;
    if (powerCut === undefined) throw new Error(`${backend.name} cannot cut power`);
    return new CrashingPort(store, powerCut);
  };

  let cluster: Cluster | undefined;

  const crashAndRestart = async (c: Cluster, node: ClusterNode, phase: RoundState['phase']): Promise<void> => {
    const port = node.storage as CrashingPort;
    const crashed = new Promise<RoundState>((resolve) => {
      port.armed = { phase, minHeight: node.engine.status.height + 1, onCrash: resolve };
    });
    const state = await crashed;
    c.network.disconnect(node.id);
    await node.engine.stop();
    await new Promise((r) => setTimeout(r, 50));
    node.storage = await openPort(node.id, node.privateKey);
    node.engine = c.makeEngine(node);
    c.network.reconnect(node.id);
    const resumed = await node.engine.initializeWithRecovery();
    if (phase === 'finalize') {
      expect(resumed).toMatchObject({ height: state.height + 1, round: state.round + 1, phase: 'propose' });
    } else {
      expect(resumed).toMatchObject({ height: state.height, round: state.round, phase });
    }
    node.engine.start();
  };

  describe(`a validator crashed mid-round (${backend.name})`, () => {
    afterEach(async () => {
      await cluster?.stop();
      for (const node of cluster?.nodes ?? []) await (node.storage as CrashingPort).store.close();
      cluster = undefined;
      media.clear();
    });

    it('resumes at the recovered round and phase for every phase, never double-signs, and the network keeps finalizing', async () => {
      cluster = await Cluster.create({ n: 4, seed: 5, storage: openPort });
      await cluster.start();
      await cluster.waitForHeight(2);
      const victim = cluster.node('v1');
      for (const phase of ['propose', 'prevote', 'precommit', 'commit', 'finalize'] as const) {
        await crashAndRestart(cluster, victim, phase);
        const target = Math.max(...cluster.nodes.map((n) => n.engine.status.finalizedHeight)) + 2;
        await cluster.waitForHeight(target);
      }
      const refusals = cluster.errors('v1').filter((e) => e.type === 'error' && e.where === 'sign guard refused');
      expect(refusals).toEqual([]);
      for (const id of ['v0', 'v1', 'v2', 'v3']) expect(await conflictsOf(cluster, id)).toEqual([]);
      const reference = cluster.node('v0').finalized;
      for (const [h, hash] of victim.finalized) expect(reference.get(h) ?? hash).toBe(hash);
    });

    it('recovers the votes of its round and re-sends its own instead of signing anew', async () => {
      cluster = await Cluster.create({ n: 4, seed: 9, storage: openPort });
      await cluster.start();
      await cluster.waitForHeight(1);
      const victim = cluster.node('v2');
      await crashAndRestart(cluster, victim, 'precommit');
      const resumed = victim.events.find((e) => e.type === 'resumed');
      expect(resumed).toBeDefined();
      await cluster.waitForHeight(Math.max(...cluster.nodes.map((n) => n.engine.status.finalizedHeight)) + 2);
      expect(await conflictsOf(cluster, 'v2')).toEqual([]);
    });
  });
}

/** Every vote of `validatorId` any node stored: no two for one (round, type) may differ. */
async function conflictsOf(c: Cluster, validatorId: string): Promise<string[]> {
  const all: ValidatorVote[] = [];
  for (const n of c.nodes) {
    const store = (n.storage as CrashingPort).store;
    if (store.log.status !== 'open') continue;
    all.push(...(await store.votes.getValidatorVotes(validatorId, { limit: 10_000 })).map((e) => e.vote));
  }
  const seen = new Map<string, string>();
  const bad: string[] = [];
  for (const v of all) {
    const slot = `${v.round}:${v.voteType}`;
    const what = `${v.height}:${v.blockHash === null ? 'nil' : toHex(v.blockHash)}`;
    if (seen.has(slot) && seen.get(slot) !== what) bad.push(slot);
    seen.set(slot, what);
  }
  return bad;
}
