/**
 * Image decoding, transforms and image folders (`lib/data/images.ts`, `image_folder.ts`,
 * `image_loader.ts`): against torchvision's `ImageFolder` and transforms on the same files
 * (`tests/fixtures/image_folder.json`, from `bench/fixture_sections/image_folder.py`), hand-worked
 * geometry, streaming against in-memory batches, and every bad input as a named error or a
 * reported skip.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { encode as encodePng } from "fast-png";
import { loadFixture } from "./_fixtures.ts";
import {
  compareCodePoints,
  DatasetLayoutError,
  decodeImage,
  encodeImage,
  fitGeometry,
  imageBatches,
  ImageDecodeError,
  ImageSizeError,
  loadImageFolder,
  loadImages,
  mPerClassSampler,
  readImage,
  scanImageFolder,
  shuffledBatches,
  sniffImageFormat,
  transformImage,
  writeImageFolder,
} from "../lib/data/mod.ts";

await tf.setBackend("cpu");

interface FolderFixture {
  files: { path: string; base64: string; note: string }[];
  classes: string[];
  samples: string[];
  targets: number[];
  sizes: [number, number][];
  decoded: string[];
  configs: {
    name: string;
    size: number | [number, number];
    channels: 1 | 3;
    fit: "center-crop" | "stretch";
    filter: "hamming" | "box" | "lanczos3";
    pixels: string[];
  }[];
}

const fixture = loadFixture<FolderFixture>("image_folder").cases;
const bytesOf = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

async function writeTree(files: { path: string; bytes: Uint8Array | string }[]): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "images_test_" });
  for (const f of files) {
    const p = `${root}/${f.path}`;
    await Deno.mkdir(p.slice(0, p.lastIndexOf("/")), { recursive: true });
    if (typeof f.bytes === "string") await Deno.writeTextFile(p, f.bytes);
    else await Deno.writeFile(p, f.bytes);
  }
  return root;
}

const fixtureRoot = await writeTree(
  fixture.files.map((f) => ({ path: f.path, bytes: bytesOf(f.base64) })),
);

/** A small RGB picture with a gradient, as PNG or JPEG. */
function picture(w: number, h: number, seed: number, format: "png" | "jpeg" = "png") {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    const x = i % w, y = Math.floor(i / w);
    data[3 * i] = (x * 37 + seed * 50) % 256;
    data[3 * i + 1] = (y * 23 + seed * 11) % 256;
    data[3 * i + 2] = ((x + y) * 13 + seed) % 256;
  }
  return encodeImage(data, { width: w, height: h, channels: 3, format });
}

Deno.test("scanImageFolder: classes, order and labels as torchvision's ImageFolder", async () => {
  const list = await scanImageFolder(fixtureRoot, { minPerClass: 1 });
  assert.deepEqual(list.classNames, fixture.classes);
  assert.deepEqual(list.paths.map((p) => p.slice(fixtureRoot.length + 1)), fixture.samples);
  assert.deepEqual([...list.labels], fixture.targets);
});

Deno.test("decodeImage: every PNG mode and JPEG (grey, 4:4:4, 4:2:0) exactly as Pillow's convert('RGB')", async () => {
  for (const [i, s] of fixture.samples.entries()) {
    const img = await decodeImage(Deno.readFileSync(`${fixtureRoot}/${s}`), { path: s });
    assert.deepEqual([img.width, img.height], fixture.sizes[i], s);
    const ref = bytesOf(fixture.decoded[i]);
    let max = 0, sum = 0;
    for (let k = 0; k < ref.length; k++) {
      const v = img.channels === 3 ? img.data[k] : img.data[Math.floor(k / 3)];
      max = Math.max(max, Math.abs(v - ref[k]));
      sum += Math.abs(v - ref[k]);
    }
    // mozjpeg (WebAssembly) and Pillow's libjpeg-turbo agree sample for sample.
    assert.equal(max, 0, `${s} (${img.format}): mean difference ${sum / ref.length}`);
  }
});

