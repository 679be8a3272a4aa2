/**
 * The benchmark data sets' layouts (`lib/data/image_benchmarks.ts`) on small replicas the tests
 * write (tiny JPEG images, the real text files, MAT-files written by SciPy from
 * `tests/fixtures/cars196_mat.json`), the MAT reader against `scipy.io.loadmat`, the
 * `deno task data <name>` check, and every bad layout as a named error.
 */
import assert from "node:assert/strict";
import { loadFixture } from "./_fixtures.ts";
import {
  DatasetLayoutError,
  encodeImage,
  loadImages,
  parseImageDataSpec,
  PUBLISHED_COUNTS,
  scanCars196,
  scanCub200,
  scanImageData,
  scanInShop,
  scanSop,
} from "../lib/data/mod.ts";
import { readMat5 } from "../lib/data/_mat5.ts";
import { checkDataset } from "../tools/data.ts";

interface CarsFixture {
  class_names: string[];
  all: { file: string; class: number; test: number }[];
  train: { file: string; class: number }[];
  test: { file: string; class: number }[];
  cars_annos: string;
  cars_meta: string;
  cars_train_annos: string;
  cars_test_annos_withlabels: string;
  assorted: string;
  assorted_loadmat: {
    matrix: number[][];
    ints: number[][];
    text: string[];
    cell0: number[][];
    cell1: string;
  };
}
const cars = loadFixture<CarsFixture>("cars196_mat").cases;
const bytesOf = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

let seed = 0;
function tinyJpeg(): Uint8Array {
  seed++;
  const data = Uint8Array.from({ length: 6 * 5 * 3 }, (_, i) => (i * 17 + seed * 29) % 256);
  return encodeImage(data, { width: 6, height: 5, channels: 3, format: "jpeg" });
}

async function write(root: string, files: Record<string, Uint8Array | string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const p = `${root}/${rel}`;
    await Deno.mkdir(p.slice(0, p.lastIndexOf("/")), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(p, content);
    else await Deno.writeFile(p, content);
  }
}

/** CUB-200-2011's layout with 4 classes of 3 images. */
async function cubReplica(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "CUB_200_2011_" });
  const names = [
    "001.Black_footed_Albatross",
    "002.Laysan_Albatross",
    "003.Sooty_Albatross",
    "004.Groove_billed_Ani",
  ];
  const files: Record<string, Uint8Array | string> = {};
  const images: string[] = [], labels: string[] = [], split: string[] = [];
  for (let i = 1; i <= 12; i++) {
    const c = (i - 1) % 4;
    const rel = `${names[c]}/${names[c].slice(4)}_${String(i).padStart(4, "0")}_${100 + i}.jpg`;
    files[`images/${rel}`] = tinyJpeg();
    images.push(`${i} ${rel}`);
    labels.push(`${i} ${c + 1}`);
    split.push(`${i} ${i % 2}`);
  }
  files["classes.txt"] = names.map((n, i) => `${i + 1} ${n}`).join("\n") + "\n";
  files["images.txt"] = images.join("\n") + "\n";
  files["image_class_labels.txt"] = labels.join("\n") + "\n";
  files["train_test_split.txt"] = split.join("\n") + "\n"; // present in the release, not used
  await write(root, files);
  return root;
}

Deno.test("scanCub200: classes 1..C/2 train, the rest test; labels are class ids − 1", async () => {
  const root = await cubReplica();
  const all = await scanCub200(root);
  assert.equal(all.paths.length, 12);
  assert.deepEqual(all.classNames.slice(0, 2), [
    "001.Black_footed_Albatross",
    "002.Laysan_Albatross",
  ]);
  assert.deepEqual([...all.labels].slice(0, 5), [0, 1, 2, 3, 0]);
  const train = await scanCub200(root, { subset: "train" });
  const test = await scanCub200(root, { subset: "test" });
  assert.deepEqual([...new Set(train.labels)].sort(), [0, 1]);
  assert.deepEqual([...new Set(test.labels)].sort(), [2, 3]);
  assert.equal(train.paths.length + test.paths.length, 12);
  assert.ok(train.paths[0].startsWith(`${root}/images/001.Black_footed_Albatross/`));
  // The files decode (real JPEGs).
  const ds = await loadImages(test, { size: 4, workers: 0, progress: false });
  assert.deepEqual(ds.shape, [6, 4, 4, 3]);
});

