import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  barFigure,
  chromiumDumpDom,
  CLASS_COLORS,
  COLORS,
  crc32,
  distanceConcentration,
  embeddingFigure,
  encodeGrayPng,
  exportFigures,
  figureHtmlFragment,
  figureHtmlPage,
  findChromium,
  heatmapFigure,
  houseStyle,
  imageDataUri,
  imageDataUris,
  imageStripFigure,
  jsonTables,
  lineFigure,
  mimeBundle,
  movingAverage,
  paperStyle,
  PLOTLY_MIME,
  pngSize,
  precisionThresholdFigure,
  project,
  projectionScatter,
  retrievalGallery,
  rocFigure,
  show,
  tableFigure,
  thresholdSweep,
  trainingCurves,
  tsne,
  umap,
} from "../lib/viz/mod.ts";
import { createRng } from "../lib/data/random.ts";

await tf.setBackend("cpu");

const u32 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset).getUint32(o);

async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Two well-separated Gaussian blobs in `d` dimensions, labels 0 and 1. */
function blobs(n: number, d: number, seed: number): { x: tf.Tensor2D; labels: number[] } {
  const rng = createRng(seed);
  const values: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    labels.push(c);
    for (let j = 0; j < d; j++) values.push(rng.normal() * 0.3 + (c ? 4 : 0));
  }
  return { x: tf.tensor2d(values, [n, d]), labels };
}

/** Fraction of points whose nearest neighbour in the 2-D output has the same label. */
function nnAgreement(y: Float32Array, k: number, labels: number[]): number {
  const n = labels.length;
  let agree = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestD = Infinity;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      let d = 0;
      for (let c = 0; c < k; c++) d += (y[i * k + c] - y[j * k + c]) ** 2;
      if (d < bestD) [best, bestD] = [j, d];
    }
    if (labels[best] === labels[i]) agree++;
  }
  return agree / n;
}

