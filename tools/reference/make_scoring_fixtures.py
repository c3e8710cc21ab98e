"""Writes the scoring and metric fixtures the MVADInspect tests compare against:
nearest-neighbour distances (numpy, float64), bilinear upsampling (torch), Gaussian blur (scipy),
top-k image scores (torch), roc_auc_score (sklearn) and AUPRO (a plain reference implementation
of the definition below, checked by brute force over every threshold).

Run from the repository root:
    /work/venv/bin/python tools/reference/make_scoring_fixtures.py [--out DIR] [--seed 0]
Inputs are drawn from a seeded generator, so re-runs on the same versions give identical files.

AUPRO definition (the same as Sources/MVADInspect/Scoring/Metrics.swift):
  - regions: 8-connected components of each image's mask (scipy.ndimage.label, 3x3 ones);
  - thresholds: every distinct score; a pixel is predicted anomalous at t when score >= t;
  - FPR(t) = predicted normal pixels / all normal pixels (all images);
    PRO(t) = mean over all regions (all images) of the predicted fraction of the region;
  - the curve starts at (0, 0) and is integrated with the trapezoid rule from FPR 0 to
    max_fpr, the segment crossing max_fpr cut by linear interpolation; result / max_fpr.
"""

import argparse
import json
import os
import struct

import numpy as np
import scipy
import scipy.ndimage as ndimage
import sklearn
import torch
import torch.nn.functional as F
from scipy.spatial.distance import cdist
from sklearn.metrics import roc_auc_score

SCRIPT_PATH = "tools/reference/make_scoring_fixtures.py"
DEFAULT_OUT = "Tests/MVADInspectTests/Fixtures/scoring"


def versions():
    return {
        "script": SCRIPT_PATH,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "torch": torch.__version__,
    }


def write_safetensors(path, tensors, metadata):
    """A byte-stable safetensors writer: F32 only, tensors in the order given, sorted header."""
    header = {"__metadata__": dict(sorted(metadata.items()))}
    offset = 0
    blobs = []
    for name, array in tensors:
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for blob in blobs:
            out.write(blob)


def f32_list(array):
    """Float32 values as exact decimal floats for JSON."""
    return [float(v) for v in np.asarray(array, dtype=np.float32).ravel()]


# --- nearest neighbours -------------------------------------------------------------------------

def knn_case(rng):
    bank = rng.standard_normal((300, 16)).astype(np.float32)
    queries = rng.standard_normal((40, 16)).astype(np.float32)
    queries[:4] += 3.0  # far from the bank, as anomalous positions are
    distances = cdist(queries.astype(np.float64), bank.astype(np.float64))
    return [
        ("queries", queries),
        ("bank", bank),
        ("distances", distances.min(axis=1)),
        ("indices", distances.argmin(axis=1).astype(np.float32)),
    ]


# --- filters ------------------------------------------------------------------------------------

def upsample(grid, height, width):
    x = torch.from_numpy(grid.astype(np.float32))[None, None]
    out = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
    return out[0, 0].numpy()


def blur(image, sigma):
    return ndimage.gaussian_filter(image.astype(np.float32), sigma=sigma)


def filter_cases(rng):
    up_a = rng.random((8, 8), dtype=np.float32) * 5
    up_b = rng.random((7, 5), dtype=np.float32)
    up_c = rng.random((32, 32), dtype=np.float32) * 2
    up_c_rows = np.array([0, 1, 2, 100, 127, 128, 200, 254, 255])
    blur_a = rng.random((64, 64), dtype=np.float32)
    blur_b = rng.random((12, 9), dtype=np.float32)
    blur_c = rng.random((40, 40), dtype=np.float32) * 10
    pipe = rng.random((8, 8), dtype=np.float32) * 3
    tensors = [
        ("up_a_in", up_a), ("up_a_out", upsample(up_a, 64, 64)),
        ("up_b_in", up_b), ("up_b_out", upsample(up_b, 30, 19)),
        ("up_c_in", up_c), ("up_c_rows", up_c_rows.astype(np.float32)),
        ("up_c_out_rows", upsample(up_c, 256, 256)[up_c_rows]),
        ("blur_a_in", blur_a), ("blur_a_out", blur(blur_a, 4.0)),
        ("blur_b_in", blur_b), ("blur_b_out", blur(blur_b, 4.0)),
        ("blur_c_in", blur_c), ("blur_c_out", blur(blur_c, 2.5)),
        ("pipe_in", pipe), ("pipe_out", blur(upsample(pipe, 64, 64), 4.0)),
    ]
    metadata = {"blur_a_sigma": "4.0", "blur_b_sigma": "4.0", "blur_c_sigma": "2.5",
                "pipe_sigma": "4.0", "pipe_size": "64"}
    return tensors, metadata


# --- metrics ------------------------------------------------------------------------------------

