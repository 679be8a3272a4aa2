// Child of tests/knn_threads_test.ts: searches with worker threads and exits without stopping
// them; the parent fails if this process does not end by itself.
import * as tf from "@tensorflow/tfjs";
import { knn, knnWorkerCount } from "../lib/eval/knn.ts";

await tf.setBackend("cpu");
const x = tf.randomNormal([200, 3], 0, 1, "float32", 1) as tf.Tensor2D;
await knn(x, undefined, 3, { blockSize: 50, threads: 2 });
console.log(`workers: ${knnWorkerCount()}`);
console.log("done");
