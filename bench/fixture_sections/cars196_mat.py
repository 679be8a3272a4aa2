"""MAT-files (MATLAB Level 5) in the layout of the Stanford Cars (Cars196) release, written by
SciPy's scipy.io.savemat, for tests/image_benchmarks_test.ts: a small replica's `cars_annos.mat`
(compressed, as MATLAB saves) and the devkit's `cars_meta.mat`, `cars_train_annos.mat` and
`cars_test_annos_withlabels.mat` (uncompressed), plus one file of assorted arrays read back by
scipy.io.loadmat, to check the reader value by value.

The replica: 4 classes, 3 images each (12 in all); classes 1-2 are the metric-learning train
classes, 3-4 the test classes (⌊C/2⌋, as 98 of 196).
"""
import base64
import io

import numpy as np
import scipy.io as sio

NAMES = ["AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Acura TL Sedan 2012",
         "Acura TL Type-S 2008"]


def _mat(variables, compress):
    buf = io.BytesIO()
    sio.savemat(buf, variables, do_compression=compress, oned_as="row")
    data = bytearray(buf.getvalue())
    # The MAT 5 header's first 116 bytes are free text that savemat fills with the creation time;
    # a fixed text keeps the fixture byte-for-byte reproducible.
    data[:116] = b"MATLAB 5.0 MAT-file, written by bench/fixture_sections/cars196_mat.py".ljust(116)
    return base64.b64encode(bytes(data)).decode()


def _names():
    cell = np.empty((1, len(NAMES)), dtype=object)
    for i, n in enumerate(NAMES):
        cell[0, i] = n
    return cell


def _annotations(rows, path_field):
    dtype = [(path_field, "O"), ("bbox_x1", "O"), ("bbox_y1", "O"), ("bbox_x2", "O"),
             ("bbox_y2", "O"), ("class", "O")] + ([("test", "O")] if path_field == "relative_im_path" else [])
    arr = np.zeros((1, len(rows)), dtype=dtype)
    for i, r in enumerate(rows):
        values = [np.array([r["file"]]), np.array([[3]], dtype=np.uint8), np.array([[4]], dtype=np.uint8),
                  np.array([[60]], dtype=np.uint16), np.array([[40]], dtype=np.uint16),
                  np.array([[r["class"]]], dtype=np.uint8)]
        if path_field == "relative_im_path":
            values.append(np.array([[r["test"]]], dtype=np.uint8))
        arr[0, i] = tuple(values)
    return arr


def generate():
    # All images, in cars_annos.mat order: classes interleaved, the data set's own test flag mixed.
    all_rows = [{"file": f"car_ims/{i + 1:06d}.jpg", "class": i % 4 + 1, "test": i % 2} for i in range(12)]
    train_rows = [{"file": f"{i + 1:05d}.jpg", "class": i % 4 + 1} for i in range(6)]
    test_rows = [{"file": f"{i + 1:05d}.jpg", "class": (i + 1) % 4 + 1} for i in range(6)]
    assorted = {
        "matrix": np.array([[1.5, -2.0, 3.25], [4.0, 5.0, 6.0]]),
        "ints": np.array([[-3, 7, 1000]], dtype=np.int16),
        "text": np.array(["ab", "cd"]),
        "cell": np.array([[np.array([[1.0]]), "x"]], dtype=object),
    }
    back = sio.loadmat(io.BytesIO(base64.b64decode(_mat(assorted, True))))
    return {
        "class_names": NAMES,
        "all": all_rows,
        "train": train_rows,
        "test": test_rows,
        "cars_annos": _mat({"annotations": _annotations(all_rows, "relative_im_path"),
                            "class_names": _names()}, True),
        "cars_meta": _mat({"class_names": _names()}, False),
        "cars_train_annos": _mat({"annotations": _annotations(train_rows, "fname")}, False),
        "cars_test_annos_withlabels": _mat({"annotations": _annotations(test_rows, "fname")}, False),
        "assorted": _mat(assorted, True),
        "assorted_loadmat": {
            "matrix": back["matrix"].tolist(),
            "ints": back["ints"].tolist(),
            "text": [str(s) for s in back["text"]],
            "cell0": back["cell"][0, 0].tolist(),
            "cell1": str(back["cell"][0, 1][0]),
        },
    }
