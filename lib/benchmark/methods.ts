/**
 * The methods of the benchmark, by id: the untrained baseline, the deep losses (the reference
 * CNN trained with one loss, and a miner where the method says so), and the learned linear
 * metrics on PCA-reduced pixels.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BatchLoss, StatefulLoss } from "../train.ts";
import {
  angularLoss,
  ArcFaceLoss,
  circleLoss,
  contrastiveLoss,
  CosFaceLoss,
  dynamicSoftMarginLoss,
  fastAPLoss,
  histogramLoss,
  instanceLoss,
  intraPairVarianceLoss,
  liftedStructureLoss,
  manifoldLoss,
  marginLoss,
  multiSimilarityLoss,
  ncaLoss,
  NormalizedSoftmaxLoss,
  nPairsLoss,
  ntXentLoss,
  pnpLoss,
  ProxyAnchorLoss,
  ProxyNCALoss,
  rankedListLoss,
  ringLoss,
  signalToNoiseRatioContrastiveLoss,
  smoothAPLoss,
  SoftTripleLoss,
  supConLoss,
  thresholdConsistentMarginLoss,
  TrainableLoss,
  tripletMarginLoss,
  tupletMarginLoss,
  vicRegLoss,
} from "../losses/mod.ts";
import { multiSimilarityMiner, tripletMarginMiner } from "../miners/mod.ts";
import { createRng } from "../data/random.ts";
import { LINEAR_LEARNERS, type LinearMetricLearner } from "../linear/mod.ts";

/** How a method produces its embedding. */
export type MethodFamily = "baseline" | "deep" | "linear";

/**
 * What a linear method's `fit` receives: the PCA-reduced, scaled training features.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import type { LinearFitInput } from "./methods.ts";
 * const x = tf.zeros([4, 2]) as tf.Tensor2D;
 * const input: LinearFitInput = { x, labels: Int32Array.of(0, 0, 1, 1), seed: 0, iterations: 0 };
 * assert.equal(input.x.shape[0], input.labels.length);
 * ```
 */
export interface LinearFitInput {
  /** Features `[m, k]`. */
  x: tf.Tensor2D;
  /** Labels `[m]`. */
  labels: Int32Array;
  /** The run's seed. */
  seed: number;
  /** Optimisation steps (0: the learner's default). */
  iterations: number;
}

/**
 * What a deep method with a trainable loss gets to make its loss for one run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProxyAnchorLoss } from "../losses/mod.ts";
 * import type { TrainableLossContext } from "./methods.ts";
 * const c: TrainableLossContext = { numClasses: 5, embeddingSize: 64, seed: 0 };
 * assert.deepEqual(new ProxyAnchorLoss(c).proxies.shape, [5, 64]);
 * ```
 */
export interface TrainableLossContext {
  /** Classes of the setting's training split (labels are in `[0, numClasses)`). */
  numClasses: number;
  /** The network's embedding size. */
  embeddingSize: number;
  /** The run's seed (fixes the loss's initial parameters). */
  seed: number;
}

/**
 * One row of the benchmark.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { contrastiveLoss } from "../losses/mod.ts";
 * import type { BenchmarkMethod } from "./methods.ts";
 * const m: BenchmarkMethod = {
 *   id: "contrastive", family: "deep", description: "PML defaults",
 *   loss: (e, y) => contrastiveLoss(e, y),
 * };
 * assert.equal(m.family, "deep");
 * ```
 */
export interface BenchmarkMethod {
  /** Id used on the command line, in file names and in the table. */
  id: string;
  /** Baseline (untrained network), deep loss, or linear metric. */
  family: MethodFamily;
  /** One line: what exactly is run (loss, options, miner). */
  description: string;
  /** Deep methods: the batch loss. */
  loss?: BatchLoss;
  /**
   * Deep methods whose loss owns learnable parameters (class weights, proxies): makes the loss
   * for one run; its parameters are trained with the network (and disposed after the run).
   */
  trainableLoss?: (context: TrainableLossContext) => StatefulLoss & { dispose(): void };
  /** Learning rate of the loss's parameters relative to the network's. Default 1. */
  lossLearningRateMultiplier?: number;
  /** Linear methods: fits a learner (`null`: the identity, i.e. Euclidean on the features). */
  fitLinear?: (input: LinearFitInput) => Promise<LinearMetricLearner | null>;
}

