/**
 * Real processes, real file system, real SIGKILL: a writer child (fuzz/kill/child.ts) appends
 * concurrently and streams each acknowledgement; the parent kills it after a random delay,
 * reopens the directory and checks every acknowledged vote (with its LSN; through the vote
 * store's queries, which answer across the hot log and the cold tier: the child compacts), the round state
 * (the last acknowledged checkpoint or a later one) and the sign guard (watermark at or past
 * every released signature; the same request gets the same signature, a conflicting one is
 * refused). Then the next child continues in the same directory, so damage would accumulate.
 * The next child is spawned while the parent checks, so its start-up cost is hidden.
 *
 * It must never kill a process it did not spawn, and never leave its temp directories behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isStoreError } from '../../src/errors.ts';
import { Prng } from '../../src/io/prng.ts';
import { openStore } from '../../src/store.ts';
import { CONSENSUS_PHASES } from '../../src/model/round.ts';
import { SIGN_STEPS } from '../../src/model/sign.ts';
import type { VoteType } from '../../src/model/vote.ts';
import { blockHashOf, FUZZ_CHAIN_ID, hex, unhex } from '../keys.ts';
import type { Tally } from '../report.ts';
import { KILL_RETENTION, KILL_SEGMENT_SIZE, KILL_SNAPSHOTS, killIdentity, parseAck, type AckLine } from './protocol.ts';

const CHILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'child.ts');
const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Share of the children killed later than `maxDelayMs` (up to six times it). */
const LONG_LIVED_SHARE = 0.2;

/** Options of a kill session. */
export interface KillOptions {
  readonly seed: number;
  /** Total kills. */
  readonly kills: number;
  /** Directories worked in parallel (each with its own child). */
  readonly lanes?: number;
  /** Kills per directory before a fresh one is started. */
  readonly killsPerDir?: number;
  /** Longest delay after `go` before the kill, ms. */
  readonly maxDelayMs?: number;
}

/** What the parent knows was acknowledged in one directory. */
interface DirModel {
  readonly votes: Map<string, number>;
  lastRound: { height: number; round: number; phase: number } | undefined;
  lastSign: Extract<AckLine, { tag: 's' }> | undefined;
  released: Map<string, string>;
  cycles: number;
}

/** Node arguments that let a child run TypeScript (tsx), here or under vitest. */
function childExecArgv(): string[] {
  const own = process.execArgv;
  return own.some((a) => a.includes('tsx')) ? [...own] : ['--import', 'tsx'];
}

interface Spawned {
  readonly child: ChildProcess;
  readonly lines: AsyncIterator<string>;
  readonly exited: Promise<void>;
}

