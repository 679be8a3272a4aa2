#!/usr/bin/env python3
"""Fixtures computed by the peers themselves (pytorch-metric-learning 2.9.0, scikit-learn 1.9.1,
PyTorch, numpy/scipy), for the TypeScript tests to compare against. The tests read the committed
JSON files under tests/fixtures/ and never need Python; this script reproduces them byte for byte.

Install (a clean Debian 12 machine with the local Python index that ../shared/ENVIRONMENT.md
describes; Debian's torch, numpy and scipy, the peers as wheels without their dependencies):

    apt-get install -y python3-torch python3-scipy python3-sklearn python3-pip python3-faiss
    w=$(mktemp -d); peers=$(mktemp -d)
    python3 -m pip download --no-deps -d "$w" pytorch-metric-learning==2.9.0 tqdm \
        scikit-learn==1.9.1 narwhals
    python3 -m pip install -q --no-deps --no-index --target "$peers" "$w"/*.whl
    PYTHONPATH="$peers" /usr/bin/python3 bench/fixtures.py            # every section
    PYTHONPATH="$peers" /usr/bin/python3 bench/fixtures.py losses     # one section

Each section is a module `bench/fixture_sections/<name>.py` with a `generate() -> dict` function
and writes `tests/fixtures/<name>.json`. Sections are discovered by file name (files starting with
`_` are helpers). Floats are written with Python's shortest round-trip repr; NaN and infinities
are written as the strings "NaN", "Infinity" and "-Infinity" (JSON has no literal for them), and
`tests/_fixtures.ts` turns them back into numbers.
"""
import importlib
import json
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = Path(__file__).resolve().parent / "fixture_sections"
OUT = ROOT / "tests" / "fixtures"


def _encode(value):
    """JSON-ready copy: non-finite floats as strings, tuples as lists, numpy/torch values as lists."""
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().double().numpy() if value.is_floating_point() else value.cpu().numpy()
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple, dict)):  # numpy array/scalar
        value = value.tolist()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    raise TypeError(f"cannot encode {type(value)!r} in a fixture")


def _versions():
    out = {"python": sys.version.split()[0]}
    for name in ("torch", "numpy", "scipy", "sklearn", "pytorch_metric_learning"):
        try:
            out[name] = importlib.import_module(name).__version__
        except ImportError:
            pass
    return out


def main(argv):
    os.environ.setdefault("PYTHONHASHSEED", "0")
    try:
        import torch

        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
    except ImportError:
        pass
    sys.path.insert(0, str(SECTIONS))
    available = sorted(p.stem for p in SECTIONS.glob("*.py") if not p.stem.startswith("_"))
    wanted = argv or available
    unknown = [w for w in wanted if w not in available]
    if unknown:
        sys.exit(f"unknown section(s) {unknown}; sections: {available}")
    OUT.mkdir(parents=True, exist_ok=True)
    for name in wanted:
        module = importlib.import_module(name)
        data = {"section": name, "generator": "bench/fixtures.py", "versions": _versions(),
                "cases": _encode(module.generate())}
        text = json.dumps(data, sort_keys=True, indent=1, allow_nan=False) + "\n"
        (OUT / f"{name}.json").write_text(text)
        print(f"wrote tests/fixtures/{name}.json ({len(text)} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])
