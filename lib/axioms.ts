/**
 * Checks the four metric axioms — non-negativity, identity of indiscernibles, symmetry and the
 * triangle inequality — numerically, on given points or on seeded random and adversarial samples
 * drawn from a metric's domain, and returns a counterexample for every axiom that fails.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createRng, type Rng } from "./data/random.ts";
import {
  type Axiom,
  type Metric,
  type MetricDomain,
  type MetricSpec,
  resolveMetric,
} from "./distances.ts";

/**
 * A violation of one axiom.
 *
 * @example
 * ```ts
 * import { checkMetricAxioms } from "./axioms.ts";
 * const r = (await checkMetricAxioms("sqeuclidean", [[0], [1], [2]])).results.triangleInequality;
 * if (!r.holds) console.log(r.counterexample.values); // { "d(x,z)": 4, "d(x,y)": 1, "d(y,z)": 1 }
 * ```
 */
export interface Counterexample {
  /** The points involved (`x`, then `y`, then `z`). */
  points: number[][];
  /** The values that violate the axiom, keyed like `"d(x,z)"`. */
  values: Record<string, number>;
  /** One sentence saying what fails. */
  explanation: string;
}

/**
 * The verdict on one axiom.
 *
 * @example
 * ```ts
 * import type { AxiomResult } from "./axioms.ts";
 * const ok: AxiomResult = { holds: true };
 * ```
 */
export type AxiomResult = { holds: true } | { holds: false; counterexample: Counterexample };

/**
 * What {@linkcode checkMetricAxioms} returns.
 *
 * @example
 * ```ts
 * import { checkMetricAxioms } from "./axioms.ts";
 * const report = await checkMetricAxioms("cosine");
 * console.log(report.agreesWithDeclaration, report.undefinedPairs);
 * ```
 */
export interface AxiomReport {
  /** The metric's name. */
  metric: string;
  /** Domain the samples were drawn from (or declared for the given samples). */
  domain: MetricDomain;
  /** Number of points checked. */
  points: number;
  /** Pairs whose value was NaN or ±∞ (outside the metric's domain) and were skipped. */
  undefinedPairs: number;
  /** Verdict per axiom. */
  results: Record<Axiom, AxiomResult>;
  /** True when every verdict equals the metric's declared `axioms`. */
  agreesWithDeclaration: boolean;
}

/**
 * Options of {@linkcode checkMetricAxioms}.
 *
 * @example
 * ```ts
 * import { checkMetricAxioms } from "./axioms.ts";
 * await checkMetricAxioms("jaccard", undefined, { count: 100, dim: 8, seed: 3 });
 * ```
 */
export interface AxiomCheckOptions {
  /** Random points drawn when no samples are given (default 40), besides the adversarial ones. */
  count?: number;
  /** Dimension of drawn points (default 4). */
  dim?: number;
  /** Seed of the draw (default 0). */
  seed?: number;
  /** Domain to draw from (default: the metric's `domain`, else `"real"`). */
  domain?: MetricDomain;
  /** Add adversarial points to the drawn ones (default true). */
  adversarial?: boolean;
  /**
   * Relative tolerance (default 1e-4): a value counts as 0 when it is at most `tolerance` times
   * the largest finite |value|, and inequalities get the same slack plus `tolerance` relative.
   */
  tolerance?: number;
}

const AXIOMS: readonly Axiom[] = ["nonNegativity", "identity", "symmetry", "triangleInequality"];

function basis(dim: number, i: number, value = 1): number[] {
  const v = new Array(dim).fill(0);
  v[i % dim] = value;
  return v;
}

