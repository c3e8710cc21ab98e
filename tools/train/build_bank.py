"""Builds the memory banks of a model folder from good parts with PyTorch (GPUs through
accelerate), writing the same bank file as `mvad bank build`: tensors bank.rgb / bank.normals
F32 [M, C] (rows: every grid position of every part, parts in id order, position p = y * G + x),
metadata `format`, `provenance.*`, `<modality>.settings.*` (what MethodSettings.swift's
bankDependencies gives, which `mvad inspect` checks) and `<modality>.provenance.model`.

The features are computed by tools/reference/pipeline_common.py (VAE latent means, DDIM
inversion with UNet + ControlNet, decoder-block features resized to the grid, mean over the six
pairs of each branch).

    python tools/train/build_bank.py --model MODEL --parts DIR -o bank.safetensors
    accelerate launch tools/train/build_bank.py --model MODEL --parts DIR -o bank.safetensors
"""

import argparse
import os

import diffusers
import numpy as np
import torch

import train_common as common

pipeline = common.pipeline_common
reference = common.reference_common

FORMAT_TAG = "mvad-memory-bank-1"

# MethodSettings.swift's defaults, used for keys settings.json leaves out.
DEFAULT_SETTINGS = {"image_size": 256, "timesteps": [1, 21, 41, 61, 81], "step_size": 20,
                    "feature_blocks": [2], "grid_size": 32, "conditioning_scale": 1.0}


def parse_args():
    """Command line: model, parts, output, modality."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True,
                        help="model folder (unet/, vae/, controlnet/ or controllora/, "
                             "prompt_embedding.safetensors, settings.json)")
    parser.add_argument("--parts", required=True,
                        help="good parts: a folder of parts, a category folder or an "
                             "Eyecandies root (its train split)")
    parser.add_argument("--category", default=None, help="category of an Eyecandies root")
    parser.add_argument("-o", dest="out", required=True, help="bank file to write")
    parser.add_argument("--modality", choices=("both", "rgb", "normals"), default="both",
                        help="both (lights + normal map with ControlNet, default), rgb or "
                             "normals (UNet alone)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    return parser.parse_args()


# ---------------------------------------------------------------------------------------------
# Model folder


def read_settings(folder):
    """settings.json over the defaults; refuses what pipeline_common cannot compute."""
    settings = dict(DEFAULT_SETTINGS)
    path = os.path.join(folder, "settings.json")
    if os.path.exists(path):
        settings.update(reference.read_json(path))
    # FIXME: pipeline_common inverts with a fixed DDIM step of 20, conditioning scale 1 and the
    # default scheduler; other values would need those as parameters there.
    if settings["step_size"] != pipeline.DDIM_STEP:
        raise SystemExit(f"{path}: step_size {settings['step_size']} is not supported; "
                         f"build_bank.py inverts with step {pipeline.DDIM_STEP}")
    if float(settings["conditioning_scale"]) != 1.0:
        raise SystemExit(f"{path}: conditioning_scale {settings['conditioning_scale']} is not "
                         "supported; build_bank.py uses 1")
    if "scheduler" in settings:
        raise SystemExit(f"{path}: a scheduler section is not supported; build_bank.py uses "
                         "Stable Diffusion's DDIM schedule")
    return settings


def load_control(folder, unet):
    """The folder's ControlNet (controlnet/, or controllora/ merged over the UNet), or None."""
    from diffusers import ControlNetModel
    if os.path.isdir(os.path.join(folder, "controlnet")):
        return ControlNetModel.from_pretrained(os.path.join(folder, "controlnet")).eval()
    lora = os.path.join(folder, "controllora")
    if os.path.isdir(lora):
        config = reference.read_json(os.path.join(lora, "config.json"))
        tensors, _ = reference.read_safetensors(
            os.path.join(lora, "diffusion_pytorch_model.safetensors"))
        return reference.controllora_reference(unet, config, tensors)
    return None


