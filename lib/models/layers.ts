/**
 * Custom layers used by the project's encoders, registered for serialisation so that saved
 * models reload with `tf.loadLayersModel`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { l2Normalize } from "../distances.ts";

/**
 * Scales each row of its `[n, d]` input to unit L2 norm.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { L2Normalization } from "./layers.ts";
 * const layer = new L2Normalization();
 * const y = (layer.apply(tf.tensor2d([[3, 4]])) as tf.Tensor).dataSync(); // [[0.6, 0.8]]
 * assert.ok(Math.abs(y[0] - 0.6) < 1e-6 && Math.abs(y[1] - 0.8) < 1e-6);
 * ```
 */
export class L2Normalization extends tf.layers.Layer {
  /** The name under which the layer is serialised. */
  static className = "L2Normalization";

  /** Creates the layer; `config` takes the usual layer arguments such as `name`. */
  constructor(config: { name?: string } = {}) {
    super(config);
  }

  /** Applies the normalisation. */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return l2Normalize(x as tf.Tensor2D);
  }
}
tf.serialization.registerClass(L2Normalization);

/**
 * The symmetric pair features of two embeddings: `[|a − b|, a ⊙ b]` concatenated along the last
 * axis. Inputs `[[n, d], [n, d]]`, output `[n, 2d]`. Used by the classification head and by the
 * learned scores of the regression and ranking heads; symmetric in its two inputs, so the score
 * it feeds is symmetric too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { PairFeatures } from "./layers.ts";
 * const f = new PairFeatures().apply([tf.tensor2d([[1, 2]]), tf.tensor2d([[3, 1]])]) as tf.Tensor;
 * assert.deepEqual(f.arraySync(), [[2, 1, 3, 2]]);
 * ```
 */
export class PairFeatures extends tf.layers.Layer {
  /** The name under which the layer is serialised. */
  static className = "PairFeatures";

  /** Creates the layer; `config` takes the usual layer arguments such as `name`. */
  constructor(config: { name?: string } = {}) {
    super(config);
  }

  /** `[n, 2d]` from `[[n, d], [n, d]]`. */
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shapes = inputShape as tf.Shape[];
    if (!Array.isArray(shapes[0]) || shapes.length !== 2) {
      throw new Error("PairFeatures: expects two inputs [n, d]");
    }
    const d = shapes[0][shapes[0].length - 1];
    return [...shapes[0].slice(0, -1), d === null ? null : 2 * d];
  }

  /** Computes `[|a − b|, a ⊙ b]`. */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) {
      throw new Error("PairFeatures: expects exactly two inputs [n, d]");
    }
    return tf.tidy(() => {
      const [a, b] = inputs;
      return tf.concat([tf.abs(tf.sub(a, b)), tf.mul(a, b)], -1);
    });
  }
}
tf.serialization.registerClass(PairFeatures);
