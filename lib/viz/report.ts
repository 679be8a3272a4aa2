/**
 * The report page of an experiment run (`results/<experiment>/<run>/embeddings.html`): run id,
 * configuration, data source, a before/after metrics table, the test embeddings as a scatter with
 * each point's image on hover (as in the notebooks), and the loss curve. One self-contained HTML
 * file (plotly.js inlined once): it opens offline.
 *
 * @module
 */
import type { PlotlyFigure } from "./figures.ts";
import { figureHtmlFragment } from "./display.ts";
import { formatNumber } from "./format.ts";
import { trainingCurves } from "./curves.ts";
import { writeTextAtomic } from "../io/atomic.ts";

/**
 * What {@linkcode runReport} shows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunReportInput } from "./report.ts";
 * const input: RunReportInput = {
 *   experiment: "siamese",
 *   runId: "20261128-125041-6352",
 *   config: { steps: 300, batchSize: 128 },
 *   data: [{ dataset: "fashion-mnist", split: "train", source: "data/fashion-mnist-subset", count: 10000 }],
 *   metrics: { before: { mapAtR: 0.29 }, after: { mapAtR: 0.62 } },
 *   history: { train: [{ step: 1, loss: 0.9 }, { step: 2, loss: 0.8 }] },
 * };
 * assert.equal(input.history.train?.length, 2);
 * ```
 */
export interface RunReportInput {
  /** Experiment name (`"siamese"`). */
  experiment: string;
  /** Run id (the run directory's name). */
  runId: string;
  /** Every option of the run, as in its `config.json`. */
  config: Record<string, unknown>;
  /** Where each part of the data came from (the runner's `DataProvenance` records fit). */
  data: readonly RunReportDataPart[];
  /**
   * Metrics before and after training, by name (`mapAtR`, `rPrecision`, `precisionAt1`, `nmi`,
   * `ami`, ...: an `evaluate()` result); fields that are not numbers are left out.
   */
  metrics: { before?: object; after: object };
  /** The loss per step of each training of the run (training name → `train()`'s history). */
  history: Readonly<Record<string, readonly { step: number; loss: number }[]>>;
  /** How the loss is reduced, shown with the curve (e.g. `"avgNonZero"`). */
  reduction?: string;
  /** The test embeddings figure (e.g. `embeddingFigure(..., { images })` for hover images). */
  scatter?: PlotlyFigure;
  /** One-line summary under the title (e.g. `"trained 300 steps in 23 s (1,677 images/s)"`). */
  summary?: string;
}

/**
 * One part of a run's data in {@linkcode RunReportInput}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunReportDataPart } from "./report.ts";
 * const part: RunReportDataPart = {
 *   dataset: "fashion-mnist", split: "test", source: "/usr/share/datasets/fashion-mnist",
 *   sourceKind: "debian", count: 10000, fingerprint: "sha256:ab12",
 * };
 * assert.equal(part.sourceKind, "debian");
 * ```
 */
export interface RunReportDataPart {
  /** The data set (`fashion-mnist`, `folder`, …). */
  dataset: string;
  /** The part (`train`, `test`, …). */
  split: string;
  /** Where it was read from. */
  source: string;
  /** How the source was chosen (`debian`, `embedded`, …). */
  sourceKind?: string;
  /** Examples used. */
  count: number;
  /** Content fingerprint. */
  fingerprint?: string;
}

const METRIC_NAMES: Record<string, string> = {
  mapAtR: "MAP@R",
  rPrecision: "R-precision",
  precisionAt1: "P@1",
  nmi: "NMI (k-means)",
  ami: "AMI (k-means)",
};

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

function value(v: unknown): string {
  if (typeof v === "number") return formatNumber(v, { digits: 4 });
  if (typeof v === "string") return v;
  return JSON.stringify(v) ?? "";
}

/**
 * The run's report page as one self-contained HTML string (see the module documentation).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runReport } from "./report.ts";
 * const html = await runReport({
 *   experiment: "siamese", runId: "r1", config: { steps: 2 },
 *   data: [{ dataset: "fashion-mnist", split: "test", source: "data/fashion-mnist-subset", count: 5 }],
 *   metrics: { before: { mapAtR: 0.2 }, after: { mapAtR: 0.5 } },
 *   history: { train: [{ step: 1, loss: 1 }, { step: 2, loss: 0.5 }] },
 * });
 * assert.ok(html.includes("MAP@R"));
 * ```
 */
