/**
 * Exports: embeddings as TensorBoard projector TSV files and as NumPy `.npy`, and models in the
 * TensorFlow.js layers format (`model.json` + `weights.bin`) written to files (and read back by
 * `loadEncoder` in `models/load.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic, writeTextAtomic } from "./atomic.ts";
// Registers the project's custom layers, so that saved encoders reload.
import "../models/layers.ts";

/**
 * The weights file name used by {@linkcode fileSystemHandler}.
 *
 * @example
 * ```ts
 * WEIGHTS_FILE; // "weights.bin"
 * ```
 */
export const WEIGHTS_FILE = "weights.bin";

function joinWeightData(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
}

/**
 * A `tf.io` handler with both `save` and `load`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { fileSystemHandler } from "./export.ts";
 * const handler: FileSystemHandler = fileSystemHandler(await Deno.makeTempDir());
 * await tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] }).save(handler);
 * const artifacts = await handler.load();
 * ```
 */
export type FileSystemHandler = tf.io.IOHandler & {
  save: NonNullable<tf.io.IOHandler["save"]>;
  load: NonNullable<tf.io.IOHandler["load"]>;
};

/**
 * A `tf.io` handler that saves a model as `<dir>/model.json` + `<dir>/weights.bin` (each written
 * atomically: a temporary file, then a rename; the directory is created) and loads it back
 * (`dir` may also be the path of a model JSON file, with its weight files beside it). The
 * files are those of `tfjs-node`'s `file://` handler, so `tf.loadLayersModel` reads them with this
 * handler or over HTTP.
 *
 * @param dir a directory
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { fileSystemHandler } from "./export.ts";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
 * await model.save(fileSystemHandler("/tmp/model"));
 * const again = await tf.loadLayersModel(fileSystemHandler("/tmp/model"));
 * ```
 */
export function fileSystemHandler(dir: string): FileSystemHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const topology = artifacts.modelTopology;
      if (topology === undefined || topology instanceof ArrayBuffer) {
        throw new Error("fileSystemHandler: only JSON (layers) model topologies are supported");
      }
      await Deno.mkdir(dir, { recursive: true });
      const weights = joinWeightData(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: topology,
        format: artifacts.format ?? "layers-model",
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) modelJson.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata) {
        modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      }
      // Weights first: model.json appearing is the sign that the pair is complete.
      await writeFileAtomic(`${dir}/${WEIGHTS_FILE}`, weights);
      await writeTextAtomic(`${dir}/model.json`, JSON.stringify(modelJson));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: "JSON",
          weightDataBytes: weights.byteLength,
        },
      };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      // `dir` may also name the model's JSON file itself (weights are read beside it).
      const jsonPath = dir.endsWith(".json") ? dir : `${dir}/model.json`;
      const base = jsonPath.slice(0, jsonPath.lastIndexOf("/") + 1) || "./";
      let text: string;
      try {
        text = await Deno.readTextFile(jsonPath);
      } catch (error) {
        throw new Error(`fileSystemHandler: cannot read ${jsonPath}: ${error}`);
      }
      const modelJson = JSON.parse(text) as tf.io.ModelJSON;
      return await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: Uint8Array[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const path of group.paths) buffers.push(await Deno.readFile(`${base}${path}`));
        }
        const total = buffers.reduce((s, b) => s + b.byteLength, 0);
        const all = new Uint8Array(total);
        let offset = 0;
        for (const b of buffers) {
          all.set(b, offset);
          offset += b.byteLength;
        }
        return [specs, all.buffer];
      });
    },
  };
}

/**
 * Saves an encoder (or any layers model) to `dir` as `model.json` + `weights.bin`.
 *
 * @example
 * ```ts
 * import { mlpEncoder } from "../models/mod.ts";
 * import { saveEncoder } from "./export.ts";
 * await saveEncoder(mlpEncoder({ inputShape: [4], hidden: [8], embeddingDim: 2 }), "/tmp/enc");
 * ```
 */
export async function saveEncoder(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(fileSystemHandler(dir));
}

async function matrixOf(embeddings: tf.Tensor2D | Float32Array, dims?: number) {
  if (embeddings instanceof tf.Tensor) {
    if (embeddings.rank !== 2) {
      throw new Error(`embeddings: expected [n, d], got [${embeddings.shape}]`);
    }
    return {
      values: await embeddings.data() as Float32Array,
      n: embeddings.shape[0],
      d: embeddings.shape[1],
    };
  }
  if (!dims || embeddings.length % dims !== 0) {
    throw new Error(
      `embeddings: a Float32Array needs dims dividing its length ${embeddings.length}`,
    );
  }
  return { values: embeddings, n: embeddings.length / dims, d: dims };
}

/**
 * The TensorBoard Embedding Projector's `vectors.tsv`: one row per embedding, values separated by
 * tabs, no header.
 *
 * @param embeddings `[n, d]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { vectorsTsv } from "./export.ts";
 * await vectorsTsv(tf.tensor2d([[1, 0.5]])); // "1\t0.5\n"
 * ```
 */
