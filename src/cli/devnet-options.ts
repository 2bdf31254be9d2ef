/**
 * `cstore devnet` options: parsing (through the strict cli/args.ts parser), checking, defaults,
 * and the help text. No I/O here.
 */
import { invalidArgument } from '../errors.ts';
import { parseArgs, type OptionSpec } from './args.ts';

/** What a devnet run is asked to do. */
export interface DevnetOptions {
  /** Number of validators (processes). */
  readonly validators: number;
  /** How many of them equivocate on purpose (the last K). */
  readonly byzantine: number;
  /** Kill random validators with SIGKILL at random moments and restart them. */
  readonly chaos: boolean;
  /** Stop after this many new finalized heights (0: no limit). */
  readonly blocks: number;
  /** Stop after this many seconds (0: no limit; Ctrl-C always stops). */
  readonly durationSec: number;
  /** Seed of the chaos schedule. */
  readonly seed: number;
  /** Parent directory of the validators' data directories. */
  readonly dir: string;
  /** Print one plain status line at this interval even on a terminal. */
  readonly plain: boolean;
}

/** The option spec of `cstore devnet`. */
export const DEVNET_OPTION_SPEC: OptionSpec = {
  validators: 'number',
  byzantine: 'number',
  chaos: 'boolean',
  blocks: 'number',
  duration: 'number',
  seed: 'number',
  dir: 'string',
  plain: 'boolean',
  help: 'boolean',
};

/** Runs without --blocks or --duration stop after this long. */
export const DEFAULT_DURATION_SEC = 30;

/** The help text of `cstore devnet`. */
export const DEVNET_HELP = `cstore devnet: a local BFT network of validator processes on consensus-store

Usage: cstore devnet [options]

  --validators N   validators, each its own OS process and data directory (default 4, 1..32)
  --byzantine K    the last K validators equivocate on purpose (default 0; K <= (N-1)/3)
  --chaos          SIGKILL random validators at random moments, then restart them
  --blocks N       stop after N new finalized heights
  --duration S     stop after S seconds (default ${DEFAULT_DURATION_SEC} when neither --blocks nor
                   --duration is given; 0 runs until Ctrl-C)
  --seed S         seed of the chaos schedule (default: random, printed)
  --dir PATH       where the data directories live (default ./devnet); running again on the
                   same directory resumes from the recovered state
  --plain          plain status lines even on a terminal
  --help           this text

It ends with a verdict: safety (no two blocks finalized at one height on any node; no honest
validator ever signed two conflicting votes), liveness (heights per second, and no honest
validator left behind: one up 5 s at the stop must have finalized what the network had 5 s
before it), and what the stores hold about the byzantine validators. Ctrl-C stops the run and
prints the verdict too. Exit code 0 when safety and liveness hold, 1 when one does not.`;

/**
 * Parses and checks `argv` (after the subcommand).
 * @returns the options, or `'help'` when --help was given.
 * @throws ConsensusStoreError INVALID_ARGUMENT on an unknown option or a value out of range.
 */
export function parseDevnetOptions(argv: readonly string[], randomSeed: () => number): DevnetOptions | 'help' {
  const { options: o, positionals } = parseArgs(argv, DEVNET_OPTION_SPEC);
  if (o.help === true) return 'help';
  if (positionals.length > 0) throw invalidArgument(positionals[0] as string, 'is not an argument of devnet');
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const v = o[name];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalidArgument(`--${name}`, `must be an integer in [${min}, ${max}]`);
    return v;
  };
  const validators = int('validators', 4, 1, 32);
  const byzantine = int('byzantine', 0, 0, validators);
  if (byzantine * 3 > validators - 1 && byzantine > 0) {
    throw invalidArgument('--byzantine', `must be at most ${Math.floor((validators - 1) / 3)} with ${validators} validators (f < n/3)`);
  }
  const blocks = int('blocks', 0, 0, Number.MAX_SAFE_INTEGER);
  const givenDuration = o.duration !== undefined;
  const durationSec = int('duration', blocks > 0 ? 0 : DEFAULT_DURATION_SEC, 0, 31_536_000);
  return {
    validators,
    byzantine,
    chaos: o.chaos === true,
    blocks,
    durationSec: givenDuration || blocks === 0 ? durationSec : 0,
    seed: int('seed', randomSeed(), 0, Number.MAX_SAFE_INTEGER),
    dir: typeof o.dir === 'string' ? o.dir : 'devnet',
    plain: o.plain === true,
  };
}
