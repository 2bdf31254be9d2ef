/**
 * A small, strict argument parser for cstore: `--name value`, `--name=value` and boolean
 * `--flag`. Unknown options are an error, never silently ignored.
 */
import { invalidArgument } from '../errors.ts';

/** What each option of a command takes. */
export type OptionSpec = Readonly<Record<string, 'string' | 'number' | 'boolean'>>;

/** Parsed options and positional arguments. */
export interface ParsedArgs {
  readonly options: Readonly<Record<string, string | number | boolean>>;
  readonly positionals: readonly string[];
}

/** Parses `argv` (without the command name) against `spec`; throws INVALID_ARGUMENT on unknown or malformed options. */
export function parseArgs(argv: readonly string[], spec: OptionSpec): ParsedArgs {
  const options: Record<string, string | number | boolean> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const type = spec[name];
    if (type === undefined) throw invalidArgument(`--${name}`, 'is not an option of this command');
    if (type === 'boolean') {
      if (eq !== -1) throw invalidArgument(`--${name}`, 'takes no value');
      options[name] = true;
      continue;
    }
    const raw = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (raw === undefined) throw invalidArgument(`--${name}`, 'needs a value');
    if (type === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw invalidArgument(`--${name}`, `must be a number, got '${raw}'`);
      options[name] = n;
    } else {
      options[name] = raw;
    }
  }
  return { options, positionals };
}
