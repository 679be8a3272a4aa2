/**
 * The run report (`results/<experiment>/<run>/embeddings.html`): its content, that it is
 * self-contained (plotly.js inlined, no external resource), that its figures draw in Chromium and
 * that it fits a 1,200 px page; and that the siamese experiment writes it.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  chromiumDumpDom,
  describeSetup,
  findChromium,
  projectionScatter,
  runReport,
} from "../lib/viz/mod.ts";
import { experiment as siamese } from "../experiments/siamese.ts";
import { runExperiment } from "../lib/experiment.ts";

const input = {
  experiment: "siamese",
  runId: "20261201-120000-abcd",
  config: { steps: 3, batchSize: 16, dataSource: "" },
  data: [
    { dataset: "fashion-mnist", split: "train", source: "data/fashion-mnist-subset", count: 256 },
    {
      dataset: "fashion-mnist",
      split: "test",
      source: "data/fashion-mnist-subset",
      sourceKind: "embedded",
      count: 100,
      fingerprint: "sha256:0123abcd",
    },
  ],
  metrics: {
    before: { mapAtR: 0.2934, precisionAt1: 0.61, nmi: 0.5 },
    after: { mapAtR: 0.61734, precisionAt1: 0.8, nmi: 0.7, note: "zz-not-numeric-zz" },
  },
  history: { train: [{ step: 1, loss: 0.9 }, { step: 2, loss: 0.85 }, { step: 3, loss: 0.8 }] },
  reduction: "avgNonZero",
  scatter: projectionScatter([0, 0, 1, 1, 0.5, 0.2], 2, [0, 1, 1], {
    classNames: ["T-shirt/top", "Trouser"],
    thumbnails: Array(3).fill("data:image/png;base64,iVBORw0KGgo="),
  }),
  summary: "trained 3 steps",
};

Deno.test("runReport: run id, config, data source, metrics before/after, figures, offline", async () => {
  const html = await runReport(input);
  assert.match(html, /<title>siamese · run 20261201-120000-abcd<\/title>/);
  assert.match(html, /<th>batchSize<\/th><td>16<\/td>/);
  assert.match(
    html,
    /<th>fashion-mnist test<\/th><td>100 examples<\/td><td>embedded \(data\/fashion-mnist-subset\)<\/td><td class="muted">sha256:0123abcd<\/td>/,
  );
  assert.match(html, /<th>MAP@R<\/th><td>0\.293<\/td><td>0\.617<\/td><td>\+0\.324<\/td>/);
  assert.match(html, /<th>NMI \(k-means\)<\/th>/);
  assert.ok(!html.includes("zz-not-numeric-zz"), "non-numeric metrics are left out");
  assert.match(html, /reduction avgNonZero/);
  assert.equal(html.match(/Plotly\.newPlot/g)?.length, 2, "two figures");
  assert.match(html, /id="scatter-img"/, "hover image panel");
  assert.ok(!/<script src=/.test(html), "no external script: opens offline");
  assert.ok(html.length > 1_000_000, "plotly.js inlined");
});

Deno.test({
  name: "runReport renders in Chromium: both figures drawn, nothing wider than 1,200 px",
  ignore: !(await findChromium()),
  fn: async () => {
    const html = (await runReport(input)).replace(
      "</body>",
      `<script>setTimeout(() => { const p = document.createElement("pre"); p.id = "probe";
p.textContent = JSON.stringify({ plots: document.querySelectorAll(".main-svg").length > 0 ?
document.querySelectorAll(".js-plotly-plot").length : 0,
points: document.querySelectorAll("#scatter .point").length,
width: document.documentElement.scrollWidth }); document.body.appendChild(p); }, 3000);</script></body>`,
    );
    const dom = await chromiumDumpDom(html, { windowSize: [1200, 900] });
    const probe = JSON.parse(dom.match(/<pre id="probe">([^<]*)<\/pre>/)![1]);
    assert.equal(probe.plots, 2);
    assert.equal(probe.points, 3);
    assert.ok(probe.width <= 1200, `${probe.width} px wide`);
  },
});

Deno.test("describeSetup names the data source, sizes, backend and mode", () => {
  const text = describeSetup({
    backend: { backend: "wasm", kernels: ["Conv2DBackpropFilter"] },
    data: {
      train: { n: 10000, source: { kind: "debian", dir: "/usr/share/datasets/fashion-mnist" } },
      test: { n: 1000, source: { kind: "debian", dir: "/usr/share/datasets/fashion-mnist" } },
    },
    fast: true,
  });
  assert.equal(
    text,
    "data: Fashion-MNIST from debian (/usr/share/datasets/fashion-mnist): 10,000 train, 1,000 test images\n" +
      "backend: wasm (project kernels: Conv2DBackpropFilter)\n" +
      "mode: fast (SIMLEARN_FAST=1: small budgets, numbers are not meaningful)",
  );
});

Deno.test("the siamese experiment writes its report as embeddings.html", async () => {
  const root = await Deno.makeTempDir({ prefix: "simlearn-report-" });
  const args = ["--steps", "2", "--batchSize", "16", "--trainLimit", "64", "--testLimit", "30"];
  const code = await runExperiment(siamese, [...args, "--backend", "cpu", "--resultsRoot", root], {
    log: () => {},
  });
  assert.equal(code, 0);
  const [run] = [...Deno.readDirSync(`${root}/siamese`)];
  const html = await Deno.readTextFile(`${root}/siamese/${run.name}/embeddings.html`);
  assert.match(html, new RegExp(`siamese · run ${run.name}`));
  assert.match(html, /<th>MAP@R<\/th>/);
  assert.match(html, /<th>steps<\/th><td>2<\/td>/);
  assert.match(html, /<th>fashion-mnist test<\/th><td>30 examples<\/td>/);
  assert.equal(html.match(/Plotly\.newPlot/g)?.length, 2);
  assert.match(html, /"customdata":\["data:image\/png;base64,/);
  assert.match(html, /Hover a point to see its image/);
  assert.equal(tf.getBackend(), "cpu");
  await Deno.remove(root, { recursive: true });
});
