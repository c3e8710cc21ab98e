"""The inspection method of the shared PIPELINE.md notes, step by step in PyTorch: views ->
VAE latents -> 12 (input, condition) pairs -> DDIM inversion with UNet + ControlNet -> decoder
block features -> memory banks -> nearest-neighbour scores and blurred pixel maps.

Every step is a plain function on tensors so the Swift port can mirror it one to one.
Dimension letters: P pairs (12: six RGB pairs, then six normal pairs), C channels, H x W spatial
size, S image size, G feature grid size, L tokens, D token width, M bank rows.
"""

import json

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy.ndimage import gaussian_filter

import reference_common as common

LIGHTS = 6

# What the runtime reads from a model pack; written as JSON into the golden file.
DEFAULT_SETTINGS = {
    "image_size": 32,
    "timesteps": [1, 21, 41, 61, 81],
    "feature_blocks": [1, 2],
    "grid": 16,
    "top_k": 3,
    "blur_sigma": 4,
    "weights": {"rgb": 1, "normals": 1},
}

# DDIM with 50 of the 1000 training steps: each inversion step goes from t - 20 to t.
DDIM_STEP = 20

SCHEDULER_CONFIG = dict(
    num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
    set_alpha_to_one=False, steps_offset=1, clip_sample=False,
)


def settings_json(settings):
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# Views and latents


def load_view(path, image_size):
    """A PNG as float32 [3, S, S] in [0, 1]: RGB, bicubic resize only if not S x S, then / 255."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        if image.size != (image_size, image_size):
            image = image.resize((image_size, image_size), Image.BICUBIC)
        pixels = np.asarray(image, dtype=np.uint8)                                 # [S, S, 3]
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).to(torch.float32) / 255.0


def load_part(folder, part_id, image_size):
    """The six lights [6, 3, S, S] and the normal map [3, S, S] of part NNN, in [0, 1]."""
    lights = torch.stack([load_view(f"{folder}/{part_id}_image_{index}.png", image_size)
                          for index in range(LIGHTS)])                               # [6, 3, S, S]
    normals = load_view(f"{folder}/{part_id}_normals.png", image_size)              # [3, S, S]
    return lights, normals


@torch.no_grad()
def encode_views(vae, lights, normals):
    """Latent means * scaling factor of the six lights and the normal map: [7, 4, S/2, S/2]."""
    views = torch.cat([lights, normals[None]]) * 2 - 1                             # [7, 3, S, S]
    return common.run_vae_encoder(vae, views)["latent"]


def make_pairs(latents, lights, normals):
    """Pair inputs [P, 4, h, w] and conditions [P, 3, S, S].

    Pairs 0..5: input light i, condition the normal map; pairs 6..11: input the normal map,
    condition light i.
    """
    light_latents, normal_latent = latents[:LIGHTS], latents[LIGHTS]
    inputs = torch.cat([light_latents, normal_latent.expand(LIGHTS, -1, -1, -1)])   # [P, 4, h, w]
    conditions = torch.cat([normals.expand(LIGHTS, -1, -1, -1), lights])           # [P, 3, S, S]
    return inputs.contiguous(), conditions.contiguous()


# ---------------------------------------------------------------------------------------------
# DDIM inversion and features


def make_scheduler():
    from diffusers import DDIMScheduler
    return DDIMScheduler(**SCHEDULER_CONFIG)


def schedule_alphas(scheduler):
    """alphas_cumprod [1000] (float32, as diffusers computes it) and the final alpha (0-dim)."""
    alphas = scheduler.alphas_cumprod
    assert alphas.dtype == torch.float32
    return alphas, alphas[0]


@torch.no_grad()
def noise_prediction(unet, controlnet, x, timestep, context, conditions):
    """UNet epsilon and decoder block outputs at `timestep`, with ControlNet residuals if given."""
    down, mid = None, None
    if controlnet is not None:
        residuals = common.run_controlnet(controlnet, x, timestep, context, conditions, 1.0)
        down, mid = common.residuals_of(residuals)
    return common.run_unet(unet, x, timestep, context, down, mid)


@torch.no_grad()
def invert(unet, controlnet, x, context, conditions, timesteps, alphas, final_alpha):
    """DDIM inversion from the clean latents; returns the latents after each step, in order."""
    states = []
    for t in timesteps:
        eps = noise_prediction(unet, controlnet, x, timestep_tensor(t), context,
                               conditions)["noise_pred"]                            # [P, 4, h, w]
        a_prev = alphas[t - DDIM_STEP] if t - DDIM_STEP >= 0 else final_alpha
        a_t = alphas[t]
        x0 = (x - torch.sqrt(1 - a_prev) * eps) / torch.sqrt(a_prev)
        x = torch.sqrt(a_t) * x0 + torch.sqrt(1 - a_t) * eps
        assert torch.isfinite(x).all(), f"inversion diverged at t = {t}"
        states.append(x)
    return states


def timestep_tensor(t):
    """The timestep as diffusers' schedulers hand it over: a 0-dim int64 tensor."""
    return torch.tensor(t, dtype=torch.int64)


