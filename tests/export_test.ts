import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  encodeNpy,
  metadataTsv,
  saveEncoder,
  vectorsTsv,
  writeNpy,
  writeProjectorTsv,
} from "../lib/io/export.ts";
import { cnnEncoder, embed, loadEncoder, mlpEncoder } from "../lib/models/mod.ts";

await tf.setBackend("cpu");

Deno.test("encodeNpy: NPY v1.0 header, '<f4', C order, 64-byte aligned data", () => {
  const values = new Float32Array([1, -2.5, 3, 0.125, 5, 6]);
  const bytes = encodeNpy(values, [2, 3]);
  assert.deepEqual([...bytes.subarray(0, 8)], [0x93, 78, 85, 77, 80, 89, 1, 0]);
  const view = new DataView(bytes.buffer);
  const headerLen = view.getUint16(8, true);
  assert.equal((10 + headerLen) % 64, 0);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLen));
  assert.match(header, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
  assert.equal(bytes.length, 10 + headerLen + 24);
  for (let i = 0; i < 6; i++) {
    assert.equal(view.getFloat32(10 + headerLen + 4 * i, true), values[i]);
  }
  assert.match(
    new TextDecoder().decode(encodeNpy(new Float32Array(2), [2]).subarray(10, 70)),
    /\(2,\)/,
  );
  assert.throws(() => encodeNpy(values, [4, 2]), /does not hold 6 values/);
});

Deno.test("writeNpy writes the tensor's values", async () => {
  const dir = await Deno.makeTempDir();
  await writeNpy(`${dir}/e.npy`, tf.tensor2d([[1, 2], [3, 4]]));
  const bytes = await Deno.readFile(`${dir}/e.npy`);
  const data = new Float32Array(bytes.slice(bytes.length - 16).buffer);
  assert.deepEqual([...data], [1, 2, 3, 4]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("projector TSV: vectors rows with tabs; metadata header only for several columns", async () => {
  assert.equal(await vectorsTsv(tf.tensor2d([[1, 0.5], [-2, 3]])), "1\t0.5\n-2\t3\n");
  assert.equal(metadataTsv({ label: [0, 1] }), "0\n1\n");
  assert.equal(
    metadataTsv({ label: [0, 1], name: ["Top", "Trouser"] }),
    "label\tname\n0\tTop\n1\tTrouser\n",
  );
  assert.throws(() => metadataTsv({ a: [1], b: [1, 2] }), /"b" has 2 values, expected 1/);
  assert.throws(() => metadataTsv({ a: ["x\ty"] }), /tab or newline/);
  const dir = await Deno.makeTempDir();
  await writeProjectorTsv(`${dir}/proj`, tf.tensor2d([[1, 2], [3, 4]]), { label: [7, 8] });
  assert.equal(await Deno.readTextFile(`${dir}/proj/vectors.tsv`), "1\t2\n3\t4\n");
  assert.equal(await Deno.readTextFile(`${dir}/proj/metadata.tsv`), "7\n8\n");
  await assert.rejects(
    writeProjectorTsv(`${dir}/p2`, tf.tensor2d([[1, 2]]), { label: [7, 8] }),
    /2 rows for 1 embeddings/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("saveEncoder / loadEncoder: identical embeddings (L2Normalization registered)", async () => {
  const dir = await Deno.makeTempDir();
  const encoders = [
    mlpEncoder({ inputShape: [28, 28, 1], hidden: [16], embeddingDim: 8, seed: 3 }),
    cnnEncoder({ filters: [4], dense: [8], embeddingDim: 5, seed: 2 }),
  ];
  const x = tf.randomUniform([6, 28, 28, 1], 0, 1, "float32", 5);
  for (const [i, encoder] of encoders.entries()) {
    await saveEncoder(encoder, `${dir}/enc${i}`);
    const names = [...Deno.readDirSync(`${dir}/enc${i}`)].map((e) => e.name).sort();
    assert.deepEqual(names, ["model.json", "weights.bin"]); // no temporary files left
    const again = await loadEncoder(`${dir}/enc${i}`);
    assert.equal(again.layers.at(-1)!.getClassName(), "L2Normalization");
    assert.deepEqual(await embed(again, x).data(), await embed(encoder, x).data());
    // The files are the standard TensorFlow.js format: tf.io.http reads them too.
    const viaHttp = await tf.loadLayersModel(
      tf.io.http(new URL(`file://${dir}/enc${i}/model.json`).href, { fetchFunc: fetch }),
    );
    assert.deepEqual(await embed(viaHttp, x).data(), await embed(encoder, x).data());
  }
  await assert.rejects(loadEncoder(`${dir}/missing`), /cannot read .*missing\/model.json/);
  await Deno.remove(dir, { recursive: true });
});
