"""The benchmark protocol in PyTorch with pytorch-metric-learning's own losses and miners: a
cross-check of the TypeScript rows (`deno task experiment benchmark`).

Same protocol as `lib/benchmark/protocol.ts`: Fashion-MNIST pixels / 255; the reference CNN
(conv3x3(32)-relu-maxpool2, conv3x3(64)-relu-maxpool2, dense(128)-relu, dense(64), L2-normalised),
initialised as PyTorch initialises `Conv2d`/`Linear` (`--init pytorch`, the protocol's default:
Kaiming-uniform a = sqrt(5) weights, biases uniform in +-1/sqrt(fan_in)) or as Keras does
(`--init glorot`: Glorot-uniform weights, zero biases); Adam 1e-3 (PyTorch's eps 1e-8, or
`--eps`), batch 128, shuffled, 2 epochs (last partial batch dropped); the loss with PML 2.9's
defaults or the settings the method names (the same table as `lib/benchmark/methods.ts`); a loss
with parameters (class weights, proxies, centers) trained with the network, in the same Adam with
its learning rate times the method's multiplier (100 for ProxyAnchor and SoftTriple, as their
papers); MAP@R, R-precision and P@1 on the setting's test images, each queried against all others
(ties by index).

Usage:
  PYTHONPATH=/opt/peers /usr/bin/python3 bench/torch_protocol.py --setting seen --seed 0 \
      --methods contrastive,arcface [--epochs 2] [--threads 1] [--init pytorch]
Prints one JSON object per method (one line each); `--record figures/benchmark-crosscheck.jsonl`
also appends them there, where `deno task experiment benchmark` (and `--aggregate`) finds them and
sets them beside our runs of the same setting, method and seed. Needs python3-torch and numpy (Debian) and
pytorch-metric-learning 2.9 (PYTHONPATH); a comparator, never a runtime dependency.
"""
import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

DATA_DIRS = [os.environ.get("FASHION_MNIST_DIR", ""), "/usr/share/datasets/fashion-mnist",
             os.path.join(os.path.dirname(__file__), "..", "data", "fashion-mnist-full")]
CLASSES = {"seen": (list(range(10)), list(range(10))), "unseen": ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9])}


def read_idx(name):
    for d in DATA_DIRS:
        for path in (os.path.join(d, name + ".gz"), os.path.join(d, name)):
            if d and os.path.isfile(path):
                raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
                ndim = raw[3]
                dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
                return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    raise FileNotFoundError(name)


def load(split, classes, limit=0):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(f"{prefix}-images-idx3-ubyte").astype(np.float32) / 255.0
    y = read_idx(f"{prefix}-labels-idx1-ubyte").astype(np.int64)
    if limit:
        x, y = x[:limit], y[:limit]
    keep = np.isin(y, classes)
    return torch.from_numpy(x[keep][:, None, :, :].copy()), torch.from_numpy(y[keep].copy())


class ReferenceCnn(torch.nn.Module):
    def __init__(self, dim=64, init="pytorch"):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 32, 3)
        self.c2 = torch.nn.Conv2d(32, 64, 3)
        self.d1 = torch.nn.Linear(5 * 5 * 64, 128)
        self.d2 = torch.nn.Linear(128, dim)
        if init == "glorot":  # Keras' default, what `referenceCnn({ initializer: "glorot" })` does
            for m in (self.c1, self.c2, self.d1, self.d2):
                torch.nn.init.xavier_uniform_(m.weight)
                torch.nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.relu(self.d1(torch.flatten(x, 1)))
        return F.normalize(self.d2(x), dim=1)


