/**
 * A small standalone measurement of the durable-append floor (docs/io-worker.md): p50/p99 of a ~200-byte
 * write + fdatasync for the raw synchronous floor, plain async fs callbacks, and the real
 * FileSystem's `writeAndSync` (through the I/O worker, with and without spinning), interleaved
 * over several repetitions in one process on one disk. Also times a variant that hands the bytes
 * to the worker with postMessage instead of copying them into shared memory.
 *
 * Run: `npx tsx bench/io-floor.ts [ops-per-run] [repetitions]`. Not a test; it asserts nothing.
 * Must never: be imported by library code (it uses synchronous fs calls freely).
 */
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { createRealFileSystem } from '../src/io/real-fs.ts';
import { SyncWorker } from '../src/io/sync-worker.ts';
import type { FileHandle } from '../src/io/types.ts';

const OPS = Number(process.argv[2] ?? 2000);
const REPS = Number(process.argv[3] ?? 5);
const RECORD = 200;
const WARMUP = 100;

const dir = mkdtempSync(join(process.env['BENCH_DIR'] ?? tmpdir(), 'io-floor-'));
const record = Buffer.alloc(RECORD, 0x5a);

/** A preallocated, synced file (as the log's segments are), so that no append grows it. */
function preallocated(name: string): string {
  const path = join(dir, name);
  const fd = fs.openSync(path, 'w');
  fs.writeSync(fd, Buffer.alloc((OPS + WARMUP) * RECORD));
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  return path;
}

function percentile(sorted: Float64Array, p: number): number {
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)] ?? Number.NaN;
}

interface RunResult {
  readonly p50: number;
  readonly p99: number;
  readonly loopP99: number;
}

type Variant = { readonly name: string; readonly run: () => Promise<RunResult> };

/** Times `OPS` sequential appends made by `append(position)`, after a short warm-up. */
async function timeAppends(append: (position: number) => Promise<void> | void): Promise<RunResult> {
  for (let i = 0; i < WARMUP; i++) await append(i * RECORD);
  const samples = new Float64Array(OPS);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  for (let i = 0; i < OPS; i++) {
    const t0 = process.hrtime.bigint();
    await append((WARMUP + i) * RECORD);
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  loop.disable();
  samples.sort();
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), loopP99: loop.percentile(99) / 1e6 };
}

function syncFloor(): Variant {
  const fd = fs.openSync(preallocated('floor'), 'r+');
  return {
    name: 'sync floor (writeSync+fdatasyncSync)',
    run: () =>
      timeAppends((pos) => {
        fs.writeSync(fd, record, 0, RECORD, pos);
        fs.fdatasyncSync(fd);
      }),
  };
}

function plainAsync(): Variant {
  const fd = fs.openSync(preallocated('async'), 'r+');
  const append = (pos: number): Promise<void> =>
    new Promise((resolve, reject) => {
      fs.write(fd, record, 0, RECORD, pos, (err) => {
        if (err) return reject(err);
        fs.fdatasync(fd, (err2) => (err2 ? reject(err2) : resolve()));
      });
    });
  return { name: 'plain async (fs callbacks)', run: () => timeAppends(append) };
}

async function realFs(name: string, syncWorker: boolean): Promise<Variant> {
  const handle: FileHandle = await createRealFileSystem({ syncWorker }).open(preallocated(name), 'readwrite');
  return { name: `real-fs writeAndSync (${syncWorker ? 'worker' : 'no worker'})`, run: () => timeAppends((pos) => handle.writeAndSync([record], pos)) };
}

async function workerSpin(spinMicros: number, pollMicros: number, busyWait: 'auto' | 'always'): Promise<Variant> {
  const fd = fs.openSync(preallocated(`spin${spinMicros}-${pollMicros}-${busyWait}`), 'r+');
  const worker = new SyncWorker({ spinMicros, pollMicros, busyWait });
  await worker.ready();
  return {
    name: `worker spin ${spinMicros} poll ${pollMicros} ${busyWait === 'always' ? 'forced' : ''}`, run: () => timeAppends((pos) => worker.writeAndSync(fd, [record], pos, 'bench')) };
}