Deno.test("scanCub200: a listed image that is missing, malformed or inconsistent lines are DatasetLayoutErrors", async () => {
  const root = await cubReplica();
  const first = (await Deno.readTextFile(`${root}/images.txt`)).split("\n")[4].split(" ")[1];
  await Deno.remove(`${root}/images/${first}`);
  await assert.rejects(scanCub200(root), (e: unknown) => {
    assert.ok(e instanceof DatasetLayoutError);
    assert.match(e.message, /images\.txt names 1 image that do not exist/);
    assert.ok(e.path.endsWith(first));
    return true;
  });
  const lines: string[] = [];
  const skipped = await scanCub200(root, { onError: "skip", log: (l) => lines.push(l) });
  assert.equal(skipped.paths.length, 11);
  assert.equal(skipped.skipped.length, 1);
  assert.equal(lines.length, 1);
  assert.equal((await scanCub200(root, { checkFiles: false })).paths.length, 12);

  const cases: [string, string, RegExp][] = [
    ["images.txt", "1 a.jpg\n2\n", /images\.txt line 2: expected "<image id> <path>"/],
    [
      "images.txt",
      "1 a.jpg\nx b.jpg\n",
      /images\.txt line 2: image id "x" is not a positive integer/,
    ],
    [
      "image_class_labels.txt",
      "1 1\n2 9\n",
      /image_class_labels\.txt line 2: class id 9 is not in classes\.txt/,
    ],
    ["classes.txt", "1 a\n3 c\n", /classes\.txt line 2: class id 3, expected 2/],
  ];
  for (const [file, content, message] of cases) {
    const r = await cubReplica();
    await Deno.writeTextFile(`${r}/${file}`, content);
    await assert.rejects(
      scanCub200(r),
      (e: unknown) => e instanceof DatasetLayoutError && message.test(e.message),
    );
  }
  const r = await cubReplica();
  await Deno.writeTextFile(`${r}/image_class_labels.txt`, "1 1\n");
  await assert.rejects(scanCub200(r), /image id 2 has no line in image_class_labels\.txt/);
  await Deno.remove(`${r}/classes.txt`);
  await assert.rejects(scanCub200(r), /cannot read .*classes\.txt/);
  await assert.rejects(
    scanCub200(r, { subset: "val" }),
    /subset must be one of "all", "train", "test"/,
  );
});

Deno.test("readMat5: SciPy's savemat files read back as scipy.io.loadmat reads them", async () => {
  const m = await readMat5(bytesOf(cars.assorted), "assorted.mat");
  const matrix = m.matrix;
  assert.equal(matrix.kind, "numeric");
  if (matrix.kind === "numeric") {
    assert.deepEqual(matrix.dims, [2, 3]);
    // Column-major in the file: rebuild the rows.
    const rows = [0, 1].map((i) => [0, 1, 2].map((j) => matrix.data[i + 2 * j]));
    assert.deepEqual(rows, cars.assorted_loadmat.matrix);
  }
  assert.deepEqual(m.ints.kind === "numeric" && m.ints.data, cars.assorted_loadmat.ints[0]);
  assert.deepEqual(m.text.kind === "char" && m.text.text, cars.assorted_loadmat.text);
  assert.equal(m.cell.kind, "cell");
  if (m.cell.kind === "cell") {
    assert.deepEqual(
      m.cell.cells[0].kind === "numeric" && m.cell.cells[0].data,
      cars.assorted_loadmat.cell0[0],
    );
    assert.deepEqual(m.cell.cells[1].kind === "char" && m.cell.cells[1].text, [
      cars.assorted_loadmat.cell1,
    ]);
  }
  await assert.rejects(readMat5(new Uint8Array(200), "zeros.mat"), /not a MATLAB Level 5 MAT-file/);
  const truncated = bytesOf(cars.cars_meta).subarray(0, 200);
  await assert.rejects(readMat5(truncated, "t.mat"), /t\.mat: .*(truncated|past the end)/);
});