/**
 * Seeded sample points for {@linkcode checkMetricAxioms}: `count` random points from `domain`
 * plus, when `adversarial`, points built to break axioms that some metrics lack — scaled and
 * negated copies (parallel vectors), shifted copies (equal correlation; equal up to a constant
 * for the SNR distance), exact duplicates,
 * collinear and near-collinear triples, the triple e₁, (e₁ + e₂)/√2, e₂, 0/1 vectors such as
 * {a}, {a, b}, {b}, the zero vector and a constant vector (where the domain allows them).
 *
 * @param domain where to draw
 * @param count random points
 * @param dim dimension (≥ 1)
 * @param seed seed
 * @returns `[n, dim]` rows
 * @example
 * ```ts
 * import { axiomSamples } from "./axioms.ts";
 * const pts = axiomSamples("binary", 10, 5, 0);
 * console.log(pts.length, pts[0].length);
 * ```
 */
export function axiomSamples(
  domain: MetricDomain,
  count: number,
  dim: number,
  seed: number,
  adversarial = true,
): number[][] {
  if (!Number.isInteger(dim) || dim < 1) {
    throw new Error(`axiomSamples: dim must be a positive integer, got ${dim}`);
  }
  if (!Number.isInteger(count) || count < 0) {
    throw new Error(`axiomSamples: count must be a non-negative integer, got ${count}`);
  }
  const rng: Rng = createRng(seed);
  const normal = () => Array.from({ length: dim }, () => rng.normal());
  const pts: number[][] = [];
  if (domain === "binary") {
    for (let i = 0; i < count; i++) {
      const density = 0.15 + 0.7 * rng.next();
      pts.push(Array.from({ length: dim }, () => (rng.next() < density ? 1 : 0)));
    }
    if (adversarial) {
      pts.push(new Array(dim).fill(0), new Array(dim).fill(1));
      if (dim >= 2) {
        const ab = basis(dim, 0);
        ab[1] = 1;
        pts.push(basis(dim, 0), ab, basis(dim, 1));
      }
      if (pts.length > 0) pts.push([...pts[0]]);
    }
    return pts;
  }
  for (let i = 0; i < count; i++) {
    const v = normal();
    if (domain === "real") pts.push(v);
    else if (domain === "nonnegative") pts.push(v.map((t) => (rng.next() < 0.2 ? 0 : Math.abs(t))));
    else pts.push(v.map((t) => Math.exp(t))); // simplex: normalised below
  }
  if (adversarial) {
    const u = normal(), v = normal();
    const fix = domain === "real" ? (x: number[]) => x : (x: number[]) => x.map(Math.abs);
    const uu = fix(u), vv = fix(v);
    const mid = uu.map((t, i) => (t + vv[i]) / 2);
    pts.push(
      uu,
      uu.map((t) => 2 * t),
      uu.map((t) => 0.5 * t),
      uu.map((t) => 3 * t + 1),
      [...uu],
      vv,
      mid,
      mid.map((t) => t + 0.05 * Math.abs(rng.normal())),
    );
    if (domain === "real") {
      pts.push(uu.map((t) => -t), uu.map((t) => -1.5 * t), uu.map((t) => t + 1));
    }
    if (dim >= 2) {
      const diag = basis(dim, 0, Math.SQRT1_2);
      diag[1] = Math.SQRT1_2;
      const ones2 = basis(dim, 0);
      ones2[1] = 1;
      pts.push(basis(dim, 0), diag, basis(dim, 1), ones2);
    }
    if (domain !== "simplex") pts.push(new Array(dim).fill(0));
    pts.push(new Array(dim).fill(1));
  }
  if (domain === "simplex") {
    return pts.map((x) => {
      const s = x.reduce((a, b) => a + b, 0);
      return s > 0 ? x.map((t) => t / s) : x;
    });
  }
  return pts;
}

function rowsOf(samples: tf.Tensor2D | number[][]): number[][] {
  if (Array.isArray(samples)) return samples.map((r) => Array.from(r, Number));
  if (samples instanceof tf.Tensor && samples.rank === 2) return samples.arraySync() as number[][];
  throw new Error("checkMetricAxioms: samples must be a tf.Tensor2D or number[][]");
}

