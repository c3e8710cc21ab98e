"""Trains the method's ControlNet on a frozen (fine-tuned) UNet: a ControlLoRA by default (rank-4
LoRA on the encoder's Linear layers over the UNet's own weights, plus the trainable condition
embedding and zero convolutions), or a full ControlNet (--full).

One step = one part. Phase I: inputs the six lights' latents, condition the normal map;
Phase II: input the normal map's latent (six times), conditions the six lights. Each phase's
loss = sum over its six pairs of the noise-prediction MSE + lambda * sum over the pairs and the
UNet's decoder blocks of L1(pair's block output, six-pair mean of that block). The six pairs of
a phase share one timestep and one noise draw, so their block outputs differ only through the
views. Writes controllora/ (config.json = ControlNetModel config + lora_rank + lora_alpha; own
tensors + peft-spelled lora_A / lora_B) or controlnet/ (diffusers folder), both safetensors.

    python tools/train/train_controlnet.py --data DIR --unet OUT/unet --vae OUT/vae \\
        --prompt P --out OUT/controllora
    accelerate launch tools/train/train_controlnet.py ...      # several GPUs
"""

import argparse
import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn

import train_common as common

SD_CONDITIONING_CHANNELS = (16, 32, 96, 256)


def parse_args():
    """Command line: data, models, ControlNet kind, loss and optimiser flags."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_data_args(parser)
    common.add_training_args(parser, epochs=50)
    parser.add_argument("--unet", required=True, help="fine-tuned diffusers unet/ (frozen)")
    parser.add_argument("--vae", required=True, help="diffusers vae/ folder (frozen)")
    parser.add_argument("--prompt", required=True, help="prompt_embedding.safetensors")
    parser.add_argument("--full", action="store_true",
                        help="train a full ControlNet (controlnet/) instead of a ControlLoRA")
    parser.add_argument("--lora-rank", type=int, default=4, help="LoRA rank (4)")
    parser.add_argument("--lora-alpha", type=float, default=None,
                        help="LoRA alpha; delta = alpha / rank * B A (default = rank)")
    parser.add_argument("--conditioning-channels", type=common.channel_list, default=None,
                        help="condition-embedding channels (default 16,32,96,256 cut to the "
                             "VAE's downsampling: 4 entries for S/8 latents)")
    parser.add_argument("--feature-weight", type=float, default=0.001,
                        help="lambda of the feature-consistency loss (0.001; 0 = off)")
    parser.add_argument("--feature-loss-blocks", default="all",
                        help="decoder blocks of the feature loss: 'all' or e.g. 0,1,2,3")
    parser.add_argument("--workers", type=int, default=0, help="data loader workers (0)")
    args = parser.parse_args()
    if args.lora_alpha is None:
        args.lora_alpha = float(args.lora_rank)
    return args


# ---------------------------------------------------------------------------------------------
# ControlLoRA


class LoRALinear(nn.Module):
    """A frozen Linear plus a trainable low-rank delta: y = W x + b + (alpha / r) B A x.

    A starts like a default Linear, B at zero, so training starts from the frozen layer. The
    submodule names make the state-dict keys `<module>.lora_A.weight` / `.lora_B.weight`.
    """

    def __init__(self, base, rank, alpha):
        super().__init__()
        self.base = base
        self.lora_A = nn.Linear(base.in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.scale = alpha / rank

    def forward(self, x):
        return self.base(x) + self.scale * self.lora_B(self.lora_A(x))


def add_lora_(controlnet, rank, alpha):
    """Freezes the ControlNet except its own tensors and wraps every encoder Linear in LoRA."""
    controlnet.requires_grad_(False)
    for prefix in common.reference_common.CONTROLNET_OWN_PREFIXES:
        controlnet.get_submodule(prefix.rstrip(".")).requires_grad_(True)
    for name in common.reference_common.lora_target_names(controlnet):
        parent_name, _, child = name.rpartition(".")
        parent = controlnet.get_submodule(parent_name) if parent_name else controlnet
        setattr(parent, child, LoRALinear(getattr(parent, child), rank, alpha))


def controllora_tensors(controlnet):
    """The ControlLoRA file's tensors: own tensors and lora_A / lora_B of every LoRALinear."""
    tensors = common.reference_common.controlnet_own_state(controlnet)
    for name, module in controlnet.named_modules():
        if isinstance(module, LoRALinear):
            tensors[f"{name}.lora_A.weight"] = module.lora_A.weight.detach().float()
            tensors[f"{name}.lora_B.weight"] = module.lora_B.weight.detach().float()
    return {key: value.detach().float().contiguous() for key, value in tensors.items()}


