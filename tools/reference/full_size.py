"""Random-weight diffusers models at the real Stable Diffusion v1.4 sizes (`make`), and a parity
check of `mvad run-component` against diffusers on them (`parity`).

    full_size.py make --out /work/models-full
    full_size.py parity --models /work/models-full --mvad .build/release/mvad --component unet

The folders are UNet2DConditionModel, ControlNetModel, a ControlLoRA (peft spelling, same
layout as the tiny fixture) and AutoencoderKL; the UNet alone is about 3.4 GB in float32.
"""

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time

import diffusers
import torch
from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
from torch import nn

import reference_common as common

SD14_UNET = dict(
    sample_size=64, in_channels=4, out_channels=4,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                      "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                    "CrossAttnUpBlock2D"),
    block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, attention_head_dim=8,
    cross_attention_dim=768, norm_num_groups=32,
)
SD14_UNET_PARAMETERS_M = 859.5
SD14_VAE = dict(
    in_channels=3, out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
    norm_num_groups=32, sample_size=512,
)
CONDITIONING_EMBEDDING_CHANNELS = (16, 32, 96, 256)
LORA_RANK = 4
LORA_ALPHA = 8.0
LORA_UP_STD = 0.02       # delta about 14 % of a default-initialised W
ZERO_CONV_GAIN = 0.1     # re-initialised zero convs: std 0.1 / sqrt(fan_in)

# Parity inputs: 256 px images, 32 x 32 latents, the DDIM-inversion feature timestep.
LATENT_SIZE = 32
IMAGE_SIZE = 256
PARITY_TIMESTEP = 81.0

FOLDERS = {"unet": "unet", "controlnet": "controlnet", "controllora": "controllora", "vae": "vae"}


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    make_parser = commands.add_parser("make", help="write random-weight SD v1.4-size folders")
    make_parser.add_argument("--out", required=True, help="output folder (outside the repo)")
    make_parser.add_argument("--seed", type=int, default=0)

    parity_parser = commands.add_parser("parity", help="compare mvad run-component to diffusers")
    parity_parser.add_argument("--models", required=True, help="folder written by `make`")
    parity_parser.add_argument("--mvad", required=True, help="path of the mvad binary")
    parity_parser.add_argument("--component", choices=sorted(FOLDERS), default="unet")
    parity_parser.add_argument("--batch", type=int, default=1)
    parity_parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    parity_parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parity_parser.add_argument("--max-rel-error", type=float, default=None,
                               help="exit 1 if any relative L2 error exceeds this")
    parity_parser.add_argument("--keep", default=None,
                               help="folder to keep inputs.safetensors / outputs.safetensors in")

    args = parser.parse_args()
    common.quiet_libraries()
    if args.command == "make":
        torch.set_num_threads(2)
        return make(args)
    if args.batch < 1:
        parser.error(f"--batch must be >= 1, got {args.batch}")
    torch.set_num_threads(args.threads)
    return parity(args)


# ---------------------------------------------------------------------------------------------
# make


def make(args):
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    metadata = {
        "generator": f"tools/reference/full_size.py make --out {args.out} --seed {args.seed}",
        "torch": torch.__version__, "diffusers": diffusers.__version__, "seed": str(args.seed),
    }

    unet = make_unet(args.out, generator)
    controlnet = make_controlnet(args.out, unet, generator)
    make_controllora(args.out, controlnet, generator)
    del controlnet, unet
    gc.collect()

    make_vae(args.out, generator)

    embedding = torch.randn(1, 77, 768, generator=generator)                       # [1, L, D]
    common.write_safetensors(os.path.join(args.out, "prompt_embedding.safetensors"),
                             {"encoder_hidden_states": embedding}, metadata)
    log(f"done: {common.directory_size(args.out) / 1e9:.2f} GB in {args.out}")
    return 0


def make_unet(out, generator):
    log("building the UNet (default initialisation)")
    unet = UNet2DConditionModel(**SD14_UNET).eval()
    count = common.parameter_count(unet)
    assert round(count / 1e6, 1) == SD14_UNET_PARAMETERS_M, f"UNet has {count} parameters"
    common.perturb_norms_(unet, generator)
    assert_no_zero_tensors(unet, "unet")

    log(f"UNet: {count / 1e6:.1f} M parameters; checking one 32 x 32 evaluation is finite")
    sample = torch.randn(1, 4, LATENT_SIZE, LATENT_SIZE, generator=generator)
    context = torch.randn(1, 77, 768, generator=generator)
    noise_pred = common.run_unet(unet, sample, torch.tensor([PARITY_TIMESTEP]), context)
    noise_pred = noise_pred["noise_pred"]
    assert torch.isfinite(noise_pred).all(), "UNet output is not finite"
    log(f"UNet noise_pred std {noise_pred.std():.3g}; saving")
    unet.save_pretrained(os.path.join(out, "unet"), safe_serialization=True)
    return unet


