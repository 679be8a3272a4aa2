import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  aggregateRuns,
  BENCHMARK_METHODS,
  benchmarkCsv,
  benchmarkFigure,
  benchmarkMarkdown,
  type BenchmarkTable,
  configKey,
  DEFAULT_CONFIG,
  estimateSecondsLeft,
  formatMeanCi,
  meanCi95,
  parseSetting,
  readRunRecords,
  runBenchmark,
  runFileName,
  type RunMeasurements,
  type RunRecord,
  type RunSpec,
  selectClasses,
  selectMethods,
  stepsFor,
  T_975,
  tQuantile975,
} from "../lib/benchmark/mod.ts";
import { initBackend } from "../lib/backend.ts";
import {
  experiment as benchmarkExperiment,
  parseShard,
  resolveBenchmarkOptions,
} from "../experiments/benchmark.ts";
import { runExperiment } from "../lib/experiment.ts";
import { gitState } from "../lib/io/run_dir.ts";

const close = (a: number, b: number, tol: number, what = "") =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b} (tol ${tol})`);

Deno.test("t quantiles: table and expansion agree with SciPy", () => {
  assert.equal(T_975.length, 30);
  assert.equal(tQuantile975(1), 12.706204736);
  assert.equal(tQuantile975(2), 4.30265273);
  assert.equal(tQuantile975(30), 2.042272456);
  // scipy.stats.t.ppf(0.975, ν)
  for (
    const [v, t] of [
      [31, 2.0395134463964077],
      [40, 2.0210753829953374],
      [
        60,
        2.0002978210582616,
      ],
      [120, 1.9799304050527766],
      [1000, 1.9623390808264074],
    ]
  ) close(tQuantile975(v), t, 1e-6, `ν=${v}`);
  close(tQuantile975(Infinity), 1.959963984540054, 1e-12);
  assert.throws(() => tQuantile975(0), /positive integer/);
  assert.throws(() => tQuantile975(2.5), /positive integer/);
});

Deno.test("meanCi95: hand-computed intervals", () => {
  // [0.5, 0.6, 0.7]: s = 0.1, t(2) = 4.30265273, half-width = 4.30265273 · 0.1 / √3
  const a = meanCi95([0.5, 0.6, 0.7]);
  close(a.mean, 0.6, 1e-12);
  close(a.sd!, 0.1, 1e-12);
  close(a.ci95!, 0.24841377118437521, 1e-9);
  assert.equal(a.n, 3);
  // [0.41, 0.45, 0.38, 0.44]: mean 0.42, s = 0.0316228, t(3) = 3.182446305
  const b = meanCi95([0.41, 0.45, 0.38, 0.44]);
  close(b.mean, 0.42, 1e-12);
  close(b.ci95!, 0.05031889427942912, 1e-9);
  // two equal values: zero width
  assert.equal(meanCi95([0.3, 0.3]).ci95, 0);
  assert.deepEqual(meanCi95([0.25]), { mean: 0.25, ci95: null, n: 1, sd: null });
  assert.throws(() => meanCi95([]), /no values/);
  assert.throws(() => meanCi95([0.1, NaN]), /non-finite/);
});

function record(
  setting: string,
  method: string,
  seed: number,
  mapAtR: number,
  rate: number | null = 100,
  key = "k",
): RunRecord {
  return {
    setting,
    method,
    seed,
    configKey: key,
    mapAtR,
    rPrecision: mapAtR + 0.1,
    precisionAt1: mapAtR + 0.2,
    trainImagesPerSecond: rate,
    trainSeconds: 1,
    steps: 10,
    trainImages: 100,
    testImages: 50,
    seconds: 2,
    finishedAt: "2026-11-28T00:00:00.000Z",
  };
}

Deno.test("aggregateRuns: hand-made records give the expected table", () => {
  const records = [
    record("unseen", "b", 0, 0.2, 50),
    record("seen", "b", 1, 0.7, 200),
    record("seen", "a", 0, 0.4, null),
    record("seen", "b", 0, 0.5, 100),
    record("seen", "b", 2, 0.6, 300),
    record("seen", "a", 1, 0.4, null),
  ];
  const table = aggregateRuns(records, {
    protocol: { data: "x" },
    settingOrder: ["seen", "unseen"],
    methodOrder: ["b", "a"],
  });
  assert.deepEqual(table.protocol, { data: "x", configKey: "k" });
  assert.deepEqual(table.rows.map((r) => [r.setting, r.method, r.seeds]), [
    ["seen", "b", [0, 1, 2]],
    ["seen", "a", [0, 1]],
    ["unseen", "b", [0]],
  ]);
  const b = table.rows[0];
  close(b.mapAtR.mean, 0.6, 1e-12);
  close(b.mapAtR.ci95!, 0.24841377118437521, 1e-9);
  close(b.rPrecision.mean, 0.7, 1e-12);
  close(b.precisionAt1.ci95!, 0.24841377118437521, 1e-9);
  assert.equal(b.trainImagesPerSecond, 200);
  assert.deepEqual(table.rows[1].mapAtR, { mean: 0.4, ci95: 0 });
  assert.equal(table.rows[1].trainImagesPerSecond, null);
  assert.deepEqual(table.rows[2].mapAtR, { mean: 0.2, ci95: null });
  assert.throws(
    () => aggregateRuns([record("seen", "a", 0, 0.1), record("seen", "a", 0, 0.2)]),
    /two records/,
  );
  assert.throws(
    () => aggregateRuns([record("seen", "a", 0, 0.1), record("seen", "a", 1, 0.2, 1, "other")]),
    /different configurations/,
  );
});

const fakeMeasurements = (spec: RunSpec): RunMeasurements => ({
  mapAtR: (1 + spec.seed) / 10,
  rPrecision: 0.2,
  precisionAt1: 0.3,
  trainImagesPerSecond: spec.method === "slow" ? 10 : null,
  trainSeconds: 0,
  steps: 1,
  trainImages: 1,
  testImages: 1,
});

Deno.test("runBenchmark: finished runs are skipped on restart; a failure loses one run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench-resume-" });
  try {
    const specs: RunSpec[] = [];
    for (const method of ["fast", "slow"]) {
      for (const seed of [0, 1, 2]) specs.push({ setting: "seen", method, seed });
    }
    const executed: string[] = [];
    let failOn: string | undefined = runFileName(specs[3]);
    const execute = (spec: RunSpec) => {
      const name = runFileName(spec);
      if (name === failOn) return Promise.reject(new Error("interrupted"));
      executed.push(name);
      return Promise.resolve(fakeMeasurements(spec));
    };
    const lines: string[] = [];
    let clock = 0;
    const opts = {
      specs,
      runsDir: dir,
      configKey: "cfg",
      execute,
      log: (l: string) => lines.push(l),
      now: () => (clock += 5),
    };
    await assert.rejects(runBenchmark(opts), /interrupted/);
    assert.equal(executed.length, 3);
    assert.equal((await readRunRecords(dir)).length, 3);
    assert.match(lines[0], /^\[1\/6\] seen fast seed 0: MAP@R 0\.1000 .*eta 25s\)$/);

    failOn = undefined;
    executed.length = 0;
    const second = await runBenchmark(opts);
    assert.equal(second.skipped, 3);
    assert.equal(second.ran, 3);
    assert.deepEqual(executed, specs.slice(3).map(runFileName));
    assert.ok(lines.some((l) => /3\/6 runs already done/.test(l)));

    executed.length = 0;
    const third = await runBenchmark(opts);
    assert.equal(third.ran, 0);
    assert.equal(executed.length, 0);
    assert.deepEqual(third.records.map((r) => r.mapAtR), [0.1, 0.2, 0.3, 0.1, 0.2, 0.3]);

    await Deno.remove(`${dir}/${runFileName(specs[4])}`);
    const fourth = await runBenchmark(opts);
    assert.deepEqual(executed, [runFileName(specs[4])]);
    assert.equal(fourth.ran, 1);

    await assert.rejects(runBenchmark({ ...opts, configKey: "other" }), /configuration "cfg"/);
    await assert.rejects(
      runBenchmark({ ...opts, specs: [specs[0], specs[0]] }),
      /listed twice/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("estimateSecondsLeft: per cost key, else overall mean", () => {
  const done = [
    { setting: "seen", method: "a", seed: 0, seconds: 100 },
    { setting: "seen", method: "a", seed: 1, seconds: 200 },
    { setting: "unseen", method: "a", seed: 0, seconds: 30 },
  ];
  const key = (s: RunSpec) => s.setting;
  assert.equal(
    estimateSecondsLeft(done, [{ setting: "seen", method: "b", seed: 0 }], key),
    150,
  );
  assert.equal(
    estimateSecondsLeft(done, [
      { setting: "unseen", method: "b", seed: 0 },
      { setting: "other", method: "b", seed: 0 },
    ], key),
    30 + 110,
  );
  assert.ok(Number.isNaN(estimateSecondsLeft([], [{ setting: "x", method: "y", seed: 0 }], key)));
  assert.equal(estimateSecondsLeft([], [], key), 0);
});

const SMALL: BenchmarkTable = {
  protocol: { data: "Fashion-MNIST", seeds: [0, 1], methods: { untrained: "no training" } },
  rows: [
    {
      setting: "seen",
      method: "contrastive",
      seeds: [0, 1, 2],
      mapAtR: { mean: 0.61234, ci95: 0.0123 },
      rPrecision: { mean: 0.7, ci95: 0.01 },
      precisionAt1: { mean: 0.85, ci95: 0.005 },
      trainImagesPerSecond: 912.4,
    },
    {
      setting: "unseen",
      method: "untrained",
      seeds: [0],
      mapAtR: { mean: 0.3, ci95: null },
      rPrecision: { mean: 0.4, ci95: null },
      precisionAt1: { mean: 0.5, ci95: null },
      trainImagesPerSecond: null,
    },
  ],
};

Deno.test("table writers: Markdown and CSV", () => {
  assert.equal(formatMeanCi({ mean: 0.61234, ci95: 0.0123 }), "0.6123 ± 0.0123");
  assert.equal(formatMeanCi({ mean: 0.3, ci95: null }, 2), "0.30");
  const md = benchmarkMarkdown(SMALL, { title: "T", note: "N" }).split("\n");
  assert.deepEqual(md, [
    "# T",
    "",
    "| setting | method      | seeds   |           MAP@R |     R-precision |             P@1 | train images/s |",
    "| ------- | ----------- | ------- | --------------: | --------------: | --------------: | -------------: |",
    "| seen    | contrastive | 0, 1, 2 | 0.6123 ± 0.0123 | 0.7000 ± 0.0100 | 0.8500 ± 0.0050 |            912 |",
    "| unseen  | untrained   | 0       |          0.3000 |          0.4000 |          0.5000 |              — |",
    "",
    "Mean over seeds ± the half-width of a 95% Student-t confidence interval.",
    "",
    "## Methods and their hyper-parameters",
    "",
    "| method    | what runs (PML's defaults unless stated; the paper's where it states them) |",
    "| --------- | -------------------------------------------------------------------------- |",
    "| untrained | no training                                                                |",
    "",
    "N",
    "",
  ]);
  assert.equal(
    benchmarkCsv(SMALL),
    "setting,method,n_seeds,seeds,map_at_r_mean,map_at_r_ci95,r_precision_mean,r_precision_ci95," +
      "precision_at_1_mean,precision_at_1_ci95,train_images_per_second\n" +
      "seen,contrastive,3,0;1;2,0.61234,0.0123,0.7,0.01,0.85,0.005,912.4\n" +
      "unseen,untrained,1,0,0.3,,0.4,,0.5,,\n",
  );
});

Deno.test("benchmarkFigure: a labelled row per method, bars per setting, CI error bars", () => {
  const fig = benchmarkFigure(SMALL);
  assert.equal(fig.layout.barmode, "group");
  assert.equal(fig.data.length, 2);
  const [seen, unseen] = fig.data as Array<Record<string, unknown>>;
  assert.equal(seen.name, "seen");
  assert.equal(seen.orientation, "h");
  assert.deepEqual(seen.y, ["contrastive", "untrained"]);
  assert.deepEqual(seen.x, [0.61234, null]);
  assert.deepEqual((seen.error_x as { array: number[] }).array, [0.0123, 0]);
  assert.deepEqual(unseen.x, [null, 0.3]);
  const p1 = benchmarkFigure(SMALL, { metric: "precisionAt1" }).data[0] as { x: number[] };
  assert.deepEqual(p1.x, [0.85, null]);
  // Every method labelled, top to bottom in table order; the height follows the method count.
  const layout = fig.layout as Record<string, Record<string, unknown> & number>;
  assert.equal(layout.yaxis.dtick, 1);
  assert.equal(layout.yaxis.autorange, "reversed");
  assert.equal(layout.height, 140 + 22 * 2);
  // The untrained level of the setting that has one (unseen: 0.3), as a dotted line.
  const shapes = layout.shapes as unknown as Array<{ x0: number; line: { dash: string } }>;
  assert.deepEqual(shapes.map((s) => [s.x0, s.line.dash]), [[0.3, "dot"]]);
  // The figure is plain JSON.
  assert.deepEqual(JSON.parse(JSON.stringify(fig)), fig);
});

Deno.test("protocol helpers, method registry and options", () => {
  assert.equal(stepsFor(DEFAULT_CONFIG, 60000), 936);
  assert.equal(stepsFor(DEFAULT_CONFIG, 30000), 468);
  assert.equal(stepsFor({ ...DEFAULT_CONFIG, steps: 7 }, 60000), 7);
  assert.notEqual(configKey(DEFAULT_CONFIG), configKey({ ...DEFAULT_CONFIG, epochs: 1 }));
  assert.equal(parseSetting("seen"), "seen");
  assert.throws(() => parseSetting("all"), /unknown setting/);
  const d = selectClasses(
    { images: Float32Array.of(0, 1, 2, 3), labels: Int32Array.of(4, 5, 6, 5), n: 4 },
    [5, 6],
    1,
  );
  assert.deepEqual([...d.images], [1, 2, 3]);
  assert.deepEqual([...d.labels], [5, 6, 5]);
  const ids = BENCHMARK_METHODS.map((m) => m.id);
  for (
    const id of [
      "untrained",
      "contrastive",
      "triplet-semihard",
      "ntxent",
      "supcon",
      "multisimilarity",
      "lifted-structure",
      "npairs",
      "circle",
      "ring",
      "angular",
      "intra-pair-variance",
      "margin",
      "tuplet-margin",
      "snr-contrastive",
      "dynamic-soft-margin",
      "threshold-consistent-margin",
      "nca",
      "instance",
      "linear-euclidean",
      "linear-nca",
      "linear-lmnn",
      "linear-mlkr",
      "linear-lfda",
      "linear-covariance",
      "linear-itml",
      "linear-mmc",
      "linear-sdml",
      "linear-lsml",
      "linear-rca",
      "linear-scml",
      "linear-scml-triplet-diffs",
    ]
  ) assert.ok(ids.includes(id), id);
  assert.deepEqual(selectMethods("supcon, untrained").map((m) => m.id), ["untrained", "supcon"]);
  assert.throws(() => selectMethods("nope,supcon"), /unknown method nope/);
  const quick = resolveBenchmarkOptions(["--quick", "--seeds", "0,1"]);
  assert.deepEqual(quick.seeds, [0, 1]);
  assert.equal(quick.steps, 3);
  assert.deepEqual(resolveBenchmarkOptions([]).seeds, [0, 1, 2]);
  assert.equal(resolveBenchmarkOptions([]).steps, 0);
  assert.deepEqual(parseShard(""), { index: 0, count: 1 });
  assert.deepEqual(parseShard("1/2"), { index: 1, count: 2 });
  assert.throws(() => parseShard("2/2"), /--shard/);
  assert.throws(() => parseShard("a/b"), /--shard/);
});

Deno.test({
  name: "quick mode end to end on a tiny slice (wasm): tables, resume, aggregate",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "bench-e2e-" });
    try {
      const args = [
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
        "untrained,triplet-semihard,npairs,linear-nca",
        "--seeds",
        "0,1",
        "--steps",
        "2",
        "--trainLimit",
        "1024",
        "--testLimit",
        "300",
        "--linearSamples",
        "200",
      ];
      const lines: string[] = [];
      const t0 = performance.now();
      const run = async (a: string[], log: (l: string) => void = (l) => lines.push(l)) => {
        const errors: string[] = [];
        const code = await runExperiment(benchmarkExperiment, a, {
          log,
          logError: (l) => errors.push(l),
        });
        assert.equal(code, 0, errors.join("\n"));
      };
      const readTable = async (dir: string) =>
        JSON.parse(await Deno.readTextFile(`${dir}/benchmark.json`)) as {
          rows: { setting: string; method: string }[];
        };
      // Two shards sharing the runs directory: the first writes no table, the second the whole.
      await run([...args, "--shard", "0/2"]);
      assert.ok(lines.some((l) => /shard 0\/2: 8 of 16 runs/.test(l)));
      assert.ok(lines.some((l) => /8 runs of other shards still missing/.test(l)));
      await assert.rejects(Deno.stat(`${root}/out/benchmark.json`), Deno.errors.NotFound);
      await run([...args, "--shard", "1/2"]);
      const table = await readTable(`${root}/out`) as unknown as Awaited<
        ReturnType<typeof aggregateRuns>
      >;
      const seconds = (performance.now() - t0) / 1000;
      assert.equal(tf.getBackend(), "wasm");
      assert.equal(table.rows.length, 8);
      assert.deepEqual(
        table.rows.map((r) => `${r.setting}/${r.method}`),
        [
          "seen/untrained",
          "seen/triplet-semihard",
          "seen/npairs",
          "seen/linear-nca",
          "unseen/untrained",
          "unseen/triplet-semihard",
          "unseen/npairs",
          "unseen/linear-nca",
        ],
      );
      for (const r of table.rows) {
        assert.deepEqual(r.seeds, [0, 1]);
        for (const m of [r.mapAtR, r.rPrecision, r.precisionAt1]) {
          assert.ok(m.mean > 0 && m.mean <= 1, `${r.method}: ${m.mean}`);
          assert.ok(m.ci95 !== null && m.ci95 >= 0);
        }
        assert.equal(
          r.trainImagesPerSecond === null,
          !["triplet-semihard", "npairs"].includes(r.method),
        );
      }
      assert.equal(lines.filter((l) => /^\[\d+\/8\]/.test(l)).length, 16);
      const records = await readRunRecords(`${root}/runs`);
      assert.equal(records.length, 16);
      const unseen = records.find((r) => r.setting === "unseen" && r.method === "untrained")!;
      assert.ok(unseen.testImages > 100 && unseen.testImages < 200, `${unseen.testImages}`);
      const written = JSON.parse(await Deno.readTextFile(`${root}/out/benchmark.json`));
      assert.deepEqual(written.rows, table.rows);
      assert.match(written.protocol.unseen, /classes 5-9/);
      // Every record names the commit and versions it was made with; the table counts the commits.
      const head = await gitState();
      for (const r of records) {
        assert.match(String(r.extra?.commit), new RegExp(`^${head.commit}(\\+dirty)?$`));
        assert.equal((r.extra?.versions as Record<string, string>).tfjs, tf.version.tfjs);
      }
      assert.equal(
        Object.values(written.protocol.commits as Record<string, number>).reduce((a, b) => a + b),
        16,
      );
      assert.match(await Deno.readTextFile(`${root}/out/benchmark.md`), /\| seen +\| npairs +\|/);
      assert.equal((await Deno.readTextFile(`${root}/out/benchmark.csv`)).split("\n").length, 10);
      assert.match(await Deno.readTextFile(`${root}/out/benchmark.html`), /<html/i);

      // Restart: nothing is re-run.
      lines.length = 0;
      await run(args);
      assert.ok(lines.some((l) => /16\/16 runs already done/.test(l)));
      assert.ok(!lines.some((l) => /^\[\d+\/\d+\]/.test(l)));
      assert.deepEqual((await readTable(`${root}/out`)).rows, table.rows);

      // Records of other data (same configuration) are refused, not mixed in.
      const other = await Deno.makeTempDir({ prefix: "bench-other-data-" });
      try {
        const { EMBEDDED_FASHION_MNIST_DIR } = await import("../lib/data/fashion_mnist.ts");
        for (const name of ["train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"]) {
          await Deno.copyFile(`${EMBEDDED_FASHION_MNIST_DIR}/${name}`, `${other}/${name}`);
        }
        for (const name of ["train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"]) {
          const gz = await Deno.open(`${EMBEDDED_FASHION_MNIST_DIR}/${name}.gz`);
          const bytes = new Uint8Array(
            await new Response(gz.readable.pipeThrough(new DecompressionStream("gzip")))
              .arrayBuffer(),
          );
          bytes[8] = (bytes[8] + 1) % 10;
          await Deno.writeFile(`${other}/${name}`, bytes);
        }
        const errors: string[] = [];
        const mixed = await runExperiment(benchmarkExperiment, [...args, "--dataSource", other], {
          log: () => {},
          logError: (l) => errors.push(l),
        });
        assert.equal(mixed, 1);
        assert.match(errors.join("\n"), /was made on other data .*use another --runsDir/);
      } finally {
        await Deno.remove(other, { recursive: true });
      }

      // Aggregate only: the same table from the records.
      await run([
        "--aggregate",
        "--backend",
        "wasm",
        "--resultsRoot",
        root,
        "--runsDir",
        `${root}/runs`,
        "--out",
        `${root}/agg`,
        ...args.slice(args.indexOf("--methods")),
      ], () => {});
      assert.deepEqual((await readTable(`${root}/agg`)).rows, table.rows);
      console.log(`quick end to end: ${seconds.toFixed(1)} s for 16 runs`);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("every deep method's loss takes tensor labels and trains (Adam steps, finite)", async () => {
  await initBackend("wasm"); // the protocol's backend, with the project's kernels
  // The protocol's batches: 128 rows of 64-d unit vectors, labels as a [128] int tensor.
  const y = tf.tensor1d(Array.from({ length: 128 }, (_, i) => (i * 7) % 10), "int32");
  for (const method of BENCHMARK_METHODS.filter((m) => m.family === "deep")) {
    const e = tf.variable(tf.randomNormal([128, 64], 0, 1, "float32", 3));
    const optimizer = tf.train.adam(1e-2);
    const losses: number[] = [];
    // A loss with its own parameters is made for the run (10 classes) and trained with e.
    const own = method.trainableLoss?.({ numClasses: 10, embeddingSize: 64, seed: 0 });
    const loss = own ? (a: tf.Tensor2D, b: tf.Tensor1D) => own.call(a, b) : method.loss!;
    for (let step = 0; step < 3; step++) {
      const cost = optimizer.minimize(
        () => loss(tf.div(e, tf.norm(e, 2, 1, true)) as tf.Tensor2D, y),
        true,
        [e, ...(own?.trainableWeights ?? [])],
      )!;
      losses.push(cost.dataSync()[0]);
      cost.dispose();
    }
    assert.ok(losses.every(Number.isFinite), `${method.id}: ${losses}`);
    assert.ok(e.dataSync().every(Number.isFinite), `${method.id}: embeddings not finite`);
    optimizer.dispose();
    own?.dispose();
    e.dispose();
  }
  y.dispose();
});
