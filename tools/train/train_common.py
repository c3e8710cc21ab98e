"""Shared pieces of the training scripts: where the parts of a data set are, how their views are
loaded, the noise schedule, the optimiser with the paper's defaults, and the accelerate setup.

Dimension letters: N batch, V views, C channels, S image size, h x w latent size, L tokens,
D token width.
"""

import json
import os
import re
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import pipeline_common  # noqa: E402  (tools/reference, found through sys.path above)
import reference_common  # noqa: E402

LIGHTS = pipeline_common.LIGHTS
VIEW_NAMES = [f"image_{index}" for index in range(LIGHTS)] + ["normals"]
VIEW_EXTENSIONS = (".png", ".jpg", ".jpeg")

# Stable Diffusion's training noise schedule (DDPM); the DDIM inversion uses the same betas.
NOISE_SCHEDULE = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                      beta_schedule="scaled_linear", prediction_type="epsilon")

PROMPT_KEY = "encoder_hidden_states"


# ---------------------------------------------------------------------------------------------
# Parts on disk


def split_folder(path, category, split):
    """The folder holding a split's NNN_* files, found as `mvad bank build --parts` finds it.

    `path` is a category folder (<path>/<split>/data), an Eyecandies root
    (<path>/<Category>/<split>/data; `category` needed when there are several) or a plain folder
    of NNN_image_K / NNN_normals files.
    """
    own = os.path.join(path, split, "data")
    if os.path.isdir(own):
        return own
    categories = sorted(name for name in os.listdir(path)
                        if os.path.isdir(os.path.join(path, name, split, "data")))
    if categories:
        if category is None and len(categories) > 1:
            raise SystemExit(f"{path} holds several categories ({', '.join(categories)}); "
                             "choose one with --category")
        chosen = category or categories[0]
        if chosen not in categories:
            raise SystemExit(f"--category {chosen}: no folder {path}/{chosen}/{split}/data; "
                             f"found {', '.join(categories)}")
        return os.path.join(path, chosen, split, "data")
    if category is not None:
        raise SystemExit(f"--category {category} was given, but {path} is not an Eyecandies "
                         f"dataset (<root>/<Category>/{split}/data)")
    return path


def list_parts(folder):
    """Maps part id -> {view name: file path} for every NNN_<view>.<ext> file, ids sorted as
    numbers (depth maps, masks and other files are ignored)."""
    pattern = re.compile(r"^(\d+)_(image_[0-5]|normals)(\.[A-Za-z]+)$")
    parts = {}
    for name in os.listdir(folder):
        match = pattern.match(name)
        if match and match.group(3).lower() in VIEW_EXTENSIONS:
            parts.setdefault(match.group(1), {})[match.group(2)] = os.path.join(folder, name)
    return {part: parts[part] for part in sorted(parts, key=int)}


def complete_parts(parts):
    """The parts that have all seven views, and the ids of those that do not."""
    complete = {part: views for part, views in parts.items() if len(views) == len(VIEW_NAMES)}
    return complete, [part for part in parts if part not in complete]


def find_training_parts(args, need_all_views):
    """The train-split parts of `args.data` (+ `args.category`), logged; exits if none fit."""
    folder = split_folder(args.data, args.category, args.split)
    parts = list_parts(folder)
    if need_all_views:
        parts, incomplete = complete_parts(parts)
        if incomplete:
            log(f"leaving out {len(incomplete)} parts without all seven views: "
                f"{', '.join(incomplete[:10])}")
    if args.max_parts:
        parts = dict(list(parts.items())[: args.max_parts])
    if not parts:
        raise SystemExit(f"no usable part in {folder} (expected NNN_image_0..5 and NNN_normals "
                         "files)")
    log(f"{len(parts)} parts in {folder}")
    return parts


def load_view(path, image_size):
    """One view as float32 [3, S, S] in [-1, 1]: RGB, Pillow bicubic resize to S x S."""
    return pipeline_common.load_view(path, image_size) * 2 - 1


def view_paths(parts):
    """Every view file of `parts`, in part order and view order (image_0..5, normals)."""
    return [views[name] for views in parts.values() for name in VIEW_NAMES if name in views]


class ViewDataset(torch.utils.data.Dataset):
    """Single views [3, S, S] in [-1, 1], read from disk on access."""

    def __init__(self, paths, image_size):
        self.paths = paths
        self.image_size = image_size

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        return load_view(self.paths[index], self.image_size)


class PartDataset(torch.utils.data.Dataset):
    """Whole parts [7, 3, S, S] in [-1, 1]: the six lights, then the normal map."""

    def __init__(self, parts, image_size):
        self.parts = list(parts.values())
        self.image_size = image_size

    def __len__(self):
        return len(self.parts)

    def __getitem__(self, index):
        views = self.parts[index]
        return torch.stack([load_view(views[name], self.image_size) for name in VIEW_NAMES])


# ---------------------------------------------------------------------------------------------
# Models and tensors


@torch.no_grad()
def encode_latents(vae, images, batch_size=16):
    """Latent means * scaling factor of images [N, 3, S, S] in [-1, 1]: [N, 4, h, w]."""
    chunks = [vae.encode(images[start:start + batch_size]).latent_dist.mean
              for start in range(0, images.shape[0], batch_size)]
    return torch.cat(chunks) * vae.config.scaling_factor