def make_controlnet(out, unet, generator):
    log("building the ControlNet from the UNet")
    controlnet = ControlNetModel.from_unet(
        unet, conditioning_embedding_out_channels=CONDITIONING_EMBEDDING_CHANNELS).eval()
    randomise_zero_convs_(controlnet, generator)
    assert_no_zero_tensors(controlnet, "controlnet")
    log(f"ControlNet: {common.parameter_count(controlnet) / 1e6:.1f} M parameters; saving")
    controlnet.save_pretrained(os.path.join(out, "controlnet"), safe_serialization=True)
    return controlnet


def make_controllora(out, controlnet, generator):
    """Fresh own tensors and rank-4 LoRA tensors over the ControlNet's (= the UNet's) encoder."""
    log("building the ControlLoRA")
    for prefix in common.CONTROLNET_OWN_PREFIXES:
        for module in controlnet.get_submodule(prefix.rstrip(".")).modules():
            if isinstance(module, nn.Conv2d):
                module.reset_parameters()
    randomise_zero_convs_(controlnet, generator)
    own = common.controlnet_own_state(controlnet)
    lora = common.random_lora(controlnet, LORA_RANK, generator, LORA_UP_STD)

    folder = os.path.join(out, "controllora")
    os.makedirs(folder, exist_ok=True)
    config = common.controllora_config(os.path.join(out, "controlnet", "config.json"),
                                       LORA_RANK, LORA_ALPHA)
    common.write_json(os.path.join(folder, "config.json"), config)
    common.write_safetensors(os.path.join(folder, "diffusion_pytorch_model.safetensors"),
                             {**own, **lora}, {"format": "pt"})
    modules = len(lora) // 2
    log(f"ControlLoRA: {len(own)} own tensors, LoRA on {modules} Linear modules")


def make_vae(out, generator):
    log("building the VAE")
    vae = AutoencoderKL(**SD14_VAE).eval()
    common.perturb_norms_(vae, generator)
    assert_no_zero_tensors(vae, "vae")
    encoder = common.parameter_count(vae.encoder) + common.parameter_count(vae.quant_conv)
    log(f"VAE: {common.parameter_count(vae) / 1e6:.2f} M parameters, encoder + quant_conv "
        f"{encoder / 1e6:.2f} M; saving")
    vae.save_pretrained(os.path.join(out, "vae"), safe_serialization=True)


@torch.no_grad()
def randomise_zero_convs_(controlnet, generator):
    """Replaces diffusers' zero initialisation of the zero convs with small random values."""
    convs = [controlnet.controlnet_cond_embedding.conv_out, *controlnet.controlnet_down_blocks,
             controlnet.controlnet_mid_block]
    for conv in convs:
        fan_in = conv.weight[0].numel()
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator)
                          * (ZERO_CONV_GAIN / fan_in ** 0.5))
        conv.bias.copy_(0.01 * torch.randn(conv.bias.shape, generator=generator))


def assert_no_zero_tensors(model, name):
    zeros = common.zero_tensor_names(model)
    assert not zeros, f"{name}: all-zero tensors {zeros[:5]}"


# ---------------------------------------------------------------------------------------------
# parity


def parity(args):
    inputs = parity_inputs(args.component, args.models, args.batch, args.seed)
    produced = run_mvad(args, inputs)
    log(f"mvad wrote {len(produced)} tensors; running diffusers")
    reference = reference_outputs(args.component, args.models, inputs, set(produced))
    return report(produced, reference, args.max_rel_error)


def parity_inputs(component, models, batch, seed):
    """Inputs under the `mvad run-component` names: latents for the UNet and ControlNets, an
    image in [-1, 1] for the VAE."""
    generator = torch.Generator().manual_seed(seed)
    if component == "vae":
        image = torch.rand(batch, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator) * 2 - 1
        return {"sample": image}                                                   # [N, 3, H, W]

    embedding, _ = common.read_safetensors(os.path.join(models, "prompt_embedding.safetensors"))
    inputs = {
        "sample": torch.randn(batch, 4, LATENT_SIZE, LATENT_SIZE, generator=generator),
        "timestep": torch.full((batch,), PARITY_TIMESTEP),                         # [N]
        "encoder_hidden_states": embedding["encoder_hidden_states"].expand(batch, -1, -1),
    }
    if component in ("controlnet", "controllora"):
        inputs["controlnet_cond"] = torch.rand(batch, 3, IMAGE_SIZE, IMAGE_SIZE,
                                               generator=generator)              # [N, 3, H, W]
        inputs["conditioning_scale"] = torch.tensor([1.0])
    return inputs


