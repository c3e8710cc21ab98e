"""View-agnostic UNet fine-tuning (or training from scratch): every view of every training part
(six lights and the normal map) is one image; VAE latent means * scaling_factor are noised with
Stable Diffusion's DDPM schedule and the UNet learns to predict the noise (MSE), conditioned on
the fixed prompt embedding. Writes a diffusers unet/ folder (safetensors).

    python tools/train/train_unet.py --data DIR --pretrained SD14 --prompt P --out OUT/unet
    python tools/train/train_unet.py --data DIR --config small --vae OUT/vae --prompt P ...
    accelerate launch tools/train/train_unet.py ...      # several GPUs
"""

import argparse
import os

import torch
import torch.nn.functional as F

import train_common as common


def parse_args():
    """Command line: data, model source and shape, optimiser flags."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_data_args(parser)
    common.add_training_args(parser, epochs=10)
    parser.add_argument("--pretrained", default=None,
                        help="Stable Diffusion folder with unet/ and vae/ to fine-tune")
    parser.add_argument("--config", choices=("small",), default=None,
                        help="train a fresh UNet of the shape given below instead")
    parser.add_argument("--vae", default=None,
                        help="diffusers vae/ folder (default <pretrained>/vae)")
    parser.add_argument("--prompt", required=True, help="prompt_embedding.safetensors")
    parser.add_argument("--block-channels", type=common.channel_list, default=(32, 64, 64),
                        help="small config: channels per UNet block (32,64,64)")
    parser.add_argument("--layers-per-block", type=int, default=1,
                        help="small config: ResNet layers per block (1)")
    parser.add_argument("--attention-head-dim", type=int, default=8,
                        help="small config: attention heads (diffusers' attention_head_dim) (8)")
    parser.add_argument("--norm-groups", type=int, default=8,
                        help="small config: GroupNorm groups (8)")
    parser.add_argument("--batch-size", type=int, default=8, help="views per step (8)")
    parser.add_argument("--workers", type=int, default=0, help="data loader workers (0)")
    args = parser.parse_args()
    if (args.pretrained is None) == (args.config is None):
        parser.error("give exactly one of --pretrained DIR and --config small")
    if args.vae is None and args.pretrained is None:
        parser.error("--config small needs --vae DIR (e.g. one written by train_vae.py)")
    return args


def small_unet(args, latent_channels, latent_size, context_dim):
    """A fresh UNet2DConditionModel: cross-attention in every block but the last (as SD)."""
    from diffusers import UNet2DConditionModel
    blocks = len(args.block_channels)
    return UNet2DConditionModel(
        sample_size=latent_size, in_channels=latent_channels, out_channels=latent_channels,
        down_block_types=("CrossAttnDownBlock2D",) * (blocks - 1) + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * (blocks - 1),
        block_out_channels=args.block_channels, layers_per_block=args.layers_per_block,
        attention_head_dim=args.attention_head_dim, cross_attention_dim=context_dim,
        norm_num_groups=args.norm_groups)


def load_models(args, context_dim):
    """(unet, vae): the UNet to train and the frozen VAE encoder."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    vae = AutoencoderKL.from_pretrained(args.vae or os.path.join(args.pretrained, "vae"))
    vae.requires_grad_(False).eval()
    if args.pretrained:
        unet = UNet2DConditionModel.from_pretrained(os.path.join(args.pretrained, "unet"))
    else:
        factor = 2 ** (len(vae.config.block_out_channels) - 1)
        unet = small_unet(args, vae.config.latent_channels, args.image_size // factor,
                          context_dim)
    if unet.config.cross_attention_dim != context_dim:
        raise SystemExit(f"the prompt embedding is {context_dim} wide, the UNet's "
                         f"cross_attention_dim is {unet.config.cross_attention_dim}")
    return unet.train(), vae


def noise_loss(unet, scheduler, latents, context):
    """DDPM noise-prediction MSE of latents [N, 4, h, w] at random timesteps."""
    noise = torch.randn_like(latents)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (latents.shape[0],),
                              device=latents.device)
    noisy = scheduler.add_noise(latents, noise, timesteps)
    prediction = unet(noisy, timesteps, encoder_hidden_states=context).sample
    return F.mse_loss(prediction.float(), noise.float())


def train(args):
    """The training loop; returns the accelerator, the unwrapped UNet and the loss log."""
    accelerator = common.make_accelerator(args)
    embedding = common.load_prompt(args.prompt)                                    # [1, L, D]
    unet, vae = load_models(args, embedding.shape[-1])
    parts = common.find_training_parts(args, need_all_views=False)
    dataset = common.ViewDataset(common.view_paths(parts), args.image_size)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True,
                                         num_workers=args.workers)
    optimizer = common.make_optimizer(unet.parameters(), args)
    unet, optimizer, loader = accelerator.prepare(unet, optimizer, loader)
    vae.to(accelerator.device)
    embedding = embedding.to(accelerator.device)
    scheduler = common.noise_scheduler()
    losses = common.LossLog(accelerator, args.log_every, os.path.join(args.out, "losses.jsonl"))
    common.log(f"UNet: {sum(p.numel() for p in unet.parameters()) / 1e6:.2f} M parameters, "
               f"{len(dataset)} views")

    step = 0
    for _epoch in range(args.epochs):
        for images in loader:
            latents = common.encode_latents(vae, images)                           # [N, 4, h, w]
            context = embedding.expand(latents.shape[0], -1, -1)                   # [N, L, D]
            with accelerator.autocast():
                loss = noise_loss(unet, scheduler, latents, context)
            accelerator.backward(loss)
            common.clip_and_step(accelerator, unet, optimizer, args)
            step += 1
            losses.add(step, noise=loss.item())
            if step == args.max_steps:
                break
        if step == args.max_steps:
            break
    losses.flush(step)
    return accelerator, accelerator.unwrap_model(unet).eval(), losses


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    accelerator, unet, losses = train(args)
    if accelerator.is_main_process:
        unet.save_pretrained(args.out, safe_serialization=True)
        common.write_provenance(args.out, args, "tools/train/train_unet.py")
        losses.save()
        common.log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
