/**
 * Opening the systems of one comparison with the peers: consensus-store through `openStore`
 * (loaded at run time, so that a store being rewired skips the scenario with a reason), and
 * each peer that loads and answers, each on its own fresh directory (schema, for PostgreSQL)
 * under the run's temp directory. Missing peers are named with the reason.
 *
 * The block mix needs the audit log and the reward history. When `openStore` offers them
 * (`store.audit`, `store.rewards`) they are used; otherwise the same classes are built on the
 * store's own log (same log, same group commit, same fdatasync), and the scenario says so.
 *
 * Must never: leave a store, a pool or a temp directory open after `close()`.
 */
import type { ConsensusStore, OpenStoreOptions } from '../../src/store.ts';
import type { ConsensusEvent } from '../../src/model/audit.ts';
import type { LogEntry } from '../../src/stores/audit-types.ts';
import type { RewardDistribution } from '../../src/model/reward.ts';
import { LevelPeer, PgPeer, SqlitePeer, type PeerStore } from './peer-stores.ts';
import { loadPeers, probePostgres, type Peers } from './peers.ts';
import { makeTempDir, removeTempDir } from './temp-dir.ts';

export const CHAIN_ID = 'bench-chain';

type OpenStoreFn = (options: OpenStoreOptions) => Promise<ConsensusStore>;

/** The audit and reward stores the block mix writes to. */
export interface Accountability {
  logEvent(event: ConsensusEvent): Promise<LogEntry>;
  recordDistribution(d: RewardDistribution): Promise<unknown>;
  /** `openStore` (store.audit/store.rewards) or `built on store.log` (they are not wired into openStore yet). */
  readonly source: string;
}

let openStoreFn: OpenStoreFn | string | undefined;

/** Loads `openStore`, or says why it cannot. */
export async function loadOpenStore(): Promise<OpenStoreFn | string> {
  if (openStoreFn !== undefined) return openStoreFn;
  try {
    const mod = (await import(new URL('../../src/store.ts', import.meta.url).href)) as { openStore?: unknown };
    openStoreFn = typeof mod.openStore === 'function' ? (mod.openStore as OpenStoreFn) : 'src/store.ts does not export openStore';
  } catch (err) {
    openStoreFn = `the store did not load: ${err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)}`;
  }
  return openStoreFn;
}

/** Opens a consensus-store in `dir` with durability fsync (or none, to fill fast). */
export async function openEngine(dir: string, durability: 'fsync' | 'none' = 'fsync'): Promise<ConsensusStore> {
  const open = await loadOpenStore();
  if (typeof open === 'string') throw new Error(open);
  // The benchmarks' votes carry fake signatures (and the peers verify none): stored unverified
  // (docs/stores.md, "Vote verification").
  return open({ dir, chainId: CHAIN_ID, voteVerification: 'off', log: { durability } });
}

/** The store's audit log and reward history, as openStore wires them. */
export function accountabilityOf(store: ConsensusStore): Accountability {
  const { audit, rewards } = store;
  return { logEvent: (e) => audit.logEvent(e), recordDistribution: (d) => rewards.recordDistribution(d), source: 'openStore (store.audit, store.rewards)' };
}

/** A peer as the scenarios see it, with the directory it lives in. */
export interface OpenPeer {
  readonly peer: PeerStore;
  readonly dir: string | undefined;
}

/** Which peers to open, and how. */
export interface PeerRequest {
  readonly label: string;
  /** synchronous=OFF / sync:false: only to fill a store fast for queries, opens and sizes. */
  readonly fast?: boolean;
  readonly pgPoolSize?: number;
  readonly postgres?: boolean;
}

/** The peers that opened, what is missing and why, and versions for the report. */
export interface PeerSet {
  readonly open: OpenPeer[];
  readonly missing: Record<string, string>;
  readonly peers: Peers;
  readonly pgNote: string | undefined;
  close(): Promise<void>;
}

let pgProbe: Awaited<ReturnType<typeof probePostgres>> | undefined;

/** Opens SQLite, LevelDB and (when it answers) PostgreSQL, each fresh. */
export async function openPeers(log: (m: string) => void, req: PeerRequest): Promise<PeerSet> {
  const peers = loadPeers(log);
  const missing: Record<string, string> = { ...peers.missing };
  const open: OpenPeer[] = [];
  let pgNote: string | undefined;
  if (peers.Sqlite !== undefined) {
    const dir = makeTempDir(`${req.label}-sqlite`);
    open.push({ peer: new SqlitePeer(peers.Sqlite, `${dir}/votes.db`, { fast: req.fast ?? false }), dir });
  }
  if (peers.Level !== undefined) {
    const dir = makeTempDir(`${req.label}-leveldb`);
    open.push({ peer: await LevelPeer.open(peers.Level, dir, { fast: req.fast ?? false }), dir });
  }
  if (peers.pg !== undefined && req.postgres !== false) {
    pgProbe ??= await probePostgres(peers.pg);
    if (typeof pgProbe === 'string') missing['postgres'] = pgProbe;
    else {
      pgNote = `PostgreSQL ${pgProbe.version} (${pgProbe.settings})`;
      open.push({ peer: await PgPeer.open(peers.pg, pgProbe.config, req.pgPoolSize ?? 16), dir: undefined });
    }
  }
  return {
    open,
    missing,
    peers,
    pgNote,
    async close() {
      for (const p of open) {
        await p.peer.close().catch(() => undefined);
        if (p.dir !== undefined) removeTempDir(p.dir);
      }
    },
  };
}

/** A line naming the peers that are missing and why (or undefined). */
export function missingNote(missing: Readonly<Record<string, string>>): string | undefined {
  const entries = Object.entries(missing);
  if (entries.length === 0) return undefined;
  return `not measured: ${entries.map(([k, v]) => `${k} (${v})`).join('; ')}`;
}

/** The PostgreSQL server version and settings, once probed (for the report). */
export function postgresDescription(): string | undefined {
  return pgProbe === undefined || typeof pgProbe === 'string' ? undefined : `${pgProbe.version} (${pgProbe.settings})`;
}