def run_mvad(args, inputs):
    """Runs `mvad run-component` on the inputs and returns the tensors it wrote."""
    with tempfile.TemporaryDirectory(prefix="mvad-parity-") as scratch:
        folder = args.keep or scratch
        os.makedirs(folder, exist_ok=True)
        input_path = os.path.join(folder, "inputs.safetensors")
        output_path = os.path.join(folder, "outputs.safetensors")
        common.write_safetensors(input_path, inputs, {"component": args.component})

        command = [args.mvad, "run-component", "--component", args.component,
                   "--model", os.path.join(args.models, FOLDERS[args.component])]
        if args.component == "controllora":
            command += ["--unet", os.path.join(args.models, "unet")]
        command += ["--input", input_path, "--output", output_path]
        log("running " + " ".join(command))
        started = time.perf_counter()
        try:
            finished = subprocess.run(command)
        except OSError as error:
            sys.exit(f"error: cannot run '{args.mvad}': {error.strerror}; build mvad first or "
                     "pass its path with --mvad")
        if finished.returncode != 0:
            sys.exit(f"error: mvad exited with status {finished.returncode}")
        log(f"mvad took {time.perf_counter() - started:.1f} s")
        produced, _ = common.read_safetensors(output_path)
        return produced


def reference_outputs(component, models, inputs, wanted):
    """diffusers outputs for the component. For the ControlNets, the UNet fed with their
    residuals runs only if `wanted` (the names mvad wrote) includes UNet outputs."""
    def path(name):
        return os.path.join(models, name)

    if component == "vae":
        vae = AutoencoderKL.from_pretrained(path("vae")).eval()
        return common.run_vae_encoder(vae, inputs["sample"])

    wants_unet_outputs = any(name == "noise_pred" or name.startswith("up_blocks.")
                             for name in wanted)
    needs_unet = component in ("unet", "controllora") or wants_unet_outputs
    unet = UNet2DConditionModel.from_pretrained(path("unet")).eval() if needs_unet else None
    context = (inputs["sample"], inputs["timestep"], inputs["encoder_hidden_states"])
    if component == "unet":
        return common.run_unet(unet, *context)

    if component == "controlnet":
        controlnet = ControlNetModel.from_pretrained(path("controlnet")).eval()
    else:
        config = common.read_json(path("controllora/config.json"))
        weights = os.path.join("controllora", "diffusion_pytorch_model.safetensors")
        tensors, _ = common.read_safetensors(path(weights))
        controlnet = common.controllora_reference(unet, config, tensors)
        del tensors
    outputs = common.run_controlnet(controlnet, *context, inputs["controlnet_cond"],
                                    float(inputs["conditioning_scale"][0]))
    del controlnet
    gc.collect()
    if wants_unet_outputs:
        down, mid = common.residuals_of(outputs)
        outputs.update(common.run_unet(unet, *context, down, mid))
    return outputs


def report(produced, reference, max_rel_error):
    """Prints relative L2 and max abs error per tensor; returns the exit status."""
    failed = False
    names = sorted(set(produced) | set(reference), key=natural_key)
    print(f"{'tensor':<28} {'shape':<20} {'rel L2':>10} {'max abs':>10}")
    for name in names:
        if name not in produced:
            print(f"{name:<28} missing from mvad's output")
            continue
        if name not in reference:
            print(f"{name:<28} {str(list(produced[name].shape)):<20} (no diffusers reference)")
            continue
        actual = produced[name].to(torch.float64)
        expected = reference[name].to(torch.float64)
        if actual.shape != expected.shape:
            print(f"{name:<28} shape {list(actual.shape)}, expected {list(expected.shape)}")
            failed = True
            continue
        if not torch.isfinite(actual).all():
            print(f"{name:<28} {str(list(actual.shape)):<20} mvad output is not finite")
            failed = True
            continue
        difference = actual - expected
        norm = expected.norm()
        relative = float(difference.norm() / norm) if norm > 0 else float("inf")
        largest = float(difference.abs().max())
        flag = ""
        if max_rel_error is not None and relative > max_rel_error:
            failed = True
            flag = f"  > {max_rel_error:g}"
        print(f"{name:<28} {str(list(actual.shape)):<20} {relative:10.3e} {largest:10.3e}{flag}")

    compared = set(produced) & set(reference)
    if not compared:
        print("no tensor names in common: nothing was compared")
        failed = True
    return 1 if failed else 0


def natural_key(name):
    return [int(part) if part.isdigit() else part for part in name.split(".")]


if __name__ == "__main__":
    sys.exit(main())
