/**
 * `deno task experiment evaluate-embeddings`: embeddings from a generated `.npy` + labels file, a
 * CSV with a label column and a projector folder give the same metrics, equal to the library's
 * own functions on the same arrays; the report figures and the fingerprint are written; every bad
 * input is a named usage error (exit 2, no run directory).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { main } from "../experiments/main.ts";
import { encodeNpy } from "../lib/io/export.ts";
import { createRng } from "../lib/data/random.ts";
import { fingerprintArrays } from "../lib/data/fingerprint.ts";
import { labelledPairs } from "../lib/data/pairs.ts";
import { pairedDistances } from "../lib/distances.ts";
import {
  calibrateThreshold,
  evaluateEmbeddings,
  knn,
  retrievalMetrics,
  rocAuc,
} from "../lib/eval/mod.ts";

async function capture(args: string[]) {
  const out: string[] = [], err: string[] = [];
  const code = await main(args, (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return names.sort();
}

/** 60 embeddings of 6-d in 4 overlapping classes (seeded). */
function embeddings(): { x: Float32Array; labels: number[]; n: number; d: number } {
  const rng = createRng(3);
  const n = 60, d = 6;
  const centres = Array.from({ length: 4 * d }, () => 2 * rng.normal());
  const labels = Array.from({ length: n }, (_, i) => i % 4);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) x[i * d + j] = centres[labels[i] * d + j] + 1.5 * rng.normal();
  }
  return { x, labels, n, d };
}

const NAMES = ["ant", "bee", "cat", "dog"];

async function inputs(dir: string) {
  const { x, labels, n, d } = embeddings();
  await Deno.writeFile(`${dir}/e.npy`, encodeNpy(x, [n, d]));
  await Deno.writeTextFile(`${dir}/labels.txt`, labels.map((l) => NAMES[l]).join("\n") + "\n");
  const rows = Array.from({ length: n }, (_, i) => [...x.subarray(i * d, (i + 1) * d)]);
  await Deno.writeTextFile(
    `${dir}/e.csv`,
    ["a,b,c,d,e,f,species", ...rows.map((r, i) => `${r.join(",")},${NAMES[labels[i]]}`)].join("\n"),
  );
  await Deno.mkdir(`${dir}/projector`);
  await Deno.writeTextFile(
    `${dir}/projector/vectors.tsv`,
    rows.map((r) => r.join("\t")).join("\n") + "\n",
  );
  await Deno.writeTextFile(
    `${dir}/projector/metadata.tsv`,
    "index\tspecies\n" + labels.map((l, i) => `${i}\t${NAMES[l]}`).join("\n") + "\n",
  );
  return { x, labels, n, d };
}

