/**
 * `deno task experiment evaluate-embeddings --embeddings X [--labels Y]`: evaluates embeddings
 * computed elsewhere, without training — the retrieval, clustering and verification metrics the
 * trained encoders get, and the figures of a run.
 *
 * - **Input** (`loadEmbeddings`): `.npy` (float32/float64 `[n, d]`, C order), CSV/TSV (one row per
 *   embedding; a label column by `--labelColumn` or a header `label`), or a TensorBoard projector
 *   folder (`vectors.tsv` + `metadata.tsv`); labels from `--labels` (`.npy` of integers, or text
 *   with one label per line), `--metadata` (a projector metadata TSV) or the file itself. Names
 *   become labels in sorted order.
 * - **Retrieval** (pytorch-metric-learning's `AccuracyCalculator` rules, each embedding against
 *   all others, `--metric`): MAP@R, R-precision, P@1, Recall@K, MRR, mean average precision.
 * - **Clustering**: k-means (k = number of classes, seeded, one initialisation) on the embeddings
 *   as given, scored by NMI and AMI against the labels.
 * - **Verification**: `--pairs` balanced same/different pairs (seeded), scored by their distance:
 *   ROC-AUC, equal error rate, best-threshold accuracy; and a match threshold calibrated as
 *   TensorFlow Similarity's `calibrate` does (each embedding's nearest other embedding, same
 *   label or not, the largest distance at which precision is still ≥ `--targetPrecision`), with
 *   its precision and recall, and the F1-optimal threshold.
 * - **Report**: `embeddings.html` (the embeddings projected to 2-D, coloured by class), `roc.html`
 *   and `threshold.html` (precision and recall of nearest-neighbour matches against the
 *   threshold), and the numbers in `metrics.json`.
 *
 * Every bad input (a missing or unreadable file, a wrong dtype or Fortran order, ragged rows, a
 * non-number, labels that do not match the rows, no labels, fewer than two classes or no class
 * with two embeddings) is a usage error naming the file, with exit code 2 and no run directory.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineExperiment, option, pathProblem, UsageError } from "../lib/experiment.ts";
import type { ExperimentDataSet } from "../lib/experiment.ts";
import { DataError } from "../lib/data/errors.ts";
import { type LoadedEmbeddings, loadEmbeddings } from "../lib/data/embeddings.ts";
import { fingerprintArrays } from "../lib/data/fingerprint.ts";
import { labelledPairs } from "../lib/data/pairs.ts";
import { pairedDistances } from "../lib/distances.ts";
import {
  bestThresholdAccuracy,
  calibrateThreshold,
  equalErrorRate,
  evaluateEmbeddings,
  knn,
  rocAuc,
  rocCurve,
} from "../lib/eval/mod.ts";
import {
  embeddingFigure,
  precisionThresholdFigure,
  rocFigure,
  thresholdSweep,
} from "../lib/viz/mod.ts";

const fileOption = (name: string, description: string, want: "file" | "any") =>
  option.string("", description, {
    placeholder: "path",
    defaultLabel: "none",
    check: (path) => (path === "" ? undefined : pathProblem(name, path, want)),
  });

/** The embeddings and labels, with their provenance. */
interface EmbeddingsData extends ExperimentDataSet {
  loaded: LoadedEmbeddings;
  labels: Int32Array;
  classes: number;
}

function fmt(v: number | null | undefined, digits = 4): string {
  return typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "-";
}

/**
 * The evaluate-embeddings experiment.
 *
 * @example
 * ```ts
 * console.log(experiment.name); // deno task experiment evaluate-embeddings --embeddings e.npy --labels l.txt
 * ```
 */
