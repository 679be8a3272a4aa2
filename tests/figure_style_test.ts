/**
 * The house style, number formats, figure widths and the Chromium figure check itself: the check
 * must fail on a blank figure (category labels on a numeric axis), an overflowing one, a log axis
 * with labels between decades, and a 3-D trace that draws nothing; and pass on good figures.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  barFigure,
  checkFigures,
  FIGURE_MAX_WIDTH,
  findChromium,
  formatNumber,
  heatmapFigure,
  houseStyle,
  imageGridFigure,
  imageStripFigure,
  knnAccuracyFigure,
  lineFigure,
  pairDistanceHistogramFigure,
  type PlotlyFigure,
  projectionScatter,
  relativeContrastFigure,
  retrievalGallery,
  spreadOverTrainingFigure,
  tableCell,
  tableFigure,
} from "../lib/viz/mod.ts";

await tf.setBackend("cpu");

Deno.test("formatNumber: 3 significant digits, separators, powers of ten, units", () => {
  assert.equal(formatNumber(9.0257, { unit: "s" }), "9.03 s");
  assert.equal(formatNumber(78754.9783, { unit: "queries/s" }), "78,800 queries/s");
  assert.equal(formatNumber(5.96046e-8), "5.96 × 10⁻⁸");
  assert.equal(formatNumber(-1234567.8), "-1.23 × 10⁶");
  assert.equal(formatNumber(0.617345), "0.617");
  assert.equal(formatNumber(0.1), "0.1");
  assert.equal(formatNumber(2000), "2,000");
  assert.equal(formatNumber(0), "0");
  assert.equal(formatNumber(NaN), "—");
  assert.equal(formatNumber(-Infinity), "−∞");
  assert.equal(formatNumber(0.61734, { digits: 4 }), "0.6173");
  assert.throws(() => formatNumber(1, { digits: 0 }), /formatNumber: digits must be/);
  assert.equal(tableCell(9.0257, "time", { units: { time: "s" } }), "9.03 s");
  assert.equal(tableCell("x", "time"), "x");
});

Deno.test("houseStyle: one palette, decade-labelled log axes, titles below the toolbar", () => {
  const fig = houseStyle(lineFigure([{ name: "knn", x: [500, 8000], y: [0.004, 2] }], {
    title: "knn",
    logX: true,
    logY: true,
  }));
  const x = fig.layout.xaxis as Record<string, unknown>;
  const y = fig.layout.yaxis as Record<string, unknown>;
  assert.deepEqual(x.range, [2, 4]);
  assert.equal(x.dtick, 1);
  assert.deepEqual(y.range, [-3, 1]);
  assert.deepEqual(fig.layout.colorway, [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
  ]);
  const title = fig.layout.title as Record<string, unknown>;
  assert.equal(title.xanchor, "left");
  assert.ok((fig.layout.margin as { t: number }).t >= 64);
  assert.equal(fig.config?.displaylogo, false);
  assert.deepEqual(houseStyle(fig), fig, "idempotent");
  // Axes the figure does not have are not added (a table has none); category axes keep their labels.
  const table = houseStyle(tableFigure(["a"], [["x"]]));
  assert.equal(table.layout.xaxis, undefined);
  const bars = houseStyle(barFigure(["a", "b"], { s: [1, 2] }));
  assert.equal((bars.layout.xaxis as Record<string, unknown>).hoverformat, undefined);
  assert.equal((bars.layout.yaxis as Record<string, unknown>).hoverformat, ".3~g");
});

Deno.test("builders put category labels on category axes (or tick labels on positions)", () => {
  assert.equal(
    (barFigure(["a", "b"], { s: [1, 2] }).layout.xaxis as { type: string }).type,
    "category",
  );
  assert.throws(() => barFigure(["a", "a"], { s: [1, 2] }), /category "a" repeats/);
  const knn = knnAccuracyFigure([{ dataset: "wine", method: "nca", accuracy: 0.9 }]);
  assert.equal((knn.layout.xaxis as { type: string }).type, "category");
  const heat = heatmapFigure([0, 1, 1, 0], 2, 2, { labels: ["a", "a"] });
  assert.deepEqual(heat.data[0].x, [0, 1]);
  assert.equal((heat.layout.xaxis as { type: string }).type, "linear");
});

Deno.test("every builder stays within FIGURE_MAX_WIDTH", async () => {
  const img = new Float32Array(784);
  const figures: PlotlyFigure[] = [
    pairDistanceHistogramFigure(
      [1, 2, 3].map((i) => ({ name: `${i}`, positive: [0.1], negative: [1] })),
      "t",
      3,
    ),
    await imageStripFigure(Array(10).fill(img), Array(10).fill("x")),
    await imageStripFigure(Array(30).fill(img), Array(30).fill("x"), { columns: 15 }),
    await imageGridFigure([{
      label: "pixels",
      images: Array(12).fill(img),
      captions: Array(12).fill("c"),
    }]),
    await retrievalGallery({
      images: new Float32Array(20 * 784),
      labels: Array(20).fill(0),
      queries: [0],
      neighbours: Array.from({ length: 19 }, (_, i) => i + 1),
      k: 19,
    }),
    relativeContrastFigure([{ name: "a", dims: [2, 4], contrast: [3, 2] }]),
    spreadOverTrainingFigure([{ name: "a", steps: [0, 1], values: [1, 0.5] }]),
  ];
  for (const f of figures) {
    assert.ok((f.layout.width as number) <= FIGURE_MAX_WIDTH, `${f.layout.width} px`);
  }
});

const haveChromium = (await findChromium()) !== undefined;

Deno.test({
  name:
    "checkFigures (Chromium): blank, overflowing and badly labelled figures fail; good ones pass",
  ignore: !haveChromium,
  fn: async () => {
    const labels = ["T-shirt/top", "Trouser", "Pullover"];
    const blankBars: PlotlyFigure = {
      data: [{ type: "bar", x: labels, y: [1, 2, 3] }],
      layout: { xaxis: { type: "linear" }, width: 500, height: 300 },
    };
    const blankHeatmap: PlotlyFigure = {
      data: [{ type: "heatmap", z: [[0, 1], [1, 0]], x: ["0:a", "1:b"], y: ["0:a", "1:b"] }],
      layout: { xaxis: { type: "linear" }, yaxis: { type: "linear" }, width: 500, height: 400 },
    };
    const wide: PlotlyFigure = {
      data: [{ type: "scatter", x: [1, 2], y: [1, 2] }],
      layout: { width: 1300, height: 300 },
    };
    const minorLabels: PlotlyFigure = {
      data: [{ type: "scatter", x: [500, 8000], y: [1, 2] }],
      layout: { xaxis: { type: "log", dtick: "D2" }, width: 600, height: 300 },
    };
    const empty3d = projectionScatter([NaN, NaN, NaN, 0, 0, 0], 3, [0, 1]);
    const good: PlotlyFigure[] = [
      heatmapFigure([0, 1, 1, 0], 2, 2, { labels: labels.slice(0, 2), title: "distances" }),
      barFigure(labels, { "MAP@R": [0.1, 0.5, 0.3] }, { title: "a long title over the bars" }),
      lineFigure([{ name: "knn", x: [500, 8000], y: [0.01, 1] }], { logX: true, logY: true }),
      tableFigure(["a", "b"], [["x", 1]], { title: "table" }),
      projectionScatter([0, 0, 0, 1, 1, 1, 0.5, 0.2, 0.1], 3, [0, 1, 1]),
      await imageStripFigure(Array(10).fill(new Float32Array(784).fill(0.5)), Array(10).fill("c"), {
        title: "ten images",
      }),
      pairDistanceHistogramFigure(
        [1, 2, 3].map((i) => ({ name: `${i}`, positive: [0.1, 0.2], negative: [1, 1.2] })),
        "three panels",
        3,
      ),
    ];
    const reports = await checkFigures([
      { name: "blank bars", figure: blankBars },
      { name: "blank heatmap", figure: blankHeatmap },
      { name: "wide", figure: wide },
      { name: "minor labels", figure: minorLabels },
      { name: "empty 3-D trace", figure: empty3d },
      ...good.map((figure, i) => ({ name: `good ${i}`, figure })),
    ]);
    const problems = (i: number) => reports[i].problems.join("; ");
    assert.match(problems(0), /trace 0 \(bar\) drew nothing inside its plot area/);
    assert.match(problems(1), /trace 0 \(heatmap\) drew nothing/);
    assert.match(problems(2), /is 1300 px wide: does not fit a 1200 px page/);
    assert.match(problems(3), /xaxis \(log\) labels .*"2".*: label decades only/);
    assert.match(problems(4), /trace 0 \(scatter3d "0"\) drew nothing/);
    assert.ok(reports[4].traces[1].marks > 0, "the other 3-D trace drew");
    for (const r of reports.slice(5)) assert.deepEqual(r.problems, [], r.name);
    assert.deepEqual(reports[6].traces.map((t) => t.marks), [3]);
    assert.equal(reports[10].images, 10);
  },
});
