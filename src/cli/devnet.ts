/**
 * `cstore devnet`: N validators as separate OS processes, each with its own data directory
 * under `--dir`, connected through this parent over IPC (it relays every consensus message).
 * It shows a live status line, optionally kills validators with SIGKILL and restarts them
 * (`--chaos`), stops on `--blocks`, `--duration` or Ctrl-C, stops every validator cleanly, and
 * prints the verdict computed from their stores. Re-running on the same directory resumes.
 *
 * It must never write into a validator's data directory itself (only the validator does, and
 * the verdict reads after every validator exited), and never leave a child process behind.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChaosSchedule, type NodeState } from './devnet-chaos.ts';
import { loadOrCreateGenesis, type Genesis } from './devnet-genesis.ts';
import type { DevnetOptions } from './devnet-options.ts';
import type { ChildMessage, NodeLaunch, ParentMessage } from './devnet-protocol.ts';
import { DevnetStatus, StatusPrinter } from './devnet-status.ts';
import { computeVerdict, formatVerdict, type DevnetVerdict, type NodeAtStop } from './devnet-verdict.ts';
import { DEVNET_METRICS_PORT_ENV, devnetMetricsPort, isMetricsAnnouncement, NODE_METRICS_PORT_ENV, type MetricsAnnouncement } from './metrics-http.ts';

/** Unexpected exits of one validator after which it is left down. */
const MAX_UNEXPECTED_EXITS = 5;
/** How long a validator gets to stop cleanly before it is killed. */
const STOP_GRACE_MS = 10_000;
/** How often the stop is sent again to validators that have not exited. */
const STOP_RESEND_MS = 250;
const TICK_MS = 500;

/** What a devnet run produced. */
export interface DevnetResult {
  readonly verdict: DevnetVerdict;
  readonly elapsedSec: number;
  readonly heightsThisRun: number;
  readonly restarts: number;
  readonly evidence: number;
  /** p99 time to persist a vote over the last window, ms. */
  readonly p99PersistMs: number;
  readonly votesPerSec: number;
  /** 0 when safety and every honest validator's liveness held, 1 otherwise. */
  readonly exitCode: number;
}

/** One validator process slot. */
interface Slot {
  readonly id: string;
  readonly launch: NodeLaunch;
  child: ChildProcess | undefined;
  /** Starting from the fork until it reports ready, up after, down once it exited or was killed. */
  state: NodeState;
  /** When its current process reported ready (ms since the epoch). */
  upSince: number | undefined;
  killedByChaos: boolean;
  unexpectedExits: number;
  stderrTail: string;
  exited: Promise<void>;
  /** The port its metrics are served on (0: a free one), undefined when off. */
  readonly metricsPort: number | undefined;
  /** The URL it last announced. */
  metricsUrl?: string;
}

const CHILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), `devnet-node${extname(fileURLToPath(import.meta.url))}`);

/**
 * Runs a devnet until it stops by itself (or on Ctrl-C), then prints and returns the verdict.
 * @param out where the status and the verdict go (stdout).
 */
