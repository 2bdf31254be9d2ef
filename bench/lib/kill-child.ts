/**
 * The writer child of the recovery scenario (bench/scenarios/recovery.ts): opens one system in
 * its durable mode in the given directory and appends votes, 32 in flight, forever; after each
 * acknowledged vote it may print `acked N` (N = votes acknowledged so far, every one of them
 * durable by the system's own contract) until the parent kills it with SIGKILL.
 *
 *   node --import tsx bench/lib/kill-child.ts <consensus-store|sqlite|leveldb> <dir>
 *
 * Must never: print a count before those votes were acknowledged by the system.
 */
import type { PeerStore } from './peer-stores.ts';
import { LevelPeer, SqlitePeer } from './peer-stores.ts';
import { loadPeers } from './peers.ts';
import { openEngine } from './systems.ts';
import { VoteFactory } from './workload.ts';

const [system, dir] = process.argv.slice(2);
const IN_FLIGHT = 32;

async function main(): Promise<void> {
  if (system === undefined || dir === undefined) throw new Error('usage: kill-child.ts <system> <dir>');
  let append: (v: ReturnType<VoteFactory['next']>) => Promise<unknown>;
  if (system === 'consensus-store') {
    const store = await openEngine(dir, 'fsync');
    append = (v) => store.votes.appendVote(v);
  } else {
    const peers = loadPeers((m) => process.stderr.write(`${m}\n`));
    let peer: PeerStore;
    if (system === 'sqlite' && peers.Sqlite !== undefined) peer = new SqlitePeer(peers.Sqlite, `${dir}/votes.db`);
    else if (system === 'leveldb' && peers.Level !== undefined) peer = await LevelPeer.open(peers.Level, dir);
    else throw new Error(`unknown or missing system ${system}`);
    append = (v) => peer.appendVote(v);
  }
  const factory = new VoteFactory(100);
  let acked = 0;
  let lastPrint = 0;
  process.stdout.write('ready\n');
  const producer = async (): Promise<void> => {
    for (;;) {
      await append(factory.next());
      acked++;
      const now = performance.now();
      if (now - lastPrint > 2) {
        lastPrint = now;
        process.stdout.write(`acked ${acked}\n`);
        // Let the pipe drain (a blocking peer would otherwise never yield to the event loop).
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, producer));
}

main().catch((err: unknown) => {
  process.stderr.write(`kill-child: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
