"""`.npy` files written by NumPy itself (numpy.save / numpy.lib.format.write_array), for
tests/embeddings_test.ts: the accepted embeddings (float32 and float64, C order, either byte
order, format versions 1.0 and 2.0), integer label arrays, and the refused ones (Fortran order,
float16, integer embeddings, 1-D and 3-D arrays, a NaN), each with the values NumPy reads back.
"""
import base64
import io

import numpy as np


def _npy(array, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, array, allow_pickle=False)
    else:
        np.lib.format.write_array(buf, array, version=version, allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode()


def generate():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(5, 3))
    labels = np.array([0, 1, 0, 2, 1])
    nan = x.astype(np.float32).copy()
    nan[3, 1] = np.nan
    return {
        "values": x.astype(np.float32).astype(np.float64).tolist(),
        "values64": x.tolist(),
        "labels": labels.tolist(),
        "ok": {
            "f4": _npy(x.astype("<f4")),
            "f8": _npy(x.astype("<f8")),
            "f4_big_endian": _npy(x.astype(">f4")),
            "f4_v2": _npy(x.astype("<f4"), version=(2, 0)),
        },
        "labels_files": {
            "i8": _npy(labels.astype("<i8")),
            "i4_column": _npy(labels.astype("<i4").reshape(5, 1)),
            "u1": _npy(labels.astype("u1")),
        },
        "bad": {
            "fortran": _npy(np.asfortranarray(x.astype("<f4"))),
            "f2": _npy(x.astype("<f2")),
            "i4": _npy((x * 10).astype("<i4")),
            "one_d": _npy(x.astype("<f4").ravel()),
            "three_d": _npy(x.astype("<f4").reshape(5, 3, 1)),
            "nan": _npy(nan),
        },
    }