def auroc_cases(rng):
    cases = []

    def add(name, scores, labels):
        scores = np.asarray(scores, dtype=np.float64)
        labels = np.asarray(labels, dtype=np.int64)
        cases.append({"name": name, "scores": [float(s) for s in scores],
                      "labels": [int(v) for v in labels],
                      "expected": float(roc_auc_score(labels, scores))})

    labels = rng.integers(0, 2, 50)
    add("continuous", rng.standard_normal(50) + labels, labels)
    labels = rng.integers(0, 2, 60)
    add("integer_ties", rng.integers(0, 5, 60) + (labels & rng.integers(0, 2, 60)), labels)
    add("all_equal", np.full(12, 0.7), [0, 1] * 6)
    add("perfect", [0.1, 0.2, 0.3, 0.8, 0.9], [0, 0, 0, 1, 1])
    add("inverted", [0.1, 0.2, 0.3, 0.8, 0.9], [1, 1, 0, 0, 0])
    add("one_positive", np.round(rng.random(21), 1), [1] + [0] * 20)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.random(200) + 0.3 * labels, 1).astype(np.float32)
    add("float32_rounded", scores, labels)
    return cases


def topk_case(rng):
    grid = rng.random((6, 6), dtype=np.float32)
    grid[2, 3] = grid[4, 4] = 1.5  # a tie among the largest values
    value = torch.topk(torch.from_numpy(grid).flatten(), 3).values.double().mean().item()
    return {"grid": f32_list(grid), "size": 6, "k": 3, "expected": value}


def pro_curve(maps, masks):
    """Brute force: one (FPR, PRO) point per distinct score, descending, from (0, 0)."""
    structure = np.ones((3, 3), dtype=int)
    regions = []
    normals = []
    for score, mask in zip(maps, masks):
        labels, count = ndimage.label(mask, structure=structure)
        regions += [score[labels == r] for r in range(1, count + 1)]
        normals.append(score[mask == 0])
    normals = np.concatenate(normals)
    thresholds = np.unique(np.concatenate([m.ravel() for m in maps]))[::-1]
    curve = [(0.0, 0.0)]
    for t in thresholds:
        fpr = np.count_nonzero(normals >= t) / normals.size
        pro = np.mean([np.count_nonzero(region >= t) / region.size for region in regions])
        curve.append((float(fpr), float(pro)))
    return curve


def integrate(curve, max_fpr):
    """Trapezoid area under the curve for FPR in [0, max_fpr], the last segment interpolated."""
    xs = np.array([p[0] for p in curve])
    ys = np.array([p[1] for p in curve])
    inside = np.searchsorted(xs, max_fpr, side="right")  # points with x <= max_fpr
    x_cut, y_cut = xs[:inside], ys[:inside]
    if x_cut[-1] < max_fpr and inside < xs.size:
        x0, x1, y0, y1 = xs[inside - 1], xs[inside], ys[inside - 1], ys[inside]
        y_limit = y0 + (y1 - y0) * (max_fpr - x0) / (x1 - x0)
        x_cut = np.append(x_cut, max_fpr)
        y_cut = np.append(y_cut, y_limit)
    return float(np.trapezoid(y_cut, x_cut))


def masks_case_a():
    """Three 16x16 masks: a square, a diagonal line (one region only under 8-connectivity) and a
    single pixel; one region touching the border; one empty mask."""
    masks = np.zeros((3, 16, 16), dtype=np.uint8)
    masks[0, 2:6, 3:8] = 1
    for i in range(6):
        masks[0, 9 + i, 8 + i] = 1
    masks[0, 12, 2] = 1
    masks[1, 10:16, 0:4] = 1
    masks[1, 0:3, 12:16] = 1
    return masks


def aupro_cases(rng):
    cases = []

    def add(name, maps, masks, max_fprs):
        maps = np.asarray(maps, dtype=np.float32)
        curve = pro_curve(maps, masks)
        structure = np.ones((3, 3), dtype=int)
        labels = [ndimage.label(m, structure=structure)[0] for m in masks]
        cases.append({
            "name": name, "height": int(maps.shape[1]), "width": int(maps.shape[2]),
            "maps": [f32_list(m) for m in maps],
            "masks": [[int(v) for v in m.ravel()] for m in masks],
            "labels": [[int(v) for v in l.ravel()] for l in labels],
            "max_fprs": max_fprs,
            "expected_aupro": [integrate(curve, f) / f for f in max_fprs],
            "expected_pixel_auroc": float(roc_auc_score(masks.ravel(), maps.ravel())),
            "curve_points": len(curve),
        })

    masks = masks_case_a()
    noise = rng.random(masks.shape)
    add("regions_quantised", np.round(noise + 0.6 * masks, 2), masks, [0.3, 0.1, 1.0])
    add("regions_four_levels", np.floor((noise + 0.5 * masks) * 3) / 3, masks, [0.3, 0.05])
    masks_b = (rng.random((2, 12, 12)) > 0.8).astype(np.uint8)  # many small 8-connected blobs
    add("speckle", rng.standard_normal((2, 12, 12)) + masks_b, masks_b, [0.3])
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    info = versions()

    write_safetensors(os.path.join(args.out, "knn.safetensors"), knn_case(rng), info)
    tensors, metadata = filter_cases(rng)
    write_safetensors(os.path.join(args.out, "filters.safetensors"), tensors, {**info, **metadata})
    metrics = {"generator": info, "auroc": auroc_cases(rng), "topk": topk_case(rng),
               "aupro": aupro_cases(rng)}
    with open(os.path.join(args.out, "metrics.json"), "w") as out:
        json.dump(metrics, out, separators=(",", ":"))
        out.write("\n")

    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"wrote {args.out}: {total / 1024:.1f} kB")


if __name__ == "__main__":
    main()