def controlnet_config(controlnet):
    """The ControlNetModel config as a plain dict (what config.json holds)."""
    return json.loads(controlnet.to_json_string())


def save_controllora(controlnet, folder, rank, alpha):
    """Writes config.json (+ lora_rank, lora_alpha) and diffusion_pytorch_model.safetensors."""
    os.makedirs(folder, exist_ok=True)
    config = controlnet_config(controlnet)
    config.update(lora_rank=rank, lora_alpha=alpha)
    common.reference_common.write_json(os.path.join(folder, "config.json"), config)
    common.reference_common.write_safetensors(
        os.path.join(folder, "diffusion_pytorch_model.safetensors"),
        controllora_tensors(controlnet), {"format": "pt"})


# ---------------------------------------------------------------------------------------------
# Models


def conditioning_channels(args, vae):
    """The condition embedding's channels: one stride-2 stage per VAE downsampling."""
    levels = len(vae.config.block_out_channels)
    channels = args.conditioning_channels or SD_CONDITIONING_CHANNELS[:levels]
    if len(channels) != levels:
        raise SystemExit(f"--conditioning-channels {channels}: the VAE downsamples by "
                         f"{2 ** (levels - 1)}, so {levels} entries are needed")
    return tuple(channels)


def load_models(args):
    """(controlnet to train, frozen unet, frozen vae)."""
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
    unet = UNet2DConditionModel.from_pretrained(args.unet).eval().requires_grad_(False)
    vae = AutoencoderKL.from_pretrained(args.vae).eval().requires_grad_(False)
    controlnet = ControlNetModel.from_unet(
        unet, conditioning_embedding_out_channels=conditioning_channels(args, vae))
    if not args.full:
        add_lora_(controlnet, args.lora_rank, args.lora_alpha)
    return controlnet.train(), unet, vae


class BlockCapture:
    """Keeps the outputs of the UNet's decoder blocks (with their graphs) during a forward."""

    def __init__(self, unet, blocks):
        self.outputs = {}
        self.handles = [unet.up_blocks[index].register_forward_hook(self.hook(index))
                        for index in blocks]

    def hook(self, index):
        def keep(_module, _inputs, output):
            self.outputs[index] = output
        return keep

    def take(self):
        """The captured outputs in block order, forgotten afterwards."""
        outputs = [self.outputs[index] for index in sorted(self.outputs)]
        self.outputs = {}
        return outputs


# ---------------------------------------------------------------------------------------------
# Loss


def feature_consistency(blocks):
    """Sum over pairs and blocks of the mean |block output - six-pair mean| (tensors [P, ...])."""
    total = 0.0
    for output in blocks:
        deviation = (output.float() - output.float().mean(dim=0, keepdim=True)).abs()
        total = total + deviation.flatten(1).mean(dim=1).sum()
    return total


def phase_loss(models, inputs, conditions, context, weight):
    """One phase: (total loss, noise term, feature term) for pairs (inputs [P, 4, h, w],
    conditions [P, 3, S, S] in [0, 1])."""
    controlnet, unet, scheduler, capture = models
    pairs = inputs.shape[0]
    noise = torch.randn_like(inputs[:1]).expand_as(inputs)
    timestep = torch.randint(0, scheduler.config.num_train_timesteps, (1,), device=inputs.device)
    timesteps = timestep.expand(pairs)
    noisy = scheduler.add_noise(inputs, noise, timesteps)
    down, mid = controlnet(noisy, timesteps, encoder_hidden_states=context,
                           controlnet_cond=conditions, return_dict=False)
    prediction = unet(noisy, timesteps, encoder_hidden_states=context,
                      down_block_additional_residuals=down,
                      mid_block_additional_residual=mid).sample
    noise_term = F.mse_loss(prediction.float(), noise.float(), reduction="none")
    noise_term = noise_term.flatten(1).mean(dim=1).sum()
    feature_term = feature_consistency(capture.take())
    return noise_term + weight * feature_term, noise_term, feature_term


