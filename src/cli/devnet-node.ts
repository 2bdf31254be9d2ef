/**
 * One devnet validator: a separate OS process started by the devnet parent (`fork`), with its
 * own data directory. It opens the real store (fsync durability, D1), registers the genesis
 * validators on a fresh directory, recovers, runs the consensus engine, and talks to the other
 * validators through the parent over IPC. It reports stats every 500 ms.
 *
 * It may be killed with SIGKILL at any moment (chaos): everything it must not forget is in the
 * store before it acts on it. It hears a 'stop' message (or the parent going away) from its
 * first moment: while running it stops the engine and closes the store; while still opening or
 * recovering it closes what is already open and exits, so that a stop never waits for a
 * recovery to finish. Ctrl-C at a terminal reaches every process of the group: a validator
 * ignores SIGINT and waits for the parent's stop, which comes with the verdict after it.
 */
import { toHex } from '../codec/bytes.ts';
import { isStoreError } from '../errors.ts';
import type { ConsensusStore } from '../store.ts';
import type { Transport } from '../consensus/transport.ts';
import type { EngineEvent } from '../consensus/types.ts';
import type { Genesis } from './devnet-genesis.ts';
import type { ChildMessage, NodeLaunch, NodeStats, ParentMessage } from './devnet-protocol.ts';
import type { MetricsAnnouncement } from './metrics-http.ts';

/** Segment size of a devnet node's log (small: a devnet makes many directories). */
const DEVNET_SEGMENT_SIZE = 8 * 1024 * 1024;
const STATS_INTERVAL_MS = 500;
const MAX_SAMPLES = 512;

function send(message: ChildMessage | MetricsAnnouncement): void {
  if (process.connected) process.send?.(message);
}

/** Registers the genesis validators on a fresh store (height 0); a no-op when they are there. */
async function registerGenesis(store: ConsensusStore, genesis: Genesis): Promise<void> {
  for (const v of genesis.validators) {
    if ((await store.validators.getValidator(v.validatorId)) === undefined) {
      await store.validators.registerValidator({ validatorId: v.validatorId, publicKey: v.publicKey, stake: v.stake }, 0);
    }
  }
}

/** The transport through the parent process. */
function parentTransport(): Transport {
  let handler: ((m: Uint8Array, from: string) => void) | undefined;
  process.on('message', (m: ParentMessage) => {
    if (m.t === 'net' && handler !== undefined) handler(m.data, m.from);
  });
  return {
    broadcast: (data) => send({ t: 'net', data }),
    send: (to, data) => send({ t: 'net', to, data }),
    setHandler: (h) => {
      handler = h;
    },
  };
}

/**
 * The node's stop, heard from the start: `stopping` once asked; `closers` are run newest first
 * (the engine before the metrics server before the store), each added as its part comes up.
 */
const lifecycle = { stopping: false, closers: [] as (() => Promise<void>)[] };

/** Stops the node: closes what is open, newest first, and exits 0 (1 if a close failed). */
async function stopNode(): Promise<void> {
  if (lifecycle.stopping) return;
  lifecycle.stopping = true;
  let code = 0;
  for (const close of lifecycle.closers.reverse()) {
    try {
      await close();
    } catch (err) {
      code = 1;
      process.stderr.write(`stop: ${describeError(err)}\n`);
    }
  }
  process.exit(code);
}

process.on('message', (m: ParentMessage) => {
  if (m.t === 'stop') void stopNode();
});
process.on('disconnect', () => void stopNode());
process.on('SIGTERM', () => void stopNode());
process.on('SIGINT', () => undefined);