Deno.test("crc32 matches the standard check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

Deno.test("encodeGrayPng writes signature, a valid IHDR, an IDAT that inflates to the rows", async () => {
  const w = 5;
  const h = 3;
  const pixels = Uint8Array.from({ length: w * h }, (_, i) => i * 17);
  const png = await encodeGrayPng(pixels, w, h);
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  // IHDR by hand: length 13, type, width, height, depth 8, colour type 0 (grey), 0, 0, 0, CRC.
  assert.equal(u32(png, 8), 13);
  assert.equal(new TextDecoder().decode(png.subarray(12, 16)), "IHDR");
  assert.equal(u32(png, 16), w);
  assert.equal(u32(png, 20), h);
  assert.deepEqual([...png.subarray(24, 29)], [8, 0, 0, 0, 0]);
  assert.equal(u32(png, 29), crc32(png.subarray(12, 29)));
  assert.deepEqual(pngSize(png), { width: w, height: h });
  // IDAT: its CRC, and its zlib stream inflates to filter byte 0 + the row, per row.
  const idatLength = u32(png, 33);
  assert.equal(new TextDecoder().decode(png.subarray(37, 41)), "IDAT");
  const idat = png.subarray(41, 41 + idatLength);
  assert.equal(u32(png, 41 + idatLength), crc32(png.subarray(37, 41 + idatLength)));
  const raw = await inflate(idat);
  assert.equal(raw.length, h * (w + 1));
  for (let y = 0; y < h; y++) {
    assert.equal(raw[y * (w + 1)], 0);
    assert.deepEqual([...raw.subarray(y * (w + 1) + 1, (y + 1) * (w + 1))], [
      ...pixels.subarray(y * w, (y + 1) * w),
    ]);
  }
  // IEND, last.
  const end = 41 + idatLength + 4;
  assert.equal(u32(png, end), 0);
  assert.equal(new TextDecoder().decode(png.subarray(end + 4, end + 8)), "IEND");
  assert.equal(u32(png, end + 8), 0xae426082);
  assert.equal(png.length, end + 12);
  await assert.rejects(() => encodeGrayPng(new Uint8Array(3), 2, 2), /4 pixels|3 pixels/);
});

Deno.test("imageDataUri inverts [0, 1] images into a PNG data URI", async () => {
  const img = new Float32Array(784);
  img[0] = 1;
  const uri = await imageDataUri(img);
  assert.match(uri, /^data:image\/png;base64,/);
  const png = Uint8Array.from(atob(uri.split(",")[1]), (c) => c.charCodeAt(0));
  assert.deepEqual(pngSize(png), { width: 28, height: 28 });
  const raw = await inflate(png.subarray(41, 41 + u32(png, 33)));
  assert.equal(raw[1], 0); // ink 1 → black
  assert.equal(raw[2], 255); // background → white
  const uris = await imageDataUris(new Float32Array(3 * 784), [2, 0]);
  assert.equal(uris.length, 2);
  await assert.rejects(() => imageDataUris(new Float32Array(784), [1]), /out of range/);
});

Deno.test("projectionScatter: one trace per class, class colours, 2-D and 3-D, thumbnails", () => {
  const labels = [2, 0, 2, 1];
  const pts2 = new Float32Array([0, 0, 1, 1, 2, 2, 3, 3]);
  const fig = projectionScatter(pts2, 2, labels, { classNames: ["a", "b", "c"] });
  assert.deepEqual(fig.data.map((t) => t.name), ["a", "b", "c"]);
  assert.deepEqual(
    fig.data.map((t) => (t.marker as { color: string }).color),
    [CLASS_COLORS[0], CLASS_COLORS[1], CLASS_COLORS[2]],
  );
  assert.deepEqual(fig.data[2].x, [0, 2]);
  assert.equal(fig.data[0].type, "scatter");
  const pts3 = new Float32Array(12).map((_, i) => i);
  const thumbs = ["data:image/png;base64,A", "B", "C", "D"];
  const fig3 = projectionScatter(pts3, 3, labels, { thumbnails: thumbs });
  assert.equal(fig3.data[0].type, "scatter3d");
  assert.deepEqual(fig3.data[2].z, [2, 8]);
  assert.deepEqual(fig3.data[2].customdata, [thumbs[0], thumbs[2]]);
  assert.ok(fig3.layout.scene);
  assert.throws(() => projectionScatter(pts2, 3, labels), /coordinates/);
});

Deno.test("t-SNE and UMAP keep two separated blobs apart, and a seed fixes the layout", async () => {
  const { x, labels } = blobs(60, 10, 3);
  // 1,000 iterations: at 300 only 50 follow the 250 of early exaggeration, and whether the blobs
  // have separated by then turns on float32 round-off of the input distances (seeds 1 and 3 gave
  // 0.88 agreement at 300 and 1.0 at 1,000).
  const a = await tsne(x, { iterations: 1000, seed: 1, perplexity: 10 });
  const b = await tsne(x, { iterations: 1000, seed: 1, perplexity: 10 });
  assert.deepEqual(a, b);
  assert.ok(a.every(Number.isFinite));
  assert.ok(nnAgreement(a, 2, labels) > 0.95);
  const u1 = await umap(x, { seed: 2, epochs: 100, neighbors: 10 });
  const u2 = await umap(x, { seed: 2, epochs: 100, neighbors: 10 });
  assert.deepEqual(u1, u2);
  assert.equal(u1.length, 120);
  assert.ok(nnAgreement(u1, 2, labels) > 0.95);
  const p3 = await project(x, "pca", 3);
  assert.equal(p3.length, 180);
  await assert.rejects(() => project(x, "pca", 4), /2 or 3/);
  x.dispose();
});

Deno.test("curves: moving average, training curves, threshold sweep, ROC, precision", () => {
  assert.deepEqual(movingAverage([1, 3, 5, 7], 2), [1, 2, 4, 6]);
  const tc = trainingCurves({ a: [{ step: 1, loss: 2 }, { step: 2, loss: 1 }], b: [] }, {
    smooth: 2,
  });
  assert.equal(tc.data.length, 4);
  assert.deepEqual(tc.data[1].y, [2, 1.5]);
  // Perfectly separated scores: AUC 1; one swapped pair: AUC 1 − 1/(P·N).
  assert.equal(thresholdSweep([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]).auc, 1);
  const c = thresholdSweep([0.1, 0.5, 0.4, 0.9], [true, true, false, false]);
  assert.equal(c.auc, 0.75);
  assert.deepEqual(c.tpr, [0, 0.5, 0.5, 1, 1]);
  assert.deepEqual(c.fpr, [0, 0, 0.5, 0.5, 1]);
  assert.deepEqual(c.precision, [1, 1, 0.5, 2 / 3, 0.5]);
  const sim = thresholdSweep([0.9, 0.1], [true, false], { similarity: true });
  assert.equal(sim.auc, 1);
  const roc = rocFigure({ m: c });
  assert.equal(roc.data.length, 2);
  assert.match(roc.data[0].name as string, /AUC 0\.75\)/);
  const pr = precisionThresholdFigure({ m: c });
  assert.deepEqual(pr.data[0].x, [0.1, 0.4, 0.5, 0.9]);
  const line = lineFigure([{ name: "a", x: [1], y: [NaN] }], { logX: true });
  assert.deepEqual(line.data[0].y, [null]);
  assert.equal((line.layout.xaxis as { type: string }).type, "log");
  const table = tableFigure(["a", "b"], [["x", 1], ["y", 2]]);
  assert.deepEqual((table.data[0].cells as { values: unknown[] }).values, [["x", "y"], [
    "1",
    "2",
  ]]);
});