Deno.test("loadImages: pixels as torchvision's Resize + CenterCrop (or Resize to [h, w]) + ToTensor", async () => {
  for (const c of fixture.configs) {
    for (const workers of [0, 2]) {
      const ds = await loadImageFolder(fixtureRoot, {
        size: c.size,
        channels: c.channels,
        fit: c.fit,
        filter: c.filter,
        minPerClass: 1,
        workers,
        progress: false,
      });
      const [h, w] = typeof c.size === "number" ? [c.size, c.size] : c.size;
      assert.deepEqual(ds.shape, [fixture.samples.length, h, w, c.channels]);
      const per = h * w * c.channels;
      c.pixels.forEach((b64, i) => {
        const ref = bytesOf(b64);
        let max = 0, sum = 0;
        for (let k = 0; k < per; k++) {
          const v = ds.images[i * per + k];
          assert.ok(v >= 0 && v <= 1);
          const d = Math.abs(Math.round(v * 255) - ref[k]);
          max = Math.max(max, d);
          sum += d;
        }
        // pica and Pillow agree within one level with the default hamming filter; box and
        // lanczos3 choose the taps at a window's edge differently, which shows on the 1-bit
        // and the grey+alpha test images (up to 21 levels, mean under 2).
        const maxAllowed = c.filter === "hamming" ? 1 : 22;
        assert.ok(max <= maxAllowed, `${c.name} ${fixture.samples[i]}: max difference ${max}`);
        assert.ok(sum / per < 2, `${c.name} ${fixture.samples[i]}: mean ${sum / per}`);
      });
    }
  }
});

Deno.test("fitGeometry: torchvision's sizes and crop offsets (Python's round half to even)", () => {
  // Resize(16) of 50×40 (w×h): shorter side 40 → 16, longer int(16·50/40) = 20; crop left round(2) = 2.
  assert.deepEqual(fitGeometry(40, 50, [16, 16], "center-crop"), {
    resized: [16, 20],
    top: 0,
    left: 2,
  });
  // Resize(16) of 21×16: longer int(16·21/16) = 21; round((21 − 16)/2) = round(2.5) = 2 (not 3).
  assert.deepEqual(fitGeometry(16, 21, [16, 16], "center-crop"), {
    resized: [16, 21],
    top: 0,
    left: 2,
  });
  // round(3.5) = 4.
  assert.deepEqual(fitGeometry(16, 23, [16, 16], "center-crop"), {
    resized: [16, 23],
    top: 0,
    left: 4,
  });
  assert.deepEqual(fitGeometry(30, 10, [8, 8], "center-crop"), {
    resized: [24, 8],
    top: 8,
    left: 0,
  });
  assert.deepEqual(fitGeometry(30, 10, [8, 12], "stretch"), { resized: [8, 12], top: 0, left: 0 });
});