@torch.no_grad()
def feature_maps(unet, controlnet, x, context, conditions, settings):
    """Decoder block outputs at the last timestep, resized to G x G, concatenated: [P, C, G, G]."""
    t = settings["timesteps"][-1]
    grid = settings["grid"]
    outputs = noise_prediction(unet, controlnet, x, timestep_tensor(t), context, conditions)
    maps = []
    for block in settings["feature_blocks"]:
        block_map = outputs[f"up_blocks.{block}"]                                  # [P, Cb, Hb, Wb]
        if block_map.shape[-2:] != (grid, grid):
            block_map = F.interpolate(block_map, size=(grid, grid), mode="bicubic",
                                      align_corners=False)
        maps.append(block_map)
    return torch.cat(maps, dim=1)                                                  # [P, C, G, G]


@torch.no_grad()
def run_part(models, lights, normals, settings, alphas, final_alpha):
    """Everything one part yields: clean and inverted latents, the RGB and normal feature maps
    with ControlNet, and the RGB feature map of the plain UNet (no ControlNet)."""
    unet, controlnet, vae, embedding = models
    latents = encode_views(vae, lights, normals)                                   # [7, 4, h, w]
    inputs, conditions = make_pairs(latents, lights, normals)
    context = embedding.expand(inputs.shape[0], -1, -1)                            # [P, L, D]
    timesteps = settings["timesteps"]

    states = invert(unet, controlnet, inputs, context, conditions, timesteps, alphas, final_alpha)
    pair_maps = feature_maps(unet, controlnet, states[-1], context, conditions, settings)

    rgb_inputs = inputs[:LIGHTS]                                                   # [6, 4, h, w]
    rgb_context = context[:LIGHTS]
    rgb_states = invert(unet, None, rgb_inputs, rgb_context, None, timesteps, alphas, final_alpha)
    rgb_only_maps = feature_maps(unet, None, rgb_states[-1], rgb_context, None, settings)

    return {
        "latents": [inputs] + states,                                              # [P, 4, h, w]
        "rgb": pair_maps[:LIGHTS].mean(dim=0),                                     # [C, G, G]
        "normals": pair_maps[LIGHTS:].mean(dim=0),                                 # [C, G, G]
        "rgbonly": rgb_only_maps.mean(dim=0),                                      # [C, G, G]
    }


# ---------------------------------------------------------------------------------------------
# Banks and scores


def bank_rows(features):
    """[C, G, G] -> [G * G, C]; row p = y * G + x holds features[:, y, x]."""
    channels = features.shape[0]
    return features.permute(1, 2, 0).reshape(-1, channels)


def nearest_distances(features, bank, chunk=64):
    """Euclidean distance of every grid position to its nearest bank row, in float64: [G, G]."""
    rows = bank_rows(features).to(torch.float64)                                   # [G*G, C]
    bank = bank.to(torch.float64)                                                  # [M, C]
    nearest = []
    for start in range(0, rows.shape[0], chunk):
        block = rows[start:start + chunk]
        squared = (block[:, None, :] - bank[None, :, :]).pow(2).sum(dim=-1)        # [chunk, M]
        nearest.append(squared.min(dim=1).values.sqrt())
    grid = features.shape[-1]
    return torch.cat(nearest).reshape(grid, grid)


def image_score(distances, top_k):
    """Mean of the top_k largest grid distances (float64 scalar)."""
    return distances.reshape(-1).topk(top_k).values.mean()


def pixel_map(distances, image_size, sigma):
    """Bilinear upsample of a [G, G] map to [S, S], then scipy's Gaussian blur (float64)."""
    upsampled = F.interpolate(distances[None, None], size=(image_size, image_size),
                              mode="bilinear", align_corners=False)[0, 0]          # [S, S]
    return torch.from_numpy(gaussian_filter(upsampled.numpy(), sigma=sigma))


def score_part(features, banks, settings):
    """Grid maps, image scores and the fused pixel map of one test part (float64 tensors)."""
    weights = settings["weights"]
    result = {}
    fused_score = 0.0
    fused_map = torch.zeros(settings["image_size"], settings["image_size"], dtype=torch.float64)
    for modality in ("rgb", "normals"):
        distances = nearest_distances(features[modality], banks[modality])
        score = image_score(distances, settings["top_k"])
        result[f"grid.{modality}"] = distances
        result[f"score.{modality}"] = score
        fused_score = fused_score + weights[modality] * score
        fused_map += weights[modality] * pixel_map(distances, settings["image_size"],
                                                   settings["blur_sigma"])
    result["score.fused"] = fused_score
    result["pixelmap"] = fused_map

    rgb_only = nearest_distances(features["rgbonly"], banks["rgbonly"])
    result["score.rgbonly"] = image_score(rgb_only, settings["top_k"])
    return result