/**
 * Two views for VICReg in a labelled benchmark: the rows of each class paired in batch order,
 * `(first[i], second[i])` two images of one class (an odd row out is left out).
 */
function classPairs(labels: tf.Tensor1D): [tf.Tensor1D, tf.Tensor1D] {
  const byClass = new Map<number, number[]>();
  for (const [i, c] of labels.dataSync().entries()) {
    const list = byClass.get(c);
    if (list) list.push(i);
    else byClass.set(c, [i]);
  }
  const first: number[] = [], second: number[] = [];
  for (const list of byClass.values()) {
    for (let k = 0; k + 1 < list.length; k += 2) first.push(list[k]), second.push(list[k + 1]);
  }
  return [tf.tensor1d(first, "int32"), tf.tensor1d(second, "int32")];
}

/**
 * Every method, in table order. Losses use pytorch-metric-learning's defaults unless stated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BENCHMARK_METHODS } from "./methods.ts";
 * const ids = BENCHMARK_METHODS.map((m) => m.id);
 * assert.equal(ids[0], "untrained"); // the baseline comes first
 * assert.ok(ids.includes("contrastive") && ids.includes("linear-lmnn"));
 * assert.equal(new Set(ids).size, ids.length); // ids are unique
 * ```
 */
export const BENCHMARK_METHODS: readonly BenchmarkMethod[] = Object.freeze([
  {
    id: "untrained",
    family: "baseline",
    description: "the reference CNN at its seeded initialisation, not trained",
  },
  {
    id: "contrastive",
    family: "deep",
    description: "contrastiveLoss, PML defaults (posMargin 0, negMargin 1, Euclidean), all pairs",
    loss: (e, y) => contrastiveLoss(e, y),
  },
  {
    id: "triplet-semihard",
    family: "deep",
    description: "tripletMarginLoss margin 0.1 on tripletMarginMiner type semihard, margin 0.1",
    loss: (e, y) =>
      tripletMarginLoss(e, y, {
        margin: 0.1,
        indices: tripletMarginMiner(e, y, { type: "semihard", margin: 0.1 }),
      }),
  },
  {
    id: "ntxent",
    family: "deep",
    description: "ntXentLoss, temperature 0.1, all pairs",
    loss: (e, y) => ntXentLoss(e, y, { temperature: 0.1 }),
  },
  {
    id: "supcon",
    family: "deep",
    description: "supConLoss, PML defaults (temperature 0.1)",
    loss: (e, y) => supConLoss(e, y),
  },
  {
    id: "multisimilarity",
    family: "deep",
    description: "multiSimilarityLoss, PML defaults (α 2, β 50, base 0.5), all pairs",
    loss: (e, y) => multiSimilarityLoss(e, y),
  },
  {
    id: "multisimilarity-miner",
    family: "deep",
    description: "multiSimilarityLoss (α 2, β 50, base 0.5) on multiSimilarityMiner (ε 0.1)",
    loss: (e, y) => multiSimilarityLoss(e, y, { indices: multiSimilarityMiner(e, y) }),
  },
  {
    id: "lifted-structure",
    family: "deep",
    description: "liftedStructureLoss, PML defaults (posMargin 0, negMargin 1)",
    loss: (e, y) => liftedStructureLoss(e, y),
  },
  {
    id: "npairs",
    family: "deep",
    description: "nPairsLoss, PML defaults (one positive pair per class, cosine similarity)",
    loss: (e, y) => nPairsLoss(e, y),
  },
  {
    id: "circle",
    family: "deep",
    description: "circleLoss, PML defaults (m 0.4, γ 80)",
    loss: (e, y) => circleLoss(e, y),
  },
  {
    id: "ring",
    family: "deep",
    description: "ringLoss, defaults (inner radius 0.5, outer radius 1.2, Euclidean)",
    loss: (e, y) => ringLoss(e, y),
  },
  {
    id: "angular",
    family: "deep",
    description: "angularLoss, PML defaults (α 40°, Euclidean on normalised embeddings), all pairs",
    loss: (e, y) => angularLoss(e, y),
  },
  {
    id: "intra-pair-variance",
    family: "deep",
    description: "intraPairVarianceLoss, PML defaults (ε⁺ = ε⁻ = 0.01, cosine), all pairs",
    loss: (e, y) => intraPairVarianceLoss(e, y),
  },
  {
    id: "margin",
    family: "deep",
    description: "marginLoss, PML defaults (margin 0.2, fixed β 1.2, ν 0, divisor), all triplets",
    loss: (e, y) => marginLoss(e, y),
  },
  {
    id: "margin-beta",
    family: "deep",
    description:
      "marginLoss with one learned β per class (PML's learn_beta with num_classes: margin 0.2, " +
      "β initialised 1.2, ν 0, divisor), all triplets; β at the network's learning rate",
    trainableLoss: (c) =>
      new TrainableLoss(marginLoss, {
        numClasses: c.numClasses,
        learnBeta: true,
        embeddingSize: c.embeddingSize,
        seed: c.seed,
      }),
  },
  {
    id: "tuplet-margin",
    family: "deep",
    description: "tupletMarginLoss, PML defaults (margin 5.73°, scale 64, cosine), all pairs",
    loss: (e, y) => tupletMarginLoss(e, y),
  },
  {
    id: "snr-contrastive",
    family: "deep",
    description:
      "signalToNoiseRatioContrastiveLoss, PML defaults (posMargin 0, negMargin 1, SNR distance)",
    loss: (e, y) => signalToNoiseRatioContrastiveLoss(e, y),
  },
  {
    id: "dynamic-soft-margin",
    family: "deep",
    description:
      "dynamicSoftMarginLoss, PML defaults (minVal −2, 10 bins), all triplets; each batch's own " +
      "histogram (PML's momentum 0.01 weighs the kept one by about 99/#triplets: negligible)",
    loss: (e, y) => dynamicSoftMarginLoss(e, y),
  },
  {
    id: "threshold-consistent-margin",
    family: "deep",
    description:
      "thresholdConsistentMarginLoss, PML defaults (λ⁺ = λ⁻ = 1, m⁺ 0.9, m⁻ 0.5, cosine), all pairs",
    loss: (e, y) => thresholdConsistentMarginLoss(e, y),
  },
  {
    id: "nca",
    family: "deep",
    description: "ncaLoss, PML defaults (softmax scale 1, squared Euclidean), the whole batch",
    loss: (e, y) => ncaLoss(e, y),
  },
  {
    id: "instance",
    family: "deep",
    description: "instanceLoss, PML defaults (γ 64, cosine), the batch's similarities as logits",
    loss: (e, y) => instanceLoss(e, y),
  },
  {
    id: "proxy-nca",
    family: "deep",
    description:
      "ProxyNCALoss, PML defaults (softmax scale 1, squared Euclidean; proxies N(0, 1)), proxies " +
      "at the network's learning rate",
    trainableLoss: (c) => new ProxyNCALoss(c),
  },
  {
    id: "proxy-anchor",
    family: "deep",
    description:
      "ProxyAnchorLoss, PML defaults (margin 0.1, α 32, cosine; proxies Kaiming-normal); proxies " +
      "at 100× the network's learning rate (the paper's)",
    trainableLoss: (c) => new ProxyAnchorLoss(c),
    lossLearningRateMultiplier: 100,
  },
  {
    id: "normalized-softmax",
    family: "deep",
    description:
      "NormalizedSoftmaxLoss, PML defaults (temperature 0.05, dot product of unit vectors; W " +
      "N(0, 1)), W at the network's learning rate",
    trainableLoss: (c) => new NormalizedSoftmaxLoss(c),
  },
  {
    id: "cosface",
    family: "deep",
    description:
      "CosFaceLoss, PML defaults (margin 0.35, scale 64; W N(0, 1)), W at the network's learning " +
      "rate",
    trainableLoss: (c) => new CosFaceLoss(c),
  },
  {
    id: "arcface",
    family: "deep",
    description:
      "ArcFaceLoss, PML defaults (margin 28.6°, scale 64; W N(0, 1)), W at the network's " +
      "learning rate",
    trainableLoss: (c) => new ArcFaceLoss(c),
  },
  {
    id: "softtriple",
    family: "deep",
    description:
      "SoftTripleLoss, PML defaults (10 centers per class, λ 20, γ 0.1, δ 0.01; centers " +
      "Kaiming-uniform); centers at 100× the network's learning rate (the paper's)",
    trainableLoss: (c) => new SoftTripleLoss(c),
    lossLearningRateMultiplier: 100,
  },
  {
    id: "fastap",
    family: "deep",
    description: "fastAPLoss, PML defaults (10 bins, squared Euclidean)",
    loss: (e, y) => fastAPLoss(e, y),
  },
  {
    id: "histogram",
    family: "deep",
    description: "histogramLoss, PML defaults (100 bins, cosine similarity)",
    loss: (e, y) => histogramLoss(e, y),
  },
  {
    id: "pnp",
    family: "deep",
    description: "pnpLoss, PML defaults (variant PNP-O, anneal 0.01)",
    loss: (e, y) => pnpLoss(e, y),
  },
  {
    id: "ranked-list",
    family: "deep",
    description:
      "rankedListLoss, the paper's margin 0.4, Tn 10 (PML has no default), PML defaults otherwise (α 1.2, λ 0.5, Tp 0)",
    loss: (e, y) => rankedListLoss(e, y, { margin: 0.4, Tn: 10 }),
  },
  {
    id: "smooth-ap",
    family: "deep",
    description: "smoothAPLoss, PML defaults (temperature 0.01), classes from the labels",
    loss: (e, y) => smoothAPLoss(e, y),
  },
  {
    id: "vicreg",
    family: "deep",
    description:
      "vicRegLoss, PML defaults (λ 25, μ 25, ν 1); views: the batch's rows paired within each class",
    loss: (e, y) => {
      const [a, b] = classPairs(y);
      return vicRegLoss(tf.gather(e, a), undefined, { refEmbeddings: tf.gather(e, b) });
    },
  },
  {
    id: "manifold",
    family: "deep",
    description:
      "manifoldLoss, PML defaults (K 50, λC 1, α 0.8, margin 5e-4); proxies N(0, 1) seeded and " +
      "trained at the network's learning rate (PML's nn.Parameter), meta classes drawn per batch " +
      "from the run's seed",
    trainableLoss: ({ embeddingSize, seed }) => {
      const loss = new TrainableLoss(manifoldLoss, { embeddingSize, seed });
      const rng = createRng(seed);
      return {
        trainableWeights: loss.trainableWeights,
        call: (e: tf.Tensor2D) => loss.call(e, undefined, { rng }),
        dispose: () => loss.dispose(),
      };
    },
  },
  {
    id: "linear-euclidean",
    family: "linear",
    description: "no learning: Euclidean distance on the same PCA features (the linear baseline)",
    fitLinear: () => Promise.resolve(null),
  },
  // Every learner of lib/linear, fitted from the labels (LINEAR_LEARNERS: metric-learn's
  // defaults unless its description says otherwise).
  ...LINEAR_LEARNERS.map((spec): BenchmarkMethod => ({
    id: `linear-${spec.id}`,
    family: "linear",
    description: spec.description,
    fitLinear: async ({ x, labels, seed, iterations }) => {
      const learner = spec.create({ seed, iterations, labels });
      try {
        return await learner.fit(x, labels);
      } catch (e) {
        learner.dispose();
        throw e;
      }
    },
  })),
] as BenchmarkMethod[]);

/**
 * Looks methods up by id (a comma-separated list, or all when empty), in table order.
 *
 * @throws Error naming unknown ids and the known ones.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectMethods } from "./methods.ts";
 * assert.deepEqual(selectMethods("supcon,untrained").map((m) => m.id), ["untrained", "supcon"]);
 * ```
 */
export function selectMethods(
  ids: string,
  registry: readonly BenchmarkMethod[] = BENCHMARK_METHODS,
): BenchmarkMethod[] {
  const wanted = ids.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (wanted.length === 0) return [...registry];
  const known = new Set(registry.map((m) => m.id));
  const unknown = wanted.filter((id) => !known.has(id));
  if (unknown.length) {
    throw new Error(
      `unknown method${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; known: ${
        [...known].join(", ")
      }`,
    );
  }
  return registry.filter((m) => wanted.includes(m.id));
}
