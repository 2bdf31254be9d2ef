/**
 * `npm run bench -- devnet` (docs/devnet.md, Benchmark): blocks per second of the reference BFT engine on the
 * real stores, and the share of each block's time spent persisting, with 4 and 21 validators,
 * each with durability `fsync` and `none` (to show what persistence costs).
 *
 * All validators run in this one process on the simulated network (zero-delay), each on its
 * own store in a temp directory: that isolates the cost of consensus plus storage from process
 * scheduling and IPC (the `cstore devnet` figures include those). Two measures of the
 * persisting share: the fraction of wall time during which validator v0 had a storage call in
 * flight (busy share), and 1 - (blocks/s with fsync / blocks/s with none) (cost share).
 *
 * Must never: leave a store open or a temp directory behind, or time the opening of stores.
 */
import { openStore, type ConsensusStore } from '../../src/store.ts';
import { publicKeyOf } from '../../src/codec/vote-sign.ts';
import { ConsensusEngine } from '../../src/consensus/engine.ts';
import { SimNetwork } from '../../src/consensus/sim-network.ts';
import { StoreStoragePort } from '../../src/consensus/store-adapter.ts';
import type { ConsensusStoragePort } from '../../src/consensus/storage-port.ts';
import { ValidatorSet } from '../../src/consensus/validator-set.ts';
import { sha256 } from '@noble/hashes/sha2.js';
import type { BenchContext } from '../lib/context.ts';
import { formatNumber } from '../lib/table.ts';
import { makeTempDir, removeTempDir } from '../lib/temp-dir.ts';

type Durability = 'fsync' | 'none';
const CHAIN_ID = 'bench-devnet';

/** Options of one measurement. */
interface RunSpec {
  readonly validators: number;
  readonly durability: Durability;
  readonly seconds: number;
}

/** What one measurement found. */
interface RunFigures extends RunSpec {
  readonly heights: number;
  readonly blocksPerSec: number;
  readonly busyShare: number;
  readonly storageCalls: number;
}

/** Wraps a port and measures the wall time during which any of its calls is in flight. */
function timed(port: ConsensusStoragePort, clock: { busyMs: number; calls: number }): ConsensusStoragePort {
  let inFlight = 0;
  let since = 0;
  const wrap = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (inFlight++ === 0) since = performance.now();
      clock.calls++;
      try {
        return await fn(...args);
      } finally {
        if (--inFlight === 0) clock.busyMs += performance.now() - since;
      }
    };
  return {
    recover: wrap(() => port.recover()),
    appendVote: wrap((v) => port.appendVote(v)),
    signVote: wrap((v) => port.signVote(v)),
    signProposal: wrap((p) => port.signProposal(p)),
    saveRoundState: wrap((s) => port.saveRoundState(s)),
    roundStateAt: wrap((h) => port.roundStateAt(h)),
    votesForRound: wrap((r) => port.votesForRound(r)),
    markFinalized: wrap((h, r) => port.markFinalized(h, r)),
    recordEquivocation: wrap((e) => port.recordEquivocation(e)),
    recordProposalEquivocation: wrap((e) => port.recordProposalEquivocation(e)),
    validatorsAt: wrap((h) => port.validatorsAt(h)),
    applyValidatorTxs: wrap((h, t) => port.applyValidatorTxs(h, t)),
    registeredValidators: wrap(() => port.registeredValidators()),
    logAudit: wrap((e) => port.logAudit(e)),
    recordReward: wrap((d) => port.recordReward(d)),
  };
}