async function main(): Promise<void> {
  // The store and the engine are loaded here, after the stop listeners above are in place: a
  // stop that arrives while the modules load is heard (a message with no listener is lost).
  const [{ openStore }, { sinksFromStores }, { createEquivocator }, { ConsensusEngine }, { StoreStoragePort }, { nodeStoreDir, readGenesis }, { NODE_METRICS_PORT_ENV, serveMetrics }] =
    await Promise.all([
      import('../store.ts'),
      import('../consensus/accountability-sinks.ts'),
      import('../consensus/byzantine.ts'),
      import('../consensus/engine.ts'),
      import('../consensus/store-adapter.ts'),
      import('./devnet-genesis.ts'),
      import('./metrics-http.ts'),
    ]);
  if (lifecycle.stopping) return;
  const launch = JSON.parse(process.argv[2] ?? '{}') as NodeLaunch;
  const genesis = await readGenesis(launch.dir);
  const me = genesis?.validators.find((v) => v.validatorId === launch.id);
  if (genesis === undefined || me === undefined) throw new Error(`no genesis entry for ${launch.id} in ${launch.dir}`);
  // 'new-key': this key was generated for this devnet and signs nowhere but in this directory.
  const store = await openStore({
    dir: nodeStoreDir(launch.dir, launch.id),
    chainId: genesis.chainId,
    signer: { validatorId: me.validatorId, privateKey: me.privateKey, state: 'new-key' },
    log: { segmentSize: DEVNET_SEGMENT_SIZE },
  });
  lifecycle.closers.push(() => store.close());
  if (lifecycle.stopping) return;
  await registerGenesis(store, genesis);
  if (lifecycle.stopping) return;
  // Metrics on 127.0.0.1 at the port the parent chose (docs/operations.md, "Metrics"); a port
  // that cannot be bound costs the metrics, never the validator.
  const metricsPort = process.env[NODE_METRICS_PORT_ENV];
  if (metricsPort !== undefined) {
    try {
      const server = await serveMetrics(() => store.metrics(), { port: Number(metricsPort) });
      lifecycle.closers.push(() => server.close());
      send({ t: 'metrics', url: server.url });
    } catch (err) {
      process.stderr.write(`metrics not served on port ${metricsPort}: ${describeError(err)}\n`);
    }
  }
  // Audit log, evidence and rewards of the same store: an equivocation's evidence and audit
  // entry are already in the conflicting vote's batch (D3); the sinks add the rest.
  const port = new StoreStoragePort(store, genesis.chainId, sinksFromStores(store, me.validatorId));
  let votesPersisted = 0;
  let equivocations = 0;
  let errors = 0;
  let lastError: string | undefined;
  let samples: number[] = [];
  const onEvent = (e: EngineEvent): void => {
    if (e.type === 'vote-persisted') {
      votesPersisted++;
      if (samples.length < MAX_SAMPLES) samples.push(e.ms);
    } else if (e.type === 'equivocation') equivocations++;
    else if (e.type === 'finalized') send({ t: 'finalized', height: e.height, hash: toHex(e.blockHash) });
    else if (e.type === 'error') {
      errors++;
      lastError = `${e.where}: ${describeError(e.error)}`;
    }
  };
  const engine = new ConsensusEngine({
    chainId: genesis.chainId,
    validatorId: me.validatorId,
    storage: port,
    transport: parentTransport(),
    onEvent,
    ...(launch.byzantine ? { equivocator: createEquivocator(me.privateKey, genesis.chainId) } : {}),
  });
  lifecycle.closers.push(() => engine.stop());
  const resumed = await engine.initializeWithRecovery();
  if (lifecycle.stopping) return;
  send({ t: 'ready', height: resumed.height, round: resumed.round, phase: resumed.phase, recovered: resumed.recovered, missingSinks: port.missingSinks });
  engine.start();
  const timer = setInterval(() => {
    const s = engine.status;
    const stats: NodeStats = {
      height: s.height,
      round: s.round,
      phase: s.phase,
      votesPersisted,
      persistMs: samples,
      equivocations,
      errors,
      ...(lastError === undefined ? {} : { lastError }),
      validators: s.validators,
    };
    samples = [];
    send({ t: 'stats', stats });
  }, STATS_INTERVAL_MS);
  lifecycle.closers.push(async () => clearInterval(timer));
}

/** `CODE: message` for a store error (its message carries no code), the message of any other error. */
function describeError(err: unknown): string {
  if (isStoreError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

main().catch((err: unknown) => {
  // A stop that closed the store under a start still in flight fails that start: not a fault.
  if (lifecycle.stopping) return;
  send({ t: 'fatal', message: describeError(err) });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100);
});