export async function runReport(input: RunReportInput): Promise<string> {
  const title = `${input.experiment} · run ${input.runId}`;
  const numbers = (o: object | undefined) =>
    Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => typeof v === "number")) as Record<
      string,
      number
    >;
  const [before, after] = [numbers(input.metrics.before), numbers(input.metrics.after)];
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const metricRows = names.map((k) => {
    const b = before[k];
    const a = after[k];
    const change = typeof a === "number" && typeof b === "number" ? a - b : undefined;
    return `<tr><th>${esc(METRIC_NAMES[k] ?? k)}</th><td>${
      b === undefined ? "—" : formatNumber(b)
    }</td><td>${a === undefined ? "—" : formatNumber(a)}</td><td>${
      change === undefined ? "" : `${change >= 0 ? "+" : ""}${formatNumber(change)}`
    }</td></tr>`;
  }).join("");
  const configRows = Object.entries(input.config).map(([k, v]) =>
    `<tr><th>${esc(k)}</th><td>${esc(value(v))}</td></tr>`
  ).join("");
  const dataRows = input.data.map((p) =>
    `<tr><th>${esc(`${p.dataset} ${p.split}`)}</th><td>${formatNumber(p.count)} examples</td><td>${
      esc(p.sourceKind ? `${p.sourceKind} (${p.source})` : p.source)
    }</td><td class="muted">${esc(p.fingerprint ?? "")}</td></tr>`
  ).join("");
  const figures: string[] = [];
  let first = true;
  if (input.scatter) {
    // Hover images only when the figure carries them (embeddingFigure's `images`).
    const hoverImages = (input.scatter.layout.meta as { hoverImages?: boolean } | undefined)
      ?.hoverImages === true;
    figures.push(
      `<h2>Test embeddings</h2><p>${
        hoverImages
          ? "Hover a point to see its image (right)."
          : "Hover a point to see its class and index in the test split."
      }</p>` +
        await figureHtmlFragment(input.scatter, { includePlotly: first, id: "scatter" }),
    );
    first = false;
  }
  const histories = Object.fromEntries(
    Object.entries(input.history).filter(([, h]) => h.length).map(([k, h]) => [k, [...h]]),
  );
  if (Object.keys(histories).length) {
    const reduction = input.reduction ? ` (reduction ${input.reduction})` : "";
    const curve = trainingCurves(histories, {
      title: `Training loss per batch${reduction}, and its moving average`,
      width: 860,
      height: 380,
    });
    curve.layout.showlegend = Object.keys(histories).length > 1;
    figures.push(
      `<h2>Loss</h2>` + await figureHtmlFragment(curve, { includePlotly: first, id: "loss" }),
    );
  }
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body { font: 14px/1.45 "Liberation Sans", Arial, Helvetica, sans-serif; margin: 24px;
  max-width: 1100px; color: #222; }
h1 { font-size: 22px; margin: 0 0 4px 0; } h2 { font-size: 17px; margin: 28px 0 8px 0; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 12px 3px 0; text-align: left;
  vertical-align: top; }
td { font-variant-numeric: tabular-nums; }
table.metrics td { text-align: right; min-width: 70px; }
.muted { color: #666; }
</style></head>
<body>
<h1>${esc(title)}</h1>
<p class="muted">${esc(input.summary ?? "")}</p>
<h2>Data</h2>
<table><tbody>${dataRows}</tbody></table>
<h2>Retrieval and clustering on the test images</h2>
<table class="metrics"><thead><tr><th></th><th>before</th><th>after</th><th>change</th></tr></thead>
<tbody>${metricRows}</tbody></table>
<p class="muted">Each test image queried against all others (MAP@R, R-precision, P@1); k-means with
one cluster per class scored against the labels (NMI, AMI).</p>
${figures.join("\n")}
<h2>Configuration</h2>
<table><tbody>${configRows}</tbody></table>
</body></html>
`;
}

/**
 * Writes {@linkcode runReport}'s page to `path` (atomically).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeRunReport } from "./report.ts";
 * await writeRunReport("/tmp/report.html", {
 *   experiment: "siamese", runId: "r1", config: {}, data: [],
 *   metrics: { after: { mapAtR: 0.5 } }, history: {},
 * });
 * assert.ok((await Deno.readTextFile("/tmp/report.html")).includes("siamese"));
 * ```
 */
export async function writeRunReport(path: string, input: RunReportInput): Promise<void> {
  await writeTextAtomic(path, await runReport(input));
}

/**
 * What {@linkcode describeSetup} reports.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SetupFacts } from "./report.ts";
 * const facts: SetupFacts = { backend: { backend: "wasm", kernels: [] }, fast: false };
 * assert.equal(facts.backend.backend, "wasm");
 * ```
 */
export interface SetupFacts {
  /** The backend in use (`initBackend`'s result). */
  backend: { backend: string; adapter?: string; kernels: readonly string[] };
  /** Data sets used, by role (`{ train, test }`), each with its size and source. */
  data?: Record<string, { n: number; source: { kind: string; dir: string } }>;
  /** Whether the quick mode (`SIMLEARN_FAST=1`) is on. */
  fast?: boolean;
}

/**
 * The lines a notebook or experiment prints first: where its data came from (source kind and
 * directory, images per role), the backend (and GPU adapter), and the run mode.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeSetup } from "./report.ts";
 * const text = describeSetup({
 *   backend: { backend: "wasm", kernels: ["Conv2DBackpropFilter"] },
 *   data: { train: { n: 10000, source: { kind: "embedded", dir: "data/fashion-mnist-subset" } } },
 *   fast: false,
 * });
 * const [data, backend] = text.split("\n");
 * assert.equal(
 *   data,
 *   "data: Fashion-MNIST from embedded (data/fashion-mnist-subset): 10,000 train images",
 * );
 * assert.equal(backend, "backend: wasm (project kernels: Conv2DBackpropFilter)");
 * ```
 */
export function describeSetup(facts: SetupFacts): string {
  const lines: string[] = [];
  const sets = Object.entries(facts.data ?? {});
  if (sets.length) {
    const sources = [...new Set(sets.map(([, s]) => `${s.source.kind} (${s.source.dir})`))];
    lines.push(
      `data: Fashion-MNIST from ${sources.join(" and ")}: ${
        sets.map(([role, s]) => `${formatNumber(s.n)} ${role}`).join(", ")
      } images`,
    );
  }
  const b = facts.backend;
  lines.push(
    `backend: ${b.backend}${b.adapter ? ` on ${b.adapter}` : ""}${
      b.kernels.length ? ` (project kernels: ${b.kernels.join(", ")})` : ""
    }`,
  );
  if (facts.fast !== undefined) {
    lines.push(
      facts.fast
        ? "mode: fast (SIMLEARN_FAST=1: small budgets, numbers are not meaningful)"
        : "mode: full (set SIMLEARN_FAST=1 for a quick run)",
    );
  }
  return lines.join("\n");
}
