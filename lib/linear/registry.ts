/**
 * Every linear learner as the experiments run it from class labels: one row per learner (and per
 * SCML basis), each a factory of a fitted-from-labels {@linkcode SupervisedLearner} with
 * metric-learn's defaults, except where a row says otherwise and why. The `linear-metrics`
 * experiment and the benchmark's linear rows both read this table.
 *
 * @module
 */
import type { SupervisedLearner } from "./base.ts";
import { Covariance } from "./covariance.ts";
import { ITML_Supervised } from "./itml.ts";
import { LFDA } from "./lfda.ts";
import { LMNN } from "./lmnn.ts";
import { LSML_Supervised } from "./lsml.ts";
import { MLKR } from "./mlkr.ts";
import { MMC_Supervised } from "./mmc.ts";
import { NCA } from "./nca.ts";
import { RCA_Supervised } from "./rca.ts";
import { SCML_Supervised } from "./scml.ts";
import { SDML_Supervised } from "./sdml.ts";

/**
 * One learner of {@linkcode LINEAR_LEARNERS}.
 *
 * @example
 * ```ts
 * import { LINEAR_LEARNERS } from "./registry.ts";
 * const lfda = LINEAR_LEARNERS.find((l) => l.id === "lfda")!;
 * const learner = lfda.create({ seed: 0, iterations: 0 });
 * ```
 */
export interface LinearLearnerSpec {
  /** Short id (`"lfda"`, `"scml-triplet-diffs"`, …). */
  id: string;
  /** metric-learn's class and the settings used, one line. */
  description: string;
  /**
   * A fresh learner. `seed` seeds its constraints and initialisation; `iterations` > 0 caps its
   * optimisation steps (0: the learner's default).
   */
  create(
    options: { seed: number; iterations: number; labels?: ArrayLike<number> },
  ): SupervisedLearner;
}

const steps = (iterations: number) => (iterations > 0 ? { iterations } : {});
const maxIter = (iterations: number) => (iterations > 0 ? { maxIter: iterations } : {});
const scmlIter = (iterations: number) =>
  iterations > 0 ? { maxIter: iterations, outputIter: Math.min(500, iterations) } : {};

/**
 * The learners in table order: the label-based ones (NCA, LMNN, MLKR, LFDA), the unsupervised
 * baseline (Covariance), then the `_Supervised` forms of the pair, quadruplet, chunklet and
 * triplet learners.
 *
 * @example
 * ```ts
 * import { LINEAR_LEARNERS } from "./registry.ts";
 * console.log(LINEAR_LEARNERS.map((l) => l.id).join(" ")); // nca lmnn mlkr lfda covariance itml mmc sdml lsml rca scml scml-triplet-diffs
 * ```
 */
export const LINEAR_LEARNERS: readonly LinearLearnerSpec[] = Object.freeze([
  {
    id: "nca",
    description: "NCA (Adam 0.01, 100 steps, batches of 512)",
    create: ({ seed, iterations }) => new NCA({ seed, ...steps(iterations) }),
  },
  {
    id: "lmnn",
    description: "LMNN (3 target neighbours, μ 0.5; Adam 0.01, 200 steps)",
    create: ({ seed, iterations }) => new LMNN({ seed, ...steps(iterations) }),
  },
  {
    id: "mlkr",
    description: "MLKR regressing the class index (a stand-in target; Adam 0.05, 200 steps)",
    create: ({ seed, iterations }) => new MLKR({ seed, ...steps(iterations) }),
  },
  {
    id: "lfda",
    description: "LFDA (metric-learn defaults: k = min(7, d − 1), weighted embedding)",
    create: () => new LFDA(),
  },
  {
    id: "covariance",
    description: "Covariance (M = Σ⁻¹, labels unused)",
    create: () => new Covariance(),
  },
  {
    id: "itml",
    description: "ITML_Supervised (metric-learn defaults: γ 1, 20·C² pairs of each kind)",
    create: ({ seed, iterations }) => new ITML_Supervised({ seed, ...maxIter(iterations) }),
  },
  {
    id: "mmc",
    description:
      "MMC_Supervised, diagonal (Newton; 20·C² pairs of each kind): the full-matrix optimum " +
      "concentrates M on one or two directions and loses to Euclidean on both data sets",
    create: ({ seed, iterations }) =>
      new MMC_Supervised({ seed, diagonal: true, ...maxIter(iterations) }),
  },
  {
    id: "sdml",
    description:
      'SDML_Supervised (20·C² pairs of each kind) with prior "covariance" and balanceParam ' +
      "0.25 / (20·C²): with metric-learn's defaults (identity prior, 0.5) S = I + 0.5·Σ y d dᵀ is " +
      "far from positive semi-definite and the graphical lasso fails on both data sets",
    create: ({ seed, labels }) => {
      const classes = labels ? new Set(Array.from(labels)).size : 2;
      return new SDML_Supervised({
        seed,
        prior: "covariance",
        balanceParam: 0.25 / (20 * classes ** 2),
      });
    },
  },
  {
    id: "lsml",
    description: "LSML_Supervised (metric-learn defaults: identity prior, 20·C² quadruplets)",
    create: ({ seed, iterations }) => new LSML_Supervised({ seed, ...maxIter(iterations) }),
  },
  {
    id: "rca",
    description:
      "RCA_Supervised (metric-learn defaults: 100 chunklets of 2, or as many as the training labels allow)",
    create: ({ seed, labels }) => {
      let most = 100;
      if (labels) {
        const counts = new Map<number, number>();
        for (let i = 0; i < labels.length; i++) {
          counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
        }
        most = [...counts.values()].reduce((s, c) => s + Math.floor(c / 2), 0);
      }
      return new RCA_Supervised({ seed, nChunks: Math.max(1, Math.min(100, most)) });
    },
  },
  {
    id: "scml",
    description:
      "SCML_Supervised, LDA bases (metric-learn defaults: 3 genuine × 10 impostor neighbours, β 1e-5, γ 5e-3, 10,000 iterations)",
    create: ({ seed, iterations }) => new SCML_Supervised({ seed, ...scmlIter(iterations) }),
  },
  {
    id: "scml-triplet-diffs",
    description: "SCML_Supervised, triplet_diffs bases (80·d bases; otherwise as scml)",
    create: ({ seed, iterations }) =>
      new SCML_Supervised({ seed, basis: "triplet_diffs", ...scmlIter(iterations) }),
  },
] as LinearLearnerSpec[]);
