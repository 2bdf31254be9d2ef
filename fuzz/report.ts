/**
 * The fuzzers' tally: runs, crash points by kind, faults by kind, acknowledged writes checked,
 * and every violation with its seed and a one-line replay command. Printed as the summary.
 *
 * It must never drop a violation: `violations.length` decides the exit code.
 */

/** One broken property. */
export interface Violation {
  /** What ran: `sim` (simulated disk) or `kill` (real SIGKILL). */
  readonly source: 'sim' | 'kill';
  /** The seed that reproduces it. */
  readonly seed: number;
  /** The property and what was seen. */
  readonly message: string;
  /** The one-line command that replays it. */
  readonly replay: string;
}

/** Counters shared by every part of a fuzz session. */
export class Tally {
  simRuns = 0;
  killCycles = 0;
  ackedChecked = 0;
  checks = 0;
  readonly crashKinds = new Map<string, number>();
  readonly faultKinds = new Map<string, number>();
  readonly scenarios = new Map<string, number>();
  readonly violations: Violation[] = [];
  readonly started = performance.now();

  /** Counts one power cut (or kill) of `kind`. */
  crash(kind: string): void {
    this.crashKinds.set(kind, (this.crashKinds.get(kind) ?? 0) + 1);
  }

  /** Counts one injected fault of `kind`. */
  fault(kind: string): void {
    this.faultKinds.set(kind, (this.faultKinds.get(kind) ?? 0) + 1);
  }

  /** Counts one run of scenario `name`. */
  scenario(name: string): void {
    this.scenarios.set(name, (this.scenarios.get(name) ?? 0) + 1);
  }

  /** Total crash points (simulated power cuts and real kills). */
  get crashPoints(): number {
    let n = 0;
    for (const v of this.crashKinds.values()) n += v;
    return n;
  }

  /** Simulated power cuts only. */
  get simCrashPoints(): number {
    let n = 0;
    for (const [k, v] of this.crashKinds) if (!k.startsWith('sigkill')) n += v;
    return n;
  }

  /** Crash points whose kind starts with `prefix` (`restore:`: cuts inside `restoreFromSnapshot`). */
  kindsStartingWith(prefix: string): number {
    let n = 0;
    for (const [k, v] of this.crashKinds) if (k.startsWith(prefix)) n += v;
    return n;
  }

  /** Records a violation and prints it at once (with its replay line). */
  violate(v: Violation): void {
    this.violations.push(v);
    console.error(`VIOLATION [${v.source}] seed ${v.seed}: ${v.message}`);
    console.error(`  replay: ${v.replay}`);
  }

  /** The end-of-session summary, as lines. */
  summary(): string[] {
    const seconds = (performance.now() - this.started) / 1000;
    const lines = [
      '== fuzz summary',
      `time: ${seconds.toFixed(1)} s`,
      `simulated runs: ${this.simRuns} (${fmt(this.scenarios)})`,
      `real kill cycles: ${this.killCycles}`,
      `crash points: ${this.crashPoints} (simulated ${this.simCrashPoints}, real kills ${this.crashPoints - this.simCrashPoints}; inside restores ${this.kindsStartingWith('restore:')})`,
      `crash points by kind: ${fmt(this.crashKinds)}`,
      `faults by kind: ${fmt(this.faultKinds)}`,
      `acknowledged writes checked: ${this.ackedChecked} (in ${this.checks} reopen checks)`,
      `violations: ${this.violations.length}`,
    ];
    const seen = new Set<string>();
    for (const v of this.violations) {
      if (seen.has(v.replay)) continue;
      seen.add(v.replay);
      lines.push(`  seed ${v.seed} [${v.source}]: ${v.message}`, `    replay: ${v.replay}`);
      if (seen.size >= 20) break;
    }
    return lines;
  }
}

function fmt(map: ReadonlyMap<string, number>): string {
  if (map.size === 0) return 'none';
  return [...map.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
}
