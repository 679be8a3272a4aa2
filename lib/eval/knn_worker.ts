/**
 * Worker thread of {@linkcode knn} (a `node:worker_threads` worker, so that an idle one does not
 * keep the program alive): scans its share of distance blocks with the `wasm` backend and posts
 * back its top-k keys and indices. Arrays travel as plain ArrayBuffers (typed arrays cross
 * `node:worker_threads` slowly under Deno).
 *
 * @module
 */
import { parentPort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { exactKeys, scanBlocks, type ScanJob, TopK } from "./knn_core.ts";

/** A {@linkcode ScanJob} as sent: the rows as ArrayBuffers. */
type SentJob = Omit<ScanJob, "q" | "r" | "query" | "ref"> & {
  q: ArrayBuffer;
  r: ArrayBuffer | null;
  query?: ArrayBuffer;
  ref?: ArrayBuffer;
};

let ready: Promise<unknown> | undefined;

parentPort!.on("message", async (
  data: { job: SentJob; part: number; parts: number; k: number },
) => {
  try {
    ready ??= tf.setBackend("wasm").then((ok) => ok ? ok : tf.setBackend("cpu")).then(() =>
      tf.ready()
    );
    await ready;
    const { part, parts } = data;
    const job: ScanJob = {
      ...data.job,
      q: new Float32Array(data.job.q),
      r: data.job.r ? new Float32Array(data.job.r) : null,
      query: data.job.query ? new Float32Array(data.job.query) : undefined,
      ref: data.job.ref ? new Float32Array(data.job.ref) : undefined,
    };
    const top = new TopK(job.n, job.k);
    const norms = scanBlocks(job, top, part, parts);
    // The exact keys of this worker's candidates, in parallel with the other workers.
    const exact = exactKeys(job, top, data.k, norms).buffer as ArrayBuffer;
    const keys = top.keys.buffer as ArrayBuffer, indices = top.indices.buffer as ArrayBuffer;
    parentPort!.postMessage({ keys, indices, exact }, [keys, indices, exact]);
  } catch (err) {
    parentPort!.postMessage({ error: String((err as Error)?.stack ?? err) });
  }
});
