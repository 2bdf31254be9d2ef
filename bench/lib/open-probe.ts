/**
 * One timed open of a consensus-store, in a process of its own (forked by `probeOpen`), so that
 * the time and the resident memory are those of an open alone: no heap, page cache of our own
 * writes aside, JIT state or threads of whoever built the directory. The child opens the
 * directory with the tier scenario's options (bench/lib/tier-build.ts), measures `openStore`
 * (durability 'fsync', as a node opens) until it resolves, collects garbage, reads RSS and heap, closes and reports to the parent.
 *
 * Must never: write to the directory beyond what an open and a close write, or outlive its
 * parent (it exits once it reported; the parent kills it on a timeout).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What one open measured. */
export interface OpenProbe {
  readonly openMs: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** ArrayBuffer backing stores (the vote index's typed arrays live there, not in the heap). */
  readonly arrayBuffersBytes: number;
  readonly votes: number;
}

const CHILD_FLAG = '--open-probe-child';

/** Opens `dir` (retention `hotHeights`) in a child process; resolves with what it measured. */
export function probeOpen(dir: string, hotHeights: number, timeoutMs = 120_000): Promise<OpenProbe> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, dir, String(hotHeights)], {
      execArgv: [...process.execArgv.filter((a) => a !== '--expose-gc'), '--expose-gc'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: OpenProbe | { error: string } | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('message', (m: OpenProbe | { error: string }) => {
      result = m;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result !== undefined && !('error' in result)) resolve(result);
      else reject(new Error(`open probe of ${dir}: ${result !== undefined && 'error' in result ? result.error : `ended without a result (${signal ?? `exit code ${String(code)}`})`}`));
    });
  });
}

async function child(dir: string, hotHeights: number): Promise<void> {
  const { openTier } = await import('./tier-build.ts');
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const t = performance.now();
  const store = await openTier(dir, hotHeights, 'fsync', 1_000_000_000);
  const openMs = performance.now() - t;
  try {
    gc?.();
    const m = process.memoryUsage();
    const votes = store.votes.size;
    await new Promise<void>((res) => process.send?.({ openMs, rssBytes: m.rss, heapUsedBytes: m.heapUsed, arrayBuffersBytes: m.arrayBuffers, votes } satisfies OpenProbe, () => res()));
  } finally {
    await store.close();
  }
}

if (process.argv[2] === CHILD_FLAG) {
  child(process.argv[3] ?? '', Number(process.argv[4])).then(
    () => process.disconnect?.(),
    (err: unknown) => {
      process.send?.({ error: err instanceof Error ? err.message : String(err) }, () => process.exit(1));
    },
  );
}
