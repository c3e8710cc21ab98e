"""Compares two memory-bank files (e.g. build_bank.py's and `mvad bank build`'s): same banks,
same shapes, same settings metadata, and rows within a tolerance. Exits 1 if they differ.

    python tools/train/compare_banks.py A.safetensors B.safetensors --atol 1e-5 --rtol 1e-5
"""

import argparse
import sys

import train_common as common


def parse_args():
    """Command line: the two files and the tolerance."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", help="bank file")
    parser.add_argument("second", help="bank file")
    parser.add_argument("--atol", type=float, default=1e-5,
                        help="allowed absolute difference of an entry (1e-5), plus ...")
    parser.add_argument("--rtol", type=float, default=1e-5,
                        help="... this fraction of the bank's largest |entry| (1e-5)")
    return parser.parse_args()


def settings_metadata(metadata):
    """The entries a bank is checked on at inspection time (format and `*.settings.*`)."""
    return {key: value for key, value in metadata.items()
            if key == "format" or ".settings." in key}


def differences(first, second, atol, rtol):
    """Lines describing every difference, empty when the files agree."""
    (tensors_a, meta_a), (tensors_b, meta_b) = first, second
    problems = []
    if sorted(tensors_a) != sorted(tensors_b):
        return [f"tensors {sorted(tensors_a)} vs {sorted(tensors_b)}"]
    settings_a, settings_b = settings_metadata(meta_a), settings_metadata(meta_b)
    for key in sorted(set(settings_a) | set(settings_b)):
        if settings_a.get(key) != settings_b.get(key):
            problems.append(f"metadata {key}: {settings_a.get(key)!r} vs {settings_b.get(key)!r}")
    for name in sorted(tensors_a):
        a, b = tensors_a[name], tensors_b[name]
        if a.shape != b.shape or a.dtype != b.dtype:
            problems.append(f"{name}: {a.dtype} {list(a.shape)} vs {b.dtype} {list(b.shape)}")
            continue
        largest = (a.double() - b.double()).abs().max().item()
        scale = a.abs().max().item()
        print(f"{name}: {list(a.shape)}, max |difference| {largest:.3g} "
              f"(largest entry {scale:.3g})")
        allowed = atol + rtol * scale
        if largest > allowed:
            problems.append(f"{name}: max |difference| {largest:.3g} > {allowed:.3g}")
    return problems


def main():
    args = parse_args()
    first = common.reference_common.read_safetensors(args.first)
    second = common.reference_common.read_safetensors(args.second)
    problems = differences(first, second, args.atol, args.rtol)
    for line in problems:
        print(f"DIFFERENT {line}")
    if problems:
        sys.exit(1)
    print("banks agree")


if __name__ == "__main__":
    main()
