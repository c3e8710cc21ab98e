"""Times one full inspection of one part with the PyTorch reference of the method
(pipeline_common.py): 7 VAE encodes, DDIM inversion of the 12 (input, condition) pairs over
the 5 timesteps and the final feature evaluation (12 x 6 = 72 UNet + ControlNet evaluations).
Prints one JSON line: wall time per stage and peak resident memory (VmHWM).

    bench_pipeline.py --models DIR --part DIR/000 [--threads 2] [--image-size 256]

DIR holds unet/, controlnet/, vae/ and prompt_embedding.safetensors (full_size.py make); the
part is given as a path prefix: <prefix>_image_0..5.<ext> and <prefix>_normals.<ext>.
"""

import argparse
import glob
import json
import sys
import time

import torch
from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
from safetensors.torch import load_file

import pipeline_common as method


def view_path(prefix, stem):
    matches = sorted(glob.glob(f"{prefix}_{stem}.*"))
    if not matches:
        sys.exit(f"no view {prefix}_{stem}.*")
    return matches[0]


def peak_resident_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024
    return 0.0


@torch.no_grad()
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", required=True)
    parser.add_argument("--part", required=True, help="path prefix of the part's views")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--feature-blocks", default="2")
    parser.add_argument("--grid", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    unet = UNet2DConditionModel.from_pretrained(f"{args.models}/unet").eval()
    controlnet = ControlNetModel.from_pretrained(f"{args.models}/controlnet").eval()
    vae = AutoencoderKL.from_pretrained(f"{args.models}/vae").eval()
    embedding = load_file(f"{args.models}/prompt_embedding.safetensors")["encoder_hidden_states"]
    settings = {"timesteps": [1, 21, 41, 61, 81], "grid": args.grid,
                "feature_blocks": [int(b) for b in args.feature_blocks.split(",")]}
    alphas, final_alpha = method.schedule_alphas(method.make_scheduler())

    started = time.monotonic()
    lights = torch.stack([method.load_view(view_path(args.part, f"image_{i}"), args.image_size)
                          for i in range(6)])                                       # [6, 3, S, S]
    normals = method.load_view(view_path(args.part, "normals"), args.image_size)    # [3, S, S]
    loaded = time.monotonic()
    latents = method.encode_views(vae, lights, normals)                              # [7, 4, h, w]
    encoded = time.monotonic()
    inputs, conditions = method.make_pairs(latents, lights, normals)
    context = embedding.expand(inputs.shape[0], -1, -1)
    states = method.invert(unet, controlnet, inputs, context, conditions, settings["timesteps"],
                           alphas, final_alpha)
    inverted = time.monotonic()
    maps = method.feature_maps(unet, controlnet, states[-1], context, conditions, settings)
    finished = time.monotonic()
    print(json.dumps({
        "torch": torch.__version__, "threads": args.threads,
        "load_s": loaded - started, "encode_s": encoded - loaded,
        "inversion_s": inverted - encoded, "features_s": finished - inverted,
        "total_s": finished - started, "feature_shape": list(maps.shape),
        "peak_rss_mb": round(peak_resident_mb(), 1),
    }))


if __name__ == "__main__":
    main()
