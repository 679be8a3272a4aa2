/**
 * `deno task bench losses`: its options and its registry (every exported loss is found, so a new
 * loss is benched without editing the bench).
 */
import assert from "node:assert/strict";
import { lossRegistry, parseLossesArgs } from "../bench/losses_bench.ts";
import * as losses from "../lib/losses/mod.ts";

Deno.test("bench losses: options are parsed and checked", () => {
  const a = parseLossesArgs(["--steps", "3", "--only", "ntXentLoss,supConLoss", "--no-simd"]);
  assert.equal(a.steps, 3);
  assert.deepEqual(a.only, ["ntXentLoss", "supConLoss"]);
  assert.equal(a.simd, false);
  assert.equal(parseLossesArgs([]).batch, 128);
  assert.throws(() => parseLossesArgs(["--steps", "0"]), /--steps needs an integer ≥ 1, got 0/);
  assert.throws(() => parseLossesArgs(["--fast"]), /unknown option --fast/);
});

Deno.test("bench losses: the registry holds every exported loss", () => {
  const { entries, skipped } = lossRegistry();
  const exported = Object.entries(losses).filter(([, v]) => losses.isLoss(v)).map(([k]) => k);
  assert.deepEqual(
    [...entries.map((e) => e.name), ...skipped.map(([n]) => n)].sort(),
    exported.sort(),
  );
  assert.ok(entries.some((e) => e.name === "contrastiveLoss"));
  assert.ok(exported.length >= 12);
});
