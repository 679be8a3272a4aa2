/**
 * Worker threads for our wasm kernels. Each worker instantiates the kernels of `simd_module.ts`
 * on the backend's shared heap (`shared_heap.ts`) and runs *tasks*: programs, that is lists of
 * calls of the module's exported functions with integer arguments (pointers are byte offsets
 * into the heap). A kernel cuts its work into tasks; the calling thread and the workers take
 * tasks from a shared counter until none is left, so a worker that is slow to wake up (a busy
 * machine) only means that the calling thread does more of the tasks itself. Each thread has its
 * own scratch area: arguments marked in a call's scratch mask are offsets into the scratch area
 * of whichever thread runs the task.
 *
 * Jobs are handed over through one `SharedArrayBuffer` and `Atomics` (no message passing on the
 * hot path). Workers are `node:worker_threads` workers marked `unref()`, so that an idle pool
 * never keeps a program (or a test) from exiting.
 *
 * Determinism is the kernels' duty: a task's result must not depend on the thread that runs it
 * (tasks write disjoint outputs, or partial results that are added in a fixed order).
 *
 * @module
 */
import { Worker } from "node:worker_threads";

/**
 * A list of calls run in order by one thread; build it with {@link Program.call}.
 *
 * @example
 * ```ts
 * import { Program } from "./threads.ts";
 * const p = new Program();
 * p.call(3, 16, 0, 64); // function 3 with arguments (16, 0, 64)
 * p.callScratch(4, 0b10, 16, 0); // argument 1 is an offset into the running thread's scratch
 * console.log(p.length); // 2
 * ```
 */
export class Program {
  /** Encoded calls: function index, argument count, scratch mask, arguments, … */
  readonly code: number[] = [];
  /** Number of calls. */
  length = 0;
  /** Appends a call of function `fn` with `args` (integers; pointers as byte offsets). */
  call(fn: number, ...args: number[]): this {
    this.code.push(fn, args.length, 0, ...args);
    this.length++;
    return this;
  }
  /**
   * Appends a call whose arguments `j` with bit `j` set in `mask` are byte offsets into the
   * scratch area of the thread that runs the program.
   */
  callScratch(fn: number, mask: number, ...args: number[]): this {
    this.code.push(fn, args.length, mask, ...args);
    this.length++;
    return this;
  }
}

// Layout of the control block (Int32 words).
const SEQ = 0; // job number, bumped to publish a job
const NEXT = 1; // next task to take
const DONE = 2; // tasks finished
const ERROR = 3; // set when a task trapped
const INSIDE = 4; // workers looking at the current job; LOCK while the caller writes one
const TASKS = 5; // number of tasks
const SCRATCH = 8; // scratch base of thread t at SCRATCH + t (64 threads at most)
const OFFSETS = 72; // start of task t's code at OFFSETS + t
const MAX_TASKS = 1024;
const CODE = OFFSETS + MAX_TASKS;
const WORDS = CODE + (1 << 18);
const LOCK = -(1 << 24);
/** Most threads a pool can have. */
export const MAX_THREADS = 64;

