/**
 * What vote verification costs per vote (docs/stores.md, "Vote verification";
 * docs/bench-notes.md): `appendVote` of a plain vote (verified inside against the validator
 * registry), of a `VerifiedVote` token (the check skipped), and with `voteVerification: 'off'`,
 * on the in-memory log (no I/O: the CPU of the append path only), plus `votes.verify` and the
 * engine's `verifiedVoteFast` alone.
 *
 *   npx tsx bench/vote-verify.ts [votes=20000] [reps=5]
 *
 * Votes are signed before any timing starts. Each append run is a fresh store fed `votes` votes
 * of 100 registered validators, 64 appends in flight; the figure is the median over `reps` runs
 * of elapsed / votes.
 */
import { openStoreOnLog, type ConsensusStore, type StoreOptions } from '../src/store.ts';
import { MemoryLog } from '../src/log/memory-log.ts';
import { publicKeyOf, signVote } from '../src/codec/vote-sign.ts';
import { verifiedVoteFast } from '../src/consensus/verify.ts';
import type { ValidatorVote } from '../src/model/vote.ts';

const CHAIN_ID = 'bench-vote-verify';
const VALIDATORS = 100;
const IN_FLIGHT = 64;
const votesArg = Number(process.argv[2] ?? 20_000);
const reps = Number(process.argv[3] ?? 5);

const keys = Array.from({ length: VALIDATORS }, (_, i) => {
  const privateKey = new Uint8Array(32).fill(0);
  privateKey[0] = i + 1;
  privateKey[31] = 0x5a;
  return { validatorId: `val-${String(i).padStart(3, '0')}`, privateKey, publicKey: publicKeyOf(privateKey) };
});

function makeVotes(n: number): ValidatorVote[] {
  const out: ValidatorVote[] = [];
  for (let i = 0; i < n; i++) {
    const k = keys[i % VALIDATORS]!;
    const round = Math.floor(i / VALIDATORS) + 1;
    const blockHash = new Uint8Array(32).fill(round & 0xff);
    out.push(signVote({ validatorId: k.validatorId, height: round, round, voteType: 'prevote', blockHash, timestamp: 1_700_000_000_000 + i }, k.privateKey, CHAIN_ID));
  }
  return out;
}

async function openBench(options: Partial<StoreOptions>): Promise<ConsensusStore> {
  const store = await openStoreOnLog(MemoryLog.open(), { chainId: CHAIN_ID, audit: { nodeKey: { privateKey: new Uint8Array(32).fill(3) } }, ...options });
  for (const k of keys) await store.validators.registerValidator({ validatorId: k.validatorId, publicKey: k.publicKey, stake: 1n }, 0);
  return store;
}

/** Appends `votes` with IN_FLIGHT in flight; resolves with the elapsed ms. */
async function appendAll(store: ConsensusStore, votes: readonly ValidatorVote[]): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < votes.length; i += IN_FLIGHT) {
    await Promise.all(votes.slice(i, i + IN_FLIGHT).map((v) => store.votes.appendVote(v)));
  }
  return performance.now() - started;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const votes = makeVotes(votesArg);
  const usPerVote = (ms: number): number => (ms * 1000) / votes.length;
  const rows: [string, number][] = [];

  const runs = { off: [] as number[], plain: [] as number[], token: [] as number[], verify: [] as number[], fast: [] as number[] };
  for (let r = 0; r < reps + 1; r++) {
    const warm = r === 0;
    const off = await openBench({ voteVerification: 'off' });
    const tOff = await appendAll(off, votes);
    await off.close();

    const plain = await openBench({});
    const tPlain = await appendAll(plain, votes);
    await plain.close();

    // Tokens as the engine mints them (verified before the timing: that check is the engine's).
    const tokens = votes.map((v) => verifiedVoteFast(v, keys[Number(v.validatorId.slice(4))]!.publicKey, CHAIN_ID)!);
    const tokenStore = await openBench({});
    const tToken = await appendAll(tokenStore, tokens);

    let t = performance.now();
    for (const v of votes) await tokenStore.votes.verify(v);
    const tVerify = performance.now() - t;
    await tokenStore.close();

    t = performance.now();
    for (const v of votes) verifiedVoteFast(v, keys[Number(v.validatorId.slice(4))]!.publicKey, CHAIN_ID);
    const tFast = performance.now() - t;

    if (warm) continue;
    runs.off.push(usPerVote(tOff));
    runs.plain.push(usPerVote(tPlain));
    runs.token.push(usPerVote(tToken));
    runs.verify.push(usPerVote(tVerify));
    runs.fast.push(usPerVote(tFast));
  }
  rows.push(["appendVote, voteVerification 'off'", median(runs.off)]);
  rows.push(['appendVote, plain vote (verified against the registry)', median(runs.plain)]);
  rows.push(['appendVote, VerifiedVote token (check skipped)', median(runs.token)]);
  rows.push(['votes.verify alone (check + mint)', median(runs.verify)]);
  rows.push(['verifiedVoteFast alone (engine: checkVote + verify + mint)', median(runs.fast)]);
  console.log(`vote verification: ${votes.length} votes, ${VALIDATORS} validators, ${IN_FLIGHT} in flight, in-memory log, median of ${reps} runs`);
  for (const [name, us] of rows) console.log(`  ${name.padEnd(62)} ${us.toFixed(2).padStart(8)} us/vote`);
}

await main();