function spawnChild(dir: string, fresh: boolean, seed: number): Spawned {
  const child = spawn(process.execPath, [...childExecArgv(), CHILD_SCRIPT, '--dir', dir, '--fresh', fresh ? '1' : '0', '--seed', String(seed)], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return { child, lines, exited };
}

async function nextLine(s: Spawned): Promise<string | undefined> {
  const r = await s.lines.next();
  return r.done === true ? undefined : r.value;
}

/** Runs the kill cycles; records kills and violations on `tally`. */
export async function runKillSession(options: KillOptions, tally: Tally): Promise<void> {
  const lanes = Math.max(1, Math.min(options.lanes ?? 2, options.kills));
  const perLane = Math.ceil(options.kills / lanes);
  const work: Promise<void>[] = [];
  for (let lane = 0; lane < lanes; lane++) {
    const count = Math.min(perLane, options.kills - lane * perLane);
    if (count > 0) work.push(runLane(options, lane, count, tally));
  }
  await Promise.all(work);
}

async function runLane(options: KillOptions, lane: number, kills: number, tally: Tally): Promise<void> {
  const prng = new Prng(options.seed * 64 + lane);
  const killsPerDir = options.killsPerDir ?? 50;
  const maxDelay = options.maxDelayMs ?? 150;
  const replay = `npm run fuzz -- --kills ${options.kills} --seed ${options.seed} --no-sim   (timing-dependent: re-run a few times)`;
  let done = 0;
  while (done < kills) {
    const dir = mkdtempSync(join(tmpdir(), `cstore-kill-${lane}-`));
    const model: DirModel = { votes: new Map(), lastRound: undefined, lastSign: undefined, released: new Map(), cycles: 0 };
    try {
      let next = spawnChild(dir, true, prng.nextU32());
      const batch = Math.min(killsPerDir, kills - done);
      for (let k = 0; k < batch; k++) {
        const current = next;
        // A fifth of the children live longer (up to 6x the delay), so that compactions also
        // commit (cold files, release) between the kills that land inside them.
        const delay = prng.bool(LONG_LIVED_SHARE) ? prng.int(maxDelay, maxDelay * 6) : prng.int(0, maxDelay);
        const problems = await killCycle(current, delay, prng.bool(0.15), model);
        tally.killCycles++;
        for (let c = 0; c < problems.compactions; c++) tally.fault('kill:compaction-acked');
        for (let c = 0; c < problems.released; c++) tally.fault('kill:compaction-released-segments');
        tally.crash(problems.phase);
        // Spawn the next child now: it loads while we check.
        next = spawnChild(dir, false, prng.nextU32());
        const result = await checkDir(dir, model);
        // Whether that reopen read across both tiers (a compaction committed: docs/format.md, "Cold files").
        if (existsSync(join(dir, 'cold', 'MANIFEST'))) tally.fault('kill:reopen-across-tiers');
        tally.ackedChecked += result.checked;
        tally.checks++;
        for (const p of [...problems.problems, ...result.problems]) {
          tally.violate({ source: 'kill', seed: options.seed, message: `lane ${lane}, dir ${dir}, cycle ${model.cycles}: ${p}`, replay });
        }
        model.cycles++;
        done++;
      }
      next.child.kill('SIGKILL');
      await next.exited;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/**
 * Lets the child write for `delayMs` after its store is open (or, `duringOpen`, after `go`:
 * the kill may land in the open's recovery), kills it, and folds its acknowledgements into the model.
 */
async function killCycle(s: Spawned, delayMs: number, duringOpen: boolean, model: DirModel): Promise<{ phase: string; problems: string[]; compactions: number; released: number }> {
  const problems: string[] = [];
  let compactions = 0;
  let released = 0;
  let opened = false;
  const first = await nextLine(s);
  if (first !== 'loaded') {
    problems.push(`child did not start (first line: ${String(first)})`);
    s.child.kill('SIGKILL');
    await s.exited;
    return { phase: 'sigkill:no-start', problems, compactions, released };
  }
  s.child.stdin!.write('go\n');
  const kill = (): void => void s.child.kill('SIGKILL');
  let timer = duringOpen ? setTimeout(kill, delayMs % 100) : undefined;
  for (let line = await nextLine(s); line !== undefined; line = await nextLine(s)) {
    const ack = parseAck(line);
    if (ack === undefined) continue;
    if (ack.tag === 'open') {
      opened = true;
      timer ??= setTimeout(kill, delayMs);
    }
    else if (ack.tag === 'c') {
      compactions++;
      if (ack.released > 0) released++;
    } else if (ack.tag === 'v') model.votes.set(`${ack.validatorId}|${ack.round}|${ack.voteType}|${ack.height}|${ack.hash}`, ack.lsn);
    else if (ack.tag === 'r') {
      const r = { height: ack.height, round: ack.round, phase: CONSENSUS_PHASES.indexOf(ack.phase as never) };
      const last = model.lastRound;
      if (last === undefined || compare3(r, last) > 0) model.lastRound = r;
    } else if (ack.tag === 's') {
      const key = `${ack.height}/${ack.round}/${ack.voteType}`;
      const seen = model.released.get(key);
      if (seen !== undefined && seen !== ack.signature) problems.push(`D8: two different signatures released for ${key}`);
      model.released.set(key, ack.signature);
      model.lastSign = ack;
    }
  }
  clearTimeout(timer);
  await s.exited;
  if (s.child.signalCode !== 'SIGKILL') problems.push(`child ended by itself (exit ${s.child.exitCode}) instead of being killed`);
  return { phase: opened ? 'sigkill:writing' : 'sigkill:opening', problems, compactions, released };
}

function compare3(a: { height: number; round: number; phase: number }, b: { height: number; round: number; phase: number }): number {
  return a.height - b.height || a.round - b.round || a.phase - b.phase;
}

/** Reopens `dir` and checks everything the model says was acknowledged. */
async function checkDir(dir: string, model: DirModel): Promise<{ problems: string[]; checked: number }> {
  const problems: string[] = [];
  let checked = 0;
  let store;
  try {
    store = await openStore({
      dir,
      chainId: FUZZ_CHAIN_ID,
      signer: { ...killIdentity(), state: model.lastSign === undefined ? 'new-key' : 'existing-key' },
      log: { segmentSize: KILL_SEGMENT_SIZE },
      retention: KILL_RETENTION,
      snapshots: KILL_SNAPSHOTS,
    });
  } catch (err) {
    return { problems: [`reopen after SIGKILL failed: ${String(err)}`], checked };
  }
  try {
    for (const [key, lsn] of model.votes) {
      const [validatorId, round, voteType, height, hash] = key.split('|') as [string, string, VoteType, string, string];
      const found = await store.votes.queryVotes({ round: Number(round), validatorId, voteType, limit: 100 });
      const match = found.find((e) => e.vote.height === Number(height) && e.vote.blockHash !== null && hex(e.vote.blockHash) === hash);
      checked++;
      if (match === undefined) problems.push(`D1: acknowledged vote ${key} (LSN ${lsn}) missing after SIGKILL`);
      else if (match.id !== lsn) problems.push(`acknowledged vote ${key}: LSN ${lsn} acknowledged, ${match.id} stored`);
    }
    const last = model.lastRound;
    if (last !== undefined) {
      checked++;
      const latest = (await store.rounds.loadRoundState())?.state;
      const got = latest === undefined ? undefined : { height: latest.height, round: latest.round, phase: CONSENSUS_PHASES.indexOf(latest.phase) };
      if (got === undefined || compare3(got, last) < 0) {
        problems.push(`round state: acknowledged ${last.height}/${last.round}/${CONSENSUS_PHASES[last.phase]}, reopened at ${got === undefined ? 'none' : `${got.height}/${got.round}/${CONSENSUS_PHASES[got.phase]}`}`);
      }
      const rec = await store.recovery.recover();
      if (!rec.integrity.ok) problems.push(`recover(): integrity failed: ${rec.integrity.problems.join('; ')}`);
    }
    const sign = model.lastSign;
    if (sign !== undefined) {
      checked++;
      problems.push(...(await checkSignGuard(store, sign, model)));
    }
  } finally {
    await store.close();
  }
  return { problems, checked };
}

async function checkSignGuard(store: Awaited<ReturnType<typeof openStore>>, sign: Extract<AckLine, { tag: 's' }>, model: DirModel): Promise<string[]> {
  const problems: string[] = [];
  const wm = store.signGuard.watermark();
  const step = SIGN_STEPS.indexOf(sign.voteType as never);
  if (wm === undefined || compare3({ height: wm.height, round: wm.round, phase: SIGN_STEPS.indexOf(wm.step) }, { height: sign.height, round: sign.round, phase: step }) < 0) {
    problems.push(`D8: watermark ${wm === undefined ? 'none' : `${wm.height}/${wm.round}/${wm.step}`} behind released ${sign.height}/${sign.round}/${sign.voteType}`);
  }
  const request = { validatorId: killIdentity().validatorId, height: sign.height, round: sign.round, voteType: sign.voteType as VoteType, blockHash: unhex(sign.hash), timestamp: sign.timestamp };
  for (const [req, conflicting] of [[request, false], [{ ...request, blockHash: blockHashOf(sign.height, 99) }, true]] as const) {
    try {
      const signed = await store.signGuard.signVote(req);
      const key = `${sign.height}/${sign.round}/${sign.voteType}`;
      if (conflicting) problems.push(`D8: a conflicting vote for ${key} was signed after SIGKILL`);
      else if (hex(signed.signature) !== sign.signature) problems.push(`D8: the same request for ${key} got another signature after SIGKILL`);
      if (!conflicting) model.released.set(key, hex(signed.signature));
    } catch (err) {
      if (!isStoreError(err, 'CONFLICT')) problems.push(`sign guard after SIGKILL: ${String(err)}`);
    }
  }
  return problems;
}
