/**
 * The source of the dedicated I/O worker thread that serves `writeAndSync` and `datasync`
 * (see `sync-worker.ts` for the protocol). It is kept as a plain JavaScript string and started
 * with `new Worker(source, { eval: true })`, so that it runs the same way under tsx, vitest, a
 * bundler and the compiled package, with no loader and no file-extension guessing.
 *
 * The source must not depend on the module system it is parsed in: an eval'd worker inherits
 * the embedding process's module input type (`node --input-type=module -e ...`, the same in
 * NODE_OPTIONS), and as an ES module `require` is undefined, so the thread died at load and the
 * first commit failed with EIO. So it gets its built-ins from `process.getBuiltinModule`
 * (node >= 20.16; `require` is touched only on older runtimes, which the package does not
 * support) and has no `import`, which makes it valid as a script and as a module.
 * `sync-worker.ts` also starts it with an empty `execArgv` and without NODE_OPTIONS, so that no
 * flag or preload of the embedding process runs in this thread.
 *
 * Start-up handshake: once its set-up is done, just before the serving loop, the thread posts
 * SYNC_WORKER_SERVING on its parentPort (a message, not the shared memory below). A thread
 * that throws or exits before that message has served nothing; `sync-worker.ts` reports it as
 * a worker that could not start (WORKER_FAILED), not as an I/O error.
 *
 * Must never: report success for a write or fdatasync that threw, retry an fdatasync, touch a
 * file descriptor other than the one in the request, or keep running once its parent is gone
 * (it holds no handles, so the thread ends with the process).
 *
 * Shared memory layout (Int32 slots unless said otherwise); the main thread's names for the
 * words and values are the SLOT_* and STATE_* / OP_* constants below (the source spells the same
 * numbers: it cannot import):
 *   [0] state: 0 idle, 1 request posted, 2 done
 *   [1] op: 1 write then fdatasync, 2 fdatasync only
 *   [2] fd   [3] byte length of the data   [4] result: 0 ok, 1 failed
 *   [5] length of the error code string   [6] failing syscall: 0 write, 1 fdatasync
 *   [7] how long to spin for the next request after this one, in microseconds
 *   [8] pickup: the worker sets it to 1 when it starts serving a request (the main thread clears
 *       it before posting one), so that a polling main thread can tell a worker that is not
 *       running at all from one that is inside its write or fdatasync
 *   bytes 64..71: the write position (Float64)
 *   bytes 96..159: the error code (ASCII, e.g. "EIO")
 *   bytes 256..: the data to write
 */

/** Byte offset of the data region in the shared buffer. */
export const SYNC_WORKER_HEADER_BYTES = 256;

/** Int32 indices of the slot's words (see the layout above), for the main thread. */
export const SLOT_STATE = 0;
export const SLOT_OP = 1;
export const SLOT_FD = 2;
export const SLOT_LENGTH = 3;
export const SLOT_RESULT = 4;
export const SLOT_ERR_LEN = 5;
export const SLOT_ERR_SYSCALL = 6;
export const SLOT_SPIN = 7;
export const SLOT_PICKUP = 8;
/** Values of the state word: a request posted, its result ready. */
export const STATE_REQUEST = 1;
export const STATE_DONE = 2;
/** Values of the op word: write then fdatasync, fdatasync only. */
export const OP_WRITE_SYNC = 1;
export const OP_SYNC = 2;

/** The message the worker posts on its parentPort when it enters its serving loop. */
export const SYNC_WORKER_SERVING = 'consensus-store-io: serving';

/** JavaScript source of the worker (a script or a module alike); `workerData` is `{ sab, capacity }`. */
export const SYNC_WORKER_SOURCE = String.raw`
'use strict';
const builtin = typeof process.getBuiltinModule === 'function' ? (id) => process.getBuiltinModule(id) : require;
const { workerData, parentPort } = builtin('node:worker_threads');
const fs = builtin('node:fs');
const { performance } = builtin('node:perf_hooks');

const STATE = 0, OP = 1, FD = 2, LENGTH = 3, RESULT = 4, ERR_LEN = 5, ERR_SYSCALL = 6, SPIN = 7, PICKUP = 8;
const REQUEST = 1, DONE = 2;
const OP_WRITE_SYNC = 1, OP_SYNC = 2;

const sab = workerData.sab;
const ctl = new Int32Array(sab, 0, 16);
const position = new Float64Array(sab, 64, 1);
const errCode = new Uint8Array(sab, 96, 64);
const data = new Uint8Array(sab, ${SYNC_WORKER_HEADER_BYTES}, workerData.capacity);
function waitForRequest(spinUntil) {
  let n = 0;
  let spinning = spinUntil > 0;
  for (;;) {
    const s = Atomics.load(ctl, STATE);
    if (s === REQUEST) return;
    if (spinning) {
      n += 1;
      if ((n & 63) === 0 && performance.now() >= spinUntil) spinning = false;
      continue;
    }
    Atomics.wait(ctl, STATE, s);
  }
}

function fail(err, syscall) {
  const code = err !== null && typeof err === 'object' && typeof err.code === 'string' ? err.code : 'EIO';
  const n = Math.min(code.length, errCode.length);
  for (let i = 0; i < n; i++) errCode[i] = code.charCodeAt(i) & 0x7f;
  ctl[ERR_LEN] = n;
  ctl[ERR_SYSCALL] = syscall;
  ctl[RESULT] = 1;
}

function serve() {
  Atomics.store(ctl, PICKUP, 1);
  const op = ctl[OP];
  const fd = ctl[FD];
  const length = ctl[LENGTH];
  const at = position[0];
  let syscall = 0;
  try {
    if (op === OP_WRITE_SYNC) {
      let done = 0;
      while (done < length) {
        const n = fs.writeSync(fd, data, done, length - done, at + done);
        if (!(n > 0)) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
        done += n;
      }
    } else if (op !== OP_SYNC) {
      throw Object.assign(new Error('unknown op ' + op), { code: 'EINVAL' });
    }
    syscall = 1;
    fs.fdatasyncSync(fd);
    ctl[RESULT] = 0;
  } catch (err) {
    fail(err, syscall);
  }
  Atomics.store(ctl, STATE, DONE);
  return Atomics.notify(ctl, STATE);
}

// Spin the full time for the next request only when the main thread was polling for this one
// (nobody was parked to be woken). A parked main thread is woken by the notify above, and the
// kernel tends to wake it onto this thread's CPU, where a long spin keeps it from running (seen:
// ~200 us with the other CPU idle); a short one still catches a main thread that runs elsewhere.
const WOKE_SPIN_MS = 0.05;
let spinUntil = 0;
parentPort.postMessage(${JSON.stringify(SYNC_WORKER_SERVING)});
for (;;) {
  waitForRequest(spinUntil);
  const spinMs = ctl[SPIN] / 1000;
  const woken = serve();
  spinUntil = spinMs > 0 ? performance.now() + (woken === 0 ? spinMs : Math.min(spinMs, WOKE_SPIN_MS)) : 0;
}
`;
