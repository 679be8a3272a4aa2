"""The benchmark protocol's contrastive row in PyTorch (a cross-check of the TypeScript numbers).

Same protocol as `lib/benchmark/protocol.ts`: Fashion-MNIST pixels / 255; the reference CNN
(conv3x3(32)-relu-maxpool2, conv3x3(64)-relu-maxpool2, dense(128)-relu, dense(64), L2-normalised,
Glorot-uniform weights and zero biases as Keras initialises them); Adam 1e-3, batch 128, shuffled,
2 epochs (last partial batch dropped); pytorch-metric-learning's ContrastiveLoss defaults
(Euclidean distance on normalised embeddings, pos_margin 0, neg_margin 1, all pairs of the batch,
AvgNonZeroReducer on the positive and the negative terms separately, summed); MAP@R, R-precision
and P@1 on the setting's test images, each queried against all others (ties by index).

Usage: /usr/bin/python3 bench/torch_protocol.py --setting seen --seed 0 [--epochs 2] [--threads 1]
Prints one JSON object. Needs python3-torch and numpy (Debian packages); not a runtime dependency.
"""
import argparse
import gzip
import json
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
    def __init__(self, dim=64):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 32, 3)
        self.c2 = torch.nn.Conv2d(32, 64, 3)
        self.d1 = torch.nn.Linear(5 * 5 * 64, 128)
        self.d2 = torch.nn.Linear(128, dim)
        for m in (self.c1, self.c2, self.d1, self.d2):
            torch.nn.init.xavier_uniform_(m.weight)
            torch.nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.relu(self.d1(torch.flatten(x, 1)))
        return F.normalize(self.d2(x), dim=1)


def contrastive_loss(e, y, pos_margin=0.0, neg_margin=1.0):
    e = F.normalize(e, dim=1)
    d = torch.cdist(e, e).clamp_min(0)
    same = y[:, None] == y[None, :]
    eye = torch.eye(len(y), dtype=torch.bool)
    pos, neg = same & ~eye, ~same
    out = e.sum() * 0
    for mask, term in ((pos, F.relu(d - pos_margin)), (neg, F.relu(neg_margin - d))):
        t = term[mask]
        nz = (t > 0).sum()
        if nz > 0:
            out = out + t.sum() / nz
    return out


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--setting", choices=sorted(CLASSES), default="seen")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=0, help="fixed steps instead of epochs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--trainLimit", type=int, default=0)
    ap.add_argument("--testLimit", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train_cls, test_cls = CLASSES[a.setting]
    xtr, ytr = load("train", train_cls, a.trainLimit)
    xte, yte = load("test", test_cls, a.testLimit)
    model = ReferenceCnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    per_epoch = len(ytr) // 128
    steps = a.steps or a.epochs * per_epoch
    gen = torch.Generator().manual_seed(a.seed)
    t0, step, order = time.time(), 0, None
    while step < steps:
        if step % per_epoch == 0:
            order = torch.randperm(len(ytr), generator=gen)
        idx = order[(step % per_epoch) * 128:(step % per_epoch + 1) * 128]
        loss = contrastive_loss(model(xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
    train_s = time.time() - t0
    model.eval()
    with torch.no_grad():
        emb = torch.cat([model(xte[i:i + 1000]) for i in range(0, len(yte), 1000)]).numpy()
    m = retrieval(emb, yte.numpy())
    print(json.dumps({"setting": a.setting, "method": "contrastive", "seed": a.seed,
                      "framework": f"torch {torch.__version__} cpu ({a.threads} thread(s))",
                      **m, "steps": steps, "trainSeconds": round(train_s, 2),
                      "trainImagesPerSecond": round(steps * 128 / train_s, 1),
                      "trainImages": len(ytr), "testImages": len(yte)}))


if __name__ == "__main__":
    main()