Deno.test("transformImage: grey is Pillow's luma, RGB from grey replicates, values are v/255", async () => {
  // (0, 190, 105): Pillow's integer formula gives 124, rounding 0.299R + 0.587G + 0.114B gives 123.
  const img = await decodeImage(
    encodeImage(new Uint8Array([255, 0, 0, 0, 255, 0, 0, 190, 105, 10, 20, 30]), {
      width: 4,
      height: 1,
      channels: 3,
    }),
  );
  const grey = await transformImage(img, { channels: 1 });
  // (19595·R + 38470·G + 7471·B + 32768) >> 16
  const luma = (r: number, g: number, b: number) =>
    (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
  assert.deepEqual(
    Array.from(grey.data, (v) => Math.round(v * 255)),
    [luma(255, 0, 0), luma(0, 255, 0), 124, luma(10, 20, 30)],
  );
  const rgb = await transformImage(
    await decodeImage(encodeImage(new Uint8Array([7, 200]), { width: 2, height: 1, channels: 1 })),
    { channels: 3 },
  );
  assert.deepEqual(Array.from(rgb.data), [7, 7, 7, 200, 200, 200].map((v) => Math.fround(v / 255)));
  assert.deepEqual(rgb.shape, [1, 2, 3]);
});

Deno.test("sniffImageFormat and encodeImage round trips", async () => {
  const png = encodeImage(new Float32Array([0, 0.5, 1, 0.25]), {
    width: 2,
    height: 2,
    channels: 1,
  });
  assert.equal(sniffImageFormat(png), "png");
  assert.deepEqual([...(await decodeImage(png)).data], [0, 128, 255, 64]);
  assert.equal(sniffImageFormat(picture(8, 8, 1, "jpeg")), "jpeg");
  assert.equal(sniffImageFormat(new TextEncoder().encode("GIF89a......")), "gif");
  assert.equal(sniffImageFormat(new TextEncoder().encode("BM..........")), "bmp");
  assert.throws(
    () => encodeImage(new Uint8Array(5), { width: 2, height: 2, channels: 1 }),
    TypeError,
  );
  assert.throws(
    () => encodeImage(new Float32Array([NaN, 0, 0, 0]), { width: 2, height: 2, channels: 1 }),
    /value 0 is NaN/,
  );
});

Deno.test("decodeImage: corrupt, truncated, empty and non-image bytes are ImageDecodeErrors naming the file", async () => {
  const png = picture(16, 16, 2);
  const corrupt = png.slice();
  corrupt[60] ^= 0xff; // inside IDAT: the chunk's CRC no longer matches
  const jpg = picture(32, 32, 3, "jpeg");
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(0), /x\.img is empty/],
    [corrupt, /x\.img: corrupt or truncated PNG/],
    [png.subarray(0, 40), /x\.img: corrupt or truncated PNG/],
    [
      jpg.subarray(0, Math.floor(jpg.length / 2)),
      /x\.img: corrupt or truncated JPEG: Premature end of JPEG file/,
    ],
    [jpg.subarray(0, 100), /x\.img: corrupt or truncated JPEG/],
    [new TextEncoder().encode("just some text"), /x\.img is not an image/],
    [
      new TextEncoder().encode("BM\0\0\0\0\0\0\0\0\0\0\0\0"),
      /x\.img is a BMP file; the decoders read PNG and JPEG/,
    ],
    [new TextEncoder().encode("RIFF\0\0\0\0WEBPVP8 "), /a WEBP file/],
  ];
  for (const [bytes, message] of cases) {
    await assert.rejects(decodeImage(bytes, { path: "x.img" }), (e: unknown) => {
      assert.ok(e instanceof ImageDecodeError, String(e));
      assert.equal(e.path, "x.img");
      assert.match(e.message, message);
      return true;
    });
  }
  await assert.rejects(
    decodeImage(picture(40, 30, 1), { path: "big.png", maxMegapixels: 0.001 }),
    /over maxMegapixels/,
  );
  // A PNG with stored (uncompressed) deflate blocks: a flipped pixel byte still inflates, and only
  // the chunk's CRC tells that the file is corrupt.
  const stored = encodePng({
    width: 8,
    height: 8,
    data: new Uint8Array(64).fill(100),
    channels: 1,
    depth: 8,
  }, {
    zlib: { level: 0 },
  });
  const idat = stored.findIndex((_, i) =>
    String.fromCharCode(...stored.subarray(i, i + 4)) === "IDAT"
  );
  const flipped = stored.slice();
  flipped[idat + 4 + 20] ^= 0x01;
  await assert.rejects(
    decodeImage(flipped, { path: "crc.png" }),
    /crc\.png: corrupt or truncated PNG: .*CRC/i,
  );
});

