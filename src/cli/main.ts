#!/usr/bin/env node
/**
 * `cstore`: the operator's command line. A thin dispatcher: each command has its options, its
 * help text and a `run` in its own file that resolves with an exit code (exit.ts lists them;
 * docs/operations.md documents them). Every error a user can cause prints one line on stderr,
 * `error CODE: message`; results go to stdout (`--json` where a command reports); a reader that
 * closes stdout early (`cstore --help | head -1`) ends the command quietly.
 */
import { fileURLToPath } from 'node:url';
import { defaultFileSystem } from '../io/real-fs.ts';
import { parseArgs, type OptionSpec, type ParsedArgs } from './args.ts';
import { Exit, failureOf, UsageError } from './exit.ts';
import { guardStdout, OutputClosed, writeStdout } from './output.ts';

const print = async (text: string): Promise<void> => writeStdout(`${text}\n`);
/** The legacy synchronous printer the demo and devnet use. */
const printSync = (text: string): void => {
  void writeStdout(`${text}\n`).catch(() => undefined);
};
const note = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

interface Command {
  readonly summary: string;
  /** The full help text (`cstore <command> --help`). */
  readonly help: string;
  readonly options: OptionSpec;
  readonly run: (args: ParsedArgs) => Promise<number>;
  readonly hidden?: boolean;
}

const JSON_OPT = { json: 'boolean' } as const;
const PROGRESS_OPT = { 'no-progress': 'boolean' } as const;

function positionals(args: ParsedArgs, count: number, usage: string): string[] {
  if (args.positionals.length !== count) throw new UsageError(`wrong arguments: cstore ${usage} (cstore ${usage.split(' ')[0]} --help)`);
  return args.positionals as string[];
}

const str = (args: ParsedArgs, name: string): string | undefined => (args.options[name] === undefined ? undefined : String(args.options[name]));
const num = (args: ParsedArgs, name: string): number | undefined => (args.options[name] === undefined ? undefined : Number(args.options[name]));
const flag = (args: ParsedArgs, name: string): boolean => args.options[name] === true;

const COMMON = `Common options:
  --json           one JSON document on stdout (stable field names: docs/operations.md)
  --help, -h       this text`;

