/**
 * The plotly.js bundle that HTML output inlines or links. Internal; `html.ts` re-exports it.
 *
 * @module
 */
import plotlyPackage from "plotly.js-dist-min/package.json" with { type: "json" };

let plotlySource: string | undefined;

/**
 * The plotly.js bundle's source, read once from the project's `node_modules`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { plotlyJs } from "./_plotly.ts";
 * assert.ok((await plotlyJs()).length > 1_000_000);
 * ```
 */
export async function plotlyJs(): Promise<string> {
  if (plotlySource === undefined) {
    plotlySource = await Deno.readTextFile(plotlyJsUrl());
  }
  return plotlySource;
}

/**
 * The file URL of the plotly.js bundle in the project's `node_modules`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { plotlyJsUrl } from "./_plotly.ts";
 * assert.ok(plotlyJsUrl().href.endsWith("plotly.min.js"));
 * ```
 */
export function plotlyJsUrl(): URL {
  return new URL("../../node_modules/plotly.js-dist-min/plotly.min.js", import.meta.url);
}

/** The plotly.js version that HTML output embeds. */
export const PLOTLY_VERSION: string = plotlyPackage.version;