Deno.test("scanImageFolder: bad layouts are DatasetLayoutErrors, or reported skips", async () => {
  const empty = await Deno.makeTempDir();
  await assert.rejects(scanImageFolder(empty), (e: unknown) => {
    assert.ok(e instanceof DatasetLayoutError);
    assert.match(e.message, /has no class folders \(it is empty\)/);
    return true;
  });
  await assert.rejects(scanImageFolder(`${empty}/missing`), DatasetLayoutError);
  const loose = await writeTree([{ path: "a.png", bytes: picture(4, 4, 1) }]);
  await assert.rejects(
    scanImageFolder(loose),
    /holds 1 images directly; put each class's images in a sub-folder/,
  );

  const single = await writeTree([
    { path: "cat/1.png", bytes: picture(4, 4, 1) },
    { path: "cat/2.png", bytes: picture(4, 4, 2) },
    { path: "dog/1.png", bytes: picture(4, 4, 3) },
  ]);
  await assert.rejects(scanImageFolder(single), (e: unknown) => {
    assert.ok(e instanceof DatasetLayoutError);
    assert.match(e.message, /dog \(1\) has fewer than minPerClass = 2 images/);
    return true;
  });
  const lines: string[] = [];
  const skipped = await scanImageFolder(single, { onError: "skip", log: (l) => lines.push(l) });
  assert.deepEqual(skipped.classNames, ["cat", "dog"]); // labels keep torchvision's indices
  assert.deepEqual([...skipped.labels], [0, 0]);
  assert.equal(skipped.skipped.length, 1);
  assert.match(lines[0], /skipped .*dog/);
  assert.equal((await scanImageFolder(single, { minPerClass: 1 })).paths.length, 3);

  const withText = await writeTree([
    { path: "cat/1.png", bytes: picture(4, 4, 1) },
    { path: "cat/2.png", bytes: picture(4, 4, 2) },
    { path: "cat/notes.txt", bytes: "not an image" },
    { path: "cat/.DS_Store", bytes: "hidden: ignored" },
    { path: ".ipynb_checkpoints/x.png", bytes: picture(4, 4, 2) },
  ]);
  await assert.rejects(scanImageFolder(withText), /notes\.txt is not an image file/);
  const s = await scanImageFolder(withText, { onError: "skip", log: () => {} });
  assert.deepEqual(s.classNames, ["cat"]);
  assert.equal(s.paths.length, 2);
  assert.match(s.skipped[0].path, /notes\.txt$/);

  const noImages = await writeTree([
    { path: "cat/1.png", bytes: picture(4, 4, 1) },
    { path: "cat/2.png", bytes: picture(4, 4, 1) },
    { path: "empty/readme.md", bytes: "x" },
  ]);
  await assert.rejects(
    scanImageFolder(noImages, { extensions: [".png", ".md"] }),
    /empty \(1\) has fewer/,
  );
  await Deno.mkdir(`${noImages}/void`);
  await Deno.remove(`${noImages}/empty`, { recursive: true });
  await assert.rejects(scanImageFolder(noImages), /class folder .*void holds no image/);
  await Deno.writeTextFile(`${noImages}/void/readme.md`, "x");
  await assert.rejects(
    scanImageFolder(noImages, { onError: "throw", extensions: [".png"] }),
    /readme\.md is not an image/,
  );
  await assert.rejects(
    scanImageFolder(noImages, { subset: "everything" as "all" }),
    /subset must be/,
  );
  await assert.rejects(
    scanImageFolder(noImages, { colour: 1 } as never),
    /unknown option "colour"/,
  );
});

Deno.test("loadImages: corrupt, unreadable and non-image files stop the load, or are skipped and reported", async () => {
  const jpg = picture(20, 20, 1, "jpeg");
  const root = await writeTree([
    { path: "a/1.png", bytes: picture(10, 10, 1) },
    { path: "a/2.png", bytes: picture(10, 10, 2) },
    { path: "a/3.jpg", bytes: jpg.subarray(0, 100) },
    { path: "b/1.png", bytes: picture(10, 10, 3) },
    { path: "b/2.png", bytes: "this is text" },
    { path: "b/3.png", bytes: picture(10, 10, 4) },
  ]);
  await Deno.writeFile(`${root}/b/4.png`, picture(10, 10, 5));
  const list = await scanImageFolder(root);
  await Deno.remove(`${root}/b/4.png`); // listed, then gone: unreadable
  for (const workers of [0, 1]) {
    await assert.rejects(
      loadImages(list, { size: 8, workers, progress: false }),
      (e: unknown) => {
        assert.ok(e instanceof ImageDecodeError, String(e));
        assert.match(e.message, /3\.jpg: corrupt or truncated JPEG/);
        assert.match(e.path, /a\/3\.jpg$/);
        return true;
      },
    );
    const lines: string[] = [];
    const ds = await loadImages(list, {
      size: 8,
      workers,
      onError: "skip",
      progress: false,
      log: (l) => lines.push(l),
    });
    assert.equal(ds.n, 4);
    assert.deepEqual(ds.paths.map((p) => p.slice(root.length)), [
      "/a/1.png",
      "/a/2.png",
      "/b/1.png",
      "/b/3.png",
    ]);
    assert.deepEqual(ds.skipped.map((s) => s.path.slice(root.length)), [
      "/a/3.jpg",
      "/b/2.png",
      "/b/4.png",
    ]);
    assert.match(ds.skipped[1].reason, /ImageDecodeError: .*not an image/);
    assert.match(ds.skipped[2].reason, /cannot read/);
    assert.equal(lines.length, 4); // one line per file, then the count
    assert.match(lines[3], /skipped 3 of 7 files/);
    assert.equal(ds.images.length, 4 * 8 * 8 * 3);
    assert.ok(ds.images.every((v) => Number.isFinite(v) && v >= 0 && v <= 1));
  }
});

