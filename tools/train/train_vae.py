"""Trains a small AutoencoderKL from scratch on every view of a data set's training parts, for
demo models (real models use Stable Diffusion's VAE). Loss = L1 (or L2) reconstruction +
kl_weight * KL(latent distribution || N(0, 1)). Writes a diffusers vae/ folder (safetensors)
whose scaling_factor makes the training latents' standard deviation 1.

    python tools/train/train_vae.py --data DIR --image-size 128 --out OUT/vae
    accelerate launch tools/train/train_vae.py ...      # several GPUs
"""

import argparse
import os

import torch
import torch.nn.functional as F

import train_common as common


def parse_args():
    """Command line: data, VAE shape, loss and optimiser flags."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_data_args(parser)
    common.add_training_args(parser, epochs=20, lr=1e-3)
    parser.add_argument("--block-channels", type=common.channel_list, default=(32, 64, 64),
                        help="channels per encoder block; each block after the first halves "
                             "the size (default 32,64,64: latents at S/4)")
    parser.add_argument("--layers-per-block", type=int, default=1, help="ResNet layers (1)")
    parser.add_argument("--latent-channels", type=int, default=4, help="latent channels (4)")
    parser.add_argument("--norm-groups", type=int, default=8, help="GroupNorm groups (8)")
    parser.add_argument("--batch-size", type=int, default=8, help="views per step (8)")
    parser.add_argument("--recon", choices=("l1", "l2"), default="l1",
                        help="reconstruction loss (l1)")
    parser.add_argument("--kl-weight", type=float, default=1e-6, help="KL weight (1e-6)")
    parser.add_argument("--workers", type=int, default=0, help="data loader workers (0)")
    return parser.parse_args()


def make_vae(args):
    """A fresh AutoencoderKL of the requested shape."""
    from diffusers import AutoencoderKL
    blocks = len(args.block_channels)
    return AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * blocks,
        up_block_types=("UpDecoderBlock2D",) * blocks, block_out_channels=args.block_channels,
        layers_per_block=args.layers_per_block, latent_channels=args.latent_channels,
        norm_num_groups=args.norm_groups, sample_size=args.image_size)


class VAEObjective(torch.nn.Module):
    """The VAE with a forward that returns the loss terms, so that accelerate's wrapper (DDP)
    sees the whole training computation."""

    def __init__(self, vae, recon, kl_weight):
        super().__init__()
        self.vae = vae
        self.recon = recon
        self.kl_weight = kl_weight

    def forward(self, images):
        """Reconstruction and KL terms of a batch [N, 3, S, S] (sampled latents)."""
        posterior = self.vae.encode(images).latent_dist
        reconstruction = self.vae.decode(posterior.sample()).sample
        if self.recon == "l1":
            recon = F.l1_loss(reconstruction, images)
        else:
            recon = F.mse_loss(reconstruction, images)
        kl = posterior.kl().mean() / images[0].numel()
        return recon, kl


@torch.no_grad()
def latent_std(vae, loader, device, limit=256):
    """Standard deviation of the latent means of up to `limit` training views."""
    means, seen = [], 0
    for images in loader:
        means.append(vae.encode(images.to(device)).latent_dist.mean.float().cpu())
        seen += images.shape[0]
        if seen >= limit:
            break
    return torch.cat(means).std().item()


def train(args):
    """The training loop; returns the unwrapped VAE and the loss log."""
    accelerator = common.make_accelerator(args)
    parts = common.find_training_parts(args, need_all_views=False)
    dataset = common.ViewDataset(common.view_paths(parts), args.image_size)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True,
                                         num_workers=args.workers, drop_last=False)
    objective = VAEObjective(make_vae(args), args.recon, args.kl_weight).train()
    optimizer = common.make_optimizer(objective.parameters(), args)
    objective, optimizer, loader = accelerator.prepare(objective, optimizer, loader)
    losses = common.LossLog(accelerator, args.log_every, os.path.join(args.out, "losses.jsonl"))
    common.log(f"VAE: {sum(p.numel() for p in objective.parameters()) / 1e6:.2f} M parameters, "
               f"{len(dataset)} views")

    step = 0
    for _epoch in range(args.epochs):
        for images in loader:
            recon, kl = objective(images)
            accelerator.backward(recon + args.kl_weight * kl)
            common.clip_and_step(accelerator, objective, optimizer, args)
            step += 1
            losses.add(step, recon=recon.item(), kl=kl.item())
            if step == args.max_steps:
                break
        if step == args.max_steps:
            break
    losses.flush(step)
    vae = accelerator.unwrap_model(objective).vae.eval()
    std = latent_std(vae, loader, accelerator.device)
    vae.register_to_config(scaling_factor=1.0 / std)
    common.log(f"latent std {std:.4g}: scaling_factor {1.0 / std:.4g}")
    return accelerator, vae, losses


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    accelerator, vae, losses = train(args)
    if accelerator.is_main_process:
        vae.save_pretrained(args.out, safe_serialization=True)
        common.write_provenance(args.out, args, "tools/train/train_vae.py")
        losses.save()
        common.log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
