import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { encodeIdx } from "../lib/data/idx.ts";
import {
  EMBEDDED_FASHION_MNIST_DIR,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_FILES,
  loadFashionMnist,
  type LoadFashionMnistOptions,
  toTensors,
} from "../lib/data/fashion_mnist.ts";

const ENV = "FASHION_MNIST_DIR";
const NO_FALLBACK = { debian: null, downloaded: null, embedded: null };

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

interface TinySet {
  /** number of images; pixel (i, r, c) = (i + r + c) % 256; label i = labels[i] */
  n: number;
  labels?: number[];
  labelCount?: number;
  side?: [number, number];
  gz?: boolean;
  split?: "train" | "test";
}

/** Writes a tiny hand-made split into `dir` (created). */
async function writeTiny(dir: string, set: TinySet): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const [h, w] = set.side ?? [28, 28];
  const pixels = new Uint8Array(set.n * h * w);
  for (let i = 0; i < set.n; i++) {
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) pixels[(i * h + r) * w + c] = (i + r + c) % 256;
    }
  }
  const labels = Uint8Array.from(
    set.labels ?? Array.from({ length: set.labelCount ?? set.n }, (_, i) => i % 10),
  );
  const prefix = (set.split ?? "train") === "train" ? "train" : "t10k";
  const files: [string, Uint8Array][] = [
    [
      `${prefix}-images-idx3-ubyte`,
      encodeIdx({ dtype: "uint8", shape: [set.n, h, w], data: pixels }),
    ],
    [
      `${prefix}-labels-idx1-ubyte`,
      encodeIdx({ dtype: "uint8", shape: [labels.length], data: labels }),
    ],
  ];
  for (const [name, bytes] of files) {
    if (set.gz) await Deno.writeFile(`${dir}/${name}.gz`, await gzip(bytes));
    else await Deno.writeFile(`${dir}/${name}`, bytes);
  }
}

/** Runs `fn` with FASHION_MNIST_DIR set to `value` (or unset), restoring it afterwards. */
async function withEnv<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = Deno.env.get(ENV);
  if (value === undefined) Deno.env.delete(ENV);
  else Deno.env.set(ENV, value);
  try {
    return await fn();
  } finally {
    if (saved === undefined) Deno.env.delete(ENV);
    else Deno.env.set(ENV, saved);
  }
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fmnist_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("FASHION_MNIST_CLASSES: the ten names in label order", () => {
  assert.deepEqual([...FASHION_MNIST_CLASSES], [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
  ]);
  assert.equal(FASHION_MNIST_FILES.length, 4);
});

Deno.test("loadFashionMnist: source order option > env > debian > downloaded > embedded", async () => {
  await withTempDir(async (root) => {
    const [opt, env, deb, full, emb] = ["opt", "env", "deb", "full", "emb"].map((d) =>
      `${root}/${d}`
    );
    await writeTiny(opt, { n: 2 });
    await writeTiny(env, { n: 3, gz: true });
    await writeTiny(deb, { n: 4 });
    await writeTiny(full, { n: 5, gz: true });
    await writeTiny(emb, { n: 6 });
    const fallbackDirs = { debian: deb, downloaded: full, embedded: emb };
    const load = (o: Partial<LoadFashionMnistOptions> = {}) =>
      loadFashionMnist({ split: "train", fallbackDirs, ...o });

    await withEnv(env, async () => {
      let ds = await load({ source: opt });
      assert.deepEqual([ds.n, ds.source.kind, ds.source.dir], [2, "option", opt]);
      ds = await load();
      assert.deepEqual([ds.n, ds.source.kind, ds.source.dir], [3, "env", env]);
    });
    await withEnv(undefined, async () => {
      let ds = await load();
      assert.deepEqual([ds.n, ds.source.kind, ds.source.dir], [4, "debian", deb]);
      ds = await load({ fallbackDirs: { ...fallbackDirs, debian: `${root}/nowhere` } });
      assert.deepEqual([ds.n, ds.source.kind, ds.source.dir], [5, "downloaded", full]);
      ds = await load({
        fallbackDirs: { debian: `${root}/nowhere`, downloaded: null, embedded: emb },
      });
      assert.deepEqual([ds.n, ds.source.kind, ds.source.dir], [6, "embedded", emb]);
      // A directory that holds only the other split does not count as found.
      await writeTiny(`${root}/testonly`, { n: 1, split: "test" });
      ds = await load({ fallbackDirs: { ...fallbackDirs, debian: `${root}/testonly` } });
      assert.equal(ds.source.kind, "downloaded");
      await assert.rejects(
        loadFashionMnist({ split: "train", fallbackDirs: NO_FALLBACK }),
        /no Fashion-MNIST train files found/,
      );
    });
  });
});

Deno.test("loadFashionMnist: a given source or env dir without the files throws", async () => {
  await withTempDir(async (root) => {
    await writeTiny(`${root}/good`, { n: 2 });
    const fallbackDirs = { debian: `${root}/good`, downloaded: null, embedded: null };
    await withEnv(`${root}/missing`, async () => {
      await assert.rejects(
        loadFashionMnist({ split: "train", fallbackDirs }),
        /FASHION_MNIST_DIR=.*missing lacks train-images-idx3-ubyte\(\.gz\) and train-labels/,
      );
    });
    await withEnv(undefined, async () => {
      await assert.rejects(
        loadFashionMnist({ split: "train", source: `${root}/missing`, fallbackDirs }),
        /source directory .*missing lacks train-images-idx3-ubyte/,
      );
      // Only the labels are missing.
      await Deno.remove(`${root}/good/train-labels-idx1-ubyte`);
      await assert.rejects(
        loadFashionMnist({ split: "train", source: `${root}/good` }),
        /lacks train-labels-idx1-ubyte\(\.gz\)$/,
      );
    });
  });
});

