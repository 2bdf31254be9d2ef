// A node's writer at full speed, as its own process, for the read-only tests: opens the store
// (taking the lock, as a node does), appends votes of 4 validators 64 at a time until a line
// arrives on stdin (or for at most `ms` milliseconds) with small segments (so that the log rotates under the readers), records a
// reward distribution every height, then closes and prints the number of acknowledged votes
// and the last acknowledged LSN as one JSON line.
import { openStore } from '../../../src/store.ts';

const [dir, msArg] = process.argv.slice(2);
const ms = Number(msArg);
// Fake signatures (a writer for the read-only commands' tests): stored unverified.
const store = await openStore({ dir: dir as string, chainId: 'live-chain', voteVerification: 'off', log: { segmentSize: 256 * 1024 } });
process.stdout.write('ready\n');
const stop = Date.now() + ms;
let stopRequested = false;
process.stdin.on('data', () => {
  stopRequested = true;
});
process.stdin.on('end', () => {
  stopRequested = true;
});
let acked = 0;
let lastLsn = 0;
let height = 1;
const hash = new Uint8Array(32).fill(7);
const signature = new Uint8Array(64).fill(9);
while (!stopRequested && Date.now() < stop) {
  const calls = [];
  for (let i = 0; i < 16; i++, height++) {
    for (let v = 0; v < 4; v++) {
      calls.push(store.votes.appendVote({ validatorId: `v${v}`, height, round: height, voteType: 'prevote', blockHash: hash, timestamp: 1_700_000_000_000 + height, signature }));
    }
  }
  const results = await Promise.all(calls);
  acked += results.length;
  for (const r of results) lastLsn = Math.max(lastLsn, Number(r.id));
}
await store.close();
process.stdin.destroy();
process.stdout.write(`${JSON.stringify({ acked, lastLsn, heights: height - 1 })}\n`);
