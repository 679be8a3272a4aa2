"""Miner fixtures: pytorch-metric-learning 2.9.0's miners themselves — TripletMarginMiner (each
type of triplets and margins), BatchHardMiner, MultiSimilarityMiner (epsilon), PairMarginMiner
(margins) — with their default and non-default distances (LpDistance, LpDistance(power=2),
CosineSimilarity, DotProductSimilarity, normalize_embeddings=False).

Each case holds the inputs (float32 embeddings, labels), our function and options, and the
tuples PML mined, as PML orders them. PML computes on the float32 inputs, as the library does.
"""
import logging

import numpy as np
import torch
from pytorch_metric_learning import distances, miners

logging.getLogger("PML").setLevel(logging.ERROR)

DIST = {
    "euclidean": lambda norm: distances.LpDistance(normalize_embeddings=norm),
    "sqeuclidean": lambda norm: distances.LpDistance(power=2, normalize_embeddings=norm),
    "cosine": lambda norm: distances.CosineSimilarity(),
    "dot": lambda norm: distances.DotProductSimilarity(normalize_embeddings=norm),
}
KW = {"margin": "margin", "type": "type_of_triplets", "epsilon": "epsilon",
      "posMargin": "pos_margin", "negMargin": "neg_margin"}
PML = {
    "tripletMarginMiner": miners.TripletMarginMiner,
    "batchHardMiner": miners.BatchHardMiner,
    "multiSimilarityMiner": miners.MultiSimilarityMiner,
    "pairMarginMiner": miners.PairMarginMiner,
}
DEFAULT_DISTANCE = {"multiSimilarityMiner": "cosine"}


def _case(name, miner, x, labels, options=None):
    options = dict(options or {})
    kwargs = {KW[k]: v for k, v in options.items() if k in KW}
    norm = options.get("normalizeEmbeddings", True)
    if "distance" in options or not norm:
        kwargs["distance"] = DIST[options.get("distance", DEFAULT_DISTANCE.get(miner, "euclidean"))](norm)
    fn = PML[miner](**kwargs)
    tuples = fn(torch.tensor(x, dtype=torch.float32), torch.tensor(labels))
    keys = ["a", "p", "n"] if len(tuples) == 3 else ["a1", "p", "a2", "n"]
    return {
        "name": name,
        "miner": miner,
        "options": options,
        "pml": {"class": type(fn).__name__,
                "kwargs": {k: (v if isinstance(v, (int, float, str)) else type(v).__name__)
                           for k, v in kwargs.items()}},
        "embeddings": x,
        "labels": labels,
        "expected": {k: t.tolist() for k, t in zip(keys, tuples)},
    }


def generate():
    rng = np.random.RandomState(77)
    n, d = 12, 4
    x = rng.normal(size=(n, d)).astype(np.float32).astype(np.float64).tolist()
    y = [i % 3 for i in range(n)]
    rng.shuffle(y)
    cases = []
    grid = {
        "tripletMarginMiner": [
            {}, {"margin": 0.5}, {"type": "hard"}, {"type": "semihard", "margin": 0.6},
            {"type": "easy"}, {"distance": "sqeuclidean", "margin": 0.8},
            {"distance": "cosine", "margin": 0.3, "type": "semihard"}, {"distance": "dot", "margin": 0.2},
            {"normalizeEmbeddings": False, "margin": 1.0, "type": "hard"},
        ],
        "batchHardMiner": [
            {}, {"distance": "sqeuclidean"}, {"distance": "cosine"}, {"distance": "dot"},
            {"normalizeEmbeddings": False},
        ],
        "multiSimilarityMiner": [
            {}, {"epsilon": 0.3}, {"distance": "euclidean"}, {"distance": "euclidean", "epsilon": 0.05},
            {"distance": "dot", "epsilon": 0.2},
        ],
        "pairMarginMiner": [
            {}, {"posMargin": 0.5, "negMargin": 1.1}, {"distance": "sqeuclidean", "negMargin": 1.5},
            {"distance": "cosine", "posMargin": 0.7, "negMargin": 0.2},
            {"normalizeEmbeddings": False, "posMargin": 1.0, "negMargin": 2.0},
        ],
    }
    for miner, option_sets in grid.items():
        for i, options in enumerate(option_sets):
            cases.append(_case(f"{miner}_{i}", miner, x, y, options))
    return cases
