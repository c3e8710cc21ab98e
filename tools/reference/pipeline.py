"""Writes the end-to-end golden fixture of the inspection method: tiny random-weight diffusers
models, a handful of synthetic Eyecandies-style parts, and every intermediate of the method
(latents, DDIM inversion, features, banks, scores, pixel maps) as computed by PyTorch.

Run from the repository root:
    tools/reference/.venv/bin/python tools/reference/pipeline.py
The method itself lives in pipeline_common.py. Every weight and every part is drawn from seeded
generators, so a re-run on the same machine and library versions is byte-identical.
"""

import argparse
import copy
import json
import os
import shutil
import sys
import time

import diffusers
import numpy as np
import torch
from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
from PIL import Image

import pipeline_common as method
import reference_common as common
from make_fixtures import assert_same_weights

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT_PATH = "tools/reference/pipeline.py"
DEFAULT_OUT = "Tests/MVADInspectTests/Fixtures/pipeline"
OWNED = ("models", "parts", "expected.safetensors")

UNET_CONFIG = dict(
    sample_size=16, in_channels=4, out_channels=4, block_out_channels=(16, 32, 32),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    layers_per_block=2, attention_head_dim=4, cross_attention_dim=32, norm_num_groups=8,
)
# Two conditioning blocks: the condition image is downsampled by 2, like the VAE below.
CONDITIONING_EMBEDDING_CHANNELS = (8, 16)
VAE_CONFIG = dict(
    in_channels=3, out_channels=3,
    down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
    up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
    block_out_channels=(8, 16), layers_per_block=1, latent_channels=4, norm_num_groups=4,
    sample_size=32, scaling_factor=0.18215,
)
PROMPT_TOKENS = 77
PROMPT_STD = 0.5

# (split, id, kind); latents are stored only for LATENT_PARTS to keep the file small.
PARTS = [("train", f"{index:03d}", "good") for index in range(4)] + [
    ("test", "000", "good"), ("test", "001", "good"),
    ("test", "002", "appearance"), ("test", "003", "geometry"),
]
LATENT_PARTS = ("train.000", "test.002")

WEIGHT_DTYPES = {"float32": torch.float32, "float16": torch.float16}

SEED_OFFSETS = {"unet": 1, "controlnet": 2, "vae": 3, "prompt": 4, "parts": 5}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, DEFAULT_OUT),
                        help=f"output folder (default <repository>/{DEFAULT_OUT})")
    parser.add_argument("--seed", type=int, default=0, help="base random seed (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--weights-dtype", choices=sorted(WEIGHT_DTYPES), default="float16",
                        help="dtype of the saved model weights; the reference always computes "
                             "in float32, on the saved (possibly rounded) weights "
                             "(default float32)")
    args = parser.parse_args()

    started = time.monotonic()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    common.quiet_libraries()

    out = os.path.abspath(args.out)
    reset(out)
    models = make_models(os.path.join(out, "models"), args.seed,
                         WEIGHT_DTYPES[args.weights_dtype])
    make_parts(os.path.join(out, "parts"), args.seed)

    settings = method.DEFAULT_SETTINGS
    write_mvad_settings(os.path.join(out, "models", "settings.json"), settings)
    tensors, scores = run_method(models, os.path.join(out, "parts"), settings)
    common.write_safetensors(os.path.join(out, "expected.safetensors"), tensors,
                             expected_metadata(out, args, settings))

    print_scores(scores)
    for name in OWNED:
        path = os.path.join(out, name)
        size = common.directory_size(path) if os.path.isdir(path) else os.path.getsize(path)
        print(f"{name:<22} {size / 1e6:7.3f} MB")
    print(f"total {common.directory_size(out) / 1e6:.3f} MB in {label(out)}, "
          f"{time.monotonic() - started:.1f} s")
    return 0


