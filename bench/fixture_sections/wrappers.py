"""PML 2.9.0's loss wrappers: SelfSupervisedLoss (symmetric and not) on every supported loss,
MultipleLosses (weights as a list or a dict, with indices, with a miner), and CrossBatchMemory
over a sequence of batches that wraps its queue (all pairs, a custom miner, enqueue masks, extra
indices); values and gradients (float32, see _loss_cases)."""
import torch
from pytorch_metric_learning import losses, miners

import _loss_cases as lc

N, D = 8, 4
E = lc.embeddings(N, D, 301)
VIEWS = (torch.tensor(E) + 0.3 * torch.tensor(lc.embeddings(N, D, 302))).tolist()

SELF_SUPERVISED = [
    ("ntXentLoss", {}),
    ("ntXentLoss", {"temperature": 0.5}),
    ("contrastiveLoss", {"negMargin": 1.2}),
    ("tripletMarginLoss", {"margin": 0.3}),
    ("supConLoss", {}),
    ("multiSimilarityLoss", {}),
    ("circleLoss", {"gamma": 4}),
    ("liftedStructureLoss", {}),
    ("generalizedLiftedStructureLoss", {}),
]


def grads_of(fn, *inputs):
    ts = [torch.tensor(x, dtype=lc.DTYPE, requires_grad=True) for x in inputs]
    out = fn(*ts)
    out.backward()
    return out.item(), [lc.rounded(t.grad.tolist()) for t in ts]


def self_supervised():
    out = []
    for name, options in SELF_SUPERVISED:
        for symmetric in (True, False):
            wrapper = losses.SelfSupervisedLoss(lc.make_loss(name, options), symmetric=symmetric)
            value, (g_e, g_r) = grads_of(wrapper, E, VIEWS)
            out.append({"loss": name, "options": options, "symmetric": symmetric,
                        "value": value, "grad": g_e, "refGrad": g_r})
    return out


Y = lc.labels(N, 3, 303)


def multiple():
    c = lc.make_loss("contrastiveLoss", {"negMargin": 1.2})
    t = lc.make_loss("tripletMarginLoss", {"margin": 0.2})
    n = lc.make_loss("ntXentLoss", {"temperature": 0.3})
    triplets = {"a": [0, 1, 2, 4], "p": [3, 6, 5, 7], "n": [1, 2, 0, 3]}
    cases = [
        ("list", losses.MultipleLosses([c, t], weights=[1, 0.5]), None),
        ("dict", losses.MultipleLosses({"c": c, "n": n}, weights={"c": 2, "n": 0.3}), None),
        ("indices", losses.MultipleLosses([c, t]), triplets),
        ("miner", losses.MultipleLosses([c, t], miners=[miners.MultiSimilarityMiner(), None],
                                        weights=[1, 2]), None),
    ]
    out = []
    for name, fn, indices in cases:
        it = lc.indices_tensors(indices)
        value, (g,) = grads_of(lambda x: fn(x, lc.long(Y), it), E)
        out.append({"case": name, "indices": indices, "value": value, "grad": g})
    return {"y": Y, "cases": out}


BATCHES = [lc.embeddings(6, D, 310 + i) for i in range(4)]
BATCH_Y = [lc.labels(6, 3, 320 + i) for i in range(4)]
MASKS = [[i % 2 == 0 for i in range(6)] for _ in range(4)]


def parity_miner(embeddings, labels, ref_emb, ref_labels):
    """Positive pairs (i, j) with i + j even; negative pairs (i, j) with j % 3 != 0."""
    same = labels.unsqueeze(1) == ref_labels.unsqueeze(0)
    i = torch.arange(len(labels)).unsqueeze(1)
    j = torch.arange(len(ref_labels)).unsqueeze(0)
    a1, p = torch.where(same & ((i + j) % 2 == 0))
    a2, n = torch.where(~same & (j % 3 != 0))
    return a1, p, a2, n


def memory_run(name, loss, options, miner=None, masks=False, indices=None):
    xbm = losses.CrossBatchMemory(lc.make_loss(loss, options), embedding_size=D, memory_size=10,
                                  miner=miner)
    steps = []
    for k, (x, y) in enumerate(zip(BATCHES, BATCH_Y)):
        kwargs = {}
        if masks:
            kwargs["enqueue_mask"] = torch.tensor(MASKS[k])
        it = lc.indices_tensors(indices) if indices is not None and k % 2 == 1 else None
        value, (g,) = grads_of(lambda e: xbm(e, lc.long(y), it, **kwargs), x)
        steps.append({"value": value, "grad": g, "indices": it is not None})
    return {"case": name, "loss": loss, "options": options, "masks": masks, "indices": indices,
            "miner": None if miner is None else "parity" if miner is parity_miner else
            "multiSimilarity", "steps": steps,
            "queueIdx": int(xbm.queue_idx), "filled": bool(xbm.has_been_filled),
            "memoryLabels": xbm.label_memory.tolist()}


def memory():
    extra = {"a": [0, 1, 2], "p": [3, 4, 5], "n": [1, 2, 0]}
    return {
        "batches": BATCHES, "labels": BATCH_Y, "masks": MASKS, "memorySize": 10,
        "runs": [
            memory_run("contrastive", "contrastiveLoss", {}),
            memory_run("triplet", "tripletMarginLoss", {"margin": 0.4}),
            memory_run("ntXent", "ntXentLoss", {"temperature": 0.5}),
            memory_run("multiSimilarity", "multiSimilarityLoss", {}),
            memory_run("miner", "contrastiveLoss", {"negMargin": 1.5}, miner=parity_miner),
            memory_run("multiSimilarityMiner", "multiSimilarityLoss", {},
                       miner=miners.MultiSimilarityMiner(epsilon=0.2)),
            memory_run("masks", "contrastiveLoss", {}, masks=True),
            memory_run("indices", "contrastiveLoss", {"negMargin": 1.5}, indices=extra),
            memory_run("tripletIndices", "tripletMarginLoss", {"margin": 0.4}, indices=extra),
        ],
    }


def generate():
    return {"inputs": {"e": E, "views": VIEWS}, "selfSupervised": self_supervised(),
            "multiple": multiple(), "memory": memory()}
