/**
 * Worker thread of {@linkcode knn}: scans its share of distance blocks with the `wasm` backend
 * and posts back its top-k keys and indices.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { scanBlocks, type ScanJob, TopK } from "./knn_core.ts";

let ready: Promise<unknown> | undefined;

// deno-lint-ignore no-explicit-any
(self as any).onmessage = async (e: MessageEvent) => {
  try {
    ready ??= tf.setBackend("wasm").then((ok) => ok ? ok : tf.setBackend("cpu")).then(() =>
      tf.ready()
    );
    await ready;
    const { job, part, parts } = e.data as { job: ScanJob; part: number; parts: number };
    const top = new TopK(job.n, job.k);
    scanBlocks(job, top, part, parts);
    // deno-lint-ignore no-explicit-any
    (self as any).postMessage({ keys: top.keys, indices: top.indices }, [
      top.keys.buffer,
      top.indices.buffer,
    ]);
  } catch (err) {
    // deno-lint-ignore no-explicit-any
    (self as any).postMessage({ error: String((err as Error)?.stack ?? err) });
  }
};