/**
 * Checks a metric's axioms numerically on `samples` (or on {@linkcode axiomSamples} drawn from
 * its domain): non-negativity d(x, y) ≥ 0; identity of indiscernibles d(x, x) = 0 and
 * d(x, y) = 0 ⇒ x = y; symmetry d(x, y) = d(y, x); the triangle inequality
 * d(x, z) ≤ d(x, y) + d(y, z), over all pairs and triples. A value counts as 0 for d(x, x) when
 * it is at most `tolerance` × the largest |value| (float32 round-off), but a d(x, y) = 0 with
 * x ≠ y must be below `tolerance` / 100 × the median value, for points that differ in some
 * coordinate by more than 1% of their magnitude. Values are taken as they come, so a
 * similarity (larger = closer) fails the distance axioms it does not satisfy. NaN and ±∞ values
 * (outside the metric's domain, e.g. cosine of a zero vector) are skipped and counted. For the
 * `simplex` domain points are normalised to sum 1 first (as `jensenshannon` does).
 *
 * A failure proves the axiom false; "holds" means no violation was found on these points.
 *
 * @param metric a spec or a {@linkcode Metric}
 * @param samples `[n, d]` points (default: drawn)
 * @example
 * ```ts
 * import { checkMetricAxioms } from "./axioms.ts";
 * const report = await checkMetricAxioms("sqeuclidean");
 * report.results.triangleInequality.holds; // false, with a counterexample
 * ```
 */