def methods():
    """id -> (make(num_classes, dim) -> (loss, miner or None), loss learning-rate multiplier)."""
    from pytorch_metric_learning import losses, miners

    def plain(make_loss):
        return lambda c, d: (make_loss(), None)

    return {
        "contrastive": (plain(losses.ContrastiveLoss), 1),
        "triplet-semihard": (lambda c, d: (
            losses.TripletMarginLoss(margin=0.1),
            miners.TripletMarginMiner(margin=0.1, type_of_triplets="semihard")), 1),
        "ntxent": (plain(lambda: losses.NTXentLoss(temperature=0.1)), 1),
        "supcon": (plain(losses.SupConLoss), 1),
        "multisimilarity": (plain(losses.MultiSimilarityLoss), 1),
        "multisimilarity-miner": (lambda c, d: (
            losses.MultiSimilarityLoss(), miners.MultiSimilarityMiner()), 1),
        "lifted-structure": (plain(losses.LiftedStructureLoss), 1),
        "npairs": (plain(losses.NPairsLoss), 1),
        "circle": (plain(losses.CircleLoss), 1),
        "margin": (plain(losses.MarginLoss), 1),
        "margin-beta": (lambda c, d: (losses.MarginLoss(learn_beta=True, num_classes=c), None), 1),
        "angular": (plain(losses.AngularLoss), 1),
        "intra-pair-variance": (plain(losses.IntraPairVarianceLoss), 1),
        "tuplet-margin": (plain(losses.TupletMarginLoss), 1),
        "dynamic-soft-margin": (plain(lambda: binned(losses.DynamicSoftMarginLoss)()), 1),
        "threshold-consistent-margin": (plain(losses.ThresholdConsistentMarginLoss), 1),
        "nca": (plain(losses.NCALoss), 1),
        "instance": (plain(losses.InstanceLoss), 1),
        "histogram": (plain(losses.HistogramLoss), 1),
        "pnp": (plain(losses.PNPLoss), 1),
        "ranked-list": (plain(lambda: losses.RankedListLoss(margin=0.4, Tn=10)), 1),
        "manifold": (lambda c, d: (Unlabelled(losses.ManifoldLoss(l=d)), None), 1),
        "fastap": (plain(losses.FastAPLoss), 1),
        "snr-contrastive": (plain(losses.SignalToNoiseRatioContrastiveLoss), 1),
        "proxy-nca": (lambda c, d: (losses.ProxyNCALoss(c, d), None), 1),
        "proxy-anchor": (lambda c, d: (losses.ProxyAnchorLoss(c, d), None), 100),
        "normalized-softmax": (lambda c, d: (losses.NormalizedSoftmaxLoss(c, d), None), 1),
        "cosface": (lambda c, d: (losses.CosFaceLoss(c, d), None), 1),
        "arcface": (lambda c, d: (losses.ArcFaceLoss(c, d), None), 1),
        "softtriple": (lambda c, d: (losses.SoftTripleLoss(c, d), None), 100),
    }


class Unlabelled(torch.nn.Module):
    """A loss that takes no labels (ManifoldLoss: PML raises when given them; its meta classes are
    drawn per batch), called as the others are."""

    def __init__(self, loss):
        super().__init__()
        self.loss = loss

    def forward(self, embeddings, labels):
        return self.loss(embeddings)


def binned(base):
    """PML's DynamicSoftMarginLoss with its index error fixed as `lib/losses/soft_margin.ts` does:
    PML indexes past its bins for x = d(a,p) - d(a,n) >= min_val + (num_bins - 1) * delta (any
    triplet that bad ends the run); here x is clamped to the bins, so such x count in the last bin
    (and x < min_val in the first), with no interpolation weight past the last bin."""

    class Binned(base):
        def _bins(self, data):
            u = ((data - self.min_val) / self.delta).clamp(0, self.num_bins - 1)
            idx = torch.floor(u).to(dtype=torch.long)
            return idx, u - idx

        def update_histogram(self, data):
            idx, alpha = self._bins(data)
            momentum = self.momentum if self.hist_.sum() != 0 else 1.0
            hist = torch.scatter_add((1.0 - momentum) * self.hist_, 0, idx, momentum * (1 - alpha))
            inside = idx + 1 < self.num_bins
            hist = torch.scatter_add(hist, 0, idx[inside] + 1, momentum * alpha[inside])
            self.hist_ = hist / hist.sum()

        def weigh_loss(self, data):
            return torch.cumsum(self.hist_, 0)[self._bins(data)[0]] * data

    return Binned


def retrieval(emb, labels, block=1000):
    emb = emb.astype(np.float32)
    n = len(labels)
    counts = np.bincount(labels)
    sq = (emb ** 2).sum(1)
    map_r, r_prec, p1, scored = 0.0, 0.0, 0.0, 0
    for s in range(0, n, block):
        q = np.arange(s, min(n, s + block))
        d = sq[q, None] + sq[None, :] - 2 * emb[q] @ emb.T
        d[np.arange(len(q)), q] = np.inf
        order = np.argsort(d, axis=1, kind="stable")
        for row, i in enumerate(q):
            r = counts[labels[i]] - 1
            if r < 1:
                continue
            rel = labels[order[row, :r]] == labels[i]
            hits = np.cumsum(rel)
            map_r += float((hits / np.arange(1, r + 1) * rel).sum() / r)
            r_prec += float(hits[-1] / r)
            p1 += float(rel[0])
            scored += 1
    return {"mapAtR": map_r / scored, "rPrecision": r_prec / scored, "precisionAt1": p1 / scored}


