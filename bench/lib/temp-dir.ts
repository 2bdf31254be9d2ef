/**
 * Temporary data directories for the benchmarks, under `os.tmpdir()` (or `$BENCH_DIR`, to point
 * the run at another disk), all inside one run directory that is removed on exit, on Ctrl-C and
 * on an uncaught error.
 *
 * Must never: remove anything it did not create (only the run directory made by `mkdtemp`), or
 * leave gigabytes behind after a crashed run when it could have cleaned them.
 */
import { mkdtempSync, mkdirSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

let runDir: string | undefined;
let counter = 0;

/** The parent of every temp directory of this run: `$BENCH_DIR` or `os.tmpdir()`. */
export function benchBaseDir(): string {
  const fromEnv = process.env['BENCH_DIR'];
  return resolve(fromEnv !== undefined && fromEnv !== '' ? fromEnv : tmpdir());
}

function ensureRunDir(): string {
  if (runDir !== undefined) return runDir;
  const base = benchBaseDir();
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, 'cstore-bench-'));
  runDir = dir;
  const cleanup = (): void => removeRunDir();
  process.once('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanup();
      process.exit(130);
    });
  }
  return dir;
}

/** A new, empty directory for one system's data, named after `label`. */
export function makeTempDir(label: string): string {
  counter += 1;
  const dir = join(ensureRunDir(), `${String(counter).padStart(3, '0')}-${label.replace(/[^a-z0-9-]/gi, '_')}`);
  mkdirSync(dir);
  return dir;
}

/** Removes one directory made by `makeTempDir` (to free disk between scenarios). */
export function removeTempDir(dir: string): void {
  if (runDir === undefined || !dir.startsWith(runDir)) throw new Error(`not a bench temp dir: ${dir}`);
  rmSync(dir, { recursive: true, force: true });
}

/** Removes the run directory and everything in it; idempotent. */
export function removeRunDir(): void {
  if (runDir === undefined) return;
  rmSync(runDir, { recursive: true, force: true });
  runDir = undefined;
}

/** The file-system type (ext4, xfs, tmpfs, ...) holding `path`, from /proc/mounts; "unknown" elsewhere. */
export function fileSystemTypeOf(path: string): string {
  try {
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n');
    let best = { mount: '', type: 'unknown' };
    for (const line of mounts) {
      const [, mount, type] = line.split(' ');
      if (mount === undefined || type === undefined) continue;
      const prefix = mount.endsWith('/') ? mount : `${mount}/`;
      if ((path === mount || path.startsWith(prefix) || mount === '/') && mount.length >= best.mount.length) {
        best = { mount, type };
      }
    }
    return best.type;
  } catch {
    return 'unknown';
  }
}
