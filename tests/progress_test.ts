/** `lib/io/progress.ts`: no `NaN` or `eta ?` when there is nothing to report yet. */
import assert from "node:assert/strict";
import { createProgress } from "../lib/io/progress.ts";

Deno.test("a field without a value is left out; a finished bar says eta 0s", () => {
  const lines: string[] = [];
  const p = createProgress(0, { label: "train", terminal: false, write: (t) => lines.push(t) });
  p.finish({ done: 0, fields: { loss: NaN, "img/s": 0 } });
  assert.equal(lines.length, 1);
  assert.doesNotMatch(lines[0], /NaN|eta \?/);
  assert.match(lines[0], /^train 0\/0 100% {2}img\/s 0\.0000 {2}elapsed 0s {2}eta 0s\n$/);
  const more: string[] = [];
  const q = createProgress(10, { terminal: false, write: (t) => more.push(t) });
  q.update({ done: 5, fields: { loss: 0.25 } });
  assert.match(more[0], /5\/10 50% {2}loss 0\.2500 {2}elapsed/);
});
