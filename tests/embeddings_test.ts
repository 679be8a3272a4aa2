/**
 * `loadEmbeddings` and `parseNpy` (`lib/data/embeddings.ts`): `.npy` files written by NumPy
 * (`tests/fixtures/npy_files.json`, from `bench/fixture_sections/npy_files.py`), CSV/TSV with a
 * label column, the TensorBoard projector's pair and the library's own exports, and every bad
 * input as a named error (never a NaN).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { loadFixture } from "./_fixtures.ts";
import { DataError, FileFormatError, loadEmbeddings, parseNpy } from "../lib/data/mod.ts";
import { writeNpy, writeProjectorTsv } from "../lib/io/export.ts";

await tf.setBackend("cpu");

interface NpyFixture {
  values: number[][];
  values64: number[][];
  labels: number[];
  ok: Record<string, string>;
  labels_files: Record<string, string>;
  bad: Record<string, string>;
}
const npy = loadFixture<NpyFixture>("npy_files").cases;
const bytesOf = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const dir = await Deno.makeTempDir({ prefix: "embeddings_test_" });

async function file(name: string, content: string | Uint8Array): Promise<string> {
  const path = `${dir}/${name}`;
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  return path;
}

function rowsOf(e: { embeddings: Float32Array; n: number; d: number }): number[][] {
  return Array.from(
    { length: e.n },
    (_, i) => Array.from(e.embeddings.subarray(i * e.d, (i + 1) * e.d)),
  );
}

Deno.test("loadEmbeddings .npy: float32/float64, both byte orders, versions 1 and 2, as NumPy wrote them", async () => {
  for (const [name, b64] of Object.entries(npy.ok)) {
    const path = await file(`${name}.npy`, bytesOf(b64));
    const e = await loadEmbeddings(path, { labels: npy.labels });
    assert.deepEqual(e.shape, [5, 3], name);
    assert.equal(e.format, "npy");
    const expected = name === "f8" ? npy.values64.map((r) => r.map(Math.fround)) : npy.values;
    assert.deepEqual(rowsOf(e), expected, name);
    assert.deepEqual([...e.labels!], npy.labels);
  }
});

Deno.test("loadEmbeddings .npy: labels from an integer .npy ([n] or [n, 1]) or a text file", async () => {
  const x = await file("x.npy", bytesOf(npy.ok.f4));
  for (const [name, b64] of Object.entries(npy.labels_files)) {
    const labels = await file(`labels_${name}.npy`, bytesOf(b64));
    assert.deepEqual([...(await loadEmbeddings(x, { labels })).labels!], npy.labels, name);
  }
  const text = await file("labels.txt", "cat\ndog\ncat\nemu\ndog\n");
  const e = await loadEmbeddings(x, { labels: text });
  assert.deepEqual([...e.labels!], [0, 1, 0, 2, 1]);
  assert.deepEqual(e.labelNames, ["cat", "dog", "emu"]);
  await assert.rejects(
    loadEmbeddings(x, { labels: await file("short.txt", "1\n2\n") }),
    /has 2 labels for 5 embeddings/,
  );
  await assert.rejects(
    loadEmbeddings(x, { labels: await file("gap.txt", "1\n\n2\n3\n4\n") }),
    /line 2 is empty/,
  );
  await assert.rejects(
    loadEmbeddings(x, { labels: await file("float_labels.npy", bytesOf(npy.ok.f4)) }),
    /shape \[5,3\]; labels need \[n\] or \[n, 1\]/,
  );
  await assert.rejects(loadEmbeddings(x, { labels: [1, 2] }), FileFormatError);
});

Deno.test("loadEmbeddings .npy: Fortran order, other dtypes, wrong rank, NaN and a short file are FileFormatErrors", async () => {
  const cases: [string, RegExp][] = [
    ["fortran", /Fortran order \(column-major\); save it in C order/],
    ["f2", /dtype <f2 is not supported here \(float32\/float64 expected\)/],
    ["i4", /dtype <i4 is not supported here/],
    ["one_d", /shape \[15\]; embeddings need \[n, d\]/],
    ["three_d", /shape \[5,3,1\]; embeddings need \[n, d\]/],
    ["nan", /row 3 holds NaN \(column 1\); embeddings must be finite/],
  ];
  for (const [name, message] of cases) {
    const path = await file(`bad_${name}.npy`, bytesOf(npy.bad[name]));
    await assert.rejects(loadEmbeddings(path), (e: unknown) => {
      assert.ok(e instanceof FileFormatError, `${name}: ${e}`);
      assert.match(e.message, message, name);
      assert.equal(e.path, path);
      return true;
    });
  }
  const short = bytesOf(npy.ok.f4);
  await assert.rejects(
    loadEmbeddings(await file("short.npy", short.subarray(0, short.length - 4))),
    /needs 60/,
  );
  assert.throws(
    () => parseNpy(new TextEncoder().encode("a,b\n1,2\n"), "t.npy"),
    /t\.npy: not a \.npy file/,
  );
  await assert.rejects(
    loadEmbeddings(`${dir}/missing.npy`),
    (e: unknown) => e instanceof DataError && /cannot read/.test(e.message),
  );
});

Deno.test("loadEmbeddings CSV/TSV: header detection, label column by name or index, names become sorted labels", async () => {
  const csv = await file("e.csv", "x,y,label\n0.5,1,cat\n-2,3e-1,dog\n1,1,cat\n");
  const e = await loadEmbeddings(csv);
  assert.equal(e.format, "csv");
  assert.deepEqual(rowsOf(e), [[0.5, 1], [-2, Math.fround(0.3)], [1, 1]]);
  assert.deepEqual([...e.labels!], [0, 1, 0]);
  assert.deepEqual(e.labelNames, ["cat", "dog"]);
  assert.deepEqual(e.metadata, { label: ["cat", "dog", "cat"] });
  // No header, label column by index, integer labels kept.
  const tsv = await file("e.tsv", "7\t0.1\t0.2\n3\t0.3\t0.4\n");
  const t = await loadEmbeddings(tsv, { labelColumn: 0 });
  assert.deepEqual([...t.labels!], [7, 3]);
  assert.equal(t.labelNames, undefined);
  assert.deepEqual(t.shape, [2, 2]);
  // No labels at all; quoted fields (d3-dsv).
  const plain = await loadEmbeddings(await file("p.csv", '"1.5",2\n3,4\n'));
  assert.deepEqual(rowsOf(plain), [[1.5, 2], [3, 4]]);
  assert.equal(plain.labels, undefined);
  const named = await loadEmbeddings(await file("n.csv", "a,b,species\n1,2,x\n3,4,y\n"), {
    labelColumn: "species",
  });
  assert.deepEqual([...named.labels!], [0, 1]);
  await assert.rejects(
    loadEmbeddings(csv, { labelColumn: "kind" }),
    /labelColumn "kind" is not in the header .*\(x, y, label\)/,
  );
});

Deno.test("loadEmbeddings CSV/TSV: ragged rows, non-numbers and non-finite values are FileFormatErrors with the line", async () => {
  const cases: [string, string, RegExp, number][] = [
    ["ragged.csv", "1,2,3\n4,5\n", /line 2 has 2 fields, line 1 has 3 \(ragged rows\)/, 2],
    ["nan.csv", "x,y\n1,2\n3,NaN\n", /line 3 column 2: "NaN" is not a finite number/, 3],
    ["inf.tsv", "1\t2\n3\tInfinity\n", /line 2 column 2: "Infinity" is not a finite number/, 2],
    ["text.csv", "1,2\n3,abc\n", /line 2 column 2: "abc" is not a finite number/, 2],
    ["empty_cell.csv", "1,2\n3,\n", /line 2 column 2: "" is not a finite number/, 2],
    ["label.csv", "0.1,0.2,cat\n0.3,0.4,dog\n", /line 1 column 3: "cat" .*pass labelColumn/, 1],
  ];
  for (const [name, content, message, line] of cases) {
    await assert.rejects(loadEmbeddings(await file(name, content)), (e: unknown) => {
      assert.ok(e instanceof FileFormatError, `${name}: ${e}`);
      assert.match(e.message, message, name);
      assert.equal(e.line, line, name);
      return true;
    });
  }
  await assert.rejects(loadEmbeddings(await file("blank.csv", "\n\n")), /is empty/);
  await assert.rejects(
    loadEmbeddings(await file("ok.csv", "1,2\n"), { header: "maybe" as never }),
    TypeError,
  );
  await assert.rejects(
    loadEmbeddings(await file("ok2.csv", "1,2\n"), { colour: 1 } as never),
    /unknown option "colour"/,
  );
});

Deno.test("loadEmbeddings: the projector's vectors.tsv + metadata.tsv and the library's exports round-trip", async () => {
  const x = tf.tensor2d([[1, 2, 3], [4, 5, 6], [7, 8, 9]]);
  await writeProjectorTsv(`${dir}/one`, x, { label: [2, 0, 2] });
  const one = await loadEmbeddings(`${dir}/one`);
  assert.equal(one.format, "projector");
  assert.deepEqual(rowsOf(one), await x.array());
  assert.deepEqual([...one.labels!], [2, 0, 2]);
  await writeProjectorTsv(`${dir}/two`, x, { index: [0, 1, 2], class: ["Bag", "Coat", "Bag"] });
  const two = await loadEmbeddings(`${dir}/two`, { labelColumn: "class" });
  assert.deepEqual([...two.labels!], [0, 1, 0]);
  assert.deepEqual(two.labelNames, ["Bag", "Coat"]);
  assert.deepEqual(Object.keys(two.metadata!), ["index", "class"]);
  // Vectors file plus an explicit metadata file.
  const viaFile = await loadEmbeddings(`${dir}/two/vectors.tsv`, {
    metadata: `${dir}/one/metadata.tsv`,
  });
  assert.deepEqual([...viaFile.labels!], [2, 0, 2]);
  await Deno.writeTextFile(`${dir}/one/metadata.tsv`, "1\n2\n");
  await assert.rejects(loadEmbeddings(`${dir}/one`), /metadata\.tsv has 2 rows for 3 embeddings/);
  await writeNpy(`${dir}/exported.npy`, x);
  assert.deepEqual(rowsOf(await loadEmbeddings(`${dir}/exported.npy`)), await x.array());
  x.dispose();
});