export async function runDevnet(options: DevnetOptions, out: NodeJS.WriteStream = process.stdout): Promise<DevnetResult> {
  const dir = resolve(options.dir);
  const ids = Array.from({ length: options.validators }, (_, i) => `v${i}`);
  // Checked before any process starts: a bad value is a usage error.
  const metricsEnv = process.env[DEVNET_METRICS_PORT_ENV];
  const metricsPorts = ids.map((_, i) => devnetMetricsPort(metricsEnv, i));
  const byzantineIds = ids.slice(options.validators - options.byzantine);
  const { genesis, created } = await loadOrCreateGenesis(dir, options.validators, byzantineIds);
  const printer = new StatusPrinter(out, options.plain);
  printer.message(
    `cstore devnet: ${options.validators} validators as OS processes, data in ${dir} (${created ? 'new chain' : 'resuming'})` +
      `, seed ${options.seed}${options.chaos ? ', chaos on' : ''}${byzantineIds.length > 0 ? `, byzantine: ${byzantineIds.join(' ')}` : ''}`,
  );
  printer.message(`stops ${stopWhen(options)}; Ctrl-C stops early and prints the verdict`);
  const status = new DevnetStatus(ids, Date.now());
  const slots = new Map<string, Slot>();
  let stopping = false;
  let notedSinks = false;
  let firstReadyAt: number | undefined;
  /** The validator set as the most advanced validator last reported it (chaos follows it). */
  let reportedSet: { height: number; ids: readonly string[] } = { height: 0, ids };
  let resolveStop: () => void = () => undefined;
  const stopped = new Promise<void>((r) => {
    resolveStop = r;
  });
  const requestStop = (): void => {
    if (!stopping) resolveStop();
  };
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopping) fn();
    }, ms);
    timers.add(t);
  };

  const relay = (from: string, m: Extract<ChildMessage, { t: 'net' }>): void => {
    const message: ParentMessage = { t: 'net', from, data: m.data };
    for (const slot of slots.values()) {
      if (slot.id === from || (m.to !== undefined && m.to !== slot.id)) continue;
      const child = slot.child;
      if (child?.connected === true) child.send(message, (err) => void err);
    }
  };

  const spawn = (slot: Slot, isRestart: boolean): void => {
    const env = slot.metricsPort === undefined ? process.env : { ...process.env, [NODE_METRICS_PORT_ENV]: String(slot.metricsPort) };
    const child = fork(CHILD_SCRIPT, [JSON.stringify(slot.launch)], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env });
    slot.child = child;
    slot.state = 'starting';
    slot.upSince = undefined;
    slot.killedByChaos = false;
    slot.stderrTail = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      slot.stderrTail = (slot.stderrTail + chunk.toString()).slice(-2000);
    });
    child.on('message', (m: ChildMessage | MetricsAnnouncement) => {
      if (isMetricsAnnouncement(m)) {
        if (m.url !== slot.metricsUrl) printer.message(`  ${slot.id} metrics: ${m.url}`);
        slot.metricsUrl = m.url;
        return;
      }
      if (m.t === 'net') relay(slot.id, m);
      else if (m.t === 'stats') {
        status.report(slot.id, m.stats, Date.now());
        if (m.stats.validators !== undefined && m.stats.height > reportedSet.height) reportedSet = { height: m.stats.height, ids: m.stats.validators };
      }
      else if (m.t === 'finalized') {
        status.maxFinalized = Math.max(status.maxFinalized, m.height);
        if (options.blocks > 0 && status.heightsThisRun >= options.blocks) requestStop();
      } else if (m.t === 'ready') {
        slot.state = 'up';
        slot.upSince = Date.now();
        status.nodeUp(slot.id, m.height);
        firstReadyAt ??= Date.now();
        if (isRestart) {
          status.restarts++;
          printer.message(`  ${slot.id} restarted: recovered at height ${m.height}, round ${m.round}, phase ${m.phase}`);
        }
        if (!notedSinks && m.missingSinks.length > 0) {
          notedSinks = true;
          printer.message(`  note: storage sinks not wired, their records are not kept: ${m.missingSinks.join(', ')}; evidence is read from the vote stores`);
        }
      } else if (m.t === 'fatal') printer.message(`  ${slot.id} failed: ${m.message}`);
    });
    slot.exited = new Promise((resolveExit) => {
      child.on('exit', (code, signal) => {
        status.nodeDown(slot.id);
        slot.child = undefined;
        slot.state = 'down';
        slot.upSince = undefined;
        resolveExit();
        if (stopping || slot.killedByChaos) return;
        slot.unexpectedExits++;
        printer.message(`  ${slot.id} exited unexpectedly (${signal ?? `code ${code}`})${slot.stderrTail === '' ? '' : `: ${slot.stderrTail.trim().split('\n').slice(-3).join(' | ')}`}`);
        if (slot.unexpectedExits < MAX_UNEXPECTED_EXITS) later(1_000, () => spawn(slot, true));
      });
    });
  };

  for (const [i, id] of ids.entries()) {
    const launch: NodeLaunch = { id, dir, genesisFile: join(dir, 'genesis.json'), byzantine: byzantineIds.includes(id) };
    const slot: Slot = { id, launch, child: undefined, state: 'down', upSince: undefined, killedByChaos: false, unexpectedExits: 0, stderrTail: '', exited: Promise.resolve(), metricsPort: metricsPorts[i] };
    slots.set(id, slot);
    spawn(slot, false);
  }

  if (options.chaos) {
    const chaos = new ChaosSchedule(options.seed, options.validators, options.byzantine);
    const next = (): void => {
      later(chaos.nextDelayMs(), () => {
        const set = { size: reportedSet.ids.length, byzantine: reportedSet.ids.filter((id) => byzantineIds.includes(id)).length };
        if (chaos.setChanged(set)) {
          const removed = ids.filter((id) => !reportedSet.ids.includes(id));
          const now = `the validator set at height ${reportedSet.height} is ${reportedSet.ids.join(' ')} (${removed.join(' ')} removed)`;
          printer.message(chaos.maxDown === 0 ? `  chaos paused: ${now}, which tolerates no validator down` : `  chaos: ${now}: at most ${chaos.maxDown} down at once`);
        }
        const kill = chaos.nextKill(new Map([...slots.values()].map((s) => [s.id, s.state])));
        const slot = kill === undefined ? undefined : slots.get(kill.id);
        if (kill !== undefined && slot?.child !== undefined) {
          slot.killedByChaos = true;
          slot.state = 'down';
          slot.upSince = undefined;
          slot.child.kill('SIGKILL');
          printer.message(`  chaos: SIGKILL ${kill.id}, restart in ${kill.downMs} ms`);
          later(kill.downMs, () => spawn(slot, true));
        }
        next();
      });
    };
    next();
  }

  if (options.durationSec > 0) later(options.durationSec * 1000, requestStop);
  const tick = setInterval(() => printer.show(status.line(Date.now()), Date.now()), TICK_MS);
  const onSigint = (): void => requestStop();
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  await stopped;
  stopping = true;
  const stoppedAt = Date.now();
  for (const t of timers) clearTimeout(t);
  clearInterval(tick);
  const snapshot = status.snapshot(stoppedAt);
  // What the run did up to the stop: a validator that reports while stopping adds nothing.
  const heightsThisRun = status.heightsThisRun;
  const atStop = new Map<string, NodeAtStop>([...slots.values()].map((s) => [s.id, nodeAtStop(s)]));
  printer.finish(status.line(stoppedAt));
  printer.message('stopping validators ...');
  const killed = await stopAll([...slots.values()]);
  for (const id of killed) printer.message(`  ${id} did not stop in ${STOP_GRACE_MS / 1000} s: SIGKILL`);
  printer.message(`validators stopped in ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s`);
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigint);

  // From the first validator ready to the stop; 0 when none was ready before the stop.
  const elapsedSec = firstReadyAt === undefined || firstReadyAt > stoppedAt ? 0 : (stoppedAt - firstReadyAt) / 1000;
  const verdict = await computeVerdict(dir, genesis, { elapsedSec, heightsThisRun, stoppedAt, nodes: atStop });
  printer.message(formatVerdict(verdict, heightsThisRun, elapsedSec));
  return {
    verdict,
    elapsedSec,
    heightsThisRun,
    restarts: status.restarts,
    evidence: status.evidence,
    p99PersistMs: snapshot.p99Ms,
    votesPerSec: snapshot.votesPerSec,
    exitCode: verdict.safe && verdict.live ? 0 : 1,
  };
}