// The worker's source (CommonJS, run by node:worker_threads with `eval: true`).
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
parentPort.once("message", (init) => {
  const inst = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const fns = init.names.map((n) => inst.exports[n]);
  const c = new Int32Array(init.control);
  const me = init.thread;
  const spin = init.spin;
  const args = [];
  parentPort.postMessage("ready");
  let seen = 0;
  for (;;) {
    let s = Atomics.load(c, ${SEQ});
    for (let i = 0; s === seen && i < spin; i++) s = Atomics.load(c, ${SEQ});
    while (s === seen) {
      Atomics.wait(c, ${SEQ}, seen);
      s = Atomics.load(c, ${SEQ});
    }
    if (s < 0) break;
    // Enter the job unless the caller is writing the next one.
    if (Atomics.add(c, ${INSIDE}, 1) < 0) {
      Atomics.sub(c, ${INSIDE}, 1);
      continue;
    }
    seen = Atomics.load(c, ${SEQ});
    const tasks = c[${TASKS}];
    const base = c[${SCRATCH} + me];
    for (;;) {
      const t = Atomics.add(c, ${NEXT}, 1);
      if (t >= tasks) break;
      try {
        let p = c[${OFFSETS} + t];
        const end = t + 1 < tasks ? c[${OFFSETS} + t + 1] : c[${OFFSETS} + tasks];
        while (p < end) {
          const f = fns[c[p]];
          const na = c[p + 1];
          const mask = c[p + 2];
          args.length = na;
          for (let j = 0; j < na; j++) args[j] = c[p + 3 + j] + ((mask >>> j) & 1 ? base : 0);
          f.apply(null, args);
          p += 3 + na;
        }
      } catch (e) {
        Atomics.store(c, ${ERROR}, 1);
      }
      Atomics.add(c, ${DONE}, 1);
      Atomics.notify(c, ${DONE});
    }
    Atomics.sub(c, ${INSIDE}, 1);
  }
});
`;

/**
 * A pool of `size − 1` workers plus the calling thread, all running one wasm module on one
 * shared memory.
 *
 * @example
 * ```ts
 * import { Program, ThreadPool } from "./threads.ts";
 * import { simdInstance } from "./simd_module.ts";
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
 * const k = simdInstance(memory, 16)!;
 * const pool = await ThreadPool.start(2, memory, k.module, k.instance, k.names);
 * const zero = k.names.indexOf("zero");
 * pool.run([new Program().call(zero, 0, 64), new Program().call(zero, 64, 64)]); // two tasks
 * pool.close();
 * ```
 */
export class ThreadPool {
  /** Threads, the calling thread included. */
  readonly size: number;
  private readonly workers: Worker[];
  private readonly control: Int32Array;
  private readonly mainFns: ((...args: number[]) => void)[];
  private seq = 0;
  private closed = false;

  private constructor(
    size: number,
    workers: Worker[],
    control: Int32Array,
    mainFns: ((...args: number[]) => void)[],
  ) {
    this.size = size;
    this.workers = workers;
    this.control = control;
    this.mainFns = mainFns;
  }

  /**
   * Starts `threads − 1` workers, each with an instance of `module` on `memory` (which must be
   * shared); `main` is the calling thread's instance of the same module; programs name
   * functions by their index in `names`.
   */
  static async start(
    threads: number,
    memory: WebAssembly.Memory,
    module: WebAssembly.Module,
    main: WebAssembly.Instance,
    names: string[],
  ): Promise<ThreadPool> {
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      throw new RangeError(
        `ThreadPool.start: threads must be an integer from 1 to ${MAX_THREADS}, got ${threads}`,
      );
    }
    if (!(memory.buffer instanceof SharedArrayBuffer)) {
      throw new Error("ThreadPool.start: the memory is not shared");
    }
    const mainFns = names.map((n) => main.exports[n] as (...args: number[]) => void);
    const buffer = new SharedArrayBuffer(WORDS * 4);
    const control = new Int32Array(buffer);
    const workers: Worker[] = [];
    try {
      for (let t = 1; t < threads; t++) {
        const worker = new Worker(WORKER_SOURCE, { eval: true });
        workers.push(worker);
        await new Promise<void>((resolve, reject) => {
          worker.once("message", () => resolve());
          worker.once("error", reject);
          worker.postMessage({ module, memory, control: buffer, names, thread: t, spin: 20000 });
        });
        worker.unref();
      }
    } catch (e) {
      for (const w of workers) w.terminate();
      throw new Error(`ThreadPool.start: a worker failed to start: ${(e as Error).message}`);
    }
    return new ThreadPool(threads, workers, control, mainFns);
  }

  /**
   * Runs `tasks` on the threads (each task on one thread, whichever takes it first) and returns
   * when all are done; thread `t`'s scratch area starts at byte `scratch + t·scratchBytes`.
   * Throws if a task failed (a trap in the wasm code).
   */
  run(tasks: Program[], scratch = 0, scratchBytes = 0): void {
    if (this.closed) throw new Error("ThreadPool.run: the pool is closed");
    const n = tasks.length;
    if (n === 0) return;
    if (n > MAX_TASKS) throw new RangeError(`ThreadPool.run: ${n} tasks, at most ${MAX_TASKS}`);
    const c = this.control;
    // Wait until no worker is inside the previous job, then lock while writing this one.
    let spins = 0;
    while (Atomics.compareExchange(c, INSIDE, 0, LOCK) !== 0) {
      if (++spins > 1000) Atomics.wait(c, INSIDE, Atomics.load(c, INSIDE), 1);
    }
    let at = CODE;
    for (let t = 0; t < n; t++) {
      c[OFFSETS + t] = at;
      const code = tasks[t].code;
      if (at + code.length > WORDS) {
        Atomics.sub(c, INSIDE, LOCK);
        throw new RangeError("ThreadPool.run: the tasks' code is too long");
      }
      c.set(code, at);
      at += code.length;
    }
    c[OFFSETS + n] = at;
    c[TASKS] = n;
    for (let t = 0; t < this.size; t++) c[SCRATCH + t] = scratch + t * scratchBytes;
    c[ERROR] = 0;
    Atomics.store(c, DONE, 0);
    Atomics.store(c, NEXT, 0);
    const seq = this.seq = (this.seq + 1) & 0x3fffffff || 1;
    Atomics.store(c, SEQ, seq);
    Atomics.sub(c, INSIDE, LOCK);
    Atomics.notify(c, SEQ);
    // Take tasks like any worker.
    let error: unknown;
    for (;;) {
      const t = Atomics.add(c, NEXT, 1);
      if (t >= n) break;
      try {
        this.runHere(tasks[t], scratch);
      } catch (e) {
        error ??= e;
      }
      Atomics.add(c, DONE, 1);
    }
    // Wait for the tasks that workers took.
    spins = 0;
    const began = performance.now();
    for (;;) {
      const done = Atomics.load(c, DONE);
      if (done >= n) break;
      if (++spins < 20000) continue;
      Atomics.wait(c, DONE, done, 1000);
      if (performance.now() - began > 600_000) {
        throw new Error("ThreadPool.run: a worker thread did not finish its task in 10 minutes");
      }
    }
    if (error === undefined && c[ERROR] !== 0) {
      error = new Error("ThreadPool.run: a kernel trapped in a worker thread");
    }
    if (error !== undefined) throw error;
  }

  private runHere(p: Program, base: number): void {
    const c = p.code;
    let q = 0;
    for (let k = 0; k < p.length; k++) {
      const f = this.mainFns[c[q]];
      const na = c[q + 1];
      const mask = c[q + 2];
      const args = c.slice(q + 3, q + 3 + na);
      if (mask !== 0) { for (let j = 0; j < na; j++) if ((mask >>> j) & 1) args[j] += base; }
      f.apply(null, args);
      q += 3 + na;
    }
  }

  /** Stops the workers; the pool cannot run programs afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.control, SEQ, -1);
    Atomics.notify(this.control, SEQ);
    for (const w of this.workers) w.terminate();
  }
}

/**
 * Runs `tasks` one after another on the calling thread with `fns` (the module's functions by
 * index), scratch area at byte `scratch` — what a pool of one thread does.
 *
 * @example
 * ```ts
 * import { Program, runTasksHere } from "./threads.ts";
 * const log: number[] = [];
 * runTasksHere([new Program().call(0, 7)], [(a: number) => log.push(a)], 0); // log = [7]
 * ```
 */
export function runTasksHere(
  tasks: Program[],
  fns: ((...args: number[]) => unknown)[],
  scratch: number,
): void {
  for (const p of tasks) {
    const c = p.code;
    let q = 0;
    for (let k = 0; k < p.length; k++) {
      const na = c[q + 1];
      const mask = c[q + 2];
      const args = c.slice(q + 3, q + 3 + na);
      if (mask !== 0) { for (let j = 0; j < na; j++) if ((mask >>> j) & 1) args[j] += scratch; }
      fns[c[q]].apply(null, args);
      q += 3 + na;
    }
  }
}
