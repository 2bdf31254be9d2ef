/**
 * Where cstore's output goes. Results go to stdout (text, or one JSON document with `--json`,
 * or JSON Lines for exports), with backpressure so that a long export never buffers the whole
 * of it, and a reader that stops early (`cstore export votes d | head`) ends the command
 * quietly instead of an EPIPE stack. Progress goes to stderr, only when stderr is a terminal
 * (never into a pipe or a log file), at most 10 times a second, and without colours when
 * `NO_COLOR` is set (https://no-color.org). Files given with `--out` are written through the io/
 * file system: a temp file, fdatasync, rename (an export appears whole or not at all).
 */
import type { FileHandle, FileSystem } from '../io/types.ts';

/** The stdout reader went away (EPIPE): the command stops, quietly. */
export class OutputClosed extends Error {}

/** A sink for lines of output. */
export interface Sink {
  write(text: string): Promise<void>;
  /** Finishes the output (for a file: fdatasync and rename into place). */
  end(): Promise<void>;
  /** Drops a partial output (for a file: removes the temp file). */
  abort(): Promise<void>;
}

let stdoutClosed = false;

/** Installs the EPIPE handling of stdout (once, at start). */
export function guardStdout(onClosed: () => void): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') {
      stdoutClosed = true;
      onClosed();
      return;
    }
    throw err;
  });
}

/** Writes `text` to stdout, waiting for the pipe to drain when it is full. */
export async function writeStdout(text: string): Promise<void> {
  if (stdoutClosed) throw new OutputClosed('stdout closed');
  if (process.stdout.write(text)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      process.stdout.off('drain', done);
      process.stdout.off('error', done);
      process.stdout.off('close', done);
      resolve();
    };
    process.stdout.once('drain', done);
    process.stdout.once('error', done);
    process.stdout.once('close', done);
  });
  if (stdoutClosed) throw new OutputClosed('stdout closed');
}

/** stdout as a sink. */
export const stdoutSink: Sink = {
  write: writeStdout,
  end: () => Promise.resolve(),
  abort: () => Promise.resolve(),
};

/** A file written through `fs` as a temp file, renamed into place by `end`. */
export async function fileSink(fs: FileSystem, path: string): Promise<Sink> {
  const temp = `${path}.tmp`;
  const handle: FileHandle = await fs.open(temp, 'create');
  await handle.truncate(0);
  let position = 0;
  let pending: string[] = [];
  let pendingBytes = 0;
  const utf8 = new TextEncoder();
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const bytes = utf8.encode(pending.join(''));
    pending = [];
    pendingBytes = 0;
    await handle.write([bytes], position);
    position += bytes.length;
  };
  return {
    async write(text) {
      pending.push(text);
      pendingBytes += text.length;
      if (pendingBytes >= 256 * 1024) await flush();
    },
    async end() {
      await flush();
      await handle.datasync();
      await handle.close();
      await fs.rename(temp, path);
      const slash = path.lastIndexOf('/');
      await fs.syncDir(slash <= 0 ? (slash === 0 ? '/' : '.') : path.slice(0, slash)).catch(() => undefined);
    },
    async abort() {
      await handle.close().catch(() => undefined);
      await fs.unlink(temp).catch(() => undefined);
    },
  };
}

/** A progress line on stderr: only on a terminal, throttled, colourless under NO_COLOR. */
export class Progress {
  readonly #enabled: boolean;
  readonly #color: boolean;
  #last = 0;
  #shown = false;

  constructor(enabled: boolean) {
    this.#enabled = enabled && process.stderr.isTTY === true;
    this.#color = process.env['NO_COLOR'] === undefined || process.env['NO_COLOR'] === '';
  }

  /** Shows `label: done/total` (throttled to 10 a second). */
  update(label: string, done: number, total: number | undefined): void {
    if (!this.#enabled) return;
    const now = Date.now();
    if (now - this.#last < 100 && this.#shown) return;
    this.#last = now;
    const pct = total !== undefined && total > 0 ? ` ${Math.min(100, Math.floor((done / total) * 100))}%` : '';
    const figures = `${done}${total === undefined ? '' : `/${total}`}${pct}`;
    const shown = this.#color ? `\x1b[36m${figures}\x1b[0m` : figures;
    process.stderr.write(`\r\x1b[K${label}: ${shown}`);
    this.#shown = true;
  }

  /** Clears the progress line. */
  done(): void {
    if (!this.#enabled || !this.#shown) return;
    process.stderr.write('\r\x1b[K');
    this.#shown = false;
  }
}