Deno.test("loadImages: mixed sizes need size (ImageSizeError), mixed channels are converted", async () => {
  const grey = encodeImage(new Uint8Array(12 * 12).fill(100), {
    width: 12,
    height: 12,
    channels: 1,
  });
  const root = await writeTree([
    { path: "a/1.png", bytes: picture(12, 12, 1) },
    { path: "a/2.png", bytes: grey },
    { path: "b/1.png", bytes: picture(16, 12, 2) },
    { path: "b/2.jpg", bytes: picture(12, 12, 3, "jpeg") },
  ]);
  await assert.rejects(loadImageFolder(root, { workers: 0, progress: false }), (e: unknown) => {
    assert.ok(e instanceof ImageSizeError);
    assert.match(e.message, /b\/1\.png is 16×12×3 but .*a\/1\.png is 12×12×3; pass size/);
    return true;
  });
  const skip = await loadImageFolder(root, {
    workers: 0,
    progress: false,
    onError: "skip",
    minPerClass: 1,
    log: () => {},
  });
  assert.deepEqual(skip.shape, [3, 12, 12, 3]);
  const ds = await loadImageFolder(root, { size: 12, workers: 0, progress: false });
  assert.deepEqual(ds.shape, [4, 12, 12, 3]);
  // The grey image replicated to RGB: 100/255 in every channel.
  const per = 12 * 12 * 3;
  assert.ok(ds.images.subarray(per, 2 * per).every((v) => Math.abs(v - 100 / 255) < 1e-7));
  // A class left with one image after skipping is reported too.
  const lines: string[] = [];
  const left = await loadImageFolder(root, {
    workers: 0,
    progress: false,
    onError: "skip",
    log: (l) => lines.push(l),
  });
  assert.deepEqual(left.paths.map((p) => p.slice(root.length)), ["/a/1.png", "/a/2.png"]);
  assert.ok(lines.some((l) => /b\/2\.jpg .*fewer than minPerClass/.test(l)));
  await assert.rejects(
    loadImageFolder(root, { size: 12, workers: 0, progress: false, minPerClass: 3 }),
    /fewer than minPerClass = 3/,
  );
});

Deno.test("splits: class-disjoint halves and a seeded per-class split, complementary and reproducible", async () => {
  const files = [];
  for (const c of ["c0", "c1", "c2", "c3", "c4"]) {
    for (let i = 0; i < 10; i++) files.push({ path: `${c}/${i}.png`, bytes: picture(4, 4, i) });
  }
  const root = await writeTree(files);
  const train = await scanImageFolder(root, { subset: "train" });
  const test = await scanImageFolder(root, { subset: "test" });
  assert.deepEqual([...new Set(train.labels)], [0, 1]); // ⌊5/2⌋ = 2 classes
  assert.deepEqual([...new Set(test.labels)], [2, 3, 4]);
  const a = await scanImageFolder(root, {
    subset: "train",
    split: "images",
    testFraction: 0.3,
    seed: 4,
  });
  const b = await scanImageFolder(root, {
    subset: "test",
    split: "images",
    testFraction: 0.3,
    seed: 4,
  });
  const again = await scanImageFolder(root, {
    subset: "test",
    split: "images",
    testFraction: 0.3,
    seed: 4,
  });
  const other = await scanImageFolder(root, {
    subset: "test",
    split: "images",
    testFraction: 0.3,
    seed: 5,
  });
  assert.deepEqual(b.paths, again.paths);
  assert.notDeepEqual(b.paths, other.paths);
  assert.equal(b.paths.length, 15); // round(0.3 · 10) = 3 per class
  assert.deepEqual(
    [...a.paths, ...b.paths].sort(),
    (await scanImageFolder(root)).paths.slice().sort(),
  );
  assert.equal(new Set([...a.paths, ...b.paths]).size, 50);
  for (let c = 0; c < 5; c++) assert.equal([...b.labels].filter((l) => l === c).length, 3);
  await assert.rejects(
    scanImageFolder(root, { split: "images", testFraction: 1.5 }),
    /testFraction must be in \(0, 1\)/,
  );
});

