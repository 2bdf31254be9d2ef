/**
 * The devnet's live numbers and how they are shown: aggregated from the validators' reports
 * (height, round, blocks/s, votes persisted/s, p99 time to persist, restarts survived,
 * evidence recorded), rendered as one line that redraws in place on a terminal, or as plain
 * lines at an interval otherwise.
 *
 * It never does I/O besides writing the line to the given stream.
 */
import type { NodeStats } from './devnet-protocol.ts';

/** Window of the rates and of the p99, in ms. */
const WINDOW_MS = 5_000;

/** One validator as the status sees it. */
interface NodeView {
  up: boolean;
  /** It came up at least once in this run. */
  cameUp: boolean;
  stats: NodeStats | undefined;
  /** Cumulative counters of earlier incarnations (a restart resets the process's own). */
  votesBase: number;
  equivocationsBase: number;
}

/** Aggregates validator reports into the status numbers. */
export class DevnetStatus {
  readonly #nodes = new Map<string, NodeView>();
  readonly #samples: { at: number; ms: number }[] = [];
  readonly #heights: { at: number; height: number; votes: number }[] = [];
  readonly #startedAt: number;
  #startHeight: number | undefined;
  /** Validators restarted by chaos that came back. */
  restarts = 0;
  /** Highest finalized height any validator reported. */
  maxFinalized = 0;

  constructor(ids: readonly string[], now: number) {
    for (const id of ids) this.#nodes.set(id, { up: false, cameUp: false, stats: undefined, votesBase: 0, equivocationsBase: 0 });
    this.#startedAt = now;
  }

  /** A validator process (re)started and recovered. */
  nodeUp(id: string, recoveredHeight: number): void {
    const n = this.#nodes.get(id);
    if (n === undefined) return;
    if (n.stats !== undefined) {
      n.votesBase += n.stats.votesPersisted;
      n.equivocationsBase += n.stats.equivocations;
      n.stats = undefined;
    }
    n.up = true;
    if (this.#startHeight === undefined) this.#heights.length = 0;
    // Every height a validator recovered on its first start was finalized before this run: the
    // run starts at the highest of them (a lagging validator's lower height is not the run's).
    if (!n.cameUp) this.#startHeight = Math.max(this.#startHeight ?? 0, recoveredHeight - 1);
    n.cameUp = true;
    this.maxFinalized = Math.max(this.maxFinalized, recoveredHeight - 1);
  }

  /** A validator process exited (killed or stopped). */
  nodeDown(id: string): void {
    const n = this.#nodes.get(id);
    if (n !== undefined) n.up = false;
  }

  /** A validator's periodic report. */
  report(id: string, stats: NodeStats, now: number): void {
    const n = this.#nodes.get(id);
    if (n === undefined) return;
    n.stats = stats;
    for (const ms of stats.persistMs) this.#samples.push({ at: now, ms });
    while ((this.#samples[0]?.at ?? now) < now - WINDOW_MS) this.#samples.shift();
    this.maxFinalized = Math.max(this.maxFinalized, stats.height - 1);
  }

  /** Heights finalized since the run started. */
  get heightsThisRun(): number {
    return Math.max(0, this.maxFinalized - (this.#startHeight ?? this.maxFinalized));
  }

  /** Total equivocations detected by all validators (all incarnations). */
  get evidence(): number {
    let sum = 0;
    for (const n of this.#nodes.values()) sum += n.equivocationsBase + (n.stats?.equivocations ?? 0);
    return sum;
  }

  /** The numbers of the status line. */
  snapshot(now: number): { height: number; round: number; blocksPerSec: number; votesPerSec: number; p99Ms: number; up: number; errors: number; lastError?: string } {
    let votes = 0;
    let round = 0;
    let up = 0;
    let errors = 0;
    let lastError: string | undefined;
    for (const n of this.#nodes.values()) {
      votes += n.votesBase + (n.stats?.votesPersisted ?? 0);
      round = Math.max(round, n.stats?.round ?? 0);
      if (n.up) up++;
      errors += n.stats?.errors ?? 0;
      lastError = n.stats?.lastError ?? lastError;
    }
    this.#heights.push({ at: now, height: this.maxFinalized, votes });
    while (this.#heights.length > 1 && (this.#heights[0]?.at ?? now) < now - WINDOW_MS) this.#heights.shift();
    const first = this.#heights[0] ?? { at: this.#startedAt, height: this.maxFinalized, votes };
    const span = Math.max(1, now - first.at) / 1000;
    const sorted = this.#samples.map((s) => s.ms).sort((a, b) => a - b);
    const p99 = sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] as number);
    return {
      height: this.maxFinalized,
      round,
      blocksPerSec: (this.maxFinalized - first.height) / span,
      votesPerSec: (votes - first.votes) / span,
      p99Ms: p99,
      up,
      errors,
      ...(lastError === undefined ? {} : { lastError }),
    };
  }

  /** The status line. */
  line(now: number): string {
    const s = this.snapshot(now);
    const nodes = [...this.#nodes].map(([id, n]) => (n.up ? `${id}:${n.stats === undefined ? '…' : n.stats.height - 1}` : `${id}:down`)).join(' ');
    const secs = Math.round((now - this.#startedAt) / 1000);
    return (
      `[${secs}s] height ${s.height}  round ${s.round}  ${s.blocksPerSec.toFixed(1)} blocks/s  ${Math.round(s.votesPerSec)} votes persisted/s` +
      `  p99 persist ${s.p99Ms.toFixed(1)} ms  restarts survived ${this.restarts}  evidence ${this.evidence}  | ${nodes}`
    );
  }
}

/** Writes status lines: redrawn in place on a TTY, one plain line every `plainEveryMs` otherwise. */
export class StatusPrinter {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #plainEveryMs: number;
  #lastPlain = 0;

  constructor(out: NodeJS.WriteStream, plain: boolean, plainEveryMs = 2_000) {
    this.#out = out;
    this.#tty = out.isTTY === true && !plain;
    this.#plainEveryMs = plainEveryMs;
  }

  /** Shows `line` (maybe not, off a TTY, when the last one was recent). */
  show(line: string, now: number): void {
    if (this.#tty) {
      const width = this.#out.columns ?? 160;
      this.#out.write(`\r\x1b[2K${line.length > width - 1 ? line.slice(0, width - 2) + '…' : line}`);
    } else if (now - this.#lastPlain >= this.#plainEveryMs) {
      this.#lastPlain = now;
      this.#out.write(`${line}\n`);
    }
  }

  /** Prints a message on its own line (ending the redrawn line first). */
  message(text: string): void {
    this.#out.write(this.#tty ? `\r\x1b[2K${text}\n` : `${text}\n`);
  }

  /** Ends the redrawn line. */
  finish(line: string): void {
    this.#out.write(this.#tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
  }
}