/** The same protocol as the worker, but the bytes travel by postMessage instead of shared memory. */
async function postMessageWorker(): Promise<Variant> {
  const fd = fs.openSync(preallocated('post'), 'r+');
  const sab = new SharedArrayBuffer(64);
  const ctl = new Int32Array(sab);
  const { port1, port2 } = new MessageChannel();
  const source = `
    const { workerData, receiveMessageOnPort } = require('node:worker_threads');
    const fs = require('node:fs');
    const { sab, port } = workerData;
    const ctl = new Int32Array(sab);
    const { performance } = require('node:perf_hooks');
    let until = 0;
    for (;;) {
      let n = 0;
      for (;;) {
        const s = Atomics.load(ctl, 0);
        if (s === 1) break;
        if (performance.now() < until) { n++; continue; }
        Atomics.wait(ctl, 0, s);
      }
      const msg = receiveMessageOnPort(port).message;
      fs.writeSync(msg.fd, msg.data, 0, msg.data.length, msg.pos);
      fs.fdatasyncSync(msg.fd);
      Atomics.store(ctl, 0, 2);
      Atomics.notify(ctl, 0);
      until = performance.now() + 0.2;
    }`;
  const worker = new Worker(source, { eval: true, workerData: { sab, port: port2 }, transferList: [port2 as MessagePort] });
  await new Promise((resolve) => worker.once('online', resolve));
  const waitAsync = (Atomics as unknown as { waitAsync: (a: Int32Array, i: number, v: number) => { async: boolean; value: Promise<string> | string } }).waitAsync;
  const append = async (pos: number): Promise<void> => {
    port1.postMessage({ fd, pos, data: record });
    Atomics.store(ctl, 0, 1);
    Atomics.notify(ctl, 0, 1);
    while (Atomics.load(ctl, 0) !== 2) {
      const w = waitAsync(ctl, 0, 1);
      if (w.async) await w.value;
    }
  };
  return { name: 'worker, bytes by postMessage', run: () => timeAppends(append) };
}

const variants: Variant[] = [
  syncFloor(),
  plainAsync(),
  await realFs('worker', true),
  await workerSpin(0, 0, 'auto'),
  await workerSpin(200, 0, 'always'),
  await workerSpin(200, 1000, 'always'),
  await postMessageWorker(),
];
const results = new Map<string, RunResult[]>(variants.map((v) => [v.name, []]));
for (let rep = 0; rep < REPS; rep++) {
  // Rotate the order each repetition so that no variant always runs first or last.
  for (let k = 0; k < variants.length; k++) {
    const v = variants[(k + rep) % variants.length] as Variant;
    results.get(v.name)?.push(await v.run());
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const spread = (xs: number[]): string => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`;
const floor = results.get(variants[0]?.name ?? '') ?? [];
const floorP50 = median(floor.map((r) => r.p50));
const floorP99 = median(floor.map((r) => r.p99));
const pressure = (): string => {
  try {
    return /^some avg10=([0-9.]+)/m.exec(fs.readFileSync('/proc/pressure/cpu', 'latin1'))?.[1] ?? '?';
  } catch {
    return 'n/a';
  }
};
console.log(`${OPS} appends of ${RECORD} B per run, ${REPS} interleaved repetitions, dir ${dir}`);
console.log(`CPU pressure (some avg10 %) at the end: ${pressure()}; load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log('variant                                   p50 us  p99 us (spread)   p50 x  p99 x  loop p99 ms');
for (const [name, runs] of results) {
  const p50 = median(runs.map((r) => r.p50));
  const p99 = median(runs.map((r) => r.p99));
  console.log(
    `${name.padEnd(40)} ${p50.toFixed(0).padStart(7)} ${p99.toFixed(0).padStart(7)} (${spread(runs.map((r) => r.p99)).padStart(9)}) ${(p50 / floorP50).toFixed(2).padStart(6)} ${(p99 / floorP99).toFixed(2).padStart(6)} ${median(runs.map((r) => r.loopP99)).toFixed(2).padStart(11)}`,
  );
}
rmSync(dir, { recursive: true, force: true });
process.exit(0);