Deno.test("writeImageFolder + loadImageFolder: PNG round trip is exact; class names are checked", async () => {
  const images = Float32Array.from({ length: 6 * 5 * 4 }, (_, i) => ((i * 31) % 256) / 255);
  const root = await Deno.makeTempDir();
  const paths = await writeImageFolder(root, images, [2, 0, 1, 2, 0, 1], ["x", "y", "z"], {
    shape: [5, 4, 1],
  });
  assert.equal(paths.length, 6);
  const ds = await loadImageFolder(root, { channels: 1, workers: 0, progress: false });
  assert.deepEqual(ds.classNames, ["x", "y", "z"]);
  assert.deepEqual([...ds.labels], [0, 0, 1, 1, 2, 2]);
  const order = [1, 4, 2, 5, 0, 3]; // by class, then file name
  order.forEach((src, k) => {
    const got = ds.images.subarray(k * 20, (k + 1) * 20);
    const want = images.subarray(src * 20, (src + 1) * 20);
    assert.ok(got.every((v, i) => Math.abs(v - want[i]) < 1e-7));
  });
  await assert.rejects(
    writeImageFolder(root, images, [0, 0, 0, 0, 0, 0], ["a/b"], { shape: [5, 4, 1] }),
    /cannot be a folder name/,
  );
  await assert.rejects(
    writeImageFolder(root, images, [0, 0, 0, 0, 0, 9], ["a"], { shape: [5, 4, 1] }),
    /labels\[5\] = 9/,
  );
});

Deno.test("readImage: unreadable path is an ImageDecodeError", async () => {
  await assert.rejects(readImage("/nonexistent/x.png"), ImageDecodeError);
});

Deno.test("imageBatches: the batches of shuffledBatches over the same images, with prefetch, across epochs and resume", async () => {
  const files = [];
  for (let i = 0; i < 30; i++) {
    files.push({ path: `c${i % 3}/${i}.jpg`, bytes: picture(12 + (i % 5), 10, i, "jpeg") });
  }
  const root = await writeTree(files);
  const list = await scanImageFolder(root);
  const ds = await loadImages(list, { size: 8, workers: 0, progress: false });
  const x = tf.tensor4d(ds.images, ds.shape);
  for (const [workers, prefetch] of [[0, 0], [2, 3]]) {
    const memory = shuffledBatches(x, ds.labels, { batchSize: 7, seed: 11 });
    const stream = imageBatches(list, { size: 8, batchSize: 7, seed: 11, workers, prefetch });
    assert.equal(stream.batchesPerEpoch, 4);
    let saved;
    for (let k = 0; k < 10; k++) {
      if (k === 6) saved = stream.state();
      const a = await stream.next(), b = memory.next();
      assert.deepEqual(stream.state(), memory.state());
      assert.deepEqual(await a.x.data(), await b.x.data());
      assert.deepEqual(await a.y.data(), await b.y.data());
      tf.dispose([a.x, a.y, b.x, b.y]);
    }
    // Resume from step 6: the same batches again.
    stream.setState(saved!);
    memory.setState(saved!);
    for (let k = 6; k < 10; k++) {
      const a = await stream.next(), b = memory.next();
      assert.deepEqual(await a.x.data(), await b.x.data());
      tf.dispose([a.x, a.y, b.x, b.y]);
    }
    await stream.close();
  }
  x.dispose();
  assert.throws(() => imageBatches(list, { batchSize: 4 }), /size is required/);
  assert.throws(
    () => imageBatches(list, { size: 8, batchSize: 31 }),
    /batchSize must be an integer in \[1, 30\]/,
  );
});