Deno.test("heatmap and distance concentration (contrast falls with the dimension)", async () => {
  const fig = heatmapFigure([0, 1, 2, 3, 4, 5], 2, 3, { colLabels: ["a", "b", "c"] });
  assert.deepEqual(fig.data[0].z, [[0, 1, 2], [3, 4, 5]]);
  assert.deepEqual(fig.data[0].x, [0, 1, 2]);
  assert.deepEqual((fig.layout.xaxis as { ticktext: string[] }).ticktext, ["a", "b", "c"]);
  assert.deepEqual((fig.layout.yaxis as { ticktext: string[] }).ticktext, ["0", "1"]);
  // Repeated labels (two images of a class) keep their own rows.
  const twice = heatmapFigure([0, 1, 1, 0], 2, 2, { labels: ["a", "a"] });
  assert.deepEqual(twice.data[0].y, [0, 1]);
  assert.throws(() => heatmapFigure([0, 1, 1, 0], 2, 2, { labels: ["a"] }), /1 row and 1 column/);
  assert.throws(() => heatmapFigure([1], 2, 2), /1 values/);
  const pts = await distanceConcentration([2, 20, 500], { n: 60, seed: 1 });
  assert.deepEqual(pts.map((p) => p.dimension), [2, 20, 500]);
  assert.ok(pts[0].relativeContrast > pts[1].relativeContrast);
  assert.ok(pts[1].relativeContrast > pts[2].relativeContrast);
  assert.ok(pts[2].coefficientOfVariation < 0.1);
  assert.deepEqual(
    await distanceConcentration([3], { n: 20, seed: 1 }),
    await distanceConcentration([3], { n: 20, seed: 1 }),
  );
});

Deno.test("retrievalGallery: images for each query row, green/red frames by class", async () => {
  const images = new Float32Array(4 * 784);
  const fig = await retrievalGallery({
    images,
    labels: [0, 0, 1, 0],
    queries: [0, 3],
    neighbours: [1, 2, 0, 2],
    k: 2,
    classNames: ["a", "b"],
  });
  const imgs = fig.layout.images as { source: string }[];
  assert.equal(imgs.length, 6);
  assert.ok(imgs.every((i) => i.source.startsWith("data:image/png;base64,")));
  const colours = (fig.layout.shapes as { line: { color: string } }[]).map((s) => s.line.color);
  const [ok, bad] = [COLORS.correct, COLORS.wrong];
  assert.deepEqual(colours, ["#333333", ok, bad, "#333333", ok, bad]);
  assert.match((fig.layout.title as { text: string }).text, /2 of 4 wrong/);
  const strip = await imageStripFigure([images.subarray(0, 784), images.subarray(784, 1568)], [
    "a",
    "b",
  ]);
  assert.equal((strip.layout.images as unknown[]).length, 2);
  assert.deepEqual((strip.layout.annotations as { text: string }[]).map((a) => a.text), ["a", "b"]);
});

Deno.test("mimeBundle: Plotly JSON, HTML fallback with plotly.js only when asked, plain text", async () => {
  const fig = { data: [{ type: "scatter", x: [1], y: [2] }], layout: { title: { text: "t" } } };
  const first = await mimeBundle(fig, { includePlotly: true });
  assert.deepEqual(first[PLOTLY_MIME], houseStyle(fig));
  assert.equal(
    (first[PLOTLY_MIME] as unknown as { config: { displaylogo: boolean } }).config.displaylogo,
    false,
  );
  const html = first["text/html"] as string;
  assert.ok(html.length > 1_000_000, "plotly.js inlined");
  assert.match(html, /var define=undefined/);
  assert.match(html, /Plotly\.newPlot/);
  const later = await mimeBundle(fig);
  assert.ok((later["text/html"] as string).length < 10_000);
  assert.match(later["text/plain"] as string, /1 trace\(s\) — t/);
  const frag = await figureHtmlFragment({ data: [{ customdata: ["</script>"] }], layout: {} });
  assert.ok(!frag.includes('</script>"]'), "JSON is escaped inside <script>");
});