export async function vectorsTsv(embeddings: tf.Tensor2D): Promise<string> {
  const { values, n, d } = await matrixOf(embeddings);
  const rows: string[] = [];
  for (let i = 0; i < n; i++) rows.push(Array.from(values.subarray(i * d, (i + 1) * d)).join("\t"));
  return rows.length ? rows.join("\n") + "\n" : "";
}

/**
 * The projector's `metadata.tsv`: with one column (`labels` only) no header, as the projector
 * expects; with several columns a header row of the column names.
 *
 * @param columns column name → one value per embedding
 * @throws Error when columns differ in length or a value holds a tab or newline.
 * @example
 * ```ts
 * import { metadataTsv } from "./export.ts";
 * metadataTsv({ label: [0, 1], class: ["Top", "Trouser"] }); // "label\tclass\n0\tTop\n1\tTrouser\n"
 * ```
 */
export function metadataTsv(columns: Record<string, ArrayLike<string | number>>): string {
  const names = Object.keys(columns);
  if (names.length === 0) throw new Error("metadataTsv: columns is empty");
  const n = columns[names[0]].length;
  for (const name of names) {
    if (columns[name].length !== n) {
      throw new Error(
        `metadataTsv: column "${name}" has ${columns[name].length} values, expected ${n}`,
      );
    }
  }
  const cell = (v: string | number, name: string) => {
    const s = String(v);
    if (/[\t\n\r]/.test(s)) {
      throw new Error(`metadataTsv: a value of "${name}" holds a tab or newline`);
    }
    return s;
  };
  const lines = names.length > 1 ? [names.map((k) => cell(k, "header")).join("\t")] : [];
  for (let i = 0; i < n; i++) lines.push(names.map((k) => cell(columns[k][i], k)).join("\t"));
  return lines.join("\n") + "\n";
}

/**
 * Writes `<dir>/vectors.tsv` and `<dir>/metadata.tsv` for the TensorBoard Embedding Projector
 * (projector.tensorflow.org: "Load" both files).
 *
 * @param embeddings `[n, d]`
 * @param metadata columns of `metadata.tsv` (see {@linkcode metadataTsv})
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { writeProjectorTsv } from "./export.ts";
 * await writeProjectorTsv("/tmp/proj", tf.tensor2d([[1, 2], [3, 4]]), { label: [0, 1] });
 * ```
 */
export async function writeProjectorTsv(
  dir: string,
  embeddings: tf.Tensor2D,
  metadata: Record<string, ArrayLike<string | number>>,
): Promise<void> {
  const first = Object.values(metadata)[0];
  if (first && first.length !== embeddings.shape[0]) {
    throw new Error(
      `writeProjectorTsv: metadata has ${first.length} rows for ${embeddings.shape[0]} embeddings`,
    );
  }
  await Deno.mkdir(dir, { recursive: true });
  await writeTextAtomic(`${dir}/vectors.tsv`, await vectorsTsv(embeddings));
  await writeTextAtomic(`${dir}/metadata.tsv`, metadataTsv(metadata));
}

/**
 * Encodes a float32 matrix as NPY format version 1.0: magic `\x93NUMPY`, version 1.0, a
 * little-endian uint16 header length, the header dict `{'descr': '<f4', 'fortran_order': False,
 * 'shape': (n, d), }` padded with spaces and ending in a newline so that the data starts at a
 * multiple of 64 bytes, then the values little-endian in C order. `numpy.load` reads it.
 *
 * @param values row-major values
 * @param shape the array shape, e.g. `[n, d]`
 * @example
 * ```ts
 * import { encodeNpy } from "./export.ts";
 * const bytes = encodeNpy(new Float32Array([1, 2, 3, 4]), [2, 2]);
 * console.log(bytes.length); // 64 header bytes + 16 data bytes
 * ```
 */
export function encodeNpy(values: Float32Array, shape: readonly number[]): Uint8Array {
  const size = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isInteger(d) || d < 0) || size !== values.length) {
    throw new Error(`encodeNpy: shape [${shape}] does not hold ${values.length} values`);
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const preamble = 10; // magic (6) + version (2) + header length (2)
  const total = Math.ceil((preamble + header.length + 1) / 64) * 64;
  header = header.padEnd(total - preamble - 1, " ") + "\n";
  const out = new Uint8Array(total + values.length * 4);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0); // \x93NUMPY, v1.0
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  for (let i = 0; i < values.length; i++) view.setFloat32(total + 4 * i, values[i], true);
  return out;
}

/**
 * Writes `[n, d]` embeddings to `path` as a `.npy` file (float32 `<f4`, C order), atomically.
 *
 * @param embeddings `[n, d]`
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { writeNpy } from "./export.ts";
 * await writeNpy("/tmp/embeddings.npy", tf.tensor2d([[1, 2], [3, 4]]));
 * // python3 -c "import numpy; print(numpy.load('/tmp/embeddings.npy'))"
 * ```
 */
export async function writeNpy(path: string, embeddings: tf.Tensor): Promise<void> {
  const cast = tf.cast(embeddings, "float32");
  const values = await cast.data() as Float32Array;
  if (cast !== embeddings) cast.dispose();
  await writeFileAtomic(path, encodeNpy(values, embeddings.shape));
}