const COMMANDS: Readonly<Record<string, Command>> = {
  inspect: {
    summary: '<dir>: log, records by kind, round state, finalization, sign watermarks, images, snapshots (read-only; a live node is fine)',
    help: `usage: cstore inspect <dir> [--json]

Summarizes a data directory without writing to it and without its lock (a running node's
directory is fine): the log's segments and records by kind up to the LSN it saw, the round
state, the last finalized height, the sign watermarks and the restore fence, and how many local
images and portable snapshots lie beside the log (listed, never loaded).

${COMMON}`,
    options: { ...JSON_OPT },
    run: async (args) => {
      const [dir] = positionals(args, 1, 'inspect <dir> [--json]');
      const { runInspect } = await import('./inspect.ts');
      return runInspect(dir as string, { json: flag(args, 'json'), print });
    },
  },
  verify: {
    summary: '<dir> [--chain-id ID]: every record, recovery integrity, the audit chain, the chain id; exit 2 on damage (read-only)',
    help: `usage: cstore verify <dir> [--chain-id ID] [--public-key HEX] [--json] [--no-progress]

Checks a data directory without writing to it and without its lock: every record's checksum
and LSN (scanned, then re-read by LSN), the recovery integrity check, the audit chain (hashes,
links, head signatures with the key in node.key, else the key the chain recorded) and, with
--chain-id, that the directory belongs to that chain.

Exit codes: 0 clean; 1 a failed check (the chain id differs); 2 damage (CORRUPTION with file
and offset, a broken audit chain, a failed recovery check).

  --chain-id ID    the chain the directory must belong to (also checks the audit chain of a
                   directory that records none)
  --public-key HEX the node key to trust for the audit chain instead of node.key's (after a
                   node key rotation: the key you trust, old or new; docs/audit.md)
  --no-progress    no progress line on stderr (it is shown only on a terminal anyway)
${COMMON}`,
    options: { ...JSON_OPT, ...PROGRESS_OPT, 'chain-id': 'string', 'public-key': 'string' },
    run: async (args) => {
      const [dir] = positionals(args, 1, 'verify <dir> [--chain-id ID] [--public-key HEX] [--json]');
      const { runVerify } = await import('./inspect.ts');
      return runVerify(dir as string, str(args, 'chain-id'), { json: flag(args, 'json'), print, progress: !flag(args, 'no-progress') }, str(args, 'public-key'));
    },
  },
  export: {
    summary: 'audit|evidence|rewards|votes <dir>: JSON Lines (rewards also CSV) on stdout or --out, by height or date (read-only)',
    help: `usage: cstore export audit|evidence|rewards|votes <dir> [--out FILE] [--format F]
                    [--from-height H] [--to-height H] [--since DATE] [--until DATE]

Writes one store's records as JSON Lines (one object a line, log order) on stdout, or into
FILE (a temp file renamed into place when complete). Reads the directory read-only, without
its lock: the export holds what was durable up to the LSN it saw.

  --out FILE       write to FILE instead of stdout
  --format F       jsonl (default); rewards: csv (one row per reward line; cells a spreadsheet
                   would run as formulas are neutralised); audit: signed (the verifiable export
                   of docs/audit.md, the whole chain, needs --out)
  --from-height H  only records at height H or above
  --to-height H    only records at height H or below
  --since DATE     only records at or after DATE (ISO 8601, or ms since the epoch)
  --until DATE     only records at or before DATE
  --no-progress    no progress line on stderr (shown only on a terminal anyway)
  --help, -h       this text`,
    options: { ...PROGRESS_OPT, out: 'string', format: 'string', 'from-height': 'number', 'to-height': 'number', since: 'string', until: 'string' },
    run: async (args) => {
      const [kind, dir] = positionals(args, 2, 'export audit|evidence|rewards|votes <dir> [options]');
      const { runExport } = await import('./export.ts');
      return runExport(kind as string, dir as string, {
        out: str(args, 'out'),
        format: str(args, 'format'),
        fromHeight: num(args, 'from-height'),
        toHeight: num(args, 'to-height'),
        since: str(args, 'since'),
        until: str(args, 'until'),
        progress: !flag(args, 'no-progress'),
      }, note);
    },
  },
  'sign-state': {
    summary: 'show|export|import: the sign guard\'s watermark, in a JSON interchange format (EIP-3076 style); import also reads CometBFT\'s priv_validator_state.json',
    help: `usage: cstore sign-state show <dir> [--public-key HEX | --key-file PATH] [--json]
       cstore sign-state export <dir> [--out FILE] [--complete] [--public-key HEX | --key-file PATH] [--chain-id ID]
       cstore sign-state import <dir> <file> --key-file PATH [--validator-id ID] [--chain-id ID] [--create] [--json]

show     the watermark of every key in the log (or of one key), the SIGNSTATE copy, the restore
         fence and any repair barrier. Read-only, no lock: a running node is fine.
export   the interchange document (docs/operations.md): per key its watermark, the higher of
         the log's and the SIGNSTATE copy's; --complete adds every signature the log holds.
         Read-only, no lock.
import   records a watermark from a cstore interchange file or CometBFT's
         priv_validator_state.json through the node's sign guard (the log and the SIGNSTATE
         copy move together). Only while the node is stopped (LOCKED otherwise). Merges by
         maxima: a watermark at or below the directory's writes nothing; a higher height with a
         lower round is refused (CONFLICT). The key file says which key: the validator's
         ed25519 seed as 64 hex characters, 32 raw bytes, or CometBFT's priv_validator_key.json.

  --key-file PATH    the validator's private key file (import: required; show/export: selects the key)
  --public-key HEX   selects the key by its public key (show/export)
  --validator-id ID  the validator id the node signs as (import; default cstore-import)
  --chain-id ID      the chain (checked against the directory and the file)
  --create           import into a directory that does not exist yet (a new node's first watermark)
  --complete         export every signature, not only the watermark
  --out FILE         export into FILE instead of stdout
${COMMON}`,
    options: { ...JSON_OPT, 'key-file': 'string', 'public-key': 'string', 'validator-id': 'string', 'chain-id': 'string', create: 'boolean', complete: 'boolean', out: 'string' },
    run: async (args) => {
      const [sub] = args.positionals;
      const s = await import('./sign-state.ts');
      if (sub === 'show') {
        const [, dir] = positionals(args, 2, 'sign-state show <dir> [--public-key HEX | --key-file PATH] [--json]');
        return s.runSignStateShow(dir as string, { json: flag(args, 'json'), publicKey: str(args, 'public-key'), keyFile: str(args, 'key-file') }, print);
      }
      if (sub === 'export') {
        const [, dir] = positionals(args, 2, 'sign-state export <dir> [--out FILE] [--complete]');
        const doc = await s.exportSignState(dir as string, { publicKey: str(args, 'public-key'), keyFile: str(args, 'key-file'), complete: flag(args, 'complete'), chainId: str(args, 'chain-id') });
        const text = `${JSON.stringify(doc, null, 2)}\n`;
        const out = str(args, 'out');
        if (out === undefined) await writeStdout(text);
        else {
          const { fileSink } = await import('./output.ts');
          const sink = await fileSink(defaultFileSystem(), out);
          await sink.write(text);
          await sink.end();
          note(`exported ${doc.data.length} key(s) to ${out}`);
        }
        return Exit.OK;
      }
      if (sub === 'import') {
        const [, dir, file] = positionals(args, 3, 'sign-state import <dir> <file> --key-file PATH');
        const keyFile = str(args, 'key-file');
        if (keyFile === undefined) throw new UsageError('sign-state import needs --key-file PATH: the validator key whose watermark is imported');
        const r = await s.importSignState(dir as string, file as string, { keyFile, validatorId: str(args, 'validator-id'), chainId: str(args, 'chain-id'), create: flag(args, 'create') });
        if (flag(args, 'json')) await print(JSON.stringify(r, null, 2));
        else {
          const hrs = (w: { height: number; round: number; step: string } | null): string => (w === null ? 'none' : `height ${w.height}, round ${w.round}, step ${w.step}`);
          await print(`key ${r.publicKey}: ${r.action === 'nothing' ? 'the file holds no watermark for this key: nothing imported' : `${r.action} (imported ${hrs(r.imported)}; before ${hrs(r.before)}; now ${hrs(r.after)})`}`);
        }
        return Exit.OK;
      }
      throw new UsageError('wrong arguments: cstore sign-state show|export|import ... (cstore sign-state --help)');
    },
  },
  'unsafe-repair': {
    summary: '<dir>: drops damaged batches after CORRUPTION (keeps a .broken copy, keeps intact batches where it can), says exactly what was lost; node stopped',
    help: `usage: cstore unsafe-repair <dir> [--chain-id ID] [--json]
The explicit repair of a damaged data directory (docs/operations.md, "Repair"; D5 in
docs/durability.md). Only while the node is stopped (LOCKED, exit 75, otherwise). Copy the
directory somewhere safe first. It keeps a copy of the damaged segment (<segment>.broken),
drops the damaged batches and keeps the intact ones after them where it can find them (else
cuts the log at the last good batch), rebuilds a missing MANIFEST from the segments, records
the repair in the audit log and the sign guard, and prints what was lost: the LSN range, the
records, the bytes, the segments removed, where the copy is. The sign guard then refuses to
sign until the validator's watermark is imported (cstore sign-state import).
Exit codes: 0 repaired or nothing to repair; 66 no such directory; 75 the node runs.
  --chain-id ID    the directory's chain, needed only when the repair lost the record naming it
${COMMON}`,
    options: { ...JSON_OPT, 'chain-id': 'string' },
    run: async (args) => {
      const [dir] = positionals(args, 1, 'unsafe-repair <dir> [--chain-id ID] [--json]');
      const { runUnsafeRepair } = await import('./repair.ts');
      return runUnsafeRepair(dir as string, { json: flag(args, 'json'), chainId: str(args, 'chain-id'), print });
    },
  },
  'rotate-key': {
    summary: '<dir> [--lost]: a new node key (the audit chain\'s signing key), recorded in the chain; node stopped',
    help: `usage: cstore rotate-key <dir> [--lost] [--chain-id ID] [--json]

Replaces the node key in <dir>/node.key (the key that signs the audit chain's heads) with a new
one and records the rotation in the audit chain as a KeyRotated entry (docs/operations.md,
"Rotating the node key"). Only while the node is stopped (LOCKED, exit 75, otherwise). An
interrupted run is finished by running it again.

Without --lost the old key signs the rotation, so a verifier that trusts the old key accepts
the new one. With --lost (node.key is missing and no backup holds it) the new key signs its own
rotation: nothing in the chain vouches for it, and verifiers must be handed the new public key
(docs/audit.md, "Rotating the node key").

  --lost           the old key is lost (node.key is missing)
  --chain-id ID    the directory's chain (read from the directory when it records it)
${COMMON}`,
    options: { ...JSON_OPT, lost: 'boolean', 'chain-id': 'string' },
    run: async (args) => {
      const [dir] = positionals(args, 1, 'rotate-key <dir> [--lost] [--chain-id ID] [--json]');
      const { runRotateKey } = await import('./rotate-key.ts');
      return runRotateKey(dir as string, { json: flag(args, 'json'), lost: flag(args, 'lost'), chainId: str(args, 'chain-id'), print });
    },
  },
  backup: {
    summary: '<dir> <dest> | verify <dest>: a backup consistent at one LSN, signed by the node key; verify checks every file (exit 2 on damage)',
    help: `usage: cstore backup <dir> <dest> [--include-key] [--chain-id ID] [--json]
       cstore backup verify <dest> [--public-key HEX] [--json]

backup   copies the stopped data directory <dir> into <dest> (absent or empty), consistent at
         one LSN: sealed segments and the newest local image hard-linked (copied across file
         systems), the newest segment up to that LSN, a manifest for exactly those segments,
         SIGNSTATE, and last a trailer listing every file's size and SHA-256, signed by the node
         key. It takes the directory's lock: a running node's directory is refused (LOCKED,
         exit 75); a running node takes its own backup online through its API,
         await store.backup(dest). The output says how the backup was taken.
verify   checks a backup: the trailer, every file's size and SHA-256 (none missing, none extra),
         the signature (with --public-key, else the backup's node.key, else the key its audit
         chain records), and that its log opens read-only at the trailer's LSN. Exit 0 sound,
         2 damage (the message names the file).

  --include-key     put the node key in the backup (node.key, mode 0600): whoever holds the
                    backup can then sign as this node's audit log (docs/operations.md)
  --chain-id ID     the chain, for a directory that records none (checked otherwise)
  --public-key HEX  verify: the node public key the trailer must be signed with
  (a directory named verify: write ./verify)
${COMMON}`,
    options: { ...JSON_OPT, 'include-key': 'boolean', 'chain-id': 'string', 'public-key': 'string' },
    run: async (args) => {
      const b = await import('./backup.ts');
      if (args.positionals[0] === 'verify') {
        const [, dest] = positionals(args, 2, 'backup verify <dest> [--public-key HEX] [--json]');
        if (flag(args, 'include-key') || str(args, 'chain-id') !== undefined) throw new UsageError('backup verify takes --public-key and --json only (cstore backup --help)');
        return b.runBackupVerify(dest as string, { publicKey: str(args, 'public-key'), json: flag(args, 'json'), print });
      }
      const [dir, dest] = positionals(args, 2, 'backup <dir> <dest> [--include-key] [--json]');
      if (str(args, 'public-key') !== undefined) throw new UsageError('--public-key belongs to backup verify (cstore backup --help)');
      return b.runBackup(dir as string, dest as string, { includeKey: flag(args, 'include-key'), chainId: str(args, 'chain-id'), json: flag(args, 'json'), print });
    },
  },
  restore: {
    summary: '<backup> <dir> [--min-sign-height H]: verifies, then restores into an empty <dir> behind a sign fence',
    help: `usage: cstore restore <backup> <dir> [--min-sign-height H] [--public-key HEX] [--json]

Verifies <backup> (as cstore backup verify), then restores it into <dir>, which must be absent
or empty (or hold an unfinished restore from a backup, which starts over). A RESTORING marker
is written first and removed last: an interrupted restore never opens; run it again.

The restored directory signs nothing until the operator gives the chain's current height
(--min-sign-height H: nothing at or below H is ever signed) or imports the key's up-to-date
watermark (cstore sign-state import): the backup's own watermark is as old as the backup, and
the key may have signed far beyond it since.

  --min-sign-height H  the chain's current height (from its other nodes or a block explorer)
  --public-key HEX     the node public key the backup must be signed with
${COMMON}`,
    options: { ...JSON_OPT, 'min-sign-height': 'number', 'public-key': 'string' },
    run: async (args) => {
      const [backup, dir] = positionals(args, 2, 'restore <backup> <dir> [--min-sign-height H] [--json]');
      const { runRestore } = await import('./backup.ts');
      return runRestore(backup as string, dir as string, { minSignHeight: num(args, 'min-sign-height'), publicKey: str(args, 'public-key'), json: flag(args, 'json'), print });
    },
  },
  demo: {
    summary: 'durable votes, a SIGKILLed writer, recovery and the sign guard, step by step',
    help: `usage: cstore demo [--dir PATH] [--seed S]

A step-by-step demonstration: durable appends, a writer SIGKILLed mid-write, recovery of every
acknowledged vote, and the sign guard refusing a conflicting signature. Exit 0 when every check
held, 1 when one did not.

  --dir PATH   where to keep the demo's data directory (default: a temporary directory)
  --seed S     the seed of the demo's workload
  --help, -h   this text`,
    options: { dir: 'string', seed: 'number' },
    run: async (args) => {
      positionals(args, 0, 'demo [--dir PATH] [--seed S]');
      const { runDemo } = await import('./demo.ts');
      const dir = str(args, 'dir');
      const seed = num(args, 'seed');
      return runDemo({ print: printSync, ...(dir === undefined ? {} : { dir }), ...(seed === undefined ? {} : { seed }) });
    },
  },
  'demo-writer': {
    summary: "the demo's child writer (internal)",
    help: "usage: cstore demo-writer --dir PATH --seed S (internal: the demo's child process)",
    hidden: true,
    options: { dir: 'string', seed: 'number' },
    run: async (args) => {
      const { runDemoWriter } = await import('./demo.ts');
      await runDemoWriter(String(args.options['dir']), Number(args.options['seed']));
      return Exit.OK;
    },
  },
  devnet: {
    summary: 'a local BFT network of validator processes: live status, --chaos, --byzantine K, verdict',
    help: '',
    options: {},
    run: async () => Exit.OK,
  },
};

