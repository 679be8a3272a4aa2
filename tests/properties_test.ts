/**
 * Property-based tests (fast-check, fixed seed, bounded runs):
 *
 * - `parseIdx`: valid encodings round-trip; truncations, header byte flips and random bytes never
 *   make it throw anything but our Error with a `parseIdx:` message (and whatever it does accept
 *   re-encodes to the same bytes).
 * - distances: symmetry, non-negativity and, for the metrics that declare it, the triangle
 *   inequality, on inputs from each metric's declared domain, with float32 tolerances.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import * as tf from "@tensorflow/tfjs";
import { encodeIdx, type IdxArray, type IdxDtype, parseIdx } from "../lib/data/idx.ts";
import { metricNames, pairwiseDistances, resolveMetric } from "../lib/distances.ts";

await tf.setBackend("cpu");

const SEED = 20261128;
const RUNS = 100;

const DTYPES: IdxDtype[] = ["uint8", "int8", "int16", "int32", "float32", "float64"];

/** Arbitrary valid IDX arrays: 1–3 dimensions of 0–5, values of the dtype's range. */
const idxArray: fc.Arbitrary<IdxArray> = fc
  .record({
    dtype: fc.constantFrom(...DTYPES),
    shape: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 3 }),
  })
  .chain(({ dtype, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values: fc.Arbitrary<number> = {
      uint8: fc.integer({ min: 0, max: 255 }),
      int8: fc.integer({ min: -128, max: 127 }),
      int16: fc.integer({ min: -32768, max: 32767 }),
      int32: fc.integer(),
      float32: fc.float(),
      float64: fc.double(),
    }[dtype];
    return fc.array(values, { minLength: n, maxLength: n }).map((list): IdxArray => {
      const data = {
        uint8: () => Uint8Array.from(list),
        int8: () => Int8Array.from(list),
        int16: () => Int16Array.from(list),
        int32: () => Int32Array.from(list),
        float32: () => Float32Array.from(list),
        float64: () => Float64Array.from(list),
      }[dtype]();
      return { dtype, shape, data };
    });
  });

/** parseIdx either returns an array that re-encodes to `bytes`, or throws our Error. */
function parsesOrRefuses(bytes: Uint8Array): void {
  let parsed: IdxArray;
  try {
    parsed = parseIdx(bytes);
  } catch (e) {
    assert.ok(e instanceof Error, `parseIdx threw a non-Error: ${String(e)}`);
    assert.match(e.message, /^parseIdx: /);
    return;
  }
  assert.deepEqual(encodeIdx(parsed), bytes);
}

Deno.test("parseIdx: valid encodings round-trip", () => {
  fc.assert(
    fc.property(idxArray, (array) => {
      const bytes = encodeIdx(array);
      const back = parseIdx(bytes);
      assert.equal(back.dtype, array.dtype);
      assert.deepEqual(back.shape, array.shape);
      assert.equal(back.data.length, array.data.length);
      for (let i = 0; i < array.data.length; i++) {
        assert.ok(Object.is(back.data[i], array.data[i]), `element ${i}`);
      }
      assert.deepEqual(encodeIdx(back), bytes);
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

Deno.test("parseIdx: truncated encodings are refused with a parseIdx: message", () => {
  fc.assert(
    fc.property(idxArray, fc.nat(), (array, cut) => {
      const bytes = encodeIdx(array);
      const truncated = bytes.slice(0, cut % bytes.length);
      assert.throws(() => parseIdx(truncated), /^Error: parseIdx: /);
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

Deno.test("parseIdx: header byte flips give a valid array or our Error", () => {
  fc.assert(
    fc.property(
      idxArray,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      (array, flips) => {
        const bytes = encodeIdx(array);
        const header = 4 + 4 * array.shape.length;
        for (const [at, value] of flips) bytes[at % header] = value;
        parsesOrRefuses(bytes);
      },
    ),
    { seed: SEED, numRuns: RUNS },
  );
});

Deno.test("parseIdx: random bytes give a valid array or our Error", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        // Plausible headers: 00 00, a dtype code, a small ndim, then anything.
        fc.tuple(
          fc.constantFrom(0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x07, 0xff),
          fc.integer({ min: 0, max: 4 }),
          fc.uint8Array({ maxLength: 48 }),
        ).map(([code, ndim, rest]) => new Uint8Array([0, 0, code, ndim, ...rest])),
      ),
      parsesOrRefuses,
    ),
    { seed: SEED, numRuns: RUNS * 3 },
  );
});

/** Rows from a metric's declared domain: 3 rows of d values. */
function rows(domain: string): fc.Arbitrary<number[][]> {
  return fc.integer({ min: 1, max: 6 }).chain((d) => {
    const value: fc.Arbitrary<number> = domain === "binary"
      ? fc.constantFrom(0, 1)
      : domain === "nonnegative" || domain === "simplex"
      ? fc.float({ min: 0, max: 10, noNaN: true })
      : fc.float({ min: -10, max: 10, noNaN: true });
    const row = fc.array(value, { minLength: d, maxLength: d }).map((r) => {
      if (domain !== "simplex") return r;
      const s = r.reduce((a, b) => a + b, 0);
      return s > 0 ? r.map((v) => v / s) : r.map(() => 1 / d);
    });
    return fc.array(row, { minLength: 3, maxLength: 3 });
  });
}

/** Metrics with data-independent values (seuclidean/mahalanobis estimate V/VI from the inputs). */
const DISTANCES = metricNames().filter((name) => {
  const m = resolveMetric(name);
  return !m.isSimilarity && !["seuclidean", "mahalanobis"].includes(m.name) &&
    name === m.name;
});

for (const name of DISTANCES) {
  const metric = resolveMetric(name);
  const domain = metric.domain ?? "real";
  Deno.test(`distance ${name}: ${metric.axioms.symmetry ? "symmetry, " : ""}non-negativity${metric.axioms.triangleInequality ? ", triangle inequality" : ""} (${domain} inputs)`, () => {
    fc.assert(
      fc.property(rows(domain), (x) => {
        const t = tf.tensor2d(x);
        const dt = pairwiseDistances(t, t, name);
        const d = dt.arraySync() as number[][];
        tf.dispose([t, dt]);
        const scale = 1 + Math.max(...x.flat().map(Math.abs));
        // float32: relative 1e-5 of the input scale; the matmul form (‖x‖² + ‖y‖² − 2x·y)
        // loses more near 0, where the square root amplifies it.
        const tol = metric.form === "matmul" ? 2e-3 * scale : 1e-5 * scale * scale;
        for (let i = 0; i < 3; i++) {
          for (let j = 0; j < 3; j++) {
            const dij = d[i][j], dji = d[j][i];
            if (!metric.axioms.symmetry) {
              assert.ok(Number.isNaN(dij) || dij >= -tol, `${name}: d[${i}][${j}] = ${dij} < 0`);
              continue;
            }
            if (Number.isNaN(dij)) {
              assert.ok(Number.isNaN(dji), `${name}: d[${i}][${j}] NaN but d[${j}][${i}] = ${dji}`);
              continue;
            }
            assert.ok(
              Math.abs(dij - dji) <= tol,
              `${name}: d[${i}][${j}] ${dij} ≠ d[${j}][${i}] ${dji}`,
            );
            assert.ok(dij >= -tol, `${name}: d[${i}][${j}] = ${dij} < 0`);
            if (!metric.axioms.triangleInequality) continue;
            for (let k = 0; k < 3; k++) {
              if (Number.isNaN(d[i][k]) || Number.isNaN(d[k][j])) continue;
              assert.ok(
                dij <= d[i][k] + d[k][j] + 3 * tol,
                `${name}: d[${i}][${j}] ${dij} > d[${i}][${k}] ${d[i][k]} + d[${k}][${j}] ${
                  d[k][j]
                }`,
              );
            }
          }
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
}

Deno.test("the distance properties cover the metrics that declare the triangle inequality", () => {
  const withTriangle = DISTANCES.filter((n) => resolveMetric(n).axioms.triangleInequality);
  assert.ok(withTriangle.includes("euclidean") && withTriangle.includes("cityblock"));
  assert.ok(withTriangle.length >= 4, withTriangle.join(", "));
});

Deno.test("the triangle check can fail: fast-check finds a violation for sqeuclidean", () => {
  const result = fc.check(
    fc.property(rows("real"), (x) => {
      const t = tf.tensor2d(x);
      const dt = pairwiseDistances(t, t, "sqeuclidean");
      const d = dt.arraySync() as number[][];
      tf.dispose([t, dt]);
      return d[0][2] <= d[0][1] + d[1][2] + 1e-3;
    }),
    { seed: SEED, numRuns: RUNS },
  );
  assert.equal(result.failed, true);
});
