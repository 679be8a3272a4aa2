/**
 * Worker thread of {@linkcode knn} (a `node:worker_threads` worker, so that an idle one does not
 * keep the program alive): scans its share of distance blocks with the `wasm` backend and posts
 * back its top-k keys and indices.
 *
 * @module
 */
import { parentPort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { scanBlocks, type ScanJob, TopK } from "./knn_core.ts";

let ready: Promise<unknown> | undefined;

parentPort!.on("message", async (data: { job: ScanJob; part: number; parts: number }) => {
  try {
    ready ??= tf.setBackend("wasm").then((ok) => ok ? ok : tf.setBackend("cpu")).then(() =>
      tf.ready()
    );
    await ready;
    const { job, part, parts } = data;
    const top = new TopK(job.n, job.k);
    scanBlocks(job, top, part, parts);
    parentPort!.postMessage({ keys: top.keys, indices: top.indices }, [
      top.keys.buffer as ArrayBuffer,
      top.indices.buffer as ArrayBuffer,
    ]);
  } catch (err) {
    parentPort!.postMessage({ error: String((err as Error)?.stack ?? err) });
  }
});
