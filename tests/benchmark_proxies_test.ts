/**
 * The benchmark's methods with trainable losses (proxies, class weights), the PyTorch
 * initialisation of its protocol, and the PyTorch + PML cross-check beside our runs.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  BENCHMARK_METHODS,
  benchmarkMarkdown,
  type BenchmarkTable,
  compareCrossCheck,
  configKey,
  DEFAULT_CONFIG,
  describeProtocol,
  executeRun,
  prepareSetting,
  readCrossCheck,
  type RunRecord,
} from "../lib/benchmark/mod.ts";
import { CROSSCHECK_FILE, experiment as benchmarkExperiment } from "../experiments/benchmark.ts";
import { runExperiment } from "../lib/experiment.ts";
import { initBackend } from "../lib/backend.ts";
import { cnnEncoder, referenceCnn } from "../lib/models/encoders.ts";
import { encoderFor } from "../lib/models/resnet.ts";

await initBackend("cpu");

Deno.test("registry: the reality check's classification and proxy losses, with their hyper-parameters", () => {
  const byId = new Map(BENCHMARK_METHODS.map((m) => [m.id, m]));
  for (
    const id of [
      "contrastive",
      "triplet-semihard",
      "ntxent",
      "multisimilarity",
      "multisimilarity-miner",
      "proxy-nca",
      "proxy-anchor",
      "normalized-softmax",
      "cosface",
      "arcface",
      "softtriple",
    ]
  ) assert.ok(byId.has(id), id);
  assert.equal(byId.get("proxy-anchor")!.lossLearningRateMultiplier, 100);
  assert.equal(byId.get("softtriple")!.lossLearningRateMultiplier, 100);
  assert.equal(byId.get("arcface")!.lossLearningRateMultiplier, undefined);
  assert.match(byId.get("arcface")!.description, /margin 28\.6°, scale 64/);
  assert.doesNotMatch(byId.get("multisimilarity")!.description, /miner/);
  // Each trainable loss is made per run for the setting's classes, seeded (64 rows: manifold's
  // 50 proxies each need one).
  const e = tf.randomNormal([64, 64], 0, 1, "float32", 1) as tf.Tensor2D;
  const y = tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 5), "int32");
  for (const m of BENCHMARK_METHODS.filter((m) => m.trainableLoss)) {
    for (const numClasses of [5, 10]) {
      const a = m.trainableLoss!({ numClasses, embeddingSize: 64, seed: 3 });
      const b = m.trainableLoss!({ numClasses, embeddingSize: 64, seed: 3 });
      assert.deepEqual(
        a.trainableWeights!.map((v) => Array.from(v.dataSync())),
        b.trainableWeights!.map((v) => Array.from(v.dataSync())),
        `${m.id}: seeded`,
      );
      const v = a.call(e, y).dataSync()[0];
      assert.ok(Number.isFinite(v), `${m.id}: ${v}`);
      a.dispose();
      b.dispose();
    }
  }
  tf.dispose([e, y]);
  // Manifold's proxies are PML's nn.Parameter: trained with the network, [K, d].
  const manifold = byId.get("manifold")!.trainableLoss!({
    numClasses: 5,
    embeddingSize: 64,
    seed: 0,
  });
  assert.deepEqual(manifold.trainableWeights!.map((v) => v.shape), [[50, 64]]);
  manifold.dispose();
  assert.equal(DEFAULT_CONFIG.initializer, "pytorch");
  assert.match(configKey(DEFAULT_CONFIG), /-initpytorch$/);
  assert.notEqual(
    configKey(DEFAULT_CONFIG),
    configKey({ ...DEFAULT_CONFIG, initializer: "glorot" }),
  );
  assert.match(describeProtocol(DEFAULT_CONFIG).model, /as PyTorch initialises Conv2d\/Linear/);
});

Deno.test({
  name: "executeRun trains a trainable loss with the network and frees it (wasm)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await initBackend("wasm");
    const n = 300;
    const images = Float32Array.from({ length: n * 784 }, (_, i) => ((i * 7919) % 255) / 255);
    const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
    const data = prepareSetting("unseen", { images, labels, n }, { images, labels, n });
    const config = { ...DEFAULT_CONFIG, steps: 2, batchSize: 32 };
    for (const id of ["proxy-anchor", "arcface"]) {
      const before = tf.memory().numTensors;
      const m = await executeRun(BENCHMARK_METHODS.find((m) => m.id === id)!, data, 0, config, {
        progress: false,
      });
      assert.equal(m.steps, 2);
      assert.ok(m.mapAtR > 0 && m.mapAtR <= 1, `${id}: ${m.mapAtR}`);
      assert.equal(tf.memory().numTensors, before, `${id}: tensors left behind`);
    }
    data.dispose();
  },
});

Deno.test("executeRun builds the setting's encoder with the protocol's initializer (reference CNN, encoderFor's small CNN)", async () => {
  // A boolean, not deepEqual on the arrays: assert's diff of 200,000 numbers takes minutes.
  const same = (a: tf.LayersModel, b: tf.LayersModel) =>
    a.getWeights().every((w, i) => {
      const x = w.dataSync(), y = b.getWeights()[i].dataSync();
      return x.length === y.length && x.every((v, j) => v === y[j]);
    });
  const images = new Float32Array(4 * 784).map((_, i) => (i % 13) / 13);
  const split = { images, labels: Int32Array.of(0, 0, 1, 1), n: 4 };
  const data = prepareSetting("seen", split, split);
  const asked: unknown[] = [];
  const spy = {
    ...data,
    encoder: (...a: Parameters<typeof data.encoder>) => (asked.push(a[2]), data.encoder(...a)),
  };
  await executeRun(BENCHMARK_METHODS[0], spy, 3, DEFAULT_CONFIG);
  await executeRun(BENCHMARK_METHODS[0], spy, 3, { ...DEFAULT_CONFIG, initializer: "glorot" });
  assert.deepEqual(asked, ["pytorch", "glorot"]);
  const [ours, torchLike, keras] = [
    data.encoder(3, 64, "pytorch"),
    referenceCnn({ seed: 3, embeddingDim: 64, initializer: "pytorch" }),
    data.encoder(3, 64, "glorot"),
  ];
  assert.ok(same(ours, torchLike), "data.encoder(seed, d, 'pytorch') is referenceCnn's");
  assert.ok(!same(ours, keras), "the glorot encoder differs");
  // Image folders of small grey images: encoderFor passes the initializer to its CNN.
  const [folder, cnn] = [
    encoderFor([28, 28, 1], { seed: 3, embeddingDim: 16, initializer: "pytorch" }),
    cnnEncoder({ inputShape: [28, 28, 1], seed: 3, embeddingDim: 16, initializer: "pytorch" }),
  ];
  assert.ok(same(folder, cnn), "encoderFor passes the initializer to cnnEncoder");
  tf.dispose([ours, torchLike, keras, folder, cnn].flatMap((m) => m.getWeights()));
  data.dispose();
});

Deno.test("cross-check: PyTorch + PML's lines beside our runs, in the Markdown table", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crosscheck-" });
  const path = `${dir}/${CROSSCHECK_FILE}`;
  assert.deepEqual(await readCrossCheck(path), []);
  const line = (method: string, mapAtR: number, init = "pytorch") =>
    JSON.stringify({
      setting: "seen",
      method,
      seed: 0,
      init,
      eps: 1e-8,
      framework: "torch 1.13 cpu, pytorch-metric-learning 2.9.0",
      mapAtR,
      rPrecision: 0.5,
      precisionAt1: 0.8,
      steps: 936,
    });
  await Deno.writeTextFile(
    path,
    [line("arcface", 0.7), line("arcface", 0.7407), line("contrastive", 0.62, "glorot"), ""]
      .join("\n"),
  );
  const runs = await readCrossCheck(path);
  assert.equal(runs.length, 2); // the later arcface line replaces the earlier one
  const record = (method: string, mapAtR: number) =>
    ({ setting: "seen", method, seed: 0, mapAtR }) as RunRecord;
  const compared = compareCrossCheck(
    runs,
    [record("arcface", 0.7512), record("contrastive", 0.6)],
    ["contrastive", "arcface"],
  );
  assert.deepEqual(compared.map((c) => [c.method, c.ours, c.pml]), [
    ["contrastive", null, 0.62], // another initialisation than ours: not compared
    ["arcface", 0.7512, 0.7407],
  ]);
  const md = benchmarkMarkdown({
    protocol: { methods: { arcface: "ArcFaceLoss, PML defaults" } },
    rows: [],
    crossCheck: compared,
  });
  assert.match(md, /## Methods and their hyper-parameters/);
  assert.match(md, /\| arcface +\| ArcFaceLoss, PML defaults +\|/);
  assert.match(
    md,
    /\| seen +\| arcface +\| +0 \| pytorch +\| +0\.7512 \| +0\.7407 \| \+0\.0105 \|/,
  );
  await Deno.writeTextFile(path, '{"setting": 1}\n');
  await assert.rejects(readCrossCheck(path), /:1: not a cross-check run/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "quick benchmark with trainable losses writes the cross-check section when a record exists",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "bench-proxies-" });
    try {
      await Deno.mkdir(`${root}/out`, { recursive: true });
      await Deno.writeTextFile(
        `${root}/out/${CROSSCHECK_FILE}`,
        JSON.stringify({
          setting: "seen",
          method: "arcface",
          seed: 0,
          init: "pytorch",
          framework: "torch",
          mapAtR: 0.5,
          rPrecision: 0.5,
          precisionAt1: 0.5,
          steps: 2,
        }) + "\n",
      );
      const errors: string[] = [];
      const code = await runExperiment(benchmarkExperiment, [
        "--quick",
        "--backend",
        "wasm",
        "--resultsRoot",
        root,
        "--runsDir",
        `${root}/runs`,
        "--out",
        `${root}/out`,
        "--methods",
        "arcface,proxy-anchor",
        "--settings",
        "seen",
        "--steps",
        "2",
        "--trainLimit",
        "512",
        "--testLimit",
        "200",
      ], { log: () => {}, logError: (l) => errors.push(l) });
      assert.equal(code, 0, errors.join("\n"));
      const table = JSON.parse(
        await Deno.readTextFile(`${root}/out/benchmark.json`),
      ) as BenchmarkTable;
      assert.deepEqual(table.rows.map((r) => r.method), ["proxy-anchor", "arcface"]);
      const ours = table.rows.find((r) => r.method === "arcface")!.mapAtR.mean;
      assert.deepEqual(table.crossCheck?.map((c) => [c.method, c.ours, c.pml]), [
        ["arcface", ours, 0.5],
      ]);
      const md = await Deno.readTextFile(`${root}/out/benchmark.md`);
      assert.match(md, /## Cross-check: PyTorch \+ pytorch-metric-learning/);
      assert.match(md, /\| proxy-anchor +\| ProxyAnchorLoss, PML defaults/);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