/** Where a validator was when the run stopped, for the verdict's liveness check. */
function nodeAtStop(s: Slot): NodeAtStop {
  if (s.state === 'up' && s.upSince !== undefined) return { state: 'up', upSince: s.upSince };
  if (s.state === 'starting') return { state: 'starting' };
  return { state: s.killedByChaos ? 'killed' : 'exited' };
}

function stopWhen(o: DevnetOptions): string {
  const parts = [o.blocks > 0 ? `after ${o.blocks} new heights` : '', o.durationSec > 0 ? `after ${o.durationSec} s` : ''].filter((p) => p !== '');
  return parts.length === 0 ? 'on Ctrl-C' : parts.join(' or ');
}

/** Asks every validator to stop; kills the ones still running after the grace period, and returns their ids. */
async function stopAll(slots: readonly Slot[]): Promise<string[]> {
  const sendStop = (): void => {
    for (const s of slots) if (s.child?.connected === true) s.child.send({ t: 'stop' } satisfies ParentMessage, (err) => void err);
  };
  sendStop();
  // A validator still loading its modules has no message listener yet, and a message that
  // arrives then is lost: the stop is sent again until every validator exited.
  const resend = setInterval(sendStop, STOP_RESEND_MS);
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((r) => {
    timer = setTimeout(r, STOP_GRACE_MS);
  });
  await Promise.race([Promise.all(slots.map((s) => s.exited)), grace]);
  clearTimeout(timer);
  clearInterval(resend);
  const killed = slots.filter((s) => s.child !== undefined).map((s) => s.id);
  for (const s of slots) s.child?.kill('SIGKILL');
  await Promise.all(slots.map((s) => s.exited));
  return killed;
}

/** The genesis type, for callers that want to read a devnet directory. */
export type { Genesis };