Deno.test("scanCars196: cars_annos.mat + car_ims/, and the devkit layout; classes 1..C/2 train", async () => {
  const root = await Deno.makeTempDir({ prefix: "cars196_" });
  const files: Record<string, Uint8Array | string> = { "cars_annos.mat": bytesOf(cars.cars_annos) };
  for (const r of cars.all) files[r.file] = tinyJpeg();
  await write(root, files);
  const all = await scanCars196(root);
  assert.deepEqual(all.classNames, cars.class_names);
  assert.deepEqual([...all.labels], cars.all.map((r) => r.class - 1));
  assert.deepEqual(all.paths, cars.all.map((r) => `${root}/${r.file}`));
  const train = await scanCars196(root, { subset: "train" });
  assert.deepEqual([...new Set(train.labels)].sort(), [0, 1]); // the data set's own `test` flag is not used
  assert.equal((await scanCars196(root, { subset: "test" })).paths.length, 6);

  const devkit = await Deno.makeTempDir({ prefix: "cars196_devkit_" });
  const dfiles: Record<string, Uint8Array | string> = {
    "devkit/cars_meta.mat": bytesOf(cars.cars_meta),
    "devkit/cars_train_annos.mat": bytesOf(cars.cars_train_annos),
    "cars_test_annos_withlabels.mat": bytesOf(cars.cars_test_annos_withlabels),
  };
  for (const r of cars.train) dfiles[`cars_train/${r.file}`] = tinyJpeg();
  for (const r of cars.test) dfiles[`cars_test/${r.file}`] = tinyJpeg();
  await write(devkit, dfiles);
  const d = await scanCars196(devkit);
  assert.equal(d.paths.length, 12);
  assert.deepEqual([...d.labels], [...cars.train, ...cars.test].map((r) => r.class - 1));
  assert.equal(d.paths[6], `${devkit}/cars_test/${cars.test[0].file}`);

  await Deno.remove(`${devkit}/cars_test/${cars.test[2].file}`);
  await assert.rejects(
    scanCars196(devkit),
    /the devkit's annotations names 1 image that do not exist/,
  );
  await Deno.writeFile(`${root}/cars_annos.mat`, bytesOf(cars.cars_annos).subarray(0, 300));
  await assert.rejects(
    scanCars196(root),
    (e: unknown) => e instanceof DatasetLayoutError && /cars_annos\.mat/.test(e.message),
  );
  const none = await Deno.makeTempDir();
  await assert.rejects(scanCars196(none), /has neither cars_annos\.mat nor devkit\/cars_meta\.mat/);
  await write(none, { "cars_annos.mat": bytesOf(cars.cars_meta) });
  await assert.rejects(scanCars196(none), /has no structure array annotations/);
});

/** Stanford Online Products' layout: 5 classes (3 train, 2 test) of 2 images. */
async function sopReplica(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "Stanford_Online_Products_" });
  const files: Record<string, Uint8Array | string> = {};
  const lines: Record<string, string[]> = { train: [], test: [] };
  let id = 0;
  for (let cls = 1; cls <= 5; cls++) {
    const part = cls <= 3 ? "train" : "test";
    const superName = cls % 2 ? "bicycle_final" : "chair_final";
    for (let k = 0; k < 2; k++) {
      const rel = `${superName}/1110851${cls}2871_${k}.JPG`;
      files[rel] = tinyJpeg();
      lines[part].push(`${++id} ${cls} ${cls % 2 ? 1 : 4} ${rel}`);
    }
  }
  for (const part of ["train", "test"]) {
    files[`Ebay_${part}.txt`] =
      ["image_id class_id super_class_id path", ...lines[part]].join("\n") + "\n";
  }
  await write(root, files);
  return root;
}

Deno.test("scanSop: Ebay_train.txt / Ebay_test.txt; labels are class ids − 1", async () => {
  const root = await sopReplica();
  const train = await scanSop(root, { subset: "train" });
  const test = await scanSop(root, { subset: "test" });
  assert.deepEqual([...train.labels], [0, 0, 1, 1, 2, 2]);
  assert.deepEqual([...test.labels], [3, 3, 4, 4]);
  assert.equal(train.classNames.length, 5);
  assert.equal((await scanSop(root)).paths.length, 10);
  await Deno.writeTextFile(
    `${root}/Ebay_test.txt`,
    "image_id class_id super_class_id path\n7 4 1\n",
  );
  await assert.rejects(scanSop(root), /Ebay_test\.txt line 2: 3 fields, expected 4/);
  await Deno.writeTextFile(`${root}/Ebay_test.txt`, "7 4 1 a.JPG\n");
  await assert.rejects(scanSop(root), /line 1: expected the header/);
});

