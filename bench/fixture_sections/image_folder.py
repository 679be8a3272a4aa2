"""torchvision's ImageFolder and transforms (Pillow decoding and resampling) on a generated image
folder, for tests/images_test.ts: the class order, the sample order and the pixels after
Resize + CenterCrop (or Resize to a fixed size) for several filters, in RGB and greyscale.

The inputs travel with the fixture: every file's relative path and bytes (base64), so the test
rebuilds the same folder. Pixels are stored as base64 of uint8 samples (ToTensor divides them by 255 exactly).
Requires Debian's python3-torchvision (0.14) and python3-pil.
"""
import base64
import io
import os
import tempfile

import numpy as np
from PIL import Image, ImageFilter
import torchvision
from torchvision import transforms
from torchvision.transforms import InterpolationMode


def _picture(rng, w, h):
    """A smooth random colour picture (blurred noise plus a gradient), so resampling matters."""
    noise = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    img = Image.fromarray(noise, "RGB").filter(ImageFilter.GaussianBlur(1.5))
    a = np.asarray(img).astype(np.float64)
    yy, xx = np.mgrid[0:h, 0:w]
    a[..., 0] = 0.5 * a[..., 0] + 127 * xx / max(w - 1, 1)
    a[..., 2] = 0.5 * a[..., 2] + 127 * yy / max(h - 1, 1)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")


def _b64(array):
    """uint8 samples, row-major [h, w, c], as base64 (keeps the fixture small)."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).decode()


def _save(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _files(rng):
    """(relative path, bytes, note) of the folder's files. Classes sort by code point."""
    files = []
    specs = [
        ("Zebra/z1.png", "PNG", "RGB", (23, 17), {}),
        ("Zebra/z2.PNG", "PNG", "L", (16, 16), {}),
        ("Zebra/nested/z3.png", "PNG", "RGBA", (31, 9), {}),
        ("apple/a1.png", "PNG", "P", (20, 26), {}),
        ("apple/a2.png", "PNG", "LA", (12, 14), {}),
        ("apple/a0.png", "PNG", "1", (18, 18), {}),
        ("\u00e9clair/e1.jpg", "JPEG", "RGB", (40, 30), {"quality": 95, "subsampling": 0}),
        ("\u00e9clair/e2.JPEG", "JPEG", "L", (25, 33), {"quality": 92}),
        ("\u00e9clair/e3.jpg", "JPEG", "RGB", (48, 36), {"quality": 90, "subsampling": 2}),
        ("banana/b1.jpg", "JPEG", "RGB", (24, 24), {"quality": 95, "subsampling": 0}),
        ("banana/b2.png", "PNG", "RGB", (13, 29), {}),
        ("banana/sub/b3.png", "PNG", "P", (30, 20), {"transparency": 0}),
    ]
    for rel, fmt, mode, (w, h), kw in specs:
        img = _picture(rng, w, h)
        if mode == "P":
            img = img.convert("P", palette=Image.ADAPTIVE, colors=16)
        elif mode == "RGBA":
            alpha = Image.fromarray(rng.integers(0, 256, size=(h, w), dtype=np.uint8), "L")
            img = img.convert("RGBA")
            img.putalpha(alpha)
        elif mode == "LA":
            img = img.convert("LA")
        elif mode != "RGB":
            img = img.convert(mode)
        files.append((rel, _save(img, fmt, **kw), f"{fmt} {mode} {w}x{h}"))
    return files


def generate():
    rng = np.random.default_rng(20260118)
    files = _files(rng)
    configs = [
        {"name": "rgb-hamming-12", "size": 12, "channels": 3, "fit": "center-crop", "filter": "hamming",
         "tv": [transforms.Resize(12, InterpolationMode.HAMMING), transforms.CenterCrop(12)]},
        {"name": "grey-hamming-12", "size": 12, "channels": 1, "fit": "center-crop", "filter": "hamming",
         "tv": [transforms.Grayscale(1), transforms.Resize(12, InterpolationMode.HAMMING),
                transforms.CenterCrop(12)]},
        {"name": "rgb-box-7", "size": 7, "channels": 3, "fit": "center-crop", "filter": "box",
         "tv": [transforms.Resize(7, InterpolationMode.BOX), transforms.CenterCrop(7)]},
        {"name": "rgb-lanczos-stretch-10x14", "size": [10, 14], "channels": 3, "fit": "stretch",
         "filter": "lanczos3", "tv": [transforms.Resize((10, 14), InterpolationMode.LANCZOS)]},
        {"name": "rgb-hamming-upscale-24", "size": 24, "channels": 3, "fit": "center-crop",
         "filter": "hamming",
         "tv": [transforms.Resize(24, InterpolationMode.HAMMING), transforms.CenterCrop(24)]},
    ]
    with tempfile.TemporaryDirectory() as root:
        for rel, data, _ in files:
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        base = torchvision.datasets.ImageFolder(root)
        samples = [os.path.relpath(p, root) for p, _ in base.samples]
        decoded = [_b64(np.asarray(base.loader(p))) for p, _ in base.samples]
        sizes = [list(base.loader(p).size) for p, _ in base.samples]
        out_configs = []
        for c in configs:
            ds = torchvision.datasets.ImageFolder(
                root, transform=transforms.Compose(c["tv"] + [transforms.PILToTensor()]))
            pixels = [_b64(ds[i][0].permute(1, 2, 0).contiguous().numpy()) for i in range(len(ds))]
            out_configs.append({k: v for k, v in c.items() if k != "tv"} | {"pixels": pixels})
    return {
        "torchvision": torchvision.__version__,
        "pillow": Image.__version__,
        "files": [{"path": rel, "base64": base64.b64encode(data).decode(), "note": note}
                  for rel, data, note in files],
        "classes": base.classes,
        "samples": samples,
        "targets": base.targets,
        "sizes": sizes,
        "decoded": decoded,
        "configs": out_configs,
    }