Deno.test({
  name: "evaluate-embeddings: .npy + labels, CSV with a label column and a projector folder give " +
    "the library's metrics; figures, fingerprint, no training",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "simlearn-evalemb-" });
    const results = `${dir}/results`;
    try {
      const { x, labels, n, d } = await inputs(dir);
      const runs = [
        ["--embeddings", `${dir}/e.npy`, "--labels", `${dir}/labels.txt`],
        ["--embeddings", `${dir}/e.csv`, "--labelColumn", "species"],
        ["--embeddings", `${dir}/projector`, "--labelColumn", "species"],
      ];
      const all = [];
      for (const args of runs) {
        const r = await capture(["evaluate-embeddings", ...args, "--resultsRoot", results]);
        assert.equal(r.code, 0, r.err);
        assert.match(r.out, /retrieval\s+MAP@R \d\.\d{4}/);
        assert.match(r.out, /verification ROC-AUC \d\.\d{4}/);
        all.push(r);
      }
      const ids = await entries(`${results}/evaluate-embeddings`);
      assert.equal(ids.length, 3);
      const metrics = [];
      for (const id of ids) {
        const runDir = `${results}/evaluate-embeddings/${id}`;
        metrics.push(JSON.parse(await Deno.readTextFile(`${runDir}/metrics.json`)));
        const files = await entries(runDir);
        for (
          const f of ["embeddings.html", "roc.html", "threshold.html", "config.json", "done.json"]
        ) {
          assert.ok(files.includes(f), `${f} in ${files}`);
        }
        assert.ok(
          !files.includes("checkpoints") && !files.includes("history.jsonl") ||
            (await Deno.readTextFile(`${runDir}/history.jsonl`)) === "",
        );
        const config = JSON.parse(await Deno.readTextFile(`${runDir}/config.json`));
        // Names sorted → ant 0, bee 1, cat 2, dog 3: the labels as generated.
        assert.equal(
          config.data[0].fingerprint,
          fingerprintArrays({ embeddings: x, labels: Int32Array.from(labels) }),
        );
        assert.equal(config.data[0].count, n);
      }
      // The three inputs are the same embeddings: the same numbers (CSV/TSV text round-trips
      // float32 exactly, as JavaScript prints the shortest decimal).
      const strip = (m: Record<string, unknown>) => ({ ...m, embeddings: undefined });
      assert.deepEqual(strip(metrics[1]), strip(metrics[0]));
      assert.deepEqual(strip(metrics[2]), strip(metrics[0]));

      // Equal to the library's functions on the same arrays.
      const t = tf.tensor2d(x, [n, d]);
      const want = await retrievalMetrics(t, labels);
      const m = metrics[0];
      assert.equal(m.retrieval.mapAtR, want.mapAtR);
      assert.equal(m.retrieval.rPrecision, want.rPrecision);
      assert.equal(m.retrieval.precisionAt1, want.precisionAt1);
      assert.ok(m.retrieval.mapAtR > 0.2 && m.retrieval.mapAtR < 0.95, `${m.retrieval.mapAtR}`);
      const clusters = await evaluateEmbeddings(t, labels, { kMeans: { seed: 0, nInit: 1 } });
      assert.equal(m.clustering.nmi, clusters.nmi);
      assert.equal(m.clustering.ami, clusters.ami);
      const pairs = labelledPairs(labels, { count: 2000, rng: 0 });
      const pd = pairedDistances(
        tf.gather(t, tf.tensor1d(pairs.left, "int32")) as tf.Tensor2D,
        tf.gather(t, tf.tensor1d(pairs.right, "int32")) as tf.Tensor2D,
      );
      const auc = rocAuc(await pd.data(), pairs.target, { scoreType: "distance" });
      assert.equal(m.verification.rocAuc, auc);
      const nn = await knn(t, undefined, 1);
      const cal = calibrateThreshold(
        nn.distances,
        Array.from(nn.indices, (j, i) => labels[j] === labels[i]),
        { targetPrecision: 0.9 },
      );
      assert.equal(m.calibration.threshold, cal.threshold);
      assert.ok(m.calibration.precision >= 0.9);
      tf.dispose([t, pd]);

      // --metric cosine ranks by cosine distance.
      const cos = await capture([
        "evaluate-embeddings",
        ...runs[0],
        "--metric",
        "cosine",
        "--resultsRoot",
        results,
      ]);
      assert.equal(cos.code, 0, cos.err);
      const cosId = (await entries(`${results}/evaluate-embeddings`)).find((i) =>
        !ids.includes(i)
      )!;
      const cm = JSON.parse(
        await Deno.readTextFile(`${results}/evaluate-embeddings/${cosId}/metrics.json`),
      );
      const t2 = tf.tensor2d(x, [n, d]);
      assert.equal(
        cm.retrieval.mapAtR,
        (await retrievalMetrics(t2, labels, undefined, undefined, { metric: "cosine" })).mapAtR,
      );
      t2.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "evaluate-embeddings: every bad input is a named usage error, exit 2, no run directory",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "simlearn-evalemb-bad-" });
    const results = `${dir}/results`;
    try {
      const { x, n, d } = await inputs(dir);
      const npy = (data: Float32Array, shape: number[], name: string) =>
        Deno.writeFile(`${dir}/${name}`, encodeNpy(data, shape));
      // Fortran order: rewrite the header's flag.
      const fortran = encodeNpy(x, [n, d]);
      const header = new TextDecoder().decode(fortran.subarray(0, 128));
      const at = header.indexOf("False");
      fortran.set(new TextEncoder().encode("True,"), at);
      await Deno.writeFile(`${dir}/fortran.npy`, fortran);
      // An integer array: the same bytes declared '<i4'.
      const ints = encodeNpy(new Float32Array(n * d), [n, d]);
      ints.set(new TextEncoder().encode("<i4"), new TextDecoder().decode(ints).indexOf("<f4"));
      await Deno.writeFile(`${dir}/ints.npy`, ints);
      await npy(x.subarray(0, 6), [6], "flat.npy");
      const nan = Float32Array.from(x);
      nan[7] = NaN;
      await npy(nan, [n, d], "nan.npy");
      await Deno.writeTextFile(`${dir}/ragged.csv`, "1,2,3\n4,5\n");
      await Deno.writeTextFile(`${dir}/text.csv`, "1,2\n3,oops\n");
      await Deno.writeTextFile(`${dir}/short.txt`, "a\nb\n");
      await Deno.writeTextFile(`${dir}/one.txt`, "a\n".repeat(n));
      await Deno.writeTextFile(
        `${dir}/singletons.txt`,
        Array.from({ length: n }, (_, i) => `c${i}`).join("\n"),
      );
      const e = `${dir}/e.npy`;
      const cases: [string[], RegExp][] = [
        [[], /--embeddings is required/],
        [["--embeddings", `${dir}/missing.npy`], /--embeddings: no such file or directory/],
        [["--embeddings", e, "--labels", `${dir}/nope.txt`], /--labels: no such file, got/],
        [["--embeddings", e, "--labels", dir], /--labels: not a file/],
        [
          ["--embeddings", `${dir}/fortran.npy`, "--labels", `${dir}/labels.txt`],
          /FileFormatError: parseNpy: .*fortran\.npy: Fortran order/,
        ],
        [
          ["--embeddings", `${dir}/ints.npy`, "--labels", `${dir}/labels.txt`],
          /FileFormatError: parseNpy: .*ints\.npy: dtype <i4 is not supported here \(float32\/float64 expected\)/,
        ],
        [
          ["--embeddings", `${dir}/flat.npy`],
          /FileFormatError: loadEmbeddings: .*flat\.npy has shape \[6\]; embeddings need \[n, d\]/,
        ],
        [
          ["--embeddings", `${dir}/nan.npy`, "--labels", `${dir}/labels.txt`],
          /FileFormatError: .*nan\.npy row 1 holds NaN/,
        ],
        [
          ["--embeddings", `${dir}/ragged.csv`],
          /FileFormatError: .*ragged\.csv line 2 has 2 fields, line 1 has 3 \(ragged rows\)/,
        ],
        [
          ["--embeddings", `${dir}/text.csv`],
          /FileFormatError: .*text\.csv line 2 column 2: "oops" is not a finite number/,
        ],
        [
          ["--embeddings", e, "--labels", `${dir}/short.txt`],
          /FileFormatError: .*short\.txt has 2 labels for 60 embeddings/,
        ],
        [
          ["--embeddings", e],
          /e\.npy holds no labels: give --labels <file>, --metadata <tsv>, or --labelColumn/,
        ],
        [
          ["--embeddings", `${dir}/e.csv`, "--labelColumn", "kind"],
          /TypeError: loadEmbeddings: labelColumn "kind" is not in the header/,
        ],
        [
          ["--embeddings", e, "--labels", `${dir}/one.txt`],
          /60 embeddings in 1 class; retrieval and verification need at least 2 classes/,
        ],
        [
          ["--embeddings", e, "--labels", `${dir}/singletons.txt`],
          /60 embeddings in 60 classes; .* a class with 2 embeddings/,
        ],
        [
          ["--embeddings", e, "--targetPrecision", "1.5"],
          /--targetPrecision: expected a number > 0 and ≤ 1, got "1.5"/,
        ],
      ];
      for (const [args, pattern] of cases) {
        const r = await capture(["evaluate-embeddings", ...args, "--resultsRoot", results]);
        assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.out}\n${r.err}`);
        assert.match(r.err, pattern, args.join(" "));
        assert.match(r.err, /^evaluate-embeddings: /);
        assert.deepEqual(await entries(results), [], `${args.join(" ")} left a directory`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