def load_prompt(path):
    """The prompt embedding [1, L, D] of a prompt_embedding.safetensors file."""
    tensors, _metadata = reference_common.read_safetensors(path)
    if PROMPT_KEY not in tensors:
        raise SystemExit(f"{path} has no tensor '{PROMPT_KEY}'; found {sorted(tensors)}")
    embedding = tensors[PROMPT_KEY].to(torch.float32)
    if embedding.ndim != 3 or embedding.shape[0] != 1:
        raise SystemExit(f"{path}: '{PROMPT_KEY}' has shape {list(embedding.shape)}, "
                         "expected [1, L, D]")
    return embedding


def seeded_prompt(dim, seed, tokens=77):
    """A fixed conditioning vector for models without a text encoder: N(0, 1) [1, L, D]."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(1, tokens, dim, generator=generator)


def noise_scheduler():
    """diffusers' DDPMScheduler with Stable Diffusion's betas, for adding training noise."""
    from diffusers import DDPMScheduler
    return DDPMScheduler(**NOISE_SCHEDULE)


def channel_list(text):
    """'32,64,64' -> (32, 64, 64) (argparse type)."""
    try:
        values = tuple(int(item) for item in text.split(","))
    except ValueError:
        raise ValueError(f"expected comma-separated whole numbers, got '{text}'") from None
    if not values or min(values) <= 0:
        raise ValueError(f"expected positive numbers, got '{text}'")
    return values


# ---------------------------------------------------------------------------------------------
# Command line, optimiser, accelerate


def add_data_args(parser):
    """--data, --category, --split, --image-size, --max-parts."""
    parser.add_argument("--data", required=True,
                        help="category folder, Eyecandies root or folder of NNN_* views")
    parser.add_argument("--category", default=None, help="category of an Eyecandies root")
    parser.add_argument("--split", default="train", help="split to train on (default train)")
    parser.add_argument("--image-size", type=int, default=256,
                        help="views are bicubically resized to this size (default 256)")
    parser.add_argument("--max-parts", type=int, default=0,
                        help="use only the first N parts (0 = all)")


def add_training_args(parser, epochs, lr=5e-6):
    """The paper's optimiser (AdamW 5e-6, betas 0.9/0.999, wd 0.01, clip 1.0) and run flags."""
    parser.add_argument("--epochs", type=int, default=epochs,
                        help=f"passes over the training data (default {epochs})")
    parser.add_argument("--max-steps", type=int, default=0,
                        help="stop after this many optimiser steps (0 = no limit)")
    parser.add_argument("--lr", type=float, default=lr, help=f"AdamW learning rate ({lr:g})")
    parser.add_argument("--beta1", type=float, default=0.9, help="AdamW beta1 (0.9)")
    parser.add_argument("--beta2", type=float, default=0.999, help="AdamW beta2 (0.999)")
    parser.add_argument("--weight-decay", type=float, default=0.01,
                        help="AdamW weight decay (0.01)")
    parser.add_argument("--grad-clip", type=float, default=1.0,
                        help="gradient norm clip (1.0; 0 = off)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, noise and order")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads per process (0 = torch's default)")
    parser.add_argument("--mixed-precision", default="no", choices=("no", "fp16", "bf16"),
                        help="accelerate mixed precision (GPU; default no)")
    parser.add_argument("--log-every", type=int, default=10, help="log every N steps")
    parser.add_argument("--out", required=True, help="output folder")


def make_optimizer(parameters, args):
    """AdamW with the flags of add_training_args."""
    return torch.optim.AdamW(parameters, lr=args.lr, betas=(args.beta1, args.beta2),
                             weight_decay=args.weight_decay)


def make_accelerator(args):
    """An accelerate Accelerator (one CPU process under plain `python`), seeded."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    if args.threads:
        torch.set_num_threads(args.threads)
    reference_common.quiet_libraries()
    accelerator = Accelerator(mixed_precision=args.mixed_precision)
    set_seed(args.seed, device_specific=True)         # each process draws its own noise
    return accelerator


def clip_and_step(accelerator, model, optimizer, args):
    """Gradient-norm clip (if on), optimiser step, zeroed gradients."""
    if args.grad_clip > 0:
        accelerator.clip_grad_norm_(model.parameters(), args.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


class LossLog:
    """Running loss means, logged every `every` steps and at the end, and kept as JSON lines."""

    def __init__(self, accelerator, every, path):
        self.accelerator = accelerator
        self.every = max(1, every)
        self.path = path
        self.sums = {}
        self.count = 0
        self.history = []
        self.started = time.time()

    def add(self, step, **values):
        """Adds one step's losses; logs the means every `every` steps."""
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)
        self.count += 1
        if step % self.every == 0:
            self.flush(step)

    def flush(self, step):
        """Logs and records the means since the last flush."""
        if not self.count:
            return
        means = {key: value / self.count for key, value in self.sums.items()}
        entry = {"step": step, "seconds": round(time.time() - self.started, 1), **means}
        self.history.append(entry)
        if self.accelerator.is_main_process:
            losses = " ".join(f"{key} {value:.5g}" for key, value in means.items())
            log(f"step {step}: {losses} ({entry['seconds']} s)")
        self.sums, self.count = {}, 0

    def save(self):
        """Writes the history to `path` (main process only)."""
        if self.accelerator.is_main_process and self.path:
            with open(self.path, "w") as file:
                for entry in self.history:
                    file.write(json.dumps(entry) + "\n")


def log(message):
    """A timestamped progress line on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def write_provenance(folder, args, script):
    """training.json: the script, its arguments and the library versions."""
    import diffusers
    record = {"script": script, "arguments": vars(args), "torch": torch.__version__,
              "diffusers": diffusers.__version__}
    reference_common.write_json(os.path.join(folder, "training.json"), record)
