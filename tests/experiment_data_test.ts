/**
 * `--data` on the training experiments (`lib/experiment_data.ts`): siamese, triplet and the
 * benchmark on tiny generated image folders and an In-Shop replica, run in process through the
 * CLI; config.json records the data set, its root and a content fingerprint; a resume is refused
 * once a file of the folder changed; bad specifications, options for the other kind of data and
 * a folder the process may not read are usage errors (exit 2, no run directory), the last naming
 * the exact command that allows it.
 */
import assert from "node:assert/strict";
import { main } from "../experiments/main.ts";
import { writeShapeFolder } from "../tools/make_shapes.ts";
import { readPermissionCommand } from "../lib/experiment.ts";
import { imageListProvenance } from "../lib/experiment_data.ts";
import { scanImageFolder } from "../lib/data/image_folder.ts";
import { encodeImage } from "../lib/data/images.ts";

async function capture(args: string[]) {
  const out: string[] = [], err: string[] = [];
  const code = await main(args, (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return names.sort();
}

/** Every file under `dir` with its size and modification time. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`);
      else {
        const info = await Deno.stat(`${d}/${e.name}`);
        out.push(`${d}/${e.name} ${info.size} ${info.mtime?.getTime()}`);
      }
    }
  };
  await walk(dir);
  return out.sort();
}

/** 4 classes × 6 coloured shapes of 16×16 (2 classes train, 2 test). */
async function tinyFolder(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "simlearn-data-folder-" });
  await writeShapeFolder(root, { classes: 4, perClass: 6, size: 16 });
  return root;
}

const SMALL = ["--imageSize", "16", "--backend", "wasm"];

interface Provenance {
  dataset: string;
  split: string;
  source: string;
  count: number;
  fingerprint: string;
  fingerprintOf: string;
}

