/**
 * Training checkpoints: the model in TensorFlow.js format, the optimizer state, and a JSON state
 * (step, sampler position with its RNG state, history), written so that a crash never leaves a
 * checkpoint half-written or a pointer to one:
 *
 * ```text
 * <root>/ckpt-<step>-<id>/model.json, weights.bin    tf.loadLayersModel-compatible
 * <root>/ckpt-<step>-<id>/optimizer.json, optimizer.bin
 * <root>/ckpt-<step>-<id>/variables.json, variables.bin  extra named variables (optional)
 * <root>/ckpt-<step>-<id>/state.json
 * <root>/latest.json                                  { "step": …, "path": "ckpt-<step>-<id>" }
 * ```
 *
 * A checkpoint is written into a hidden temporary directory, renamed to `ckpt-<step>-<id>/` (an
 * atomic rename), and only then is `latest.json` replaced (atomically) to point at it; older
 * checkpoints beyond `keep` are removed last.
 *
 * **Extending what a checkpoint holds.** Two open slots carry state beyond the model and the
 * optimizer, so that new trainable things resume bit-equal without a new file format:
 *
 * - `variables`: named `tf.Variable`s outside the model (for example a loss's learnable proxies or
 *   its scale), saved as raw float32/int32 in `variables.bin` with their names, shapes and dtypes
 *   in `variables.json`, and assigned back by name on restore (a missing or mis-shaped one is an
 *   error naming it);
 * - `state`: any JSON next to `step` (sampler position, history, counters kept by callbacks;
 *   `train` puts its caller's `extraState` under `state.extra`).
 *
 * Optimizer slots of such variables are saved with the optimizer (they are the optimizer's own
 * weights), provided the optimizer was given them to train.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic, writeJsonAtomic } from "./atomic.ts";
import { fileSystemHandler } from "./export.ts";

/**
 * The pointer file naming the newest complete checkpoint.
 *
 * @example
 * ```ts
 * LATEST_FILE; // "latest.json"
 * ```
 */
export const LATEST_FILE = "latest.json";

/**
 * Contents of `latest.json`.
 *
 * @example
 * ```ts
 * const p: LatestPointer = { step: 40, path: "ckpt-00000040-1a2b3c4d", savedAt: "2026-01-01T00:00:00Z" };
 * ```
 */
export interface LatestPointer {
  /** Step of the checkpoint. */
  step: number;
  /** Its directory, relative to the checkpoint root. */
  path: string;
  /** ISO time it was written. */
  savedAt: string;
}

/**
 * What {@linkcode saveCheckpoint} stores besides the model and optimizer.
 *
 * @example
 * ```ts
 * const state: CheckpointState = { step: 40, sampler: { epoch: 0, batch: 40, rngState: 7 } };
 * ```
 */
export interface CheckpointState {
  /** Completed optimisation steps. */
  step: number;
  /** Anything JSON-serialisable: sampler position, RNG state, history, … */
  [key: string]: unknown;
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: "float32" | "int32";
}

/** Encodes named tensors as raw little-endian values in order, with their specs. */
async function encodeOrdered(
  tensors: { name: string; tensor: tf.Tensor }[],
): Promise<{ specs: WeightSpec[]; data: Uint8Array }> {
  const specs: WeightSpec[] = [];
  const parts: Uint8Array[] = [];
  for (const { name, tensor } of tensors) {
    if (tensor.dtype !== "float32" && tensor.dtype !== "int32") {
      throw new Error(
        `checkpoint: tensor "${name}" has dtype ${tensor.dtype}; expected float32 or int32`,
      );
    }
    const values = await tensor.data();
    parts.push(new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice());
    specs.push({ name, shape: tensor.shape.slice(), dtype: tensor.dtype });
  }
  const data = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    data.set(p, offset);
    offset += p.byteLength;
  }
  return { specs, data };
}

/** Decodes what {@linkcode encodeOrdered} wrote, in order. */
function decodeOrdered(
  specs: WeightSpec[],
  data: Uint8Array,
): { name: string; tensor: tf.Tensor }[] {
  const out: { name: string; tensor: tf.Tensor }[] = [];
  let offset = 0;
  for (const spec of specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = data.slice(offset, offset + size * 4);
    if (bytes.byteLength !== size * 4) {
      throw new Error(`checkpoint: weight data ends before "${spec.name}"`);
    }
    offset += size * 4;
    const values = spec.dtype === "int32"
      ? new Int32Array(bytes.buffer)
      : new Float32Array(bytes.buffer);
    out.push({ name: spec.name, tensor: tf.tensor(values, spec.shape, spec.dtype) });
  }
  if (offset !== data.byteLength) {
    throw new Error(`checkpoint: ${data.byteLength - offset} bytes of weight data left over`);
  }
  return out;
}