export async function checkMetricAxioms(
  metric: MetricSpec | Metric,
  samples?: tf.Tensor2D | number[][],
  options: AxiomCheckOptions = {},
): Promise<AxiomReport> {
  const m = resolveMetric(metric);
  const domain = options.domain ?? m.domain ?? "real";
  const tolerance = options.tolerance ?? 1e-4;
  if (!(tolerance >= 0)) {
    throw new Error(`checkMetricAxioms: tolerance must be ≥ 0, got ${tolerance}`);
  }
  let pts = samples === undefined
    ? axiomSamples(
      domain,
      options.count ?? 40,
      options.dim ?? 4,
      options.seed ?? 0,
      options.adversarial ?? true,
    )
    : rowsOf(samples);
  if (pts.length < 1) throw new Error("checkMetricAxioms: samples must have at least one row");
  const dim = pts[0].length;
  if (pts.some((r) => r.length !== dim)) {
    throw new Error("checkMetricAxioms: samples rows differ in length");
  }
  if (samples !== undefined && domain === "simplex") {
    pts = pts.map((x) => {
      const s = x.reduce((a, b) => a + b, 0);
      return s > 0 ? x.map((t) => t / s) : x;
    });
  }
  const n = pts.length;
  const x = tf.tensor2d(pts);
  const dt = m.pairwise(x, x);
  const flat = await dt.data();
  tf.dispose([x, dt]);
  const D = (i: number, j: number) => flat[i * n + j];
  const finite = (v: number) => Number.isFinite(v);

  let scale = 0, undefinedPairs = 0;
  for (let k = 0; k < n * n; k++) {
    if (finite(flat[k])) scale = Math.max(scale, Math.abs(flat[k]));
    else undefinedPairs++;
  }
  // Reflexive zeros and inequality slack: `tolerance` × the largest value. "d(x, y) = 0 for
  // x ≠ y" needs a value 100 times smaller still (relative to the median), and points that
  // clearly differ (in some coordinate by more than 1% of their magnitude).
  const zero = tolerance * scale;
  const positives = Array.from(flat).filter((v) => Number.isFinite(v) && v > 0).sort((a, b) =>
    a - b
  );
  const median = positives.length ? positives[Math.floor(positives.length / 2)] : 0;
  const strictZero = tolerance * 1e-2 * median;
  const same = (i: number, j: number) => pts[i].every((v, k) => v === pts[j][k]);
  const magnitude = pts.map((r) => Math.max(1, ...r.map(Math.abs)));
  const differ = (i: number, j: number) =>
    pts[i].some((v, k) => Math.abs(v - pts[j][k]) > 1e-2 * Math.max(magnitude[i], magnitude[j]));
  const round = (v: number) => Number(v.toPrecision(6));
  const point = (i: number) => pts[i].map(round);

  const results = {} as Record<Axiom, AxiomResult>;

  // Non-negativity: the most negative value.
  let worst = -1, worstVal = -zero;
  for (let k = 0; k < n * n; k++) {
    if (finite(flat[k]) && flat[k] < worstVal) [worst, worstVal] = [k, flat[k]];
  }
  results.nonNegativity = worst < 0 ? { holds: true } : {
    holds: false,
    counterexample: {
      points: [point(Math.floor(worst / n)), point(worst % n)],
      values: { "d(x,y)": round(worstVal) },
      explanation: `d(x, y) = ${round(worstVal)} < 0`,
    },
  };

  // Identity of indiscernibles: d(x, x) = 0 (also for duplicate rows), and d(x, y) = 0 ⇒ x = y.
  let identity: AxiomResult = { holds: true };
  outer: for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = D(i, j);
      if (!finite(v)) continue;
      const equal = i === j || same(i, j);
      if (equal && Math.abs(v) > zero) {
        identity = {
          holds: false,
          counterexample: {
            points: [point(i)],
            values: { "d(x,x)": round(v) },
            explanation: `d(x, x) = ${round(v)} ≠ 0`,
          },
        };
        break outer;
      }
      if (!equal && Math.abs(v) <= strictZero && differ(i, j)) {
        identity = {
          holds: false,
          counterexample: {
            points: [point(i), point(j)],
            values: { "d(x,y)": round(v) },
            explanation: `d(x, y) = ${round(v)} ≈ 0 although x ≠ y`,
          },
        };
        break outer;
      }
    }
  }
  results.identity = identity;

  // Symmetry: the largest |d(x, y) − d(y, x)|.
  let sym: AxiomResult = { holds: true };
  let symExcess = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = D(i, j), b = D(j, i);
      if (!finite(a) || !finite(b)) continue;
      const excess = Math.abs(a - b) - (zero + tolerance * Math.max(Math.abs(a), Math.abs(b)));
      if (excess > symExcess) {
        symExcess = excess;
        sym = {
          holds: false,
          counterexample: {
            points: [point(i), point(j)],
            values: { "d(x,y)": round(a), "d(y,x)": round(b) },
            explanation: `d(x, y) = ${round(a)} ≠ d(y, x) = ${round(b)}`,
          },
        };
      }
    }
  }
  results.symmetry = sym;

  // Triangle inequality over all triples: the largest d(x, z) − d(x, y) − d(y, z).
  let tri: AxiomResult = { holds: true };
  let triExcess = 0;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const xz = D(i, k);
      if (!finite(xz)) continue;
      for (let j = 0; j < n; j++) {
        const xy = D(i, j), yz = D(j, k);
        if (!finite(xy) || !finite(yz)) continue;
        const excess = xz - xy - yz - (zero + tolerance * Math.abs(xy + yz));
        if (excess > triExcess) {
          triExcess = excess;
          tri = {
            holds: false,
            counterexample: {
              points: [point(i), point(j), point(k)],
              values: { "d(x,z)": round(xz), "d(x,y)": round(xy), "d(y,z)": round(yz) },
              explanation: `d(x, z) = ${round(xz)} > d(x, y) + d(y, z) = ${round(xy + yz)}`,
            },
          };
        }
      }
    }
  }
  results.triangleInequality = tri;

  return {
    metric: m.name,
    domain,
    points: n,
    undefinedPairs,
    results,
    agreesWithDeclaration: AXIOMS.every((a) => results[a].holds === m.axioms[a]),
  };
}
