#!/usr/bin/env python3
"""Comparator of `deno task bench data`: Pillow decoding and resizing as torchvision's loader and
Resize do it (`Image.open(path).convert("RGB")`, then `resize((side, side), HAMMING)`), on one
thread, over every .jpg/.png under a folder; prints {"imagesPerSecond": ...} as JSON.

    /usr/bin/python3 bench/data_pil.py <folder> <side>
"""
import json
import os
import sys
import time

from PIL import Image


def main(folder, side):
    paths = sorted(os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs
                   if f.lower().endswith((".jpg", ".jpeg", ".png")))
    blobs = []
    for p in paths:
        with open(p, "rb") as f:
            blobs.append(f.read())
    import io
    # Warm-up, then the timed pass (bytes already in memory, as the other rows read files once).
    Image.open(io.BytesIO(blobs[0])).convert("RGB").resize((side, side), Image.HAMMING)
    t = time.perf_counter()
    for b in blobs:
        Image.open(io.BytesIO(b)).convert("RGB").resize((side, side), Image.HAMMING)
    seconds = time.perf_counter() - t
    print(json.dumps({"imagesPerSecond": len(blobs) / seconds, "images": len(blobs)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
