/**
 * Worker threads for our wasm kernels. Each worker instantiates the kernels of `simd_module.ts`
 * on the backend's shared heap (`shared_heap.ts`) and runs *programs*: lists of calls of the
 * module's exported functions with integer arguments (pointers are byte offsets into the heap).
 * A kernel splits its work into one program per thread; the calling thread runs the first
 * program itself while the workers run the others, then waits for them.
 *
 * Programs are handed over through a small `SharedArrayBuffer` per worker and
 * `Atomics.wait`/`Atomics.notify` (no message passing on the hot path). Workers are
 * `node:worker_threads` workers marked `unref()`, so that an idle pool never keeps a program
 * (or a test) from exiting.
 *
 * Determinism is the kernels' duty: they split work so that every output element is computed by
 * exactly one program, in an order that does not depend on the number of threads (reductions go
 * through a fixed number of partial results, summed in a fixed order).
 *
 * @module
 */
import { Worker } from "node:worker_threads";

/** One call: the index of an exported function (see {@link ThreadPool.fn}) and its arguments. */
export type Call = number[];

/**
 * A list of calls run in order by one thread; build it with {@link Program.call}.
 *
 * @example
 * ```ts
 * import { Program } from "./threads.ts";
 * const p = new Program();
 * p.call(3, 16, 0, 64); // function 3 with arguments (16, 0, 64)
 * console.log(p.length); // 1
 * ```
 */
export class Program {
  /** Encoded calls: function index, argument count, arguments, … */
  readonly code: number[] = [];
  /** Number of calls. */
  length = 0;
  /** Appends a call of function `fn` with `args` (integers; pointers as byte offsets). */
  call(fn: number, ...args: number[]): this {
    this.code.push(fn, args.length, ...args);
    this.length++;
    return this;
  }
}

/** Words of a worker's control block: go, done, error, call count, then the program. */
const HEADER = 4;
/** Words of program a control block holds. */
const PROGRAM_WORDS = 1 << 16;

