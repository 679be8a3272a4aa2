/**
 * The decoding worker of `_image_pool.ts` (a `node:worker_threads` worker, so that an idle pool
 * can be unreferenced and never keeps a process alive). Each message is a job
 * `{ id, paths, transform, maxMegapixels }`; the answer is `{ id, results }` with one result per
 * path, in order: the transformed image as 8-bit samples (scaled to [0, 1] where they land), or
 * the error's name and message. Sample buffers are transferred, not copied.
 *
 * @module
 */
import { parentPort } from "node:worker_threads";
import { decodeImage, type ImageTransformOptions, transformImageBytes } from "./images.ts";
import type { PoolJob, PoolResult } from "./_image_pool.ts";

export async function decodeJob(job: Omit<PoolJob, "id">): Promise<PoolResult[]> {
  const results: PoolResult[] = [];
  for (const path of job.paths) {
    try {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(path);
      } catch (e) {
        results.push({
          ok: false,
          path,
          name: "ImageDecodeError",
          message: `cannot read ${path}: ${(e as Error).message}`,
        });
        continue;
      }
      const img = await decodeImage(bytes, { path, maxMegapixels: job.maxMegapixels });
      const sourceShape: [number, number] = [img.height, img.width];
      const { samples, shape } = await transformImageBytes(
        img,
        job.transform as ImageTransformOptions,
      );
      results.push({ ok: true, path, samples, shape, sourceShape });
    } catch (e) {
      const err = e as Error;
      results.push({ ok: false, path, name: err.name ?? "Error", message: err.message });
    }
  }
  return results;
}

if (parentPort) {
  const port = parentPort;
  port.on("message", async (job: PoolJob) => {
    const results = await decodeJob(job);
    const transfer = results.flatMap((r) => (r.ok ? [r.samples.buffer as ArrayBuffer] : []));
    port.postMessage({ id: job.id, results }, transfer);
  });
}
