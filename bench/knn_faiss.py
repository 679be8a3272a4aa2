"""faiss side of bench/knn.ts: exact k-NN with IndexFlatL2 of a raw float32 matrix against itself.

Usage: knn_faiss.py DATA.f32 N D K THREADS REPEATS OUT.i32   (THREADS 0: faiss's default)
Reads N x D float32 (row-major, little-endian), builds IndexFlatL2, searches the matrix against
itself REPEATS + 1 times (the first is a warm-up), writes the neighbour ids of the last search as
raw int32 [N x K] to OUT.i32 and prints one JSON line with the times in milliseconds.
"""
import json
import sys
import time

import faiss
import numpy as np


def main() -> None:
    path, n, d, k, threads, repeats, out = sys.argv[1:8]
    n, d, k, threads, repeats = int(n), int(d), int(k), int(threads), int(repeats)
    if threads > 0:
        faiss.omp_set_num_threads(threads)
    threads = faiss.omp_get_max_threads()
    x = np.fromfile(path, dtype="<f4").reshape(n, d)
    index = faiss.IndexFlatL2(d)
    index.add(x)
    times = []
    ids = None
    for r in range(repeats + 1):
        t0 = time.perf_counter()
        _, ids = index.search(x, k)
        ms = (time.perf_counter() - t0) * 1000
        if r > 0:
            times.append(ms)
    ids.astype("<i4").tofile(out)
    print(json.dumps({"times_ms": times, "median_ms": float(np.median(times)),
                      "threads": threads, "faiss": faiss.__version__}))


if __name__ == "__main__":
    main()
