#!/usr/bin/env node
/**
 * `cstore`: the operator's command line. A thin dispatcher: each command lives in its own file
 * and returns an exit code. Errors with a stable code are printed as `error CODE: message` with
 * exit code 1 (2 for CORRUPTION); anything else is a bug and prints its stack.
 */
import { isStoreError } from '../errors.ts';
import { parseArgs } from './args.ts';

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

interface Command {
  readonly summary: string;
  readonly run: (argv: readonly string[]) => Promise<number>;
  readonly hidden?: boolean;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  demo: {
    summary: 'durable votes, a SIGKILLed writer, recovery and the sign guard, step by step',
    run: async (argv) => {
      const { options } = parseArgs(argv, { dir: 'string', seed: 'number' });
      const { runDemo } = await import('./demo.ts');
      return runDemo({
        print,
        ...(options.dir === undefined ? {} : { dir: String(options.dir) }),
        ...(options.seed === undefined ? {} : { seed: Number(options.seed) }),
      });
    },
  },
  'demo-writer': {
    summary: 'the demo\'s child writer (internal)',
    hidden: true,
    run: async (argv) => {
      const { options } = parseArgs(argv, { dir: 'string', seed: 'number' });
      const { runDemoWriter } = await import('./demo.ts');
      await runDemoWriter(String(options.dir), Number(options.seed));
      return 0;
    },
  },
  devnet: {
    summary: 'a local BFT network of validator processes: live status, --chaos, --byzantine K, verdict',
    run: async (argv) => {
      const { parseDevnetOptions, DEVNET_HELP } = await import('./devnet-options.ts');
      const options = parseDevnetOptions(argv, () => Math.floor(Math.random() * 2 ** 31));
      if (options === 'help') {
        print(DEVNET_HELP);
        return 0;
      }
      const { runDevnet } = await import('./devnet.ts');
      return (await runDevnet(options)).exitCode;
    },
  },
  inspect: {
    summary: '<dir>: segments, records by kind, round state, finalization of a stopped node',
    run: async (argv) => {
      const dir = onePositional(argv, 'inspect <dir>');
      const { runInspect } = await import('./inspect.ts');
      return runInspect(dir, print);
    },
  },
  verify: {
    summary: '<dir> [--chain-id ID]: check every record, recovery integrity and the audit chain; exit 2 on damage',
    run: async (argv) => {
      const { options, positionals } = parseArgs(argv, { 'chain-id': 'string' });
      if (positionals.length !== 1) throw new UsageError('usage: cstore verify <dir> [--chain-id ID]');
      const { runVerify } = await import('./inspect.ts');
      const chainId = options['chain-id'] === undefined ? undefined : String(options['chain-id']);
      return runVerify(positionals[0] as string, chainId, print);
    },
  },
};

function onePositional(argv: readonly string[], usage: string): string {
  const { positionals } = parseArgs(argv, {});
  if (positionals.length !== 1) throw new UsageError(`usage: cstore ${usage}`);
  return positionals[0] as string;
}

class UsageError extends Error {}

function help(): void {
  print('cstore: durable consensus state for BFT validators');
  print('');
  print('usage: cstore <command> [options]');
  for (const [name, command] of Object.entries(COMMANDS)) {
    if (command.hidden !== true) print(`  ${name.padEnd(10)} ${command.summary}`);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    help();
    return name === undefined ? 1 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    print(`unknown command '${name}'`);
    help();
    return 1;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      print(err.message);
      process.exitCode = 1;
    } else if (isStoreError(err)) {
      print(`error ${err.code}: ${err.message}`);
      process.exitCode = err.code === 'CORRUPTION' ? 2 : 1;
    } else {
      console.error(err);
      process.exitCode = 1;
    }
  },
);
