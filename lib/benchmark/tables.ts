/**
 * The benchmark table as Markdown and CSV.
 *
 * @module
 */
import type { BenchmarkTable, MetricSummary } from "./runner.ts";

/**
 * `mean ± ci95` with `digits` decimals, or the mean alone when there is no interval.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatMeanCi } from "./tables.ts";
 * assert.equal(formatMeanCi({ mean: 0.61234, ci95: 0.0123 }), "0.6123 ± 0.0123");
 * ```
 */
export function formatMeanCi(s: MetricSummary, digits = 4): string {
  return s.ci95 === null
    ? s.mean.toFixed(digits)
    : `${s.mean.toFixed(digits)} ± ${s.ci95.toFixed(digits)}`;
}

/**
 * A Markdown table laid out as `deno fmt` lays it out (cells padded to the column width, right
 * alignment marked `---:`), so that a committed table passes `deno fmt --check`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markdownTable } from "./tables.ts";
 * assert.equal(
 *   markdownTable(["a", "b"], [["x", "1.5"]], ["left", "right"]),
 *   "| a   |   b |\n| --- | --: |\n| x   | 1.5 |", // columns at least 3 wide
 * );
 * ```
 */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly ("left" | "right")[],
): string {
  const widths = header.map((h, c) =>
    Math.max(3, [...h].length, ...rows.map((r) => [...(r[c] ?? "")].length))
  );
  const pad = (text: string, c: number) => {
    const fill = " ".repeat(widths[c] - [...text].length);
    return align[c] === "right" ? fill + text : text + fill;
  };
  const line = (cells: readonly string[]) => `| ${cells.map((t, c) => pad(t, c)).join(" | ")} |`;
  const rule = `| ${
    widths.map((w, c) => (align[c] === "right" ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(
      " | ",
    )
  } |`;
  // deno fmt shortens the rule of a column narrower than 3 characters only when all are; keep ≥ 3.
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/**
 * The table in Markdown: one line per (setting, method), metrics as `mean ± 95% CI half-width`.
 * The protocol is in the JSON file and the README (long prose would be re-wrapped by
 * `deno fmt`); `options.note` adds one short line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { benchmarkMarkdown } from "./tables.ts";
 * const md = benchmarkMarkdown({ protocol: {}, rows: [] });
 * assert.ok(md.startsWith("| setting | method | seeds | MAP@R |"));
 * assert.ok(md.includes("95% Student-t confidence interval"));
 * ```
 */
export function benchmarkMarkdown(
  table: BenchmarkTable,
  options: { title?: string; note?: string } = {},
): string {
  const lines: string[] = [];
  if (options.title) lines.push(`# ${options.title}`, "");
  lines.push(
    markdownTable(
      ["setting", "method", "seeds", "MAP@R", "R-precision", "P@1", "train images/s"],
      table.rows.map((r) => [
        r.setting,
        r.method,
        r.seeds.join(", "),
        formatMeanCi(r.mapAtR),
        formatMeanCi(r.rPrecision),
        formatMeanCi(r.precisionAt1),
        r.trainImagesPerSecond === null ? "—" : r.trainImagesPerSecond.toFixed(0),
      ]),
      ["left", "left", "left", "right", "right", "right", "right"],
    ),
  );
  lines.push("", "Mean over seeds ± the half-width of a 95% Student-t confidence interval.");
  const methods = table.protocol.methods as Record<string, string> | undefined;
  if (methods && typeof methods === "object" && Object.keys(methods).length) {
    lines.push(
      "",
      "## Methods and their hyper-parameters",
      "",
      markdownTable(
        ["method", "what runs (PML's defaults unless stated; the paper's where it states them)"],
        Object.entries(methods).map(([id, d]) => [id, String(d)]),
        ["left", "left"],
      ),
    );
  }
  if (table.crossCheck?.length) {
    lines.push(
      "",
      "## Cross-check: PyTorch + pytorch-metric-learning on the same protocol",
      "",
      markdownTable(
        ["setting", "method", "seed", "PyTorch init", "MAP@R (ours)", "MAP@R (PyTorch + PML)", "Δ"],
        table.crossCheck.map((c) => [
          c.setting,
          c.method,
          String(c.seed),
          c.init,
          c.ours === null ? "—" : c.ours.toFixed(4),
          c.pml.toFixed(4),
          c.ours === null
            ? "—"
            : (c.ours - c.pml >= 0 ? "+" : "−") + Math.abs(c.ours - c.pml).toFixed(4),
        ]),
        ["left", "left", "right", "left", "right", "right", "right"],
      ),
      "",
      `PyTorch side: \`bench/torch_protocol.py\` (${table.crossCheck[0].framework}).`,
    );
  }
  if (options.note) lines.push("", options.note);
  return lines.join("\n") + "\n";
}

function csvCell(v: string | number | null): string {
  if (v === null) return "";
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * The table as CSV (RFC 4180): `setting, method, n_seeds, seeds` (`;`-separated), then
 * `<metric>_mean, <metric>_ci95` for MAP@R, R-precision and P@1, then
 * `train_images_per_second`; an empty cell for a missing interval or throughput.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { benchmarkCsv } from "./tables.ts";
 * const header = benchmarkCsv({ protocol: {}, rows: [] }).split("\n")[0];
 * assert.ok(header.startsWith("setting,method,n_seeds,seeds,map_at_r_mean,map_at_r_ci95,"));
 * ```
 */
export function benchmarkCsv(table: BenchmarkTable): string {
  const header = [
    "setting",
    "method",
    "n_seeds",
    "seeds",
    "map_at_r_mean",
    "map_at_r_ci95",
    "r_precision_mean",
    "r_precision_ci95",
    "precision_at_1_mean",
    "precision_at_1_ci95",
    "train_images_per_second",
  ];
  const lines = [header.join(",")];
  for (const r of table.rows) {
    lines.push(
      [
        r.setting,
        r.method,
        r.seeds.length,
        r.seeds.join(";"),
        r.mapAtR.mean,
        r.mapAtR.ci95,
        r.rPrecision.mean,
        r.rPrecision.ci95,
        r.precisionAt1.mean,
        r.precisionAt1.ci95,
        r.trainImagesPerSecond,
      ].map(csvCell).join(","),
    );
  }
  return lines.join("\n") + "\n";
}