/** In-Shop's layout: Eval/list_eval_partition.txt, images under Img/img/. */
async function inShopReplica(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "inshop_" });
  const files: Record<string, Uint8Array | string> = {};
  const rows: string[] = [];
  const items = ["id_00000002", "id_00000001", "id_00000007", "id_00000004"];
  items.forEach((item, i) => {
    const statuses = i < 2 ? ["train", "train"] : ["query", "gallery", "gallery"];
    statuses.forEach((status, k) => {
      const rel = `img/WOMEN/Dresses/${item}/0${k + 1}_1_front.jpg`;
      files[`Img/${rel}`] = tinyJpeg();
      rows.push(`${rel}${" ".repeat(20)}${item}      ${status}`);
    });
  });
  files["Eval/list_eval_partition.txt"] =
    [String(rows.length), "image_name item_id evaluation_status", ...rows].join("\n") + "\n";
  await write(root, files);
  return root;
}

Deno.test("scanInShop: train, query, gallery; labels index the sorted item ids", async () => {
  const root = await inShopReplica();
  const train = await scanInShop(root, { subset: "train" });
  assert.deepEqual(train.classNames, ["id_00000001", "id_00000002", "id_00000004", "id_00000007"]);
  assert.deepEqual([...train.labels], [1, 1, 0, 0]);
  assert.ok(train.paths[0].startsWith(`${root}/Img/img/WOMEN/`));
  const query = await scanInShop(root, { subset: "query" });
  const gallery = await scanInShop(root, { subset: "gallery" });
  assert.deepEqual([...query.labels], [3, 2]);
  assert.equal(gallery.paths.length, 4);
  assert.equal((await scanInShop(root, { subset: "test" })).paths.length, 6);
  const text = await Deno.readTextFile(`${root}/Eval/list_eval_partition.txt`);
  await Deno.writeTextFile(`${root}/Eval/list_eval_partition.txt`, text.replace(/^10\n/, "11\n"));
  await assert.rejects(scanInShop(root), /lists 10 images but its first line says 11/);
  await Deno.writeTextFile(`${root}/Eval/list_eval_partition.txt`, text.replace("query", "val"));
  await assert.rejects(scanInShop(root), /evaluation_status "val" is not train, query or gallery/);
});

Deno.test("scanImageData: <kind>:<path> specifications; folder-only options are refused for layouts", async () => {
  assert.deepEqual(parseImageDataSpec("sop:/x/y"), { kind: "sop", root: "/x/y" });
  assert.deepEqual(parseImageDataSpec("folder:C:/pics"), { kind: "folder", root: "C:/pics" });
  assert.throws(
    () => parseImageDataSpec("imagenet:/x"),
    /kind one of folder, cub200, cars196, sop, inshop/,
  );
  assert.throws(() => parseImageDataSpec("cub200:"), TypeError);
  const root = await cubReplica();
  assert.equal((await scanImageData(`cub200:${root}`, { subset: "test" })).paths.length, 6);
  await assert.rejects(
    scanImageData(`cub200:${root}`, { split: "images" }),
    /unknown option "split"/,
  );
  const folder = await scanImageData(`folder:${root}/images`, { subset: "train" });
  assert.deepEqual(folder.classNames.length, 4);
});

Deno.test("deno task data <name>: counts per split beside the published ones", async () => {
  const root = await cubReplica();
  const { splits, matches } = await checkDataset("cub200", root);
  assert.deepEqual(splits.map((s) => [s.split, s.images, s.classes]), [["train", 6, 2], [
    "test",
    6,
    2,
  ]]);
  assert.deepEqual(splits[0].published, PUBLISHED_COUNTS.cub200.train);
  assert.equal(matches, false);
  await assert.rejects(checkDataset("imagenet", root), /unknown data set "imagenet"/);
  // The CLI, with read access to the replica added to the data set's permissions.
  const out = await new Deno.Command("deno", {
    args: ["run", "-P=data", `--allow-read=data,${root}`, "tools/data.ts", "cub200", root],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 1, text);
  assert.match(text, /train\s+6\s+2\s+5864 images, 100 classes\s+DIFFERENT/);
  assert.match(text, /differs from the published counts/);
  const denied = await new Deno.Command("deno", {
    args: ["run", "-P=data", "tools/data.ts", "cub200", root],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(denied.code, 1);
  assert.match(
    new TextDecoder().decode(denied.stderr),
    /no permission to read .*--allow-read=data,/,
  );
});
