/**
 * Test support: N engines on a simulated network, each on a storage port the test chooses
 * (memory port by default; `storeStorage` gives ports over `openStore`'s stores on a backend of
 * test/support/store-backends.ts), with helpers to wait for heights, restart a node, and read
 * back what every node stored.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { sinksFromStores } from '../../src/consensus/accountability-sinks.ts';
import { createEquivocator, type Equivocator } from '../../src/consensus/byzantine.ts';
import { ConsensusEngine } from '../../src/consensus/engine.ts';
import { MemoryStoragePort, MemoryStorageState } from '../../src/consensus/memory-storage.ts';
import { SimNetwork } from '../../src/consensus/sim-network.ts';
import { StoreStoragePort } from '../../src/consensus/store-adapter.ts';
import type { ConsensusStoragePort } from '../../src/consensus/storage-port.ts';
import type { ConsensusStore } from '../../src/store.ts';
import type { TimeoutConfig } from '../../src/consensus/timeouts.ts';
import type { EngineEvent } from '../../src/consensus/types.ts';
import { ValidatorSet } from '../../src/consensus/validator-set.ts';
import type { StoreBackend, StoreMedium } from '../support/store-backends.ts';

export const CHAIN_ID = 'test-chain';

/** Fast timeouts for in-memory runs. */
export const FAST_TIMEOUTS: Partial<TimeoutConfig> = {
  proposeMs: 150,
  proposeDeltaMs: 50,
  prevoteMs: 80,
  prevoteDeltaMs: 40,
  precommitMs: 80,
  precommitDeltaMs: 40,
  gossipMs: 60,
};

export interface ClusterNode {
  readonly id: string;
  readonly privateKey: Uint8Array;
  readonly byzantine: boolean;
  engine: ConsensusEngine;
  storage: ConsensusStoragePort;
  readonly events: EngineEvent[];
  /** Finalized block hash (hex) per height, as this node reported it. */
  readonly finalized: Map<number, string>;
}

export interface ClusterOptions {
  readonly n: number;
  readonly byzantine?: number;
  /** The misbehaviour of the byzantine nodes (default: `createEquivocator`, doubled votes). */
  readonly equivocator?: (privateKey: Uint8Array) => Equivocator;
  readonly seed: number;
  /** Builds a node's storage; default a memory port on a fresh state. */
  readonly storage?: (id: string, privateKey: Uint8Array) => ConsensusStoragePort | Promise<ConsensusStoragePort>;
}

export function keyOf(i: number): Uint8Array {
  return sha256(new TextEncoder().encode(`cluster-key-${i}`));
}

/** A cluster of engines on one simulated network. */
export class Cluster {
  readonly network: SimNetwork;
  readonly set: ValidatorSet;
  readonly nodes: ClusterNode[] = [];

  private constructor(readonly options: ClusterOptions) {
    this.network = new SimNetwork({ seed: options.seed, minDelayMs: 0, maxDelayMs: 4 });
    const validators = Array.from({ length: options.n }, (_, i) => ({ validatorId: `v${i}`, publicKey: publicKeyOf(keyOf(i)), stake: 100n }));
    this.set = new ValidatorSet(validators, CHAIN_ID);
  }

  static async create(options: ClusterOptions): Promise<Cluster> {
    const c = new Cluster(options);
    for (let i = 0; i < options.n; i++) {
      const id = `v${i}`;
      const privateKey = keyOf(i);
      const storage =
        options.storage === undefined
          ? new MemoryStoragePort({ validatorId: id, privateKey }, CHAIN_ID, new MemoryStorageState(c.set.validators))
          : await options.storage(id, privateKey);
      const node: ClusterNode = {
        id,
        privateKey,
        byzantine: i >= options.n - (options.byzantine ?? 0),
        engine: undefined as unknown as ConsensusEngine,
        storage,
        events: [],
        finalized: new Map(),
      };
      node.engine = c.makeEngine(node);
      c.nodes.push(node);
    }
    return c;
  }

  makeEngine(node: ClusterNode): ConsensusEngine {
    return new ConsensusEngine({
      chainId: CHAIN_ID,
      validatorId: node.id,
      storage: node.storage,
      transport: this.network.join(node.id),
      timeouts: FAST_TIMEOUTS,
      onEvent: (e) => {
        node.events.push(e);
        if (e.type === 'finalized') node.finalized.set(e.height, Buffer.from(e.blockHash).toString('hex'));
      },
      ...(node.byzantine ? { equivocator: (this.options.equivocator ?? ((key: Uint8Array) => createEquivocator(key, CHAIN_ID)))(node.privateKey) } : {}),
    });
  }

  async start(): Promise<void> {
    for (const node of this.nodes) {
      await node.engine.initializeWithRecovery();
      node.engine.start();
    }
  }

  /** Resolves once every listed node finalized `height` (rejects after `timeoutMs`). */
  async waitForHeight(height: number, ids: readonly string[] = this.nodes.map((n) => n.id), timeoutMs = 30_000): Promise<void> {
    const started = Date.now();
    while (!ids.every((id) => (this.node(id).engine.status.finalizedHeight >= height))) {
      if (Date.now() - started > timeoutMs) {
        const where = this.nodes.map((n) => `${n.id}@${n.engine.status.height}/${n.engine.status.round}/${n.engine.status.phase}`).join(' ');
        throw new Error(`height ${height} not reached in ${timeoutMs} ms: ${where}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  node(id: string): ClusterNode {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.engine.stop()));
    this.network.close();
  }

  /** Errors the engines reported (sign-guard refusals included). */
  errors(id?: string): EngineEvent[] {
    return this.nodes.filter((n) => id === undefined || n.id === id).flatMap((n) => n.events.filter((e) => e.type === 'error'));
  }
}

/** The memory state of a node using the default storage. */
export function memoryState(node: ClusterNode): MemoryStorageState {
  return (node.storage as MemoryStoragePort).state;
}

/** Nodes' storage over `openStore`'s stores: the factory for `ClusterOptions.storage`, and each node's store and medium. */
export interface StoreStorage {
  readonly storage: NonNullable<ClusterOptions['storage']>;
  /** The store each node's port is on (the latest one opened). */
  readonly stores: Map<string, ConsensusStore>;
  /** Each node's data, to reopen its store after the cluster stopped. */
  readonly media: Map<string, StoreMedium>;
}

/**
 * Storage as the devnet builds it (src/cli/devnet-node.ts), on one fresh medium of `backend` per
 * node: the store opened with the node's identity (`new-key`), the `n` cluster validators
 * registered at height 0, and the port's accountability sinks on the same store's audit log,
 * evidence store and reward history.
 */
export function storeStorage(backend: StoreBackend, n: number): StoreStorage {
  const stores = new Map<string, ConsensusStore>();
  const media = new Map<string, StoreMedium>();
  const storage = async (id: string, privateKey: Uint8Array): Promise<ConsensusStoragePort> => {
    const medium = backend.medium();
    const store = await medium.open({ signer: { validatorId: id, privateKey, state: 'new-key' } });
    for (let i = 0; i < n; i++) {
      await store.validators.registerValidator({ validatorId: `v${i}`, publicKey: publicKeyOf(keyOf(i)), stake: 100n }, 0);
    }
    stores.set(id, store);
    media.set(id, medium);
    return new StoreStoragePort(store, CHAIN_ID, sinksFromStores(store, id));
  };
  return { storage, stores, media };
}
