/**
 * Loader of the small tabular data sets shipped in `data/tabular/` (wine and iris, UCI, CC BY 4.0;
 * see that folder's README).
 *
 * @module
 */

/**
 * Names of the shipped tabular sets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadTabular, type TabularName } from "./tabular.ts";
 * const name: TabularName = "iris";
 * const iris = await loadTabular(name);
 * assert.equal(iris.d, 4);
 * ```
 */
export type TabularName = "wine" | "iris";

/**
 * A loaded tabular data set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadTabular } from "./tabular.ts";
 * const { x, labels, d } = await loadTabular("iris");
 * assert.deepEqual([x.length / d, labels[0]], [150, 0]);
 * ```
 */
export interface TabularDataset {
  /** Features, row-major `[n, d]`. */
  x: Float32Array;
  /** Integer class labels `[n]`. */
  labels: Int32Array;
  /** Rows. */
  n: number;
  /** Features per row. */
  d: number;
  /** Feature names from the header. */
  features: string[];
}

/**
 * The folder holding the shipped CSV files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TABULAR_DIR } from "./tabular.ts";
 * const text = await Deno.readTextFile(`${TABULAR_DIR}wine.csv`);
 * assert.ok(text.length > 0);
 * ```
 */
export const TABULAR_DIR: string = new URL("../../data/tabular/", import.meta.url).pathname;

/**
 * Parses a numeric CSV whose header names the features and whose last column is `class`.
 *
 * @param text the CSV text
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTabularCsv } from "./tabular.ts";
 * assert.deepEqual(parseTabularCsv("a,b,class\n1,2,0\n3,4,1\n").labels, Int32Array.of(0, 1));
 * ```
 */
export function parseTabularCsv(text: string): TabularDataset {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length < 2) throw new Error("parseTabularCsv: expected a header and at least one row");
  const header = lines[0].split(",").map((s) => s.trim());
  if (header.at(-1) !== "class") {
    throw new Error(`parseTabularCsv: the last column must be "class", got "${header.at(-1)}"`);
  }
  const d = header.length - 1, n = lines.length - 1;
  const x = new Float32Array(n * d), labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const cells = lines[i + 1].split(",").map(Number);
    if (cells.length !== d + 1 || cells.some((v) => !Number.isFinite(v))) {
      throw new Error(`parseTabularCsv: row ${i + 2} must hold ${d + 1} numbers`);
    }
    x.set(cells.slice(0, d), i * d);
    if (!Number.isInteger(cells[d])) {
      throw new Error(`parseTabularCsv: row ${i + 2}: class must be an integer`);
    }
    labels[i] = cells[d];
  }
  return { x, labels, n, d, features: header.slice(0, d) };
}

/**
 * Loads `data/tabular/<name>.csv`.
 *
 * @param name `"wine"` or `"iris"`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadTabular } from "./tabular.ts";
 * const wine = await loadTabular("wine");
 * assert.deepEqual([wine.n, wine.d], [178, 13]);
 * ```
 */
export async function loadTabular(name: TabularName): Promise<TabularDataset> {
  if (name !== "wine" && name !== "iris") {
    throw new Error(`loadTabular: name must be "wine" or "iris", got "${name}"`);
  }
  return parseTabularCsv(await Deno.readTextFile(`${TABULAR_DIR}${name}.csv`));
}