def run(method, a, xtr, ytr, xte, yte, num_classes):
    torch.manual_seed(a.seed)
    model = ReferenceCnn(init=a.init)
    steps, train_s = 0, 0.0
    if method != "untrained":
        make, mult = methods()[method]
        loss_fn, miner = make(num_classes, 64)
        groups = [{"params": model.parameters()}]
        own = list(loss_fn.parameters())
        if own:
            groups.append({"params": own, "lr": a.lr * mult})
        opt = torch.optim.Adam(groups, lr=a.lr, eps=a.eps)
        per_epoch = len(ytr) // a.batch
        steps = a.steps or a.epochs * per_epoch
        gen = torch.Generator().manual_seed(a.seed)
        t0, step, order = time.time(), 0, None
        while step < steps:
            if step % per_epoch == 0:
                order = torch.randperm(len(ytr), generator=gen)
            idx = order[(step % per_epoch) * a.batch:(step % per_epoch + 1) * a.batch]
            emb, y = model(xtr[idx]), ytr[idx]
            loss = loss_fn(emb, y, miner(emb, y)) if miner else loss_fn(emb, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if hasattr(loss_fn, "hist_"):
                # DynamicSoftMarginLoss keeps its histogram with the step's graph attached, so the
                # next backward fails (PML issue #731); the histogram is state, not a parameter.
                loss_fn.hist_ = loss_fn.hist_.detach()
            step += 1
        train_s = time.time() - t0
    model.eval()
    with torch.no_grad():
        emb = torch.cat([model(xte[i:i + 1000]) for i in range(0, len(yte), 1000)]).numpy()
    m = retrieval(emb, yte.numpy())
    return {"setting": a.setting, "method": method, "seed": a.seed, "init": a.init, "eps": a.eps,
            "framework": f"torch {torch.__version__} cpu ({a.threads} thread(s)), "
                         f"pytorch-metric-learning {pml_version()}",
            **m, "steps": steps, "trainSeconds": round(train_s, 2),
            "trainImagesPerSecond": round(steps * a.batch / train_s, 1) if train_s else None,
            "trainImages": len(ytr), "testImages": len(yte)}


def pml_version():
    try:
        import pytorch_metric_learning
        return pytorch_metric_learning.__version__
    except ImportError:
        return "missing"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--setting", choices=sorted(CLASSES), default="seen")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default="contrastive",
                    help="comma-separated ids: untrained, " + ", ".join(methods()))
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--steps", type=int, default=0, help="fixed steps instead of epochs")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eps", type=float, default=1e-8, help="Adam's epsilon (PyTorch's default)")
    ap.add_argument("--init", choices=["pytorch", "glorot"], default="pytorch")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--trainLimit", type=int, default=0)
    ap.add_argument("--testLimit", type=int, default=0)
    ap.add_argument("--record", default="",
                    help="also append each run's JSON line to this file (the benchmark's table "
                         "shows figures/benchmark-crosscheck.jsonl beside our runs)")
    a = ap.parse_args()
    wanted = [m.strip() for m in a.methods.split(",") if m.strip()]
    known = ["untrained", *methods()]
    unknown = [m for m in wanted if m not in known]
    if unknown:
        ap.error(f"unknown method(s) {unknown}; known: {known}")
    torch.set_num_threads(a.threads)
    train_cls, test_cls = CLASSES[a.setting]
    xtr, ytr = load("train", train_cls, a.trainLimit)
    xte, yte = load("test", test_cls, a.testLimit)
    if a.steps == 0:
        a.steps = int(round(a.epochs * (len(ytr) // a.batch))) if a.epochs != int(a.epochs) else 0
        a.epochs = int(a.epochs)
    for method in wanted:
        line = json.dumps(run(method, a, xtr, ytr, xte, yte, len(train_cls)))
        print(line, flush=True)
        if a.record:
            with open(a.record, "a") as f:
                f.write(line + "\n")


if __name__ == "__main__":
    main()
