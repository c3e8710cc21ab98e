"""Golden outputs of torch.nn.functional.interpolate(mode="bicubic", align_corners=False) for
the feature-map resize of mvad (Sources/MVADInspect/Method/BicubicResize.swift).

    tools/reference/.venv/bin/python tools/reference/make_resize_fixture.py

Writes Tests/MVADInspectTests/Fixtures/resize/bicubic.safetensors: `x` [2, 3, 5, 7] and
`y.<H>x<W>` for upsampling, downsampling and mixed sizes.
"""

import os

import torch
import torch.nn.functional as F

import reference_common as common

SIZES = [(16, 16), (3, 4), (8, 11), (5, 7), (10, 3)]


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = os.path.join(root, "Tests/MVADInspectTests/Fixtures/resize/bicubic.safetensors")
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(2, 3, 5, 7, generator=generator)                              # [N, C, H, W]
    tensors = {"x": x}
    for height, width in SIZES:
        tensors[f"y.{height}x{width}"] = F.interpolate(x, size=(height, width), mode="bicubic",
                                                        align_corners=False)
    common.write_safetensors(out, tensors, {
        "generator": "tools/reference/make_resize_fixture.py",
        "torch": torch.__version__,
        "regenerate": "tools/reference/.venv/bin/python tools/reference/make_resize_fixture.py",
    })
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
