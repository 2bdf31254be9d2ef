/**
 * `cstore demo`: a short, honest demonstration of what the engine promises. It writes signed
 * votes and round checkpoints durably, records an equivocation, then lets a child process write
 * concurrently and kills it with SIGKILL at a random moment, reopens the directory, and checks
 * that every vote the child saw acknowledged is there, that the node resumes at its last round,
 * and that the sign guard refuses to sign a conflicting vote. Everything it prints it measured.
 *
 * It must never claim a check it did not run: every line that says "ok" comes from a comparison.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sha256 } from '@noble/hashes/sha2.js';
import { isStoreError } from '../errors.ts';
import { openStore, type ConsensusStore } from '../store.ts';
import { publicKeyOf, signVote } from '../codec/vote-sign.ts';
import type { ValidatorVote, VoteType } from '../model/vote.ts';

const CHAIN_ID = 'cstore-demo';
const VALIDATORS = 4;

/** What the demo and its writer child are given. */
export interface DemoOptions {
  /** Data directory; default a fresh one under the system temp directory (left there, and named, at the end). */
  readonly dir?: string;
  /** Seed for the keys and the kill moment. */
  readonly seed?: number;
  /** Where lines go. */
  readonly print?: (line: string) => void;
}

interface Key {
  readonly validatorId: string;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

function demoKeys(seed: number): Key[] {
  const keys: Key[] = [];
  for (let i = 0; i < VALIDATORS; i++) {
    const privateKey = sha256(new TextEncoder().encode(`cstore-demo-key/${seed}/${i}`));
    keys.push({ validatorId: `validator-${i}`, privateKey, publicKey: publicKeyOf(privateKey) });
  }
  return keys;
}

function blockHash(height: number, variant = 0): Uint8Array {
  return sha256(new TextEncoder().encode(`block/${height}/${variant}`));
}

async function openDemoStore(dir: string, key: Key, fresh: boolean): Promise<ConsensusStore> {
  return openStore({
    dir,
    chainId: CHAIN_ID,
    signer: { privateKey: key.privateKey, validatorId: key.validatorId, state: fresh ? 'new-key' : 'existing-key' },
    // Small segments keep the demo's footprint small; the default is 64 MiB.
    log: { segmentSize: 4 * 1024 * 1024 },
  });
}

/**
 * Writes one height in one round: every validator's prevote and precommit (validator-0's own
 * through the sign guard), a checkpoint per phase, and the finalization mark. Calls `onAck` for
 * each vote once its append resolved (durable).
 */
async function writeRound(
  store: ConsensusStore,
  keys: readonly Key[],
  height: number,
  round: number,
  onAck?: (vote: ValidatorVote) => void,
): Promise<number[]> {
  const latencies: number[] = [];
  const now = Date.now();
  await store.rounds.saveRoundState({ height, round, phase: 'propose', startedAt: now, updatedAt: now });
  for (const voteType of ['prevote', 'precommit'] as VoteType[]) {
    const own = await store.signGuard.signVote({ validatorId: keys[0]!.validatorId, height, round, voteType, blockHash: blockHash(height), timestamp: Date.now() });
    const votes = [own, ...keys.slice(1).map((k) => signVote({ validatorId: k.validatorId, height, round, voteType, blockHash: blockHash(height), timestamp: Date.now() }, k.privateKey, CHAIN_ID))];
    await Promise.all(
      votes.map(async (vote) => {
        const started = performance.now();
        await store.votes.appendVote(vote);
        latencies.push(performance.now() - started);
        onAck?.(vote);
      }),
    );
    const t = Date.now();
    await store.rounds.saveRoundState({ height, round, phase: voteType, startedAt: now, updatedAt: t });
  }
  const t = Date.now();
  await store.rounds.saveRoundState({ height, round, phase: 'finalize', startedAt: now, updatedAt: t });
  await store.votes.markFinalized(height, round);
  return latencies;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Runs the demonstration; resolves with the process exit code (0 when every check held). */
export async function runDemo(options: DemoOptions = {}): Promise<number> {
  const print = options.print ?? ((line: string) => console.log(line));
  const seed = options.seed ?? (randomBytes(4).readUInt32LE(0) & 0x7fffffff);
  const dir = options.dir ?? join(tmpdir(), `cstore-demo-${process.pid}-${Date.now()}`);
  const keys = demoKeys(seed);
  const own = keys[0]!;
  let failures = 0;
  const check = (ok: boolean, what: string): void => {
    if (!ok) failures++;
    print(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  };

  print(`consensus-store demo (seed ${seed})`);
  print(`data directory: ${dir}`);
  print('');
  print('1. A validator writes 5 heights: 4 validators\' prevotes and precommits, a checkpoint per phase.');
  let store = await openDemoStore(dir, own, true);
  for (const k of keys) await store.validators.registerValidator({ validatorId: k.validatorId, publicKey: k.publicKey, stake: 1_000_000n }, 1);
  const latencies: number[] = [];
  for (let h = 1; h <= 5; h++) latencies.push(...(await writeRound(store, keys, h, h)));
  print(`   ${latencies.length} votes, each acknowledged only after fdatasync: p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms`);

  print('2. validator-3 equivocates: a second prevote for another block in round 5.');
  const conflicting = signVote({ validatorId: keys[3]!.validatorId, height: 5, round: 5, voteType: 'prevote', blockHash: blockHash(5, 1), timestamp: Date.now() }, keys[3]!.privateKey, CHAIN_ID);
  const result = await store.votes.appendVote(conflicting);
  check(result.outcome === 'equivocation', `stored and flagged as ${result.outcome}`);
  await store.close();

  print('3. A child process keeps writing concurrently; we kill it with SIGKILL at a random moment.');
  const acked = await runChildAndKill(dir, seed, print);
  print(`   the child had ${acked.length} votes acknowledged before it died`);

  print('4. Reopen the directory and recover.');
  store = await openDemoStore(dir, own, false);
  const recovered = await store.recovery.recover();
  const open = store.log.openReport;
  print(`   open: ${open.segmentsScanned} segment(s), ${open.recordsScanned} records scanned, torn tail cut: ${open.tornBytesCut} bytes, ${open.durationMs.toFixed(1)} ms`);
  const rs = recovered.roundState?.state;
  print(`   resumes at height ${rs?.height}, round ${rs?.round}, phase ${rs?.phase}, with ${recovered.votes.length} votes of that round`);
  check(recovered.integrity.ok, `start-up integrity check (${recovered.integrity.checked} records re-read)`);
  let missing = 0;
  for (const vote of acked) if (!(await store.votes.voteExists(vote.validatorId, vote.round, vote.voteType))) missing++;
  check(missing === 0, `every acknowledged vote is there (${acked.length - missing} of ${acked.length})`);

  print('5. Ask the sign guard to sign a conflicting vote for a round validator-0 already signed.');
  const watermark = store.signGuard.watermark();
  if (watermark !== undefined && watermark.step !== 'propose') {
    try {
      await store.signGuard.signVote({ validatorId: own.validatorId, height: watermark.height, round: watermark.round, voteType: watermark.step, blockHash: blockHash(watermark.height, 7), timestamp: Date.now() });
      check(false, 'the sign guard signed a conflicting vote');
    } catch (err) {
      check(isStoreError(err, 'CONFLICT'), `refused with ${isStoreError(err) ? err.code : String(err)} (watermark height ${watermark.height}, round ${watermark.round}, ${watermark.step})`);
    }
  } else {
    check(false, 'no watermark recorded for validator-0');
  }
  await store.close();

  print('');
  print(`the data directory is left for you to look at: npm run cstore -- inspect ${dir}`);
  print(failures === 0 ? 'every check held.' : `${failures} check(s) failed.`);
  return failures === 0 ? 0 : 1;
}

/** Spawns the writer child on `dir`, collects its acknowledgements, kills it after a random number. */
async function runChildAndKill(dir: string, seed: number, print: (line: string) => void): Promise<ValidatorVote[]> {
  const script = process.argv[1];
  if (script === undefined) throw new Error('cannot locate the cstore script to spawn the writer');
  const child = spawn(process.execPath, [...process.execArgv, script, 'demo-writer', '--dir', dir, '--seed', String(seed)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const killAfter = 40 + (seed % 200);
  const acked: ValidatorVote[] = [];
  const lines = createInterface({ input: child.stdout });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for await (const line of lines) {
    const [tag, validatorId, round, voteType] = line.split(' ');
    if (tag !== 'ack' || validatorId === undefined || round === undefined || voteType === undefined) continue;
    acked.push({ validatorId, round: Number(round), voteType: voteType as VoteType } as ValidatorVote);
    if (acked.length === killAfter) {
      child.kill('SIGKILL');
      break;
    }
  }
  await exited;
  print(`   child exit: ${child.signalCode ?? child.exitCode}`);
  return acked;
}

/** The child: reopens `dir` and writes heights 6.. until killed, printing `ack <validator> <round> <type>` per durable vote. */
export async function runDemoWriter(dir: string, seed: number): Promise<void> {
  const keys = demoKeys(seed);
  const store = await openDemoStore(dir, keys[0]!, false);
  for (let h = 6; h < 1_000_000; h++) {
    await writeRound(store, keys, h, h, (vote) => process.stdout.write(`ack ${vote.validatorId} ${vote.round} ${vote.voteType}\n`));
  }
}
