// A watchdog for native calls that may block forever (setNumThreads joining a
// pool worker that never wakes). A blocked main thread cannot run vitest's
// timeouts, so a worker thread watches instead: when a guarded call has not
// returned within the limit it prints what hung to stderr and kills the test
// process, which vitest reports as a failed file instead of a hung run.
import { Worker } from 'node:worker_threads';

const WATCHER = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const state = new Int32Array(workerData.sab, 0, 1);
const label = new Uint8Array(workerData.sab, 8);
for (;;) {
  Atomics.wait(state, 0, 0);
  const armed = Atomics.load(state, 0);
  if (armed === 0) continue;
  if (Atomics.wait(state, 0, armed, workerData.ms) === 'timed-out' && Atomics.load(state, 0) === armed) {
    const n = label.indexOf(0);
    const what = Buffer.from(label.subarray(0, n < 0 ? label.length : n)).toString();
    writeSync(2, '\\n[test/conv watchdog] DEADLOCK: ' + what + ' did not return within ' + workerData.ms / 1000 + ' s; killing the test process\\n');
    process.kill(process.pid, 'SIGKILL');
  }
}
`;

let sab: SharedArrayBuffer | null = null;
let seq = 0;

function ensure(ms: number): SharedArrayBuffer {
  if (!sab) {
    sab = new SharedArrayBuffer(8 + 256);
    const w = new Worker(WATCHER, { eval: true, workerData: { sab, ms } });
    w.unref();
  }
  return sab;
}

/** Runs fn (synchronous native work); kills the process if it blocks for more than `ms`. */
export function guarded<R>(what: string, fn: () => R, ms = 60_000): R {
  const buf = ensure(ms);
  const state = new Int32Array(buf, 0, 1);
  const label = new Uint8Array(buf, 8);
  label.fill(0);
  label.set(Buffer.from(what).subarray(0, label.length - 1));
  seq = (seq % 1_000_000) + 1;
  Atomics.store(state, 0, seq);
  Atomics.notify(state, 0);
  try {
    return fn();
  } finally {
    Atomics.store(state, 0, 0);
    Atomics.notify(state, 0);
  }
}