// The worker's source (CommonJS, run by node:worker_threads with `eval: true`).
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
parentPort.once("message", (init) => {
  const inst = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  const fns = init.names.map((n) => inst.exports[n]);
  const c = new Int32Array(init.control);
  const spin = init.spin;
  parentPort.postMessage("ready");
  let seen = 0;
  for (;;) {
    let go = Atomics.load(c, 0);
    for (let i = 0; go === seen && i < spin; i++) go = Atomics.load(c, 0);
    while (go === seen) {
      Atomics.wait(c, 0, seen);
      go = Atomics.load(c, 0);
    }
    if (go < 0) break;
    seen = go;
    let error = 0;
    try {
      let p = ${HEADER};
      const n = c[3];
      for (let k = 0; k < n; k++) {
        const f = fns[c[p]];
        const na = c[p + 1];
        f.apply(null, c.subarray(p + 2, p + 2 + na));
        p += 2 + na;
      }
    } catch (e) {
      error = 1;
    }
    Atomics.store(c, 2, error);
    Atomics.store(c, 1, go);
    Atomics.notify(c, 1);
  }
});
`;

interface PoolWorker {
  worker: Worker;
  control: Int32Array;
}

/**
 * A pool of `size − 1` workers plus the calling thread, all running one wasm module on one
 * shared memory.
 *
 * @example
 * ```ts
 * import { ThreadPool } from "./threads.ts";
 * declare const pool: ThreadPool;
 * console.log(pool.size);
 * ```
 */
export class ThreadPool {
  /** Threads, the calling thread included. */
  readonly size: number;
  private readonly workers: PoolWorker[];
  private readonly mainFns: ((...args: number[]) => void)[];
  private readonly index: Map<string, number>;
  private seq = 0;
  private closed = false;

  private constructor(
    size: number,
    workers: PoolWorker[],
    mainFns: ((...args: number[]) => void)[],
    index: Map<string, number>,
  ) {
    this.size = size;
    this.workers = workers;
    this.mainFns = mainFns;
    this.index = index;
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
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(`ThreadPool.start: threads must be a positive integer, got ${threads}`);
    }
    if (!(memory.buffer instanceof SharedArrayBuffer)) {
      throw new Error("ThreadPool.start: the memory is not shared");
    }
    const index = new Map(names.map((n, i) => [n, i]));
    const mainFns = names.map((n) => main.exports[n] as (...args: number[]) => void);
    const workers: PoolWorker[] = [];
    try {
      for (let t = 1; t < threads; t++) {
        const worker = new Worker(WORKER_SOURCE, { eval: true });
        const buffer = new SharedArrayBuffer((HEADER + PROGRAM_WORDS) * 4);
        const control = new Int32Array(buffer);
        workers.push({ worker, control });
        await new Promise<void>((resolve, reject) => {
          worker.once("message", () => resolve());
          worker.once("error", reject);
          worker.postMessage({ module, memory, control: buffer, names, spin: 20000 });
        });
        worker.unref();
      }
    } catch (e) {
      for (const w of workers) w.worker.terminate();
      throw new Error(`ThreadPool.start: a worker failed to start: ${(e as Error).message}`);
    }
    return new ThreadPool(threads, workers, mainFns, index);
  }

  /** The index of the exported function `name`, for {@link Program.call}. */
  fn(name: string): number {
    const i = this.index.get(name);
    if (i === undefined) throw new Error(`ThreadPool: no exported function '${name}'`);
    return i;
  }

  /**
   * Runs `programs[0]` on the calling thread and `programs[t]` on worker `t` (at most
   * {@link ThreadPool.size} programs); returns when all are done. Throws if a program failed
   * (a trap in the wasm code).
   */
  run(programs: Program[]): void {
    if (this.closed) throw new Error("ThreadPool.run: the pool is closed");
    if (programs.length > this.size) {
      throw new RangeError(`ThreadPool.run: ${programs.length} programs for ${this.size} threads`);
    }
    const seq = ++this.seq;
    const busy: PoolWorker[] = [];
    for (let t = 1; t < programs.length; t++) {
      const p = programs[t];
      if (p.length === 0) continue;
      const w = this.workers[t - 1];
      if (p.code.length > PROGRAM_WORDS) {
        throw new RangeError(`ThreadPool.run: a program of ${p.code.length} words is too long`);
      }
      w.control.set(p.code, HEADER);
      w.control[3] = p.length;
      w.control[2] = 0;
      Atomics.store(w.control, 0, seq);
      Atomics.notify(w.control, 0);
      busy.push(w);
    }
    let error: unknown;
    if (programs.length > 0) {
      try {
        this.runHere(programs[0]);
      } catch (e) {
        error = e;
      }
    }
    for (const w of busy) {
      let spins = 0;
      const began = performance.now();
      while (Atomics.load(w.control, 1) !== seq) {
        if (spins < 20000) {
          spins++;
          continue;
        }
        Atomics.wait(w.control, 1, Atomics.load(w.control, 1), 1000);
        if (performance.now() - began > 600_000) {
          throw new Error("ThreadPool.run: a worker thread did not answer within 10 minutes");
        }
      }
      if (w.control[2] !== 0 && error === undefined) {
        error = new Error("ThreadPool.run: a kernel trapped in a worker thread");
      }
    }
    if (error !== undefined) throw error;
  }

  private runHere(p: Program): void {
    const c = p.code;
    let q = 0;
    for (let k = 0; k < p.length; k++) {
      const f = this.mainFns[c[q]];
      const na = c[q + 1];
      f.apply(null, c.slice(q + 2, q + 2 + na));
      q += 2 + na;
    }
  }

  /** Stops the workers; the pool cannot run programs afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) {
      Atomics.store(w.control, 0, -1);
      Atomics.notify(w.control, 0);
      w.worker.terminate();
    }
  }
}
