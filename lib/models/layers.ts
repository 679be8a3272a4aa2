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
 * import * as tf from "@tensorflow/tfjs";
 * import { L2Normalization } from "./layers.ts";
 * const layer = new L2Normalization();
 * (layer.apply(tf.tensor2d([[3, 4]])) as tf.Tensor).print(); // [[0.6, 0.8]]
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