def part_pairs(latents, views):
    """Phase I and II pairs of one part: ((inputs, conditions), (inputs, conditions)).

    latents [7, 4, h, w] and views [7, 3, S, S] in [-1, 1] hold the six lights, then the normal
    map; conditions are images in [0, 1] as at inspection time.
    """
    lights = common.LIGHTS
    images = (views + 1) / 2
    normal_latents = latents[lights:].expand(lights, -1, -1, -1)
    phase_one = (latents[:lights], images[lights:].expand(lights, -1, -1, -1))
    phase_two = (normal_latents, images[:lights])
    return phase_one, phase_two


# ---------------------------------------------------------------------------------------------
# Training


def feature_blocks(args, unet):
    """Decoder block indices of the feature loss."""
    count = len(unet.up_blocks)
    if args.feature_loss_blocks == "all":
        return list(range(count))
    blocks = [int(item) for item in args.feature_loss_blocks.split(",")]
    if min(blocks) < 0 or max(blocks) >= count:
        raise SystemExit(f"--feature-loss-blocks {blocks}: the UNet has blocks 0..{count - 1}")
    return blocks


def train(args):
    """The training loop; returns the accelerator, the unwrapped ControlNet and the loss log."""
    accelerator = common.make_accelerator(args)
    embedding = common.load_prompt(args.prompt)
    controlnet, unet, vae = load_models(args)
    parts = common.find_training_parts(args, need_all_views=True)
    loader = torch.utils.data.DataLoader(common.PartDataset(parts, args.image_size),
                                         batch_size=1, shuffle=True, num_workers=args.workers)
    trainable = [param for param in controlnet.parameters() if param.requires_grad]
    optimizer = common.make_optimizer(trainable, args)
    controlnet, optimizer, loader = accelerator.prepare(controlnet, optimizer, loader)
    unet.to(accelerator.device)
    vae.to(accelerator.device)
    context = embedding.to(accelerator.device).expand(common.LIGHTS, -1, -1)       # [6, L, D]
    capture = BlockCapture(unet, feature_blocks(args, unet))
    models = (controlnet, unet, common.noise_scheduler(), capture)
    losses = common.LossLog(accelerator, args.log_every, os.path.join(args.out, "losses.jsonl"))
    common.log(f"ControlNet: {sum(p.numel() for p in trainable) / 1e6:.3f} M trainable "
               f"parameters ({'full' if args.full else 'ControlLoRA'}), {len(parts)} parts")

    step = 0
    for _epoch in range(args.epochs):
        for views in loader:
            views = views[0]                                                       # [7, 3, S, S]
            latents = common.encode_latents(vae, views)                            # [7, 4, h, w]
            terms = {}
            for phase, (inputs, conditions) in zip(("1", "2"), part_pairs(latents, views)):
                with accelerator.autocast():
                    loss, noise, feature = phase_loss(models, inputs, conditions, context,
                                                      args.feature_weight)
                accelerator.backward(loss)
                terms.update({f"noise{phase}": noise.item(), f"feature{phase}": feature.item()})
            common.clip_and_step(accelerator, controlnet, optimizer, args)
            step += 1
            losses.add(step, **terms)
            if step == args.max_steps:
                break
        if step == args.max_steps:
            break
    losses.flush(step)
    return accelerator, accelerator.unwrap_model(controlnet).eval(), losses


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    accelerator, controlnet, losses = train(args)
    if accelerator.is_main_process:
        if args.full:
            controlnet.save_pretrained(args.out, safe_serialization=True)
        else:
            save_controllora(controlnet, args.out, args.lora_rank, args.lora_alpha)
        common.write_provenance(args.out, args, "tools/train/train_controlnet.py")
        losses.save()
        common.log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