Deno.test({
  name:
    "siamese --data folder: streamed training, config.json with the folder and its fingerprint; " +
    "a resume is refused after a file changed, and on the same files ends as the uninterrupted run",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const folder = await tinyFolder();
    const results = await Deno.makeTempDir({ prefix: "simlearn-data-results-" });
    try {
      const args = [
        "siamese",
        "--data",
        `folder:${folder}`,
        ...SMALL,
        "--steps",
        "4",
        "--checkpointEvery",
        "2",
      ];
      const r = await capture([...args, "--batchSize", "4", "--resultsRoot", results]);
      assert.equal(r.code, 0, r.err);
      assert.match(
        r.out,
        /data: folder \(.*\): 12 train images \(2 classes\), 12 test images \(2 classes\), 16×16×3; the train images are streamed/,
      );
      assert.match(r.out, /^before\s+\d\.\d{4}/m);
      assert.match(r.out, /^after\s+\d\.\d{4}/m);
      const [id] = await entries(`${results}/siamese`);
      const dir = `${results}/siamese/${id}`;
      const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
      assert.equal(config.options.data, `folder:${folder}`);
      assert.equal(config.encoder.name, "resnetEncoder (encoderFor)");
      assert.deepEqual(config.encoder.inputShape, [16, 16, 3]);
      const data = config.data as Provenance[];
      assert.deepEqual(data.map((d) => [d.dataset, d.split, d.source, d.count]), [
        ["folder", "train", folder, 12],
        ["folder", "test", folder, 12],
      ]);
      for (const d of data) {
        assert.match(d.fingerprint, /^sha256:[0-9a-f]{64}$/);
        assert.match(d.fingerprintOf, /12 image files \(paths, sizes and contents/);
      }
      assert.notEqual(data[0].fingerprint, data[1].fingerprint);
      const metrics = JSON.parse(await Deno.readTextFile(`${dir}/metrics.json`));
      assert.equal(metrics.data.dataset, "folder");
      assert.ok(metrics.after.mapAtR > 0 && metrics.after.mapAtR <= 1);
      // The run report: the folder's parts, the folder's class names in the scatter, no hover
      // images (thumbnails are 28×28 grey, for Fashion-MNIST).
      const report = await Deno.readTextFile(`${dir}/embeddings.html`);
      assert.match(report, /<th>folder train<\/th><td>12 examples<\/td><td>--data \(/);
      assert.match(report, /<th>folder test<\/th><td>12 examples<\/td>/);
      assert.match(report, /"name":"03-blue-cross"/);
      assert.equal(report.match(/Plotly\.newPlot/g)?.length, 2, "scatter and loss curve");
      assert.ok(!report.includes(`"customdata":["data:image`), "no hover images for image folders");
      assert.match(report, /Hover a point to see its class/);

      const history = await Deno.readTextFile(`${dir}/history.jsonl`);

      // Interrupted after step 2: no done.json, the latest checkpoint the one of step 2.
      await Deno.remove(`${dir}/done.json`);
      await Deno.remove(`${dir}/metrics.json`);
      const checkpoints = `${dir}/checkpoints/train`;
      const kept = (await entries(checkpoints)).filter((n) => n.startsWith("ckpt-"));
      const step2 = kept.find((n) => /^ckpt-0*2-/.test(n))!;
      assert.ok(step2, `${kept}`);
      for (const n of kept) {
        if (n !== step2) await Deno.remove(`${checkpoints}/${n}`, { recursive: true });
      }
      await Deno.writeTextFile(
        `${checkpoints}/latest.json`,
        JSON.stringify({ step: 2, path: step2 }),
      );
      // One test image rewritten with other pixels.
      const before = await listing(dir);
      const testImage = `${folder}/03-blue-cross/23.png`;
      const original = await Deno.readFile(testImage);
      await Deno.writeFile(
        testImage,
        encodeImage(new Uint8Array(16 * 16 * 3).fill(7), {
          width: 16,
          height: 16,
          channels: 3,
          format: "png",
        }),
      );
      const refused = await capture(["siamese", "--resume", dir]);
      assert.equal(refused.code, 2, refused.err);
      assert.match(refused.err, /refusing to continue on other data than the run's/);
      assert.ok(refused.err.includes(data[1].fingerprint), refused.err);
      assert.match(refused.err, /folder test: the run used --data \(.*\), 12 examples, sha256:/);
      assert.doesNotMatch(refused.err, /folder train:/, "the train split did not change");
      assert.deepEqual(await listing(dir), before, "a refused resume writes nothing");

      await Deno.writeFile(testImage, original);
      const resumed = await capture(["siamese", "--resume", dir]);
      assert.equal(resumed.code, 0, resumed.err);
      // Steps 3 and 4 streamed again from the sampler position saved at step 2: the same batches,
      // the same losses and metrics as the uninterrupted run.
      assert.match(resumed.out, /resuming /);
      const again = JSON.parse(await Deno.readTextFile(`${dir}/metrics.json`));
      assert.deepEqual(again.after, metrics.after);
      assert.deepEqual(again.before, metrics.before);
      const losses = (text: string) =>
        text.trim().split("\n").map((l) => JSON.parse(l)).map((r) => [r.step, r.loss]);
      assert.deepEqual(losses(await Deno.readTextFile(`${dir}/history.jsonl`)), losses(history));
      await Deno.stat(`${dir}/done.json`);
    } finally {
      for (const d of [folder, results]) await Deno.remove(d, { recursive: true });
    }
  },
});

/** An In-Shop replica: 4 items × 4 images (2 train items; test items with 1 query + 3 gallery). */
async function inShopReplica(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "simlearn-inshop-" });
  const lines: string[] = [];
  let k = 0;
  for (let item = 1; item <= 4; item++) {
    for (let j = 0; j < 4; j++) {
      const rel = `img/WOMEN/Dresses/id_0000000${item}/0${j}_1_front.jpg`;
      await Deno.mkdir(`${root}/${rel.slice(0, rel.lastIndexOf("/"))}`, { recursive: true });
      const pixels = Uint8Array.from(
        { length: 12 * 10 * 3 },
        (_, i) => (i * 7 + item * 60 + j) % 256,
      );
      await Deno.writeFile(
        `${root}/${rel}`,
        encodeImage(pixels, { width: 12, height: 10, channels: 3, format: "jpeg" }),
      );
      const status = item <= 2 ? "train" : j === 0 ? "query" : "gallery";
      lines.push(`${rel} id_0000000${item} ${status}`);
      k++;
    }
  }
  await Deno.writeTextFile(
    `${root}/list_eval_partition.txt`,
    `${k}\nimage_name item_id evaluation_status\n${lines.join("\n")}\n`,
  );
  return root;
}