Deno.test("show() outside Jupyter writes a self-contained HTML page", async () => {
  const path = await show({ data: [{ type: "bar", x: ["a"], y: [1] }], layout: {} });
  assert.ok(path);
  const html = await Deno.readTextFile(path);
  await Deno.remove(path);
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /"type":"bar"/);
  assert.ok(html.length > 1_000_000);
});

Deno.test("paperStyle sizes a figure in inches and points, with stable trace ids", () => {
  const fig = paperStyle(lineFigure([{ name: "a", x: [1], y: [1] }], { title: "t" }), {
    widthIn: 3.5,
    heightIn: 2.5,
    fontPt: 9,
  });
  assert.equal(fig.layout.width, 336);
  assert.equal(fig.layout.height, 240);
  assert.equal((fig.layout.font as { size: number }).size, 12);
  assert.equal(fig.data[0].uid, "trace0");
});

const chromium = await findChromium();

Deno.test({
  name: "export: chromium writes a valid SVG and a PNG of the expected size",
  ignore: !chromium,
  fn: async () => {
    const fig = paperStyle(lineFigure([{ name: "a", x: [1, 2], y: [2, 1] }], { title: "t" }));
    const [svg, png] = await exportFigures([
      { figure: fig, format: "svg" },
      { figure: fig, format: "png", scale: 300 / 96 },
    ]);
    const text = new TextDecoder().decode(svg);
    assert.match(text, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(text, /<\/svg>$/);
    assert.match(text, /class="scatterlayer/);
    assert.deepEqual(pngSize(png), { width: 1050, height: 787 });
  },
});

Deno.test({
  name: "hover thumbnails: hovering a point shows its image beside the plot (HTML, chromium)",
  ignore: !chromium,
  fn: async () => {
    const uri = await imageDataUri(new Float32Array(784).fill(0.5));
    const fig = projectionScatter(new Float32Array([0, 0, 1, 1]), 2, [0, 1], {
      thumbnails: [uri, uri],
    });
    const page = (await figureHtmlPage(fig)).replace(
      "</body>",
      // A real mouse move over the point (Plotly emits hover events only for events with a target).
      `<script>setTimeout(function(){var gd=document.getElementById("figure");` +
        `var xa=gd._fullLayout.xaxis,ya=gd._fullLayout.yaxis;` +
        `var r=gd.querySelector(".nsewdrag").getBoundingClientRect();` +
        `var cx=r.left+xa.l2p(1),cy=r.top+ya.l2p(1);` +
        `document.elementFromPoint(cx,cy).dispatchEvent(new MouseEvent("mousemove",` +
        `{bubbles:true,cancelable:true,clientX:cx,clientY:cy,view:window}));},200);` +
        `</script></body>`,
    );
    const dom = await chromiumDumpDom(page, { timeoutMs: 5000 });
    const img = dom.match(/<img id="figure-img"[^>]*>/)?.[0] ?? "";
    assert.ok(img.includes(`src="${uri}"`), `hover image not shown: ${img.slice(0, 200)}`);
    assert.match(dom, /id="figure-cap">1 #1</);
  },
});

Deno.test("barFigure, jsonTables and embeddingFigure", async () => {
  const bars = barFigure(["a", "b"], { s: [1, 2], t: [3, 4] });
  assert.deepEqual(bars.data.map((t) => t.name), ["s", "t"]);
  assert.equal(bars.layout.barmode, "group");
  assert.throws(() => barFigure(["a"], { s: [1, 2] }), /2 values for 1/);
  const tables = jsonTables({
    meta: { n: 1 },
    runs: [{ a: "x", b: 1.23456789 }, { a: "y", c: [1] }],
  });
  assert.deepEqual(tables, [{
    path: "runs",
    columns: ["a", "b", "c"],
    rows: [["x", 1.23457, ""], ["y", "", "[1]"]],
  }]);
  const { x, labels } = blobs(20, 4, 5);
  const fig = await embeddingFigure(x, labels, {
    method: "pca",
    components: 3,
    images: new Float32Array(20 * 784),
    classNames: ["a", "b"],
  });
  x.dispose();
  assert.equal(fig.data.length, 2);
  assert.equal(fig.data[0].type, "scatter3d");
  assert.equal((fig.data[0].customdata as string[]).length, 10);
  assert.match((fig.layout.title as { text: string }).text, /PCA, 3-D/);
});
