"""Reference distances from scipy.spatial.distance.cdist for tools/compare_scipy.ts.

Reads a JSON file {"cases": [{"name", "metric", "params", "a", "b"}]} and writes
{"results": [{"name", "values"}]} with cdist(a, b, metric, **params) (NaN/inf as strings).
Usage: /usr/bin/python3 bench/scipy_distances.py IN.json OUT.json
"""
import json
import sys

import numpy as np
import scipy
from scipy.spatial.distance import cdist


def encode(x):
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return float(x)


def main(src, dst):
    with open(src) as f:
        spec = json.load(f)
    out = []
    for case in spec["cases"]:
        a = np.asarray(case["a"], dtype=np.float64)
        b = np.asarray(case["b"], dtype=np.float64)
        params = {k: (np.asarray(v) if isinstance(v, list) else v)
                  for k, v in case.get("params", {}).items()}
        with np.errstate(all="ignore"):
            d = cdist(a, b, case["metric"], **params)
        out.append({"name": case["name"], "values": [[encode(v) for v in row] for row in d]})
    with open(dst, "w") as f:
        json.dump({"scipy": scipy.__version__, "results": out}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