/**
 * Scalar variables an optimizer keeps outside `getWeights()` (Adam's and Adamax's running powers
 * of β, `accBeta1`/`accBeta2`). `setWeights` recomputes them with `pow`, which can differ in the
 * last bit from the running product; saving them makes a resumed run bit-equal.
 */
function optimizerScalars(optimizer: tf.Optimizer): [string, tf.Variable][] {
  return Object.entries(optimizer).filter(([, v]) => v instanceof tf.Variable && v.rank === 0) as [
    string,
    tf.Variable,
  ][];
}

function pad(step: number): string {
  return String(step).padStart(8, "0");
}

/**
 * Writes a checkpoint under `root` and points `latest.json` at it (see the module documentation
 * for the layout and the atomicity), then removes all but the `keep` newest checkpoints.
 *
 * @param root the checkpoint directory (created if missing)
 * @param contents the model, optionally its optimizer, and the JSON state
 * @returns the checkpoint's directory
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { saveCheckpoint } from "./checkpoint.ts";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
 * const dir = await saveCheckpoint("/tmp/ckpt", { model, state: { step: 0 } });
 * ```
 */
export async function saveCheckpoint(
  root: string,
  contents: {
    model: tf.LayersModel;
    optimizer?: tf.Optimizer;
    /** Extra named variables saved with the weights (see the module documentation). */
    variables?: Record<string, tf.Variable>;
    state: CheckpointState;
  },
  options: { keep?: number } = {},
): Promise<string> {
  const { model, optimizer, state, variables } = contents;
  const keep = options.keep ?? 2;
  if (!Number.isInteger(keep) || keep < 1) {
    throw new Error(`saveCheckpoint: keep must be a positive integer, got ${keep}`);
  }
  if (!Number.isInteger(state.step) || state.step < 0) {
    throw new Error(`saveCheckpoint: state.step must be a non-negative integer, got ${state.step}`);
  }
  await Deno.mkdir(root, { recursive: true });
  const id = crypto.randomUUID().slice(0, 8);
  const name = `ckpt-${pad(state.step)}-${id}`;
  const tmp = `${root}/.tmp-${name}`;
  try {
    await model.save(fileSystemHandler(tmp));
    if (optimizer) {
      const weights = await optimizer.getWeights();
      try {
        const { specs, data } = await encodeOrdered(weights);
        const scalars: Record<string, number> = {};
        for (const [key, v] of optimizerScalars(optimizer)) scalars[key] = (await v.data())[0];
        await writeFileAtomic(`${tmp}/optimizer.bin`, data);
        await writeJsonAtomic(`${tmp}/optimizer.json`, {
          className: (optimizer.constructor as unknown as { className?: string }).className ?? null,
          weights: specs,
          scalars,
        });
      } finally {
        // getWeights() returns the optimizer's own variables plus fresh tensors (the iteration
        // count): dispose only the latter.
        for (const w of weights) if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
      }
    }
    if (variables && Object.keys(variables).length > 0) {
      const named = Object.entries(variables).map(([name, tensor]) => ({ name, tensor }));
      const { specs, data } = await encodeOrdered(named);
      await writeFileAtomic(`${tmp}/variables.bin`, data);
      await writeJsonAtomic(`${tmp}/variables.json`, { variables: specs });
    }
    await writeJsonAtomic(`${tmp}/state.json`, state);
    await Deno.rename(tmp, `${root}/${name}`);
  } catch (error) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw error;
  }
  await writeJsonAtomic(
    `${root}/${LATEST_FILE}`,
    {
      step: state.step,
      path: name,
      savedAt: new Date().toISOString(),
    } satisfies LatestPointer,
  );
  // Prune: keep the newest `keep` checkpoints by step (the one just written among them).
  const found: { name: string; step: number }[] = [];
  for await (const entry of Deno.readDir(root)) {
    const m = /^ckpt-(\d+)-[0-9a-f]+$/.exec(entry.name);
    if (entry.isDirectory && m) found.push({ name: entry.name, step: Number(m[1]) });
  }
  found.sort((a, b) => b.step - a.step || (a.name === name ? -1 : b.name === name ? 1 : 0));
  const kept = new Set([
    name,
    ...found.filter((f) => f.name !== name).slice(0, keep - 1).map((f) => f.name),
  ]);
  for (const f of found) {
    if (!kept.has(f.name)) {
      await Deno.remove(`${root}/${f.name}`, { recursive: true }).catch(() => {});
    }
  }
  return `${root}/${name}`;
}

