/**
 * A pool of decoding workers (`node:worker_threads`, one decoder per worker) shared by
 * `loadImages` and `imageBatches`. Jobs (lists of paths) go to idle workers in order of
 * submission; each job's promise resolves with one result per path. Workers start on first use,
 * are referenced only while they have work (an idle pool never keeps the process alive) and are
 * ended by `close()`. With `workers: 0` jobs run on the calling thread.
 *
 * @module
 */
import { Worker } from "node:worker_threads";
import { decodeJob } from "./_image_worker.ts";
import type { ImageTransformOptions } from "./images.ts";

/** One job: decode and transform these paths. */
export interface PoolJob {
  /** Job id (set by the pool). */
  id: number;
  /** Image files, decoded in this order. */
  paths: string[];
  /** The transform (already checked). */
  transform: ImageTransformOptions;
  /** Largest image accepted, in megapixels. */
  maxMegapixels: number;
}

/** The result for one path: the image, or why it failed. */
export type PoolResult =
  | {
    ok: true;
    path: string;
    /** 8-bit samples `[h, w, c]`; the receiver scales them by 1/255. */
    samples: Uint8Array;
    shape: [number, number, number];
    sourceShape: [number, number];
  }
  | { ok: false; path: string; name: string; message: string };

interface Pending {
  job: PoolJob;
  resolve: (r: PoolResult[]) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy?: Pending;
}

/** The default number of workers: the cores less one (for the training step), 1 to 4. */
export function defaultWorkers(reserveOne: boolean): number {
  const cores = typeof navigator !== "undefined" ? navigator.hardwareConcurrency ?? 1 : 1;
  return Math.max(1, Math.min(4, cores - (reserveOne ? 1 : 0)));
}

/** A pool of decoding workers. */
export class ImagePool {
  readonly workers: number;
  #slots: Slot[] = [];
  #queue: Pending[] = [];
  #nextId = 1;
  #closed = false;

  /** `workers` ≥ 0; 0 decodes on the calling thread. */
  constructor(workers: number) {
    if (!Number.isInteger(workers) || workers < 0 || workers > 64) {
      throw new TypeError(`ImagePool: workers must be an integer in 0..64, got ${workers}`);
    }
    this.workers = workers;
  }

  /** Decodes `paths`; resolves with one result per path, in order. */
  run(
    paths: string[],
    transform: ImageTransformOptions,
    maxMegapixels: number,
  ): Promise<PoolResult[]> {
    if (this.#closed) return Promise.reject(new Error("ImagePool: run after close"));
    const job: PoolJob = { id: this.#nextId++, paths, transform, maxMegapixels };
    if (this.workers === 0) return decodeJob(job);
    return new Promise((resolve, reject) => {
      this.#queue.push({ job, resolve, reject });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((s) => s.busy === undefined);
      if (slot === undefined && this.#slots.length < this.workers) slot = this.#spawn();
      if (slot === undefined) return;
      const pending = this.#queue.shift()!;
      slot.busy = pending;
      slot.worker.ref();
      slot.worker.postMessage(pending.job);
    }
  }

  #spawn(): Slot {
    const worker = new Worker(new URL("./_image_worker.ts", import.meta.url));
    const slot: Slot = { worker };
    worker.on("message", (msg: { id: number; results: PoolResult[] }) => {
      const pending = slot.busy;
      slot.busy = undefined;
      if (this.#queue.length === 0) worker.unref();
      if (pending && pending.job.id === msg.id) pending.resolve(msg.results);
      this.#dispatch();
    });
    worker.on("error", (e: Error) => {
      const pending = slot.busy;
      slot.busy = undefined;
      this.#slots = this.#slots.filter((s) => s !== slot);
      worker.terminate();
      pending?.reject(new Error(`ImagePool: a decoding worker failed: ${e.message}`, { cause: e }));
      this.#dispatch();
    });
    this.#slots.push(slot);
    return slot;
  }

  /** Ends the workers; pending jobs are rejected. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const p of this.#queue) p.reject(new Error("ImagePool: closed"));
    this.#queue = [];
    const slots = this.#slots;
    this.#slots = [];
    for (const s of slots) s.busy?.reject(new Error("ImagePool: closed"));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}

/** Writes `samples / 255` into `out` from `offset` (the loaders' one conversion to [0, 1]). */
export function scaleInto(out: Float32Array, offset: number, samples: Uint8Array): void {
  for (let i = 0; i < samples.length; i++) out[offset + i] = samples[i] / 255;
}