Deno.test("imageBatches with m: the batches of mPerClassSampler over the same images, across epochs and resume", async () => {
  const files = [];
  for (let i = 0; i < 36; i++) {
    files.push({ path: `c${i % 4}/${i}.png`, bytes: picture(9, 9 + (i % 3), i) });
  }
  const root = await writeTree(files);
  const list = await scanImageFolder(root);
  const ds = await loadImages(list, { size: 6, workers: 0, progress: false });
  const x = tf.tensor4d(ds.images, ds.shape);
  for (const [workers, prefetch] of [[0, 0], [1, 2]]) {
    const memory = mPerClassSampler(x, ds.labels, { m: 3, batchSize: 6, seed: 5 });
    const stream = imageBatches(list, { size: 6, batchSize: 6, m: 3, seed: 5, workers, prefetch });
    assert.equal(stream.batchesPerEpoch, memory.batchesPerEpoch); // ⌊36 / 6⌋ = 6
    let saved;
    for (let k = 0; k < 9; k++) {
      if (k === 7) saved = stream.state();
      const a = await stream.next(), b = memory.next();
      assert.deepEqual(stream.state(), memory.state(), `batch ${k}`);
      const labels = await a.y.data();
      assert.deepEqual(labels, await b.y.data());
      // Two classes of three images each.
      assert.equal(new Set(labels).size, 2);
      assert.deepEqual(await a.x.data(), await b.x.data());
      tf.dispose([a.x, a.y, b.x, b.y]);
    }
    stream.setState(saved!);
    memory.setState(saved!);
    for (let k = 7; k < 9; k++) {
      const a = await stream.next(), b = memory.next();
      assert.deepEqual(await a.x.data(), await b.x.data());
      tf.dispose([a.x, a.y, b.x, b.y]);
    }
    await stream.close();
  }
  x.dispose();
  assert.throws(() => imageBatches(list, { size: 6, batchSize: 6, m: 4 }), /m must be .* divides/);
  assert.throws(
    () => imageBatches(list, { size: 6, batchSize: 10, m: 2 }),
    /5 classes per batch, but the list holds 4/,
  );
});

Deno.test("imageBatches: a bad file rejects next() with its named error, or makes a smaller batch and is reported", async () => {
  const root = await writeTree([
    { path: "a/1.png", bytes: picture(8, 8, 1) },
    { path: "a/2.png", bytes: "broken" },
    { path: "b/1.png", bytes: picture(8, 8, 2) },
    { path: "b/2.png", bytes: picture(8, 8, 3) },
  ]);
  const list = await scanImageFolder(root);
  const strict = imageBatches(list, { size: 4, batchSize: 4, workers: 1 });
  await assert.rejects(
    strict.next(),
    (e: unknown) => e instanceof ImageDecodeError && /a\/2\.png/.test(e.path),
  );
  await strict.close();
  const lines: string[] = [];
  const lenient = imageBatches(list, {
    size: 4,
    batchSize: 4,
    workers: 0,
    onError: "skip",
    log: (l) => lines.push(l),
  });
  const b = await lenient.next();
  assert.equal(b.x.shape[0], 3);
  assert.equal(lenient.skipped.length, 1);
  assert.match(lines[0], /skipped .*a\/2\.png/);
  tf.dispose([b.x, b.y]);
});

Deno.test("compareCodePoints orders as Python's sorted (code points, not UTF-16 units)", () => {
  const names = ["b", "\u{1F600}", "B", "\uFF21", "a", "é"];
  assert.deepEqual(names.slice().sort(compareCodePoints), [
    "B",
    "a",
    "b",
    "é",
    "\uFF21",
    "\u{1F600}",
  ]);
  // UTF-16 order would put the emoji (surrogates D83D…) before U+FF21.
  assert.deepEqual(names.slice().sort(), ["B", "a", "b", "é", "\u{1F600}", "\uFF21"]);
});
