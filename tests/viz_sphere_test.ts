/** `sphereFigure`: embeddings on the unit circle or sphere with a loss's learned class vectors. */
import assert from "node:assert/strict";
import { sphereFigure } from "../lib/viz/mod.ts";

Deno.test("sphereFigure: points scaled to the unit circle, one trace per class, proxies as rays", () => {
  const fig = sphereFigure([3, 4, 0, -2, 1, 1], [1, 0, 1], 2, {
    proxies: [0, 5, 2, 0],
    classNames: ["a", "b"],
    title: "t",
  });
  const [circle, a, b, p0, p1] = fig.data as Record<string, number[] & unknown>[];
  assert.equal(circle.name, "unit circle");
  assert.deepEqual([a.name, b.name], ["a", "b"]);
  assert.deepEqual(a.x, [0]);
  assert.deepEqual(a.y, [-1]);
  assert.deepEqual(b.x, [0.6, 0.70711]);
  assert.deepEqual(b.y, [0.8, 0.70711]);
  assert.deepEqual([p0.x, p0.y], [[0, 0], [0, 1]]);
  assert.deepEqual([p1.x, p1.y], [[0, 1], [0, 0]]);
  assert.equal(p0.name, "a (learned)");
  assert.equal((fig.layout.yaxis as { scaleanchor: string }).scaleanchor, "x");
});

Deno.test("sphereFigure: 3-D with several centers per class; bad shapes are errors", () => {
  const fig = sphereFigure([1, 0, 0, 0, 0, 2], [0, 1], 3, {
    proxies: [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1],
    proxyLabels: [0, 0, 1, 1],
  });
  assert.equal(fig.data.filter((t) => t.name === "unit sphere").length, 3);
  const rays = fig.data.filter((t) => String(t.name).endsWith("(learned)"));
  assert.equal(rays.length, 4);
  assert.deepEqual(rays.map((r) => r.showlegend), [true, false, true, false]);
  assert.ok(fig.data.every((t) => t.type === "scatter3d"));
  assert.ok("scene" in fig.layout);
  assert.throws(() => sphereFigure([1, 2, 3], [0], 2), /3 values for 1 labels of dimension 2/);
  assert.throws(() => sphereFigure([1, 2], [0], 4 as 2), /dim must be 2 or 3/);
  assert.throws(
    () => sphereFigure([1, 0], [0], 2, { proxies: [1, 0], proxyLabels: [0, 1] }),
    /2 proxy labels for 1 proxies/,
  );
});
