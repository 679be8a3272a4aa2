/**
 * `lib/data/fingerprint.ts`: the byte layout hashed, checked against Python's hashlib on the same
 * bytes (the expected digests were computed with `hashlib.sha256` and `struct.pack('<Q', n)`, as
 * the module documents); sensitivity to every change; Fashion-MNIST's loader fingerprint.
 */
import assert from "node:assert/strict";
import {
  dataDifferences,
  type DataProvenance,
  fingerprintArrays,
  fingerprintFiles,
  listFiles,
} from "../lib/data/fingerprint.ts";
import { EMBEDDED_FASHION_MNIST_DIR, loadFashionMnist } from "../lib/data/fashion_mnist.ts";

Deno.test("fingerprintArrays hashes name, type, length and bytes as documented (hashlib values)", () => {
  const fp = fingerprintArrays([
    ["labels", Int32Array.of(0, 1, 2)],
    ["images", Float32Array.of(0.5, 1)],
  ]);
  // python: sha256(b"labels\0int32\0" + pack("<Q", 12) + int32 bytes + b"images\0float32\0" + ...)
  assert.equal(fp, "sha256:7adaf35dc2caa8cdb43742e09960f827a45cec69a0ba170fabfa5fa57190783f");
  // A view hashes its own bytes only.
  const big = Int32Array.of(9, 0, 1, 2, 9);
  assert.equal(
    fingerprintArrays([["labels", big.subarray(1, 4)], ["images", Float32Array.of(0.5, 1)]]),
    fp,
  );
  const variants = [
    fingerprintArrays([["labels", Int32Array.of(0, 1, 3)], ["images", Float32Array.of(0.5, 1)]]),
    fingerprintArrays([["labels", Uint32Array.of(0, 1, 2)], ["images", Float32Array.of(0.5, 1)]]),
    fingerprintArrays([["label", Int32Array.of(0, 1, 2)], ["images", Float32Array.of(0.5, 1)]]),
    fingerprintArrays([["images", Float32Array.of(0.5, 1)], ["labels", Int32Array.of(0, 1, 2)]]),
    fingerprintArrays([["labels", Int32Array.of(0, 1)], ["images", Float32Array.of(2, 0.5, 1)]]),
  ];
  assert.equal(new Set([fp, ...variants]).size, 6, "every change gives another fingerprint");
  assert.throws(() => fingerprintArrays([["", Int32Array.of(1)]]), /non-empty name/);
  assert.throws(
    () => fingerprintArrays({ x: [1, 2] as unknown as Int32Array }),
    /"x" is not a typed array/,
  );
});

Deno.test("fingerprintFiles hashes sorted paths, sizes and contents (hashlib values)", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/b`);
    await Deno.writeTextFile(`${root}/b/x.txt`, "hello");
    await Deno.writeTextFile(`${root}/a.txt`, "");
    assert.deepEqual(await listFiles(root), ["a.txt", "b/x.txt"]);
    const full = await fingerprintFiles(root, ["b/x.txt", "a.txt"]);
    assert.equal(
      full.fingerprint,
      "sha256:9cc83133a2979beb8f8fae7d89205ed1dee0811596054b29b973f4a6a37e75c2",
    );
    assert.deepEqual([full.bytes, full.files], [5, 2]);
    const names = await fingerprintFiles(root, ["a.txt", "b/x.txt"], { contents: false });
    assert.equal(
      names.fingerprint,
      "sha256:1b9ffffd6dd820593ceb7d2c4d639adf2406e37ac26b1bfcb9897e70e525bb14",
    );
    // Same size, other content: only the content hash sees it.
    await Deno.writeTextFile(`${root}/b/x.txt`, "HELLO");
    assert.notEqual(
      (await fingerprintFiles(root, ["a.txt", "b/x.txt"])).fingerprint,
      full.fingerprint,
    );
    assert.equal(
      (await fingerprintFiles(root, ["a.txt", "b/x.txt"], { contents: false })).fingerprint,
      names.fingerprint,
    );
    await assert.rejects(fingerprintFiles(root, ["missing.png"]), /cannot read .*missing\.png/);
    await assert.rejects(fingerprintFiles(root, ["../etc/passwd"]), /without "\.\."/);
    await assert.rejects(fingerprintFiles(root, ["a.txt", "a.txt"]), /listed twice/);
    await assert.rejects(fingerprintFiles(root, ["b"]), /cannot read .*not a regular file/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("Fashion-MNIST: equal data give equal fingerprints, a limit or another source another", async () => {
  const a = await loadFashionMnist({ split: "test", source: EMBEDDED_FASHION_MNIST_DIR });
  const b = await loadFashionMnist({ split: "test", source: EMBEDDED_FASHION_MNIST_DIR });
  assert.equal(a.fingerprint, b.fingerprint);
  assert.equal(a.fingerprint, fingerprintArrays({ images: a.images, labels: a.labels }));
  const limited = await loadFashionMnist({
    split: "test",
    source: EMBEDDED_FASHION_MNIST_DIR,
    limit: 100,
  });
  assert.notEqual(limited.fingerprint, a.fingerprint);
  // The same content unpacked (plain IDX instead of .gz) is the same data.
  const dir = await Deno.makeTempDir();
  try {
    for (const name of ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]) {
      const gz = await Deno.open(`${EMBEDDED_FASHION_MNIST_DIR}/${name}.gz`);
      const bytes = new Uint8Array(
        await new Response(gz.readable.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer(),
      );
      await Deno.writeFile(`${dir}/${name}`, bytes);
    }
    assert.equal(
      (await loadFashionMnist({ split: "test", source: dir })).fingerprint,
      a.fingerprint,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dataDifferences matches parts by data set and split", () => {
  const part = (split: string, fp: string, count = 10): DataProvenance => ({
    dataset: "d",
    split,
    source: "/x",
    count,
    fingerprint: fp as `sha256:${string}`,
    fingerprintOf: "test",
  });
  const run = [part("train", "sha256:1"), part("test", "sha256:2")];
  assert.deepEqual(dataDifferences(run, [part("test", "sha256:2"), part("train", "sha256:1")]), []);
  const changed = dataDifferences(run, [part("train", "sha256:9"), part("test", "sha256:2")]);
  assert.equal(changed.length, 1);
  assert.equal(changed[0].current?.fingerprint, "sha256:9");
  assert.equal(dataDifferences(run, [part("train", "sha256:1")])[0].current, undefined);
  assert.equal(dataDifferences(run, [...run, part("extra", "sha256:3")])[0].recorded, undefined);
});