Deno.test("loadFashionMnist: .gz and plain files give the same values", async () => {
  await withTempDir(async (root) => {
    await writeTiny(`${root}/plain`, { n: 3, labels: [9, 0, 4], split: "test" });
    await writeTiny(`${root}/gz`, { n: 3, labels: [9, 0, 4], split: "test", gz: true });
    const a = await loadFashionMnist({ split: "test", source: `${root}/plain` });
    const b = await loadFashionMnist({ split: "test", source: `${root}/gz` });
    for (const ds of [a, b]) {
      assert.equal(ds.n, 3);
      assert.deepEqual(ds.shape, [3, 28, 28, 1]);
      assert.equal(ds.images.length, 3 * 784);
      assert.deepEqual(Array.from(ds.labels), [9, 0, 4]);
      assert.ok(ds.labels instanceof Int32Array);
      assert.equal(ds.classNames, FASHION_MNIST_CLASSES);
      // pixel (i, r, c) = (i + r + c) % 256, scaled by 1/255
      for (const [i, r, c] of [[0, 0, 0], [1, 2, 3], [2, 27, 27]]) {
        assert.equal(ds.images[i * 784 + r * 28 + c], Math.fround((i + r + c) / 255));
      }
    }
    assert.deepEqual(a.images, b.images);
    assert.deepEqual(a.source, { kind: "option", dir: `${root}/plain` });
  });
});

Deno.test("loadFashionMnist: limit keeps the first images", async () => {
  await withTempDir(async (root) => {
    await writeTiny(root, { n: 5, labels: [1, 2, 3, 4, 5] });
    const ds = await loadFashionMnist({ split: "train", source: root, limit: 2 });
    assert.equal(ds.n, 2);
    assert.deepEqual(Array.from(ds.labels), [1, 2]);
    assert.equal(ds.images.length, 2 * 784);
    assert.equal(ds.images[784 + 1], Math.fround(2 / 255));
    const all = await loadFashionMnist({ split: "train", source: root, limit: 100 });
    assert.equal(all.n, 5);
    await assert.rejects(
      loadFashionMnist({ split: "train", source: root, limit: 0 }),
      /limit must be a positive integer, got 0/,
    );
  });
});

Deno.test("loadFashionMnist: inconsistent files throw naming the problem", async () => {
  await withTempDir(async (root) => {
    await writeTiny(`${root}/count`, { n: 3, labelCount: 4 });
    await assert.rejects(
      loadFashionMnist({ split: "train", source: `${root}/count` }),
      /image and label counts differ: 3 images .* 4 labels/,
    );
    await writeTiny(`${root}/label`, { n: 3, labels: [0, 10, 2] });
    await assert.rejects(
      loadFashionMnist({ split: "train", source: `${root}/label` }),
      /label 10 at index 1 is outside 0\.\.9/,
    );
    await writeTiny(`${root}/shape`, { n: 2, side: [28, 27] });
    await assert.rejects(
      loadFashionMnist({ split: "train", source: `${root}/shape` }),
      /images must have shape \[n, 28, 28\], got \[2, 28, 27\]/,
    );
    await writeTiny(`${root}/trunc`, { n: 2 });
    const img = `${root}/trunc/train-images-idx3-ubyte`;
    const bytes = await Deno.readFile(img);
    await Deno.writeFile(img, bytes.subarray(0, bytes.length - 1));
    await assert.rejects(
      loadFashionMnist({ split: "train", source: `${root}/trunc` }),
      /train-images-idx3-ubyte: parseIdx: truncated body/,
    );
  });
  await assert.rejects(
    loadFashionMnist({ split: "validation" as "train" }),
    /unknown split "validation"/,
  );
});

Deno.test("loadFashionMnist: the embedded subset is class-balanced", async () => {
  await withEnv(undefined, async () => {
    const fallbackDirs = { debian: null, downloaded: null };
    for (const [split, perClass] of [["train", 1000], ["test", 200]] as const) {
      const ds = await loadFashionMnist({ split, fallbackDirs });
      assert.equal(ds.source.kind, "embedded");
      assert.equal(ds.source.dir, EMBEDDED_FASHION_MNIST_DIR);
      assert.equal(ds.n, 10 * perClass);
      assert.equal(ds.images.length, ds.n * 784);
      const counts = new Array(10).fill(0);
      for (const y of ds.labels) counts[y]++;
      assert.deepEqual(counts, new Array(10).fill(perClass));
      let min = Infinity;
      let max = -Infinity;
      for (const v of ds.images) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      assert.equal(min, 0);
      assert.equal(max, 1);
    }
  });
});

Deno.test("toTensors: x [n, 28, 28, 1] float32, y [n] int32", async () => {
  await withTempDir(async (root) => {
    await writeTiny(root, { n: 3, labels: [7, 8, 9] });
    const ds = await loadFashionMnist({ split: "train", source: root });
    const { x, y } = toTensors(ds);
    try {
      assert.deepEqual(x.shape, [3, 28, 28, 1]);
      assert.equal(x.dtype, "float32");
      assert.deepEqual(y.shape, [3]);
      assert.equal(y.dtype, "int32");
      assert.deepEqual(Array.from(await y.data()), [7, 8, 9]);
      const xs = await x.data();
      assert.equal(xs[2 * 784 + 5 * 28 + 6], Math.fround((2 + 5 + 6) / 255));
    } finally {
      tf.dispose([x, y]);
    }
  });
});