Deno.test({
  name: "siamese --data inshop: queries ranked against the gallery; provenance per part",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await inShopReplica();
    const results = await Deno.makeTempDir({ prefix: "simlearn-data-results-" });
    try {
      const r = await capture([
        "siamese",
        "--data",
        `inshop:${root}`,
        ...SMALL,
        "--steps",
        "1",
        "--batchSize",
        "4",
        "--resultsRoot",
        results,
      ]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /8 test images \(2 classes; 2 queries against a gallery of 6\)/);
      const [id] = await entries(`${results}/siamese`);
      const config = JSON.parse(await Deno.readTextFile(`${results}/siamese/${id}/config.json`));
      assert.deepEqual(
        (config.data as Provenance[]).map((d) => [d.dataset, d.split, d.count]),
        [["inshop", "train", 8], ["inshop", "query", 2], ["inshop", "gallery", 6]],
      );
      const metrics = JSON.parse(
        await Deno.readTextFile(`${results}/siamese/${id}/metrics.json`),
      );
      // Two queries, each with 3 relevant gallery images: R = 3 (not 3 + the other query).
      assert.equal(metrics.after.queries, 2);
      assert.equal(metrics.data.queries, 2);
    } finally {
      for (const d of [root, results]) await Deno.remove(d, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "triplet and the benchmark take --data folder: (M-per-class batches streamed; unseen setting only)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const folder = await tinyFolder();
    const results = await Deno.makeTempDir({ prefix: "simlearn-data-results-" });
    try {
      const t = await capture([
        "triplet",
        "--data",
        `folder:${folder}`,
        ...SMALL,
        "--steps",
        "1",
        "--batchSize",
        "4",
        "--m",
        "2",
        "--verificationPairs",
        "20",
        "--resultsRoot",
        results,
      ]);
      assert.equal(t.code, 0, t.err);
      assert.match(t.out, /test: 12 images, 20 verification pairs/);
      for (const mining of ["untrained", "none (all triplets)", "semihard", "batch-hard"]) {
        assert.ok(t.out.includes(`\n${mining}`), `${mining} row`);
      }
      const [tid] = await entries(`${results}/triplet`);
      const tconfig = JSON.parse(await Deno.readTextFile(`${results}/triplet/${tid}/config.json`));
      assert.equal(tconfig.encoder.name, "resnetEncoder (encoderFor)");

      const b = await capture([
        "benchmark",
        "--data",
        `folder:${folder}`,
        ...SMALL,
        "--channels",
        "1",
        "--quick",
        "--methods",
        "untrained,contrastive,linear-euclidean",
        "--steps",
        "1",
        "--batchSize",
        "4",
        "--resultsRoot",
        results,
      ]);
      assert.equal(b.code, 0, b.err);
      const [bid] = await entries(`${results}/benchmark`);
      const dir = `${results}/benchmark/${bid}`;
      const table = JSON.parse(await Deno.readTextFile(`${dir}/benchmark.json`));
      assert.deepEqual(
        table.rows.map((r: { setting: string; method: string }) => `${r.setting} ${r.method}`),
        ["unseen untrained", "unseen contrastive", "unseen linear-euclidean"],
      );
      assert.match(
        table.protocol.data,
        new RegExp(`folder:${folder}: images resized .* 16×16, grey`),
      );
      assert.equal((await entries(`${dir}/runs`)).length, 3);
      const bconfig = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
      assert.deepEqual(bconfig.options.settings, ["unseen"]);
      assert.deepEqual((bconfig.data as Provenance[]).map((d) => d.split), ["train", "test"]);
    } finally {
      for (const d of [folder, results]) await Deno.remove(d, { recursive: true });
    }
  },
});

Deno.test({
  name: "bad --data specifications and data options are usage errors: exit 2, no run directory",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const folder = await tinyFolder();
    const results = await Deno.makeTempDir({ prefix: "simlearn-data-bad-" });
    const file = `${folder}/00-red-circle/00.png`;
    try {
      const cases: [string[], RegExp][] = [
        [
          ["siamese", "--data", "folders:/x"],
          /--data: expected fashion-mnist or <kind>:<path> with kind one of folder, cub200, cars196, sop, inshop \(did you mean folder\?\), got "folders:\/x"/,
        ],
        [["triplet", "--data", "mnist"], /--data: expected fashion-mnist or <kind>:<path>/],
        [
          ["siamese", "--data", "folder:"],
          /--data: expected folder:<path>, the path of the data set's folder/,
        ],
        [
          ["benchmark", "--data", `folder:${folder}/nope`],
          /--data: no such directory, got "folder:/,
        ],
        [["siamese", "--data", `folder:${file}`], /--data: not a directory/],
        // The layout is checked once the data load, still before the run directory.
        [
          ["siamese", "--data", `cub200:${folder}`],
          /--data: scanCub200: cannot read .*classes\.txt/,
        ],
        [["siamese", "--data", `sop:${folder}`], /--data: scanSop: /],
        [
          ["siamese", "--imageSize", "32"],
          /--imageSize apply to image data .*Fashion-MNIST is 28×28 grey/,
        ],
        [
          ["triplet", "--data", `folder:${folder}`, "--dataSource", folder],
          /--dataSource is Fashion-MNIST's folder; with --data folder:/,
        ],
        [
          ["siamese", "--data", `folder:${folder}`, "--batchSize", "64"],
          /--batchSize 64 is larger than the 12 train images/,
        ],
        [
          ["triplet", "--data", `folder:${folder}`, "--batchSize", "12", "--m", "2"],
          /6 classes per batch; the train split has 2/,
        ],
        [
          ["benchmark", "--data", `folder:${folder}`, "--settings", "seen"],
          /--settings seen needs Fashion-MNIST/,
        ],
        [
          ["benchmark", "--data", `folder:${folder}`, "--methods", "linear-nca"],
          /the linear metrics run on at most 4096 values per image, --imageSize 64 --channels 3 gives 12288/,
        ],
        [
          ["benchmark", "--data", `folder:${folder}`, "--imageSize", "8", "--pcaDim", "200"],
          /--pcaDim 200 is more than the 192 values per image/,
        ],
      ];
      for (const [args, pattern] of cases) {
        const r = await capture([...args, "--resultsRoot", results]);
        assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.out}\n${r.err}`);
        assert.match(r.err, pattern, args.join(" "));
        assert.deepEqual(await entries(results), [], `${args.join(" ")} left a directory`);
      }
      // A non-image file in a class folder, and a corrupt test image: named, exit 2.
      await Deno.writeTextFile(`${folder}/01-blue-square/notes.txt`, "taken in May");
      const notes = await capture([
        "siamese",
        "--data",
        `folder:${folder}`,
        "--resultsRoot",
        results,
      ]);
      assert.equal(notes.code, 2);
      assert.match(
        notes.err,
        /--data: scanImageFolder: .*01-blue-square\/notes\.txt is not an image file/,
      );
      await Deno.remove(`${folder}/01-blue-square/notes.txt`);
      const corrupt = `${folder}/03-blue-cross/20.png`;
      const good = await Deno.readFile(corrupt);
      await Deno.writeFile(corrupt, good.subarray(0, 60));
      const bad = await capture([
        "siamese",
        "--data",
        `folder:${folder}`,
        ...SMALL,
        "--resultsRoot",
        results,
      ]);
      assert.equal(bad.code, 2, bad.err);
      assert.match(bad.err, /--data: loadImages: .*03-blue-cross\/20\.png/);
      await Deno.writeFile(corrupt, good);
      assert.deepEqual(await entries(results), []);
      // An empty folder, and a class with one image (retrieval needs two).
      const empty = await Deno.makeTempDir();
      const r = await capture(["siamese", "--data", `folder:${empty}`, "--resultsRoot", results]);
      assert.equal(r.code, 2);
      assert.match(r.err, /--data: scanImageFolder: .* has no class folders \(it is empty\)/);
      await Deno.remove(empty);
      for await (const e of Deno.readDir(`${folder}/02-red-triangle`)) {
        if (e.name !== "12.png") await Deno.remove(`${folder}/02-red-triangle/${e.name}`);
      }
      const one = await capture([
        "siamese",
        "--data",
        `folder:${folder}`,
        "--resultsRoot",
        results,
      ]);
      assert.equal(one.code, 2);
      assert.match(one.err, /02-red-triangle \(1\) has fewer than minPerClass = 2 images \(test\)/);
      assert.deepEqual(await entries(results), []);
    } finally {
      for (const d of [folder, results]) await Deno.remove(d, { recursive: true });
    }
  },
});

Deno.test("imageListProvenance: contents and labels are fingerprinted; above the limit only paths and sizes", async () => {
  const root = await Deno.makeTempDir({ prefix: "simlearn-prov-" });
  try {
    for (const [rel, text] of [["a/1.png", "one"], ["a/2.png", "two"], ["b/1.png", "six"]]) {
      await Deno.mkdir(`${root}/${rel.split("/")[0]}`, { recursive: true });
      await Deno.writeTextFile(`${root}/${rel}`, text); // scanning does not decode
    }
    const list = await scanImageFolder(root, { minPerClass: 1 });
    const first = await imageListProvenance(list, "all");
    assert.equal(first.count, 3);
    assert.equal(first.source, root);
    assert.match(first.fingerprintOf, /3 image files \(paths, sizes and contents, .*; 9 bytes\)/);
    const sizes = await imageListProvenance(list, "all", 8);
    assert.match(sizes.fingerprintOf, /paths and sizes only: over 8 bytes/);
    // The same size, other bytes: only a contents hash sees it.
    await Deno.writeTextFile(`${root}/a/2.png`, "TWO");
    assert.notEqual((await imageListProvenance(list, "all")).fingerprint, first.fingerprint);
    assert.equal((await imageListProvenance(list, "all", 8)).fingerprint, sizes.fingerprint);
    // Other labels, same files.
    const relabelled = { ...list, labels: Int32Array.from([0, 1, 1]) };
    assert.notEqual(
      (await imageListProvenance(relabelled, "all", 8)).fingerprint,
      sizes.fingerprint,
    );
    // Where the folder lives does not matter.
    const moved = `${root}-moved`;
    await Deno.rename(root, moved);
    const there = await scanImageFolder(moved, { minPerClass: 1 });
    assert.equal((await imageListProvenance(there, "all", 8)).fingerprint, sizes.fingerprint);
    await Deno.rename(moved, root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("readPermissionCommand repeats the permission set's read list and quotes the arguments", () => {
  assert.equal(
    readPermissionCommand(
      "siamese",
      ["--data", "folder:/my photos", "--steps", "5"],
      ["/my photos"],
      [".", "/usr/share/datasets/fashion-mnist"],
    ),
    "deno run -P=experiment '--allow-read=.,/usr/share/datasets/fashion-mnist,/my photos' " +
      "experiments/main.ts siamese --data 'folder:/my photos' --steps 5",
  );
  assert.equal(
    readPermissionCommand("x", ["--labels", "it's.txt"], ["it's.txt"], ["."]),
    `deno run -P=experiment '--allow-read=.,it'\\''s.txt' experiments/main.ts x --labels 'it'\\''s.txt'`,
  );
});

Deno.test({
  name:
    "a folder outside the experiment set's reach: exit 2 and the exact command, which then reads it",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const folder = await tinyFolder();
    try {
      const run = async (args: string[]) => {
        const out = await new Deno.Command("deno", {
          args,
          cwd: new URL("..", import.meta.url),
          stdout: "piped",
          stderr: "piped",
          env: { NO_COLOR: "1" },
        }).output();
        return { code: out.code, err: new TextDecoder().decode(out.stderr) };
      };
      const r = await run([
        "run",
        "-P=experiment",
        "experiments/main.ts",
        "siamese",
        "--data",
        `folder:${folder}`,
        "--steps",
        "0",
      ]);
      assert.equal(r.code, 2, r.err);
      assert.ok(
        r.err.includes(
          `siamese: --data: no permission to read ${folder}: the experiment task reads only ., /usr/share/datasets/fashion-mnist; to read it too, run:`,
        ),
        r.err,
      );
      const command =
        `deno run -P=experiment --allow-read=.,/usr/share/datasets/fashion-mnist,${folder} experiments/main.ts siamese --data folder:${folder} --steps 0`;
      assert.ok(r.err.includes(`\n  ${command}\n`), r.err);
      // The printed command reads the folder: now the next problem is reported (--steps 0).
      const again = await run(command.split(" ").slice(1));
      assert.equal(again.code, 2, again.err);
      assert.match(again.err, /siamese: --steps: expected an integer ≥ 1, got "0"/);
      assert.doesNotMatch(again.err, /no permission/);
    } finally {
      await Deno.remove(folder, { recursive: true });
    }
  },
});