/**
 * The newest complete checkpoint under `root` (from `latest.json`), or `undefined` when there is
 * none.
 *
 * @example
 * ```ts
 * import { latestCheckpoint } from "./checkpoint.ts";
 * const latest = await latestCheckpoint("/tmp/ckpt"); // { step, path, savedAt, dir } or undefined
 * ```
 */
export async function latestCheckpoint(
  root: string,
): Promise<(LatestPointer & { dir: string }) | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${root}/${LATEST_FILE}`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const pointer = JSON.parse(text) as LatestPointer;
  if (typeof pointer.path !== "string" || !/^ckpt-\d+-[0-9a-f]+$/.test(pointer.path)) {
    throw new Error(`latestCheckpoint: ${root}/${LATEST_FILE} has no valid "path"`);
  }
  return { ...pointer, dir: `${root}/${pointer.path}` };
}

/**
 * Restores the newest checkpoint under `root` into `model` (weights, in order; the architecture
 * must match), `optimizer` (its state, including the running β powers of Adam) and `variables`
 * (by name), and returns the saved JSON state; `undefined` when there is no checkpoint.
 *
 * @throws Error when the checkpoint's weights do not fit the model, or a variable is missing
 *   from the checkpoint, has another shape, or the checkpoint holds one that was not given.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { restoreCheckpoint } from "./checkpoint.ts";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
 * const state = await restoreCheckpoint("/tmp/ckpt", { model });
 * console.log(state?.step);
 * ```
 */
export async function restoreCheckpoint(
  root: string,
  targets: {
    model: tf.LayersModel;
    optimizer?: tf.Optimizer;
    variables?: Record<string, tf.Variable>;
  },
): Promise<(CheckpointState & { checkpointDir: string }) | undefined> {
  const latest = await latestCheckpoint(root);
  if (!latest) return undefined;
  const dir = latest.dir;
  const artifacts = await fileSystemHandler(dir).load();
  const specs = (artifacts.weightSpecs ?? []) as WeightSpec[];
  const data = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData!));
  const weights = decodeOrdered(specs, data);
  try {
    const { model } = targets;
    if (weights.length !== model.weights.length) {
      throw new Error(
        `restoreCheckpoint: ${dir} holds ${weights.length} weights, the model has ${model.weights.length}`,
      );
    }
    model.weights.forEach((w, i) => {
      const shape = weights[i].tensor.shape;
      if (shape.join(",") !== w.shape.join(",")) {
        throw new Error(
          `restoreCheckpoint: weight ${i} ("${
            specs[i].name
          }") is [${shape}], the model's "${w.originalName}" is [${w.shape}]`,
        );
      }
    });
    model.setWeights(weights.map((w) => w.tensor));
  } finally {
    tf.dispose(weights.map((w) => w.tensor));
  }
  if (targets.optimizer) {
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/optimizer.json`)) as {
      weights: WeightSpec[];
      scalars: Record<string, number>;
    };
    const named = decodeOrdered(meta.weights, await Deno.readFile(`${dir}/optimizer.bin`));
    try {
      await targets.optimizer.setWeights(named);
    } finally {
      tf.dispose(named.map((w) => w.tensor));
    }
    const scalars = new Map(optimizerScalars(targets.optimizer));
    for (const [key, value] of Object.entries(meta.scalars ?? {})) {
      const v = scalars.get(key);
      if (!v) throw new Error(`restoreCheckpoint: the optimizer has no scalar "${key}" to restore`);
      tf.tidy(() => v.assign(tf.scalar(value, v.dtype)));
    }
  }
  const wanted = targets.variables ?? {};
  let saved: { name: string; tensor: tf.Tensor }[] = [];
  try {
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/variables.json`)) as {
      variables: WeightSpec[];
    };
    saved = decodeOrdered(meta.variables, await Deno.readFile(`${dir}/variables.bin`));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  try {
    const byName = new Map(saved.map((v) => [v.name, v.tensor]));
    for (const [name, variable] of Object.entries(wanted)) {
      const value = byName.get(name);
      if (!value) {
        throw new Error(`restoreCheckpoint: ${dir} holds no variable "${name}"`);
      }
      if (value.shape.join(",") !== variable.shape.join(",")) {
        throw new Error(
          `restoreCheckpoint: variable "${name}" is [${value.shape}] in ${dir}, [${variable.shape}] here`,
        );
      }
      byName.delete(name);
    }
    if (byName.size > 0) {
      throw new Error(
        `restoreCheckpoint: ${dir} holds variables not given to restore: ${[...byName.keys()]}`,
      );
    }
    for (const { name, tensor } of saved) wanted[name].assign(tensor);
  } finally {
    tf.dispose(saved.map((v) => v.tensor));
  }
  const state = JSON.parse(await Deno.readTextFile(`${dir}/state.json`)) as CheckpointState;
  return { ...state, checkpointDir: dir };
}