def reset(out):
    """Removes what this script writes (no stale file survives) and recreates the folders."""
    for name in OWNED:
        path = os.path.join(out, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    os.makedirs(os.path.join(out, "models"))
    os.makedirs(os.path.join(out, "parts", "train"))
    os.makedirs(os.path.join(out, "parts", "test"))


def label(path):
    inside = os.path.commonpath([path, REPO_ROOT]) == REPO_ROOT
    return os.path.relpath(path, REPO_ROOT) if inside else path


def generator(seed, purpose):
    return torch.Generator().manual_seed(seed + SEED_OFFSETS[purpose])


# ---------------------------------------------------------------------------------------------
# Models


def make_models(folder, seed, dtype):
    """Randomised UNet, ControlNet (from the UNet, then redrawn), VAE and prompt embedding,
    saved in diffusers format with `dtype` weights and read back as float32; returns the
    read-back models (the prompt embedding is always float32)."""
    unet = randomised(UNet2DConditionModel(**UNET_CONFIG), generator(seed, "unet"))
    controlnet = ControlNetModel.from_unet(
        unet, conditioning_embedding_out_channels=CONDITIONING_EMBEDDING_CHANNELS)
    controlnet = randomised(controlnet, generator(seed, "controlnet"))
    vae = randomised(AutoencoderKL(**VAE_CONFIG), generator(seed, "vae"))

    embedding = PROMPT_STD * torch.randn(1, PROMPT_TOKENS, UNET_CONFIG["cross_attention_dim"],
                                         generator=generator(seed, "prompt"))  # [1, L, D]
    common.write_safetensors(os.path.join(folder, "prompt_embedding.safetensors"),
                             {"encoder_hidden_states": embedding},
                             {"generator": f"{SCRIPT_PATH} --seed {seed}",
                              "std": str(PROMPT_STD)})

    return (save_and_reload(unet, os.path.join(folder, "unet"), dtype),
            save_and_reload(controlnet, os.path.join(folder, "controlnet"), dtype),
            save_and_reload(vae, os.path.join(folder, "vae"), dtype),
            embedding)


def randomised(model, gen):
    """Every parameter redrawn by reference_common.randomise_ (no zero tensor is left, the
    ControlNet's zero convolutions included)."""
    common.randomise_(model, gen)
    zeros = common.zero_tensor_names(model)
    assert not zeros, f"zero tensors after randomisation: {zeros[:5]}"
    return model.eval()


def save_and_reload(model, folder, dtype):
    """Saves a never-loaded model (so config.json has no absolute `_name_or_path`) with `dtype`
    weights and returns it read back as float32, checked equal to the rounded weights."""
    stored = model if dtype == torch.float32 else copy.deepcopy(model).to(dtype)
    stored.save_pretrained(folder, safe_serialization=True)
    reloaded = type(model).from_pretrained(folder, torch_dtype=torch.float32).eval()
    assert_same_weights(model, reloaded, lambda tensor: tensor.to(dtype).to(torch.float32))
    return reloaded


# ---------------------------------------------------------------------------------------------
# Synthetic parts: an elliptic paraboloid "candy" on a flat background, lit from five
# directions (image_0..4) and by all five at once (image_5), with its normal map.

SIZE = 32
AMBIENT = 0.15
LIGHT_ELEVATION = np.radians(50.0)                     # angle from the viewing axis
LIGHT_AZIMUTHS = np.radians(90.0 + 72.0 * np.arange(5))
ALL_LIGHTS_GAIN = 1.25
OBJECT_COLOUR = np.array([0.80, 0.50, 0.30])
BACKGROUND_COLOUR = np.array([0.30, 0.32, 0.36])
STAIN_COLOUR = np.array([0.25, 0.15, 0.10])            # appearance defect
DEFECT_RADIUS = 3.5
DENT_DEPTH = -3.0                                      # geometry defect, in pixels of height
SENSOR_NOISE = 0.004


def make_parts(folder, seed):
    for index, (split, part_id, kind) in enumerate(PARTS):
        rng = np.random.default_rng((seed, SEED_OFFSETS["parts"], index))
        views = render_part(rng, kind)
        prefix = os.path.join(folder, split, part_id)
        for light, image in enumerate(views["lights"]):
            save_png(image, f"{prefix}_image_{light}.png", "RGB")
        save_png(views["normals"], f"{prefix}_normals.png", "RGB")
        if split == "test":
            save_png(views["mask"], f"{prefix}_mask.png", "L")


def render_part(rng, kind):
    """uint8 views of one part: lights [6, S, S, 3], normals [S, S, 3], mask [S, S] (0 / 255).

    An appearance defect stains a disc in the six lights only; a geometry defect dents a disc
    of the height field in the normal map only. The mask marks the disc.
    """
    y, x = np.meshgrid(np.arange(SIZE) + 0.5, np.arange(SIZE) + 0.5, indexing="ij")
    cx, cy = SIZE / 2 + rng.uniform(-1.0, 1.0, 2)
    a, b = 11.0 + rng.uniform(-0.8, 0.8), 8.0 + rng.uniform(-0.8, 0.8)
    peak = 5.0 + rng.uniform(-0.5, 0.5)
    r2 = ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2
    inside = r2 < 1
    height = np.where(inside, peak * (1 - r2), 0.0)                                # [S, S]

    colour = OBJECT_COLOUR * (1 + rng.uniform(-0.04, 0.04, 3))
    albedo = np.where(inside[..., None], colour, BACKGROUND_COLOUR)                # [S, S, 3]

    normal_height = height
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    if kind == "appearance":
        mask = (x - (cx + 4)) ** 2 + (y - (cy - 2)) ** 2 < DEFECT_RADIUS ** 2
        albedo = np.where(mask[..., None], STAIN_COLOUR, albedo)
    elif kind == "geometry":
        d2 = ((x - (cx - 4)) ** 2 + (y - (cy + 2)) ** 2) / DEFECT_RADIUS ** 2
        mask = d2 < 1
        normal_height = height + np.where(mask, DENT_DEPTH * (1 - d2) ** 2, 0.0)

    shading = lambertian(surface_normals(height))                                  # [6, S, S]
    lights = albedo[None] * shading[..., None]                                     # [6, S, S, 3]
    lights = lights + rng.normal(0.0, SENSOR_NOISE, lights.shape)
    normals = (surface_normals(normal_height) + 1) / 2                             # [S, S, 3]
    return {"lights": to_uint8(lights), "normals": to_uint8(normals),
            "mask": mask.astype(np.uint8) * 255}


def surface_normals(height):
    """Unit normals (x right, y down, z towards the camera) of a height field: [S, S, 3]."""
    dy, dx = np.gradient(height)
    normals = np.stack([-dx, -dy, np.ones_like(height)], axis=-1)
    return normals / np.linalg.norm(normals, axis=-1, keepdims=True)


def lambertian(normals):
    """Shading of the five single lights and of all five together: [6, S, S]."""
    directions = np.stack([np.sin(LIGHT_ELEVATION) * np.cos(LIGHT_AZIMUTHS),
                           np.sin(LIGHT_ELEVATION) * np.sin(LIGHT_AZIMUTHS),
                           np.full(5, np.cos(LIGHT_ELEVATION))], axis=-1)          # [5, 3]
    diffuse = np.clip(np.einsum("yxc,lc->lyx", normals, directions), 0, None)      # [5, S, S]
    single = AMBIENT + (1 - AMBIENT) * diffuse
    together = np.clip(ALL_LIGHTS_GAIN * single.mean(axis=0), 0, 1)
    return np.concatenate([single, together[None]])


def to_uint8(values):
    return np.round(np.clip(values, 0, 1) * 255).astype(np.uint8)


def save_png(pixels, path, mode):
    Image.fromarray(np.ascontiguousarray(pixels), mode).save(path)


# ---------------------------------------------------------------------------------------------
# The method on every part


def run_method(models, parts_folder, settings):
    """Runs pipeline_common on every part; returns the golden tensors and the image scores."""
    scheduler = method.make_scheduler()
    alphas, final_alpha = method.schedule_alphas(scheduler)
    tensors = {"scheduler.alphas_cumprod": alphas}

    features = {}
    for split, part_id, _kind in PARTS:
        part = f"{split}.{part_id}"
        lights, normals = method.load_part(os.path.join(parts_folder, split), part_id,
                                           settings["image_size"])
        result = method.run_part(models, lights, normals, settings, alphas, final_alpha)
        features[part] = result
        if part in LATENT_PARTS:
            tensors[f"{part}.latents.0"] = result["latents"][0]
            for t, state in zip(settings["timesteps"], result["latents"][1:]):
                tensors[f"{part}.latents.{t}"] = state
        # Train parts' features are the bank rows (bank.*); only test parts store their own.
        if split == "test":
            for modality in ("rgb", "normals", "rgbonly"):
                tensors[f"{part}.features.{modality}"] = result[modality]

    train = [f"train.{part_id}" for split, part_id, _ in PARTS if split == "train"]
    banks = {modality: torch.cat([method.bank_rows(features[part][modality]) for part in train])
             for modality in ("rgb", "normals", "rgbonly")}                         # [M, C]
    tensors.update({f"bank.{modality}": bank for modality, bank in banks.items()})

    scores = {}
    for split, part_id, kind in PARTS:
        if split != "test":
            continue
        part = f"test.{part_id}"
        result = method.score_part(features[part], banks, settings)
        for key, value in result.items():
            value = value.to(torch.float32)
            tensors[f"{part}.{key}"] = value.reshape(1) if value.ndim == 0 else value
        scores[part] = (kind, {key[len("score."):]: float(value) for key, value in result.items()
                               if key.startswith("score.")})

    for name, tensor in tensors.items():
        assert tensor.dtype == torch.float32, name
        assert torch.isfinite(tensor).all(), f"'{name}' is not finite"
    return tensors, scores


def expected_metadata(out, args, settings):
    seed = args.seed
    arguments = f"--out {label(out)} --seed {seed} --weights-dtype {args.weights_dtype}"
    channels = [f"up_blocks.{block}" for block in settings["feature_blocks"]]
    return {
        "settings": method.settings_json(settings),
        "generator": f"{SCRIPT_PATH} {arguments}",
        "regenerate": f"tools/reference/.venv/bin/python {SCRIPT_PATH} {arguments}",
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "seed": str(seed),
        "weights_dtype": f"{args.weights_dtype} on disk; the reference computes in float32",
        "ddim_step": str(method.DDIM_STEP),
        "latents": "stored only for " + " and ".join(LATENT_PARTS) + " (to keep the file small)",
        "pairs": "0..5: input latent of image_i, condition normals; "
                 "6..11: input latent of normals, condition image_i",
        "features": "concatenation of " + ", ".join(channels) + " at the last timestep; "
                    "rgb = mean of pairs 0..5, normals = mean of pairs 6..11; rgbonly = the "
                    "UNet without ControlNet on pairs 0..5",
        "banks": "train parts in id order, row = part * G*G + y * G + x",
        "scores": "distances, scores and pixel maps computed in float64, stored as float32",
        "parts": ", ".join(f"{split}.{part_id} {kind}" for split, part_id, kind in PARTS),
    }


def print_scores(scores):
    print(f"{'part':<10} {'kind':<11} {'rgb':>8} {'normals':>8} {'fused':>8} {'rgbonly':>8}")
    for part, (kind, values) in scores.items():
        print(f"{part:<10} {kind:<11} " + " ".join(
            f"{values[key]:8.4f}" for key in ("rgb", "normals", "fused", "rgbonly")))


def write_mvad_settings(path, settings):
    """The same settings in mvad's settings.json spelling (MethodSettings), so that the model
    folder is complete for `mvad bank build` / `mvad inspect`."""
    mvad = {
        "image_size": settings["image_size"], "timesteps": settings["timesteps"],
        "step_size": method.DDIM_STEP, "feature_blocks": settings["feature_blocks"],
        "grid_size": settings["grid"], "top_k": settings["top_k"],
        "blur_sigma": settings["blur_sigma"], "rgb_weight": settings["weights"]["rgb"],
        "normals_weight": settings["weights"]["normals"],
    }
    with open(path, "w") as handle:
        json.dump(mvad, handle, indent=2, sort_keys=True)
        handle.write("\n")


if __name__ == "__main__":
    sys.exit(main())
