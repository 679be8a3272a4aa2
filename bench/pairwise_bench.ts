/**
 * `deno task bench pairwise`: the cost of right squared distances (`lib/_squared_distances.ts`)
 * against the plain centred expansion ‖x′‖² + ‖y′‖² − 2x′·y′ that `pairwiseDistances` used
 * before (the comparator), in one process on the same inputs: one forward and backward pass of
 * `sum(W ⊙ D)` for an `[n, n]` matrix of `d`-dimensional rows 1000 from the origin, for n·n·d
 * from 2¹⁸ to 2²³. Each size is timed in interleaved rounds (the best round counts: other load on
 * a shared machine only ever slows a pass down) for the exact path, the refined path and the
 * path `auto` takes, and printed as ms per pass and the ratio to the expansion.
 *
 * Options: `--d 64`, `--rounds 5`, `--reps 3` (passes per round), `--backend wasm|cpu`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "./train_bench.ts";
import {
  EXACT_PAIRWISE_ELEMENTS,
  squaredDistances,
  type SquaredPath,
} from "../lib/_squared_distances.ts";
import { createRng } from "../lib/data/random.ts";

/** Parsed options of `bench pairwise`. */
export interface PairwiseBenchArgs {
  /** Row dimension. */
  d: number;
  /** Interleaved rounds per size. */
  rounds: number;
  /** Timed passes per round. */
  reps: number;
  /** Backend. */
  backend: "wasm" | "cpu";
}

/**
 * Parses `bench pairwise` options; throws on unknown options and bad numbers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePairwiseArgs } from "./pairwise_bench.ts";
 * assert.equal(parsePairwiseArgs(["--d", "32"]).d, 32);
 * ```
 */
export function parsePairwiseArgs(argv: string[]): PairwiseBenchArgs {
  const a: PairwiseBenchArgs = { d: 64, rounds: 5, reps: 3, backend: "wasm" };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) {
        throw new Error(`bench pairwise: ${flag} needs an integer ≥ 1, got ${argv[i]}`);
      }
      return v;
    };
    if (flag === "--d") a.d = num();
    else if (flag === "--rounds") a.rounds = num();
    else if (flag === "--reps") a.reps = num();
    else if (flag === "--backend") {
      const v = argv[++i];
      if (v !== "wasm" && v !== "cpu") {
        throw new Error(`bench pairwise: --backend takes wasm or cpu, got ${v}`);
      }
      a.backend = v;
    } else throw new Error(`bench pairwise: unknown option ${flag}`);
  }
  return a;
}

/** The comparator: the centred matmul expansion, clamped at 0, under autograd. */
function expansion(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const c = tf.mean(b, 0, true);
  const ca = tf.sub(a, c), cb = tf.sub(b, c);
  const na = tf.sum(tf.square(ca), 1, true);
  const nb = tf.reshape(tf.sum(tf.square(cb), 1), [1, -1]);
  return tf.relu(tf.sub(tf.add(na, nb), tf.mul(tf.matMul(ca, cb, false, true), 2)));
}

type Side = "expansion" | Exclude<SquaredPath, "auto">;

/** One forward and backward pass of sum(W ⊙ D(a, b)), read back. */
function pass(side: Side, a: tf.Tensor2D, b: tf.Tensor2D, w: tf.Tensor2D): void {
  tf.tidy(() => {
    const f = (x: tf.Tensor, y: tf.Tensor) => {
      const d = side === "expansion"
        ? expansion(x as tf.Tensor2D, y as tf.Tensor2D)
        : squaredDistances(x as tf.Tensor2D, y as tf.Tensor2D, { kind: "plain" }, side);
      return tf.sum(tf.mul(d, w));
    };
    const { value, grads } = tf.valueAndGrads(f)([a, b]);
    value.dataSync();
    grads.forEach((g) => g.dataSync());
  });
}

/** Runs the bench and prints one table. */
export async function runPairwiseBench(argv: string[]): Promise<void> {
  const args = parsePairwiseArgs(argv);
  const backend = await useBackend(args.backend);
  const sides: Side[] = ["expansion", "exact", "refined"];
  console.log(
    `bench pairwise: Deno ${Deno.version.deno}, tfjs ${tf.version.tfjs}, ${backend}; ` +
      `d = ${args.d}, rows 1000 ± 1 from the origin, best of ${args.rounds} rounds of ` +
      `${args.reps} forward+backward passes; auto takes exact up to n·n·d = ` +
      `2^${Math.log2(EXACT_PAIRWISE_ELEMENTS)}`,
  );
  console.log(
    ["n·n·d", "n", "expansion ms", "exact ms", "refined ms", "exact/exp", "refined/exp", "auto"]
      .join("\t"),
  );
  const rng = createRng(7);
  for (let e = 18; e <= 23; e++) {
    const n = Math.round(Math.sqrt(2 ** e / args.d));
    const rows = () =>
      tf.tensor2d(Float32Array.from({ length: n * args.d }, () => 1000 + rng.normal()), [
        n,
        args.d,
      ]);
    const a = rows(), b = rows();
    const w = tf.tensor2d(Float32Array.from({ length: n * n }, () => rng.normal()), [n, n]);
    const best = new Map<Side, number>(sides.map((s) => [s, Infinity]));
    for (const s of sides) pass(s, a, b, w); // warm-up
    for (let r = 0; r < args.rounds; r++) {
      for (const s of sides) {
        const t0 = performance.now();
        for (let k = 0; k < args.reps; k++) pass(s, a, b, w);
        best.set(s, Math.min(best.get(s)!, (performance.now() - t0) / args.reps));
      }
    }
    tf.dispose([a, b, w]);
    const ex = best.get("expansion")!;
    console.log(
      [
        `2^${e}`,
        n,
        ex.toFixed(2),
        best.get("exact")!.toFixed(2),
        best.get("refined")!.toFixed(2),
        (best.get("exact")! / ex).toFixed(2),
        (best.get("refined")! / ex).toFixed(2),
        n * n * args.d <= EXACT_PAIRWISE_ELEMENTS ? "exact" : "refined",
      ].join("\t"),
    );
  }
}
