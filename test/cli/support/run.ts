// Runs cstore (or a helper script) as its own process, as an operator or a script would.
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const TSX = ['--import', 'tsx'];

/** `cstore <args>`, synchronously. */
export function cstore(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Run {
  const run = spawnSync(process.execPath, [...TSX, 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 60_000, env });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** `cstore <args>`, as a promise (for runs alongside another process). */
export function cstoreAsync(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...TSX, 'src/cli/main.ts', ...args], { timeout: 60_000, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      const status = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null;
      resolve({ status, stdout, stderr });
    });
  });
}

/** Every file under `dir` (relative path) with the SHA-256 of its bytes, sorted. */
export function hashTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (sub: string): void => {
    for (const name of readdirSync(join(dir, sub))) {
      const rel = sub === '' ? name : join(sub, name);
      const st = statSync(join(dir, rel));
      if (st.isDirectory()) {
        out.push(`${rel}/`);
        walk(rel);
      } else out.push(`${rel} ${st.size} ${createHash('sha256').update(readFileSync(join(dir, rel))).digest('hex')}`);
    }
  };
  walk('');
  return out.sort();
}
