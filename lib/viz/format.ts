/**
 * Number formats for tables, captions and hover labels: three significant digits by default,
 * thousands separators, powers of ten written out for very large or very small values, and an
 * optional unit (`9.03 s`, `78,800 queries/s`, `5.96 × 10⁻⁸`).
 *
 * @module
 */

const SUPERSCRIPT: Record<string, string> = {
  "-": "⁻",
  "0": "⁰",
  "1": "¹",
  "2": "²",
  "3": "³",
  "4": "⁴",
  "5": "⁵",
  "6": "⁶",
  "7": "⁷",
  "8": "⁸",
  "9": "⁹",
};

/**
 * Options of {@linkcode formatNumber}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatNumber, type FormatOptions } from "./format.ts";
 * const options: FormatOptions = { digits: 4, unit: "s" };
 * assert.equal(formatNumber(9.02571, options), "9.026 s");
 * ```
 */
export interface FormatOptions {
  /** Significant digits of non-integers. Default 3. */
  digits?: number;
  /** Unit appended after a space (`"s"`, `"px"`, `"images/s"`). */
  unit?: string;
}

/**
 * Formats a number for people: integers in full with thousands separators; other values to
 * `digits` significant digits (default 3), with separators, and as `m × 10ᵏ` when |v| ≥ 10⁶ or
 * |v| < 10⁻³; `NaN` and infinities as `—`, `∞`, `−∞`. With `unit`, the unit follows after a space.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatNumber } from "./format.ts";
 * assert.equal(formatNumber(9.0257, { unit: "s" }), "9.03 s");
 * assert.equal(formatNumber(78754.9783, { unit: "queries/s" }), "78,800 queries/s");
 * assert.equal(formatNumber(5.96046e-8), "5.96 × 10⁻⁸");
 * assert.equal(formatNumber(0.617345), "0.617");
 * assert.equal(formatNumber(12000), "12,000");
 * ```
 */
export function formatNumber(value: number, options: FormatOptions = {}): string {
  const digits = options.digits ?? 3;
  if (!Number.isInteger(digits) || digits < 1 || digits > 21) {
    throw new RangeError(`formatNumber: digits must be an integer in [1, 21], got ${digits}`);
  }
  const unit = options.unit ? ` ${options.unit}` : "";
  if (Number.isNaN(value)) return "—";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  if (Number.isInteger(value) && Math.abs(value) < 1e15) {
    return value.toLocaleString("en-US") + unit;
  }
  const a = Math.abs(value);
  if (a >= 1e6 || (a > 0 && a < 1e-3)) {
    const [mantissa, exponent] = value.toExponential(digits - 1).split("e");
    const power = String(Number(exponent)).split("").map((c) => SUPERSCRIPT[c]).join("");
    return `${mantissa} × 10${power}${unit}`;
  }
  return value.toLocaleString("en-US", {
    maximumSignificantDigits: digits,
    minimumSignificantDigits: 1,
  }) + unit;
}

/**
 * A d3-format specifier for Plotly hover labels and ticks with `digits` significant digits and no
 * trailing zeros (`".3~g"`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { plotlyFormat } from "./format.ts";
 * const layout = { yaxis: { hoverformat: plotlyFormat() } };
 * assert.equal(layout.yaxis.hoverformat, ".3~g");
 * ```
 */
export function plotlyFormat(digits = 3): string {
  return `.${digits}~g`;
}
