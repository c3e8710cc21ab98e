"""Writes the pieces of a model folder that `mvad` loads, and assembles the folder.

    make_model_folder.py prompt --prompt-dim 64 --seed 0 -o prompt_embedding.safetensors
    make_model_folder.py folder --unet U --vae V --controllora C --prompt P -o MODEL \\
        --image-size 128 --feature-blocks 1,2 --grid-size 16

`prompt` writes a seeded N(0, 1) [1, 77, D] `encoder_hidden_states`: a fixed conditioning
vector for a model trained from scratch without a text encoder (the method only ever uses one
prompt per model, so any fixed vector works; it is not the embedding of any text). Models with
a CLIP text encoder use tools/reference/export_prompt.py instead.

`folder` copies unet/, vae/, controllora/ or controlnet/ and the prompt embedding into MODEL and
writes settings.json (the keys of MethodSettings.swift), after checking that the pieces fit
together (latent channels, prompt width, condition-embedding size, feature blocks).
"""

import argparse
import json
import os
import shutil

import train_common as common

COMPONENT_FILES = ("config.json", "diffusion_pytorch_model.safetensors")


def parse_args():
    """Command line: the `prompt` and `folder` subcommands."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    prompt = commands.add_parser("prompt", help="write a seeded random prompt embedding")
    prompt.add_argument("--prompt-dim", type=int, required=True,
                        help="token width D (the UNet's cross_attention_dim)")
    prompt.add_argument("--tokens", type=int, default=77, help="tokens L (77, as CLIP)")
    prompt.add_argument("--seed", type=int, default=0, help="generator seed (0)")
    prompt.add_argument("-o", dest="out", required=True, help="safetensors file to write")

    folder = commands.add_parser("folder", help="assemble a model folder")
    folder.add_argument("--unet", required=True, help="diffusers unet/ folder")
    folder.add_argument("--vae", required=True, help="diffusers vae/ folder")
    control = folder.add_mutually_exclusive_group()
    control.add_argument("--controllora", help="ControlLoRA folder (train_controlnet.py)")
    control.add_argument("--controlnet", help="full ControlNet folder (train_controlnet.py "
                                              "--full)")
    folder.add_argument("--prompt", required=True, help="prompt_embedding.safetensors")
    folder.add_argument("-o", dest="out", required=True, help="model folder to write")
    add_settings_args(folder)
    return parser.parse_args()


def add_settings_args(parser):
    """settings.json flags; defaults are the public implementation's (MethodSettings.swift)."""
    parser.add_argument("--image-size", type=int, default=256, help="view size (256)")
    parser.add_argument("--timesteps", type=common.channel_list, default=(1, 21, 41, 61, 81),
                        help="DDIM inversion timesteps (1,21,41,61,81)")
    parser.add_argument("--step-size", type=int, default=20, help="DDIM step (20)")
    parser.add_argument("--feature-blocks", default="2",
                        help="decoder blocks whose outputs are the features (2)")
    parser.add_argument("--grid-size", type=int, default=32, help="feature grid side (32)")
    parser.add_argument("--top-k", type=int, default=3, help="image score top-k (3)")
    parser.add_argument("--blur-sigma", type=float, default=4, help="pixel-map blur (4)")
    parser.add_argument("--rgb-weight", type=float, default=1, help="RGB score weight (1)")
    parser.add_argument("--normals-weight", type=float, default=1,
                        help="normal-map score weight (1)")


def settings_of(args):
    """The settings.json object."""
    blocks = [int(item) for item in args.feature_blocks.split(",")]
    return {"image_size": args.image_size, "timesteps": list(args.timesteps),
            "step_size": args.step_size, "feature_blocks": blocks, "grid_size": args.grid_size,
            "top_k": args.top_k, "blur_sigma": args.blur_sigma, "rgb_weight": args.rgb_weight,
            "normals_weight": args.normals_weight}


def write_prompt(args):
    """The `prompt` subcommand."""
    embedding = common.seeded_prompt(args.prompt_dim, args.seed, args.tokens)
    metadata = {"generator": f"tools/train/make_model_folder.py prompt --prompt-dim "
                             f"{args.prompt_dim} --tokens {args.tokens} --seed {args.seed}",
                "meaning": "fixed random conditioning vector, not a text embedding"}
    common.reference_common.write_safetensors(args.out, {common.PROMPT_KEY: embedding}, metadata)
    common.log(f"wrote {args.out}: [1, {args.tokens}, {args.prompt_dim}], seed {args.seed}")


def read_config(folder):
    with open(os.path.join(folder, "config.json")) as file:
        return json.load(file)


def check_fit(args, settings):
    """Exits with the reason when the components cannot run together."""
    unet, vae = read_config(args.unet), read_config(args.vae)
    problems = []
    if unet["in_channels"] != vae["latent_channels"]:
        problems.append(f"UNet in_channels {unet['in_channels']} != VAE latent_channels "
                        f"{vae['latent_channels']}")
    width = common.load_prompt(args.prompt).shape[-1]
    if unet["cross_attention_dim"] != width:
        problems.append(f"prompt width {width} != UNet cross_attention_dim "
                        f"{unet['cross_attention_dim']}")
    factor = 2 ** (len(vae["block_out_channels"]) - 1)
    if settings["image_size"] % factor:
        problems.append(f"image size {settings['image_size']} is not a multiple of the VAE's "
                        f"downsampling {factor}")
    decoder_blocks = len(unet["block_out_channels"])
    if max(settings["feature_blocks"]) >= decoder_blocks:
        problems.append(f"feature blocks {settings['feature_blocks']}: the UNet has decoder "
                        f"blocks 0..{decoder_blocks - 1}")
    control = args.controllora or args.controlnet
    if control:
        embedding = read_config(control)["conditioning_embedding_out_channels"]
        if 2 ** (len(embedding) - 1) != factor:
            problems.append(f"the ControlNet's condition embedding downsamples by "
                            f"{2 ** (len(embedding) - 1)}, the VAE by {factor}")
    if problems:
        raise SystemExit("the model folder would not work: " + "; ".join(problems))


def copy_component(source, target):
    """Copies a diffusers component folder's config and weights (nothing else)."""
    os.makedirs(target, exist_ok=True)
    for name in COMPONENT_FILES:
        path = os.path.join(source, name)
        if not os.path.exists(path):
            raise SystemExit(f"{source} has no {name}")
        shutil.copyfile(path, os.path.join(target, name))


def assemble(args):
    """The `folder` subcommand."""
    settings = settings_of(args)
    check_fit(args, settings)
    os.makedirs(args.out, exist_ok=True)
    copy_component(args.unet, os.path.join(args.out, "unet"))
    copy_component(args.vae, os.path.join(args.out, "vae"))
    if args.controllora:
        copy_component(args.controllora, os.path.join(args.out, "controllora"))
    if args.controlnet:
        copy_component(args.controlnet, os.path.join(args.out, "controlnet"))
    shutil.copyfile(args.prompt, os.path.join(args.out, "prompt_embedding.safetensors"))
    common.reference_common.write_json(os.path.join(args.out, "settings.json"), settings)
    common.log(f"wrote {args.out}")


def main():
    args = parse_args()
    if args.command == "prompt":
        write_prompt(args)
    else:
        assemble(args)


if __name__ == "__main__":
    main()