export const experiment = defineExperiment({
  name: "evaluate-embeddings",
  description:
    "retrieval, clustering and verification metrics of embeddings from elsewhere (.npy, CSV/TSV, projector), no training",
  trains: false,
  options: {
    embeddings: fileOption(
      "embeddings",
      "the embeddings: .npy [n, d], .csv/.tsv (one row each), or a projector folder (vectors.tsv)",
      "any",
    ),
    labels: fileOption(
      "labels",
      "labels: .npy of integers, or text with one label per line (default: from the embeddings file)",
      "file",
    ),
    metadata: fileOption("metadata", "a projector metadata TSV holding the labels", "file"),
    labelColumn: option.string(
      "",
      "the label column of a CSV/TSV or metadata file: a header name or a 0-based index",
      { placeholder: "name|index", defaultLabel: "a header named label, else none" },
    ),
    metric: option.choice(["euclidean", "cosine"], "euclidean", "the distance ranked by"),
    pairs: option.integer(2000, "balanced same/different pairs for verification", { min: 2 }),
    targetPrecision: option.number(
      0.9,
      "precision the calibrated match threshold must keep",
      { above: 0, max: 1 },
    ),
    seed: option.integer(0, "seed of the verification pairs and of k-means", { min: 0 }),
    projection: option.choice(["pca", "umap", "tsne"], "pca", "2-D projection of embeddings.html"),
  },
  validate(o) {
    if (o.embeddings === "") {
      throw new UsageError(
        "--embeddings is required (a .npy, .csv or .tsv file, or a projector folder)",
      );
    }
  },
  async data(o, log): Promise<EmbeddingsData> {
    const labelColumn = o.labelColumn === ""
      ? undefined
      : /^\d+$/.test(o.labelColumn)
      ? Number(o.labelColumn)
      : o.labelColumn;
    let loaded: LoadedEmbeddings;
    try {
      loaded = await loadEmbeddings(o.embeddings, {
        ...(o.labels ? { labels: o.labels } : {}),
        ...(o.metadata ? { metadata: o.metadata } : {}),
        ...(labelColumn !== undefined ? { labelColumn } : {}),
      });
    } catch (e) {
      if (e instanceof DataError || e instanceof TypeError) {
        throw new UsageError(`--embeddings: ${e.name}: ${e.message}`);
      }
      throw e;
    }
    const labels = loaded.labels;
    if (!labels) {
      throw new UsageError(
        `--embeddings: ${loaded.path} holds no labels: give --labels <file>, --metadata <tsv>, ` +
          `or --labelColumn for a CSV/TSV column`,
      );
    }
    const counts = new Map<number, number>();
    for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
    if (counts.size < 2 || ![...counts.values()].some((c) => c >= 2)) {
      throw new UsageError(
        `--embeddings: ${loaded.n} embeddings in ${counts.size} class${
          counts.size === 1 ? "" : "es"
        }; retrieval and verification need at least 2 classes and a class with 2 embeddings`,
      );
    }
    log(
      `embeddings: ${loaded.format} ${loaded.path}: ${loaded.n} × ${loaded.d}, ${counts.size} classes`,
    );
    return {
      loaded,
      labels,
      classes: counts.size,
      provenance: [{
        dataset: "embeddings",
        split: "all",
        source: loaded.path,
        sourceKind: loaded.format,
        count: loaded.n,
        fingerprint: fingerprintArrays({ embeddings: loaded.embeddings, labels }),
        fingerprintOf: "embeddings float32 [n,d] and labels int32 [n], as loaded",
      }],
    };
  },
  async run(ctx) {
    const { options, data } = ctx;
    const { loaded, labels } = data;
    const x = ctx.keep(tf.tensor2d(loaded.embeddings, loaded.shape));
    const metric = options.metric;

    ctx.log(`retrieval (each against the ${loaded.n - 1} others, ${metric}) and k-means`);
    const evaluation = await evaluateEmbeddings(x, labels, {
      metric,
      kMeans: { seed: options.seed, nInit: 1 },
    });

    ctx.log(`verification: ${options.pairs} pairs; calibration on nearest neighbours`);
    const pairs = labelledPairs(labels, { count: options.pairs, rng: options.seed });
    const pairDistances = tf.tidy(() =>
      pairedDistances(
        tf.gather(x, tf.tensor1d(pairs.left, "int32")) as tf.Tensor2D,
        tf.gather(x, tf.tensor1d(pairs.right, "int32")) as tf.Tensor2D,
        metric,
      )
    );
    const distances = await pairDistances.data() as Float32Array;
    pairDistances.dispose();
    const same = Array.from(pairs.target, (t) => t === 1);
    const distance = { scoreType: "distance" as const };
    const auc = rocAuc(distances, same, distance);
    const eer = equalErrorRate(distances, same, distance);
    const best = bestThresholdAccuracy(distances, same, distance);

    // TF Similarity's calibration: each embedding's nearest other one, matched when same label.
    const nn = await knn(x, undefined, 1, { metric });
    const nnSame = Array.from(nn.indices, (j, i) => labels[j] === labels[i]);
    let calibration: Record<string, number> | null = null;
    let calibrationNote: string | undefined;
    try {
      const c = calibrateThreshold(nn.distances, nnSame, {
        targetPrecision: options.targetPrecision,
      });
      calibration = {
        threshold: c.threshold,
        precision: c.precision,
        recall: c.recall,
        f1: c.f1,
        optimalThreshold: c.optimal.threshold,
        optimalF1: c.optimal.f1,
      };
    } catch (e) {
      calibrationNote = (e as Error).message;
      ctx.log(`no calibrated threshold: ${calibrationNote}`);
    }

    await ctx.writeFigure(
      "embeddings.html",
      await embeddingFigure(x, labels, {
        method: options.projection as "pca" | "umap" | "tsne",
        classNames: loaded.labelNames,
        seed: options.seed,
        title: `${loaded.path}: ${loaded.n} embeddings (${options.projection.toUpperCase()})`,
      }),
      "evaluate-embeddings: the embeddings",
    );
    const roc = rocCurve(distances, same, distance);
    await ctx.writeFigure(
      "roc.html",
      rocFigure({ [metric]: { ...roc, auc } }),
      "evaluate-embeddings: ROC of the verification pairs",
    );
    await ctx.writeFigure(
      "threshold.html",
      precisionThresholdFigure({ "nearest neighbour": thresholdSweep(nn.distances, nnSame) }, {
        title: "Nearest-neighbour matches: precision and recall against the distance threshold",
      }),
      "evaluate-embeddings: match threshold",
    );

    const recall = Object.entries(evaluation.recallAtK).map(([k, v]) => `R@${k} ${fmt(v)}`);
    ctx.log(
      `\nretrieval   MAP@R ${fmt(evaluation.mapAtR)}  R-precision ${fmt(evaluation.rPrecision)}  ` +
        `P@1 ${fmt(evaluation.precisionAt1)}  ${recall.join("  ")}  MRR ${fmt(evaluation.mrr)}`,
    );
    ctx.log(`clustering  NMI ${fmt(evaluation.nmi)}  AMI ${fmt(evaluation.ami)}`);
    ctx.log(
      `verification ROC-AUC ${fmt(auc)}  EER ${fmt(eer.eer)}  best accuracy ${
        fmt(best.accuracy)
      } at distance ${fmt(best.threshold)}`,
    );
    ctx.log(
      calibration
        ? `match threshold ${fmt(calibration.threshold)} (precision ${
          fmt(calibration.precision)
        } ≥ ${options.targetPrecision}, recall ${fmt(calibration.recall)}); F1-optimal ${
          fmt(calibration.optimalThreshold)
        } (F1 ${fmt(calibration.optimalF1)})`
        : `match threshold: none reaches precision ${options.targetPrecision}`,
    );
    return {
      embeddings: { path: loaded.path, format: loaded.format, n: loaded.n, d: loaded.d },
      classes: data.classes,
      retrieval: {
        mapAtR: evaluation.mapAtR,
        rPrecision: evaluation.rPrecision,
        precisionAt1: evaluation.precisionAt1,
        recallAtK: evaluation.recallAtK,
        mrr: evaluation.mrr,
        meanAveragePrecision: evaluation.meanAveragePrecision,
        queries: evaluation.queries,
        loneQueries: evaluation.loneQueries,
        metric,
      },
      clustering: { nmi: evaluation.nmi, ami: evaluation.ami, kMeansSeed: options.seed },
      verification: {
        pairs: options.pairs,
        rocAuc: auc,
        eer: eer.eer,
        eerThreshold: eer.threshold,
        bestAccuracy: best.accuracy,
        bestAccuracyThreshold: best.threshold,
      },
      calibration: calibration
        ? { ...calibration, targetPrecision: options.targetPrecision, on: "nearest neighbours" }
        : { threshold: null, targetPrecision: options.targetPrecision, note: calibrationNote },
    };
  },
});