function topHelp(): string {
  const lines = ['cstore: durable consensus state for BFT validators', '', 'usage: cstore <command> [options]     cstore <command> --help', ''];
  for (const [name, command] of Object.entries(COMMANDS)) {
    if (command.hidden !== true) lines.push(`  ${name.padEnd(11)} ${command.summary}`);
  }
  lines.push(
    '',
    '  --version   the version of consensus-store',
    '  --help      this text',
    '',
    'Exit codes: 0 ok, 1 a check failed, 2 damage found, 3 refused by the store (CONFLICT,',
    'FRESH_SIGN_STATE), 64 usage, 65 unsupported format, 66 not found, 70 internal error (a bug),',
    '74 I/O error, 75 LOCKED (the node runs). Errors: one line on stderr, `error CODE: message`.',
    'docs/operations.md has the details.',
  );
  return lines.join('\n');
}

async function version(): Promise<string> {
  // src/cli/main.ts and dist/cli/main.js both sit two levels below the package root.
  const path = fileURLToPath(new URL('../../package.json', import.meta.url));
  const pkg = JSON.parse(new TextDecoder().decode(await defaultFileSystem().readFile(path))) as { name: string; version: string };
  return `${pkg.name} ${pkg.version}`;
}

const wantsHelp = (argv: readonly string[]): boolean => argv.includes('--help') || argv.includes('-h');

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    await print(topHelp());
    return Exit.USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const command = topic === undefined ? undefined : COMMANDS[topic];
    if (topic !== undefined && command === undefined) throw new UsageError(`unknown command '${topic}' (cstore --help lists them)`);
    await print(command === undefined ? topHelp() : await helpOf(topic as string, command));
    return Exit.OK;
  }
  if (name === '--version' || name === '-V') {
    await print(await version());
    return Exit.OK;
  }
  const command = COMMANDS[name];
  if (command === undefined) throw new UsageError(`unknown command '${name}' (cstore --help lists them)`);
  if (wantsHelp(rest)) {
    await print(await helpOf(name, command));
    return Exit.OK;
  }
  if (name === 'devnet') return runDevnetCommand(rest);
  let args: ParsedArgs;
  try {
    args = parseArgs(rest, command.options);
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (cstore ${name} --help)`);
  }
  return command.run(args);
}

async function helpOf(name: string, command: Command): Promise<string> {
  if (name !== 'devnet') return command.help;
  return (await import('./devnet-options.ts')).DEVNET_HELP;
}

async function runDevnetCommand(argv: readonly string[]): Promise<number> {
  const { parseDevnetOptions, DEVNET_HELP } = await import('./devnet-options.ts');
  const options = parseDevnetOptions(argv, () => Math.floor(Math.random() * 2 ** 31));
  if (options === 'help') {
    await print(DEVNET_HELP);
    return Exit.OK;
  }
  const { runDevnet } = await import('./devnet.ts');
  return (await runDevnet(options)).exitCode;
}

let finished = false;
guardStdout(() => {
  // The reader went away: nothing more can be shown. Stop now, quietly.
  if (!finished) process.exit(process.exitCode ?? Exit.OK);
});

main(process.argv.slice(2)).then(
  (code) => {
    finished = true;
    process.exitCode = code;
  },
  (err: unknown) => {
    finished = true;
    if (err instanceof OutputClosed) return;
    const failure = failureOf(err);
    process.stderr.write(`${failure.text}\n`);
    process.exitCode = failure.exitCode;
  },
);