async function measure(spec: RunSpec): Promise<RunFigures> {
  const dir = makeTempDir(`devnet-${spec.validators}-${spec.durability}`);
  const keys = Array.from({ length: spec.validators }, (_, i) => sha256(new TextEncoder().encode(`bench-key-${i}`)));
  const set = new ValidatorSet(keys.map((k, i) => ({ validatorId: `v${i}`, publicKey: publicKeyOf(k), stake: 100n })), CHAIN_ID);
  const network = new SimNetwork({ seed: 1, minDelayMs: 0, maxDelayMs: 0 });
  const stores: ConsensusStore[] = [];
  const engines: ConsensusEngine[] = [];
  const clock = { busyMs: 0, calls: 0 };
  try {
    for (let i = 0; i < spec.validators; i++) {
      const store = await openStore({
        dir: `${dir}/v${i}`,
        chainId: CHAIN_ID,
        signer: { validatorId: `v${i}`, privateKey: keys[i] as Uint8Array, state: 'new-key' },
        log: { durability: spec.durability, segmentSize: 8 * 1024 * 1024 },
      });
      stores.push(store);
      for (const v of set.validators) await store.validators.registerValidator({ validatorId: v.validatorId, publicKey: v.publicKey, stake: v.stake }, 0);
      const base = new StoreStoragePort(store, CHAIN_ID);
      const engine = new ConsensusEngine({
        chainId: CHAIN_ID,
        validatorId: `v${i}`,
        storage: i === 0 ? timed(base, clock) : base,
        transport: network.join(`v${i}`),
      });
      await engine.initializeWithRecovery();
      engines.push(engine);
    }
    const started = performance.now();
    clock.busyMs = 0;
    clock.calls = 0;
    for (const e of engines) e.start();
    await new Promise((r) => setTimeout(r, spec.seconds * 1000));
    const elapsed = performance.now() - started;
    const heights = (engines[0] as ConsensusEngine).status.finalizedHeight;
    const busy = clock.busyMs;
    const calls = clock.calls;
    await Promise.all(engines.map((e) => e.stop()));
    return { ...spec, heights, blocksPerSec: heights / (elapsed / 1000), busyShare: busy / elapsed, storageCalls: calls };
  } finally {
    network.close();
    await Promise.all(stores.map((s) => s.close()));
    removeTempDir(dir);
  }
}

/**
 * Runs the devnet benchmark: 4 and 21 validators (4 only with --quick), fsync and none, `reps` interleaved
 * repetitions of a few seconds each (shorter with --quick); reports the median per cell.
 */
export async function runDevnetScenario(ctx: BenchContext): Promise<void> {
  const seconds = ctx.quick ? 1.5 : 8;
  const reps = Math.max(1, ctx.quick ? 1 : Math.min(ctx.reps, 3));
  // --quick: 4 validators only (a CI smoke: opening 21 stores twice costs more than the runs).
  const sizes = ctx.quick ? [4] : [4, 21];
  const results = new Map<string, RunFigures[]>();
  for (let rep = 0; rep < reps; rep++) {
    for (const validators of sizes) {
      for (const durability of ['fsync', 'none'] as const) {
        ctx.log(`devnet: ${validators} validators, durability ${durability}, rep ${rep + 1}/${reps} (${seconds} s)`);
        const f = await measure({ validators, durability, seconds });
        const key = `${validators}:${durability}`;
        results.set(key, [...(results.get(key) ?? []), f]);
      }
    }
  }
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const cells: string[][] = [['validators', 'durability', 'blocks/s', 'busy share (v0 storage in flight)', 'cost share vs none']];
  for (const validators of sizes) {
    const none = median((results.get(`${validators}:none`) ?? []).map((f) => f.blocksPerSec));
    for (const durability of ['fsync', 'none'] as const) {
      const runs = results.get(`${validators}:${durability}`) ?? [];
      const bps = median(runs.map((f) => f.blocksPerSec));
      const busy = median(runs.map((f) => f.busyShare));
      const cost = durability === 'fsync' ? 1 - bps / none : 0;
      cells.push([String(validators), durability, formatNumber(bps), `${(busy * 100).toFixed(0)}%`, durability === 'fsync' ? `${(cost * 100).toFixed(0)}%` : '-']);
    }
  }
  ctx.emitTable('devnet', `devnet: the engine on real stores, all validators in one process (sim network), ${seconds} s runs, median of ${reps}`, cells);
}