def load_model(folder, device):
    """(unet, controlnet or None, vae, prompt embedding [1, L, D]) on `device`."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    unet = UNet2DConditionModel.from_pretrained(os.path.join(folder, "unet")).eval()
    vae = AutoencoderKL.from_pretrained(os.path.join(folder, "vae")).eval()
    control = load_control(folder, unet)
    embedding = common.load_prompt(os.path.join(folder, "prompt_embedding.safetensors"))
    if control is not None:
        control.to(device)
    return unet.to(device), control, vae.to(device), embedding.to(device)


# ---------------------------------------------------------------------------------------------
# Features


def load_images(views, size, modality, device):
    """(lights [6, 3, S, S] or None, normals [3, S, S] or None) in [0, 1], as `modality` needs."""
    lights = normals = None
    if modality != "normals":
        lights = torch.stack([pipeline.load_view(views[f"image_{index}"], size)
                              for index in range(common.LIGHTS)]).to(device)
    if modality != "rgb":
        normals = pipeline.load_view(views["normals"], size).to(device)
    return lights, normals


@torch.no_grad()
def part_features(models, views, settings, modality, device):
    """{modality name: features [C, G, G]} of one part (views: {view name: path})."""
    unet, control, vae, embedding = models
    lights, normals = load_images(views, settings["image_size"], modality, device)
    if modality == "both":
        latents = pipeline.encode_views(vae, lights, normals)                      # [7, 4, h, w]
        inputs, conditions = pipeline.make_pairs(latents, lights, normals)
    else:                                                   # the UNet alone, as mvad does
        images = lights if modality == "rgb" else normals[None]
        inputs, conditions, control = vae_latents(vae, images), None, None
    context = embedding.expand(inputs.shape[0], -1, -1)                            # [P, L, D]
    alphas, final_alpha = pipeline.schedule_alphas(pipeline.make_scheduler())
    states = pipeline.invert(unet, control, inputs, context, conditions, settings["timesteps"],
                             alphas, final_alpha)
    grid_settings = {"timesteps": settings["timesteps"], "grid": settings["grid_size"],
                     "feature_blocks": settings["feature_blocks"]}
    maps = pipeline.feature_maps(unet, control, states[-1], context, conditions, grid_settings)
    if modality == "both":
        return {"rgb": maps[:common.LIGHTS].mean(dim=0), "normals": maps[common.LIGHTS:].mean(0)}
    return {modality: maps.mean(dim=0)}


def vae_latents(vae, images):
    """Latent means * scaling factor of images [N, 3, S, S] in [0, 1]."""
    return reference.run_vae_encoder(vae, images * 2 - 1)["latent"]


# ---------------------------------------------------------------------------------------------
# Bank file


def swift_float(value):
    """A Float as Swift's string interpolation prints it (shortest round-trip float32)."""
    return str(np.float32(value))


def bank_settings(settings, modality):
    """The `<modality>.settings.*` entries: MethodSettings.bankDependencies + weights."""
    return {"image_size": str(settings["image_size"]),
            "timesteps": str(list(settings["timesteps"])),
            "step_size": str(settings["step_size"]),
            "feature_blocks": str(list(settings["feature_blocks"])),
            "grid_size": str(settings["grid_size"]),
            "conditioning_scale": swift_float(settings["conditioning_scale"]),
            "feature_source": "unet+controlnet" if modality == "both" else "unet",
            "weights": "f32"}


def write_bank(path, rows, settings, modality, model, parts):
    """Writes the bank file atomically (temporary name, then rename)."""
    metadata = {"format": FORMAT_TAG,
                "provenance.built_by": f"tools/train/build_bank.py (torch {torch.__version__}, "
                                       f"diffusers {diffusers.__version__})",
                "provenance.parts": str(parts), "provenance.modality": modality,
                "provenance.coreset_fraction": "1"}
    tensors = {}
    for name, vectors in rows.items():
        tensors[f"bank.{name}"] = torch.cat(vectors).to(torch.float32)
        for key, value in bank_settings(settings, modality).items():
            metadata[f"{name}.settings.{key}"] = value
        metadata[f"{name}.provenance.model"] = model
    temporary = path + ".partial"
    reference.write_safetensors(temporary, tensors, metadata)
    os.replace(temporary, path)
    return {name: list(tensor.shape) for name, tensor in tensors.items()}


def usable_parts(args):
    """{part id: {view: path}} of the train split; exits when a part lacks a needed view."""
    folder = common.split_folder(args.parts, args.category, "train")
    parts = common.list_parts(folder)
    needed = {"both": common.VIEW_NAMES, "rgb": common.VIEW_NAMES[:-1],
              "normals": ["normals"]}[args.modality]
    missing = [part for part, views in parts.items() if any(v not in views for v in needed)]
    if missing:
        raise SystemExit(f"{folder}: parts {missing[:10]} lack views that modality "
                         f"{args.modality} needs")
    if not parts:
        raise SystemExit(f"{folder} holds no part (NNN_image_0..5, NNN_normals files)")
    return parts


def shard_rows(accelerator, models, parts, settings, modality):
    """{part id: {modality: rows [G * G, C]}} of this process's share of the parts."""
    rows = {}
    with accelerator.split_between_processes(list(parts)) as mine:
        for part in mine:
            maps = part_features(models, parts[part], settings, modality, accelerator.device)
            rows[part] = {name: pipeline.bank_rows(value).cpu() for name, value in maps.items()}
            common.log(f"part {part}: done")
    return rows


def main():
    from accelerate import Accelerator
    from accelerate.utils import gather_object
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    reference.quiet_libraries()
    accelerator = Accelerator()
    settings = read_settings(args.model)
    parts = usable_parts(args)
    models = load_model(args.model, accelerator.device)
    if models[1] is None and args.modality == "both":
        raise SystemExit(f"{args.model} has no controlnet/ or controllora/; use --modality rgb "
                         "or normals")

    shards = gather_object([shard_rows(accelerator, models, parts, settings, args.modality)])
    if accelerator.is_main_process:
        merged = {part: rows for shard in shards for part, rows in shard.items()}
        names = merged[next(iter(parts))].keys()
        rows = {name: [merged[part][name] for part in parts] for name in names}  # id order
        shapes = write_bank(args.out, rows, settings, args.modality, args.model, len(parts))
        print(f"wrote {args.out}: {shapes} from {len(parts)} parts")


if __name__ == "__main__":
    main()
