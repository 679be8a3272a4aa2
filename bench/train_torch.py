#!/usr/bin/python3
"""PyTorch side of `deno task bench train`: trains the reference CNN or the MLP encoder with the
contrastive loss as pytorch-metric-learning defines it (ContrastiveLoss(pos_margin=0,
neg_margin=1), LpDistance on L2-normalised embeddings, all pairs of the batch, AvgNonZeroReducer on
the positive and the negative terms, summed), Adam, on the batches the Deno bench wrote, with
--threads CPU threads, or on a GPU with --device cuda (--device auto: CUDA when available). The
loss is read every step (float(loss)), as the Deno side does. Prints one JSON line with the
throughput.

Usage: train_torch.py DATA_FILE --n N --batch B --model cnn|mlp --warmup W --steps S --seconds T
                      [--threads K] [--device cpu|cuda|auto]
DATA_FILE holds N float32 images of 28x28 (row-major, [0, 1]) followed by N int32 labels.
"""
import argparse
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def reference_cnn() -> nn.Module:
    # conv3x3(32, valid)-relu-maxpool2, conv3x3(64, valid)-relu-maxpool2, dense(128)-relu, dense(64)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 64),
    )


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
        nn.Linear(128, 64),
    )


def avg_non_zero(losses: torch.Tensor) -> torch.Tensor:
    nz = losses > 0
    count = int(nz.sum())
    if count == 0:
        return losses.sum() * 0
    return losses[nz].sum() / count


def contrastive_loss(embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    e = F.normalize(embeddings, p=2, dim=1)
    d = torch.cdist(e, e, p=2)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    pos = d[same & ~eye]
    neg = d[~same]
    return avg_non_zero(F.relu(pos - 0.0)) + avg_non_zero(F.relu(1.0 - neg))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    a = p.parse_args()
    device = a.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    raw = np.fromfile(a.data, dtype=np.uint8)
    images = np.frombuffer(raw[: a.n * 784 * 4].tobytes(), dtype=np.float32).reshape(a.n, 1, 28, 28)
    labels = np.frombuffer(raw[a.n * 784 * 4: a.n * 784 * 4 + a.n * 4].tobytes(), dtype=np.int32)
    x_all = torch.from_numpy(images.copy()).to(device)
    y_all = torch.from_numpy(labels.astype(np.int64)).to(device)
    batches = a.n // a.batch
    if batches < 1:
        sys.exit(f"train_torch.py: --n {a.n} is smaller than --batch {a.batch}")

    model = (reference_cnn() if a.model == "cnn" else mlp()).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(i: int) -> float:
        b = i % batches
        x = x_all[b * a.batch:(b + 1) * a.batch]
        y = y_all[b * a.batch:(b + 1) * a.batch]
        opt.zero_grad(set_to_none=True)
        loss = contrastive_loss(model(x), y)
        loss.backward()
        opt.step()
        return float(loss)

    first = None
    for i in range(a.warmup):
        v = step(i)
        first = v if first is None else first
    done = 0
    last = first
    c0 = time.process_time()
    t0 = time.perf_counter()
    while done < a.steps and (done == 0 or time.perf_counter() - t0 < a.seconds):
        last = step(a.warmup + done)
        first = last if first is None else first
        done += 1
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(json.dumps({
        "backend": "torch",
        "model": a.model,
        "batch": a.batch,
        "steps": done,
        "seconds": elapsed,
        "imagesPerSecond": done * a.batch / elapsed,
        "cpuSeconds": cpu,
        "imagesPerCpuSecond": done * a.batch / cpu,
        "msPerStep": 1000 * elapsed / done,
        "lossFirst": first,
        "lossLast": last,
        "threads": torch.get_num_threads(),
        "version": torch.__version__,
        "device": device,
        "deviceName": torch.cuda.get_device_name(0) if device == "cuda" else "CPU",
    }))


if __name__ == "__main__":
    main()
