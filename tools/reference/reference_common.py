"""Helpers shared by the reference scripts: a byte-stable safetensors writer, weight randomisation,
ControlLoRA tensors (peft and kohya spellings), and diffusers forward passes that capture the
tensors the Swift runtime is compared on (decoder block outputs, ControlNet residuals).

Dimension letters: N batch, C channels, H x W spatial size, L tokens, D token width, r LoRA rank.
"""

import json
import math
import os
import struct
import warnings

import torch
from torch import nn

# Tensors that a ControlNet owns; every other ControlNet tensor has the same key in the UNet.
CONTROLNET_OWN_PREFIXES = ("controlnet_cond_embedding.", "controlnet_down_blocks.",
                           "controlnet_mid_block.")

# The keys a ControlLoRA config adds to a ControlNetModel config.
LORA_CONFIG_KEYS = ("lora_rank", "lora_alpha")

NORM_TYPES = (nn.GroupNorm, nn.LayerNorm)

_SAFETENSORS_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
}


def quiet_libraries():
    """Silences diffusers' and transformers' advisory logging so scripts print only results."""
    warnings.filterwarnings("ignore")
    import diffusers.utils.logging as diffusers_logging
    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()


def write_safetensors(path, tensors, metadata=None):
    """Writes a safetensors file whose bytes depend only on its contents.

    safetensors.torch.save_file orders `__metadata__` entries by a per-process hash seed, so two
    runs differ byte-wise. Here the metadata and the tensors are both sorted by name.
    """
    header = {}
    if metadata:
        header["__metadata__"] = {key: str(metadata[key]) for key in sorted(metadata)}

    blobs = []
    offset = 0
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        if tensor.dtype not in _SAFETENSORS_DTYPES:
            raise ValueError(f"tensor '{name}' has dtype {tensor.dtype}; "
                             f"expected one of {sorted(map(str, _SAFETENSORS_DTYPES))}")
        data = tensor.reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {
            "dtype": _SAFETENSORS_DTYPES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)

    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(header_bytes)))
        file.write(header_bytes)
        for data in blobs:
            file.write(data)


def read_safetensors(path):
    """Returns (tensors, metadata) of a safetensors file."""
    from safetensors import safe_open
    with safe_open(path, framework="pt") as file:
        metadata = file.metadata() or {}
        tensors = {name: file.get_tensor(name) for name in file.keys()}
    return tensors, metadata


@torch.no_grad()
def randomise_(module, generator, weight_gain=1.0, bias_std=0.1, norm_std=0.1):
    """Overwrites every parameter of `module` with normal noise so that no tensor is zero.

    Weights (2+ dims) get std weight_gain / sqrt(fan_in); biases get std bias_std; GroupNorm and
    LayerNorm weights are 1 + norm_std * n and their biases norm_std * n.
    """
    for submodule in module.modules():
        for name, param in submodule.named_parameters(recurse=False):
            noise = torch.randn(param.shape, generator=generator, dtype=param.dtype)
            if isinstance(submodule, NORM_TYPES):
                centre = 1.0 if name == "weight" else 0.0
                param.copy_(centre + norm_std * noise)
            elif param.ndim >= 2:
                fan_in = param[0].numel()
                param.copy_(noise * (weight_gain / math.sqrt(fan_in)))
            else:
                param.copy_(noise * bias_std)


@torch.no_grad()
def perturb_norms_(module, generator, norm_std=0.1):
    """Moves GroupNorm / LayerNorm parameters off their 1 / 0 defaults (zero biases hide bugs)."""
    for submodule in module.modules():
        if isinstance(submodule, NORM_TYPES) and submodule.weight is not None:
            submodule.weight.add_(norm_std * torch.randn(submodule.weight.shape,
                                                         generator=generator))
            submodule.bias.add_(norm_std * torch.randn(submodule.bias.shape, generator=generator))


def zero_tensor_names(module):
    """Names of parameters whose every element is zero."""
    return [name for name, param in module.named_parameters() if not param.detach().any()]


def parameter_count(module):
    return sum(param.numel() for param in module.parameters())


# ---------------------------------------------------------------------------------------------
# ControlLoRA


def controlnet_own_state(controlnet):
    """The ControlNet's own tensors: conditioning embedding and zero convolutions."""
    return {key: value for key, value in controlnet.state_dict().items()
            if key.startswith(CONTROLNET_OWN_PREFIXES)}


def lora_target_names(controlnet):
    """Module paths of every nn.Linear of the ControlNet encoder (LoRA targets; no convs)."""
    names = [name for name, sub in controlnet.named_modules() if isinstance(sub, nn.Linear)]
    for name in names:
        assert not (name + ".").startswith(CONTROLNET_OWN_PREFIXES), name
    return names


@torch.no_grad()
def random_lora(controlnet, rank, generator, up_std):
    """Peft-spelled LoRA tensors for every Linear: lora_A [r, in] ~ 1/sqrt(in), lora_B [out, r]."""
    tensors = {}
    for name in lora_target_names(controlnet):
        linear = controlnet.get_submodule(name)
        down = torch.randn(rank, linear.in_features, generator=generator)
        tensors[f"{name}.lora_A.weight"] = down / math.sqrt(linear.in_features)
        tensors[f"{name}.lora_B.weight"] = up_std * torch.randn(linear.out_features, rank,
                                                                generator=generator)
    return tensors


def peft_to_kohya(tensors, alpha):
    """Renames lora_A/lora_B to lora_down/lora_up and adds a 0-dim `<module>.alpha` per module."""
    renamed = {}
    for key, value in tensors.items():
        if key.endswith(".lora_A.weight"):
            module = key[: -len(".lora_A.weight")]
            renamed[f"{module}.lora_down.weight"] = value
            renamed[f"{module}.alpha"] = torch.tensor(float(alpha), dtype=torch.float32)
        elif key.endswith(".lora_B.weight"):
            renamed[key[: -len(".lora_B.weight")] + ".lora_up.weight"] = value
        else:
            renamed[key] = value
    return renamed


def lora_deltas(tensors, rank, alpha):
    """Maps module path -> dense weight delta [out, in], from peft or kohya spelled tensors.

    peft: delta = (alpha / r) * B @ A with alpha and r from the config.
    kohya: delta = (alpha / r) * up @ down with alpha from `<module>.alpha` (r if absent, as in
    kohya's scripts) and r from the tensor shape.
    """
    deltas = {}
    for key in tensors:
        if key.endswith(".lora_A.weight"):
            module = key[: -len(".lora_A.weight")]
            down, up = tensors[key], tensors[f"{module}.lora_B.weight"]
            if down.shape[0] != rank:
                raise ValueError(f"'{key}' has rank {down.shape[0]}, config says {rank}")
            deltas[module] = (alpha / rank) * (up @ down)
        elif key.endswith(".lora_down.weight"):
            module = key[: -len(".lora_down.weight")]
            down, up = tensors[key], tensors[f"{module}.lora_up.weight"]
            module_rank = down.shape[0]
            module_alpha = float(tensors.get(f"{module}.alpha", torch.tensor(module_rank)))
            deltas[module] = (module_alpha / module_rank) * (up @ down)
    return deltas


def is_lora_key(key):
    suffixes = (".lora_A.weight", ".lora_B.weight", ".lora_down.weight", ".lora_up.weight",
                ".alpha")
    return key.endswith(suffixes)


@torch.no_grad()
def controllora_reference(unet, config, tensors):
    """A plain ControlNetModel equal to a ControlLoRA: the UNet's encoder weights with the LoRA
    deltas merged into every Linear, and the ControlLoRA's own tensors.

    `config` is the ControlLoRA config.json (ControlNetModel config + lora_rank, lora_alpha);
    `tensors` holds the ControlLoRA file (own tensors and LoRA tensors, either spelling).
    """
    from diffusers import ControlNetModel

    base_config = {key: value for key, value in config.items() if key not in LORA_CONFIG_KEYS}
    controlnet = ControlNetModel.from_config(base_config).eval()

    unknown = [key for key in tensors
               if not key.startswith(CONTROLNET_OWN_PREFIXES) and not is_lora_key(key)]
    if unknown:
        raise ValueError("ControlLoRA file has tensors that are neither the ControlNet's own nor "
                         f"LoRA tensors: {unknown[:5]}")

    unet_state = unet.state_dict()
    merged = {}
    for key in controlnet.state_dict():
        merged[key] = tensors[key] if key.startswith(CONTROLNET_OWN_PREFIXES) else unet_state[key]

    deltas = lora_deltas(tensors, int(config["lora_rank"]), float(config["lora_alpha"]))
    expected = set(lora_target_names(controlnet))
    if set(deltas) != expected:
        missing = sorted(expected - set(deltas))[:5]
        extra = sorted(set(deltas) - expected)[:5]
        raise ValueError(f"LoRA modules differ from the Linear layers: missing {missing}, "
                         f"unexpected {extra}")
    for module, delta in deltas.items():
        merged[f"{module}.weight"] = merged[f"{module}.weight"] + delta

    controlnet.load_state_dict(merged, strict=True)
    return controlnet


def controllora_config(controlnet_config_path, rank, alpha):
    """Reads a saved ControlNetModel config.json and adds the LoRA keys."""
    with open(controlnet_config_path) as file:
        config = json.load(file)
    config["lora_rank"] = rank
    config["lora_alpha"] = alpha
    return config


def write_json(path, value):
    with open(path, "w") as file:
        file.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


def read_json(path):
    with open(path) as file:
        return json.load(file)


# ---------------------------------------------------------------------------------------------
# Forward passes


@torch.no_grad()
def run_unet(unet, sample, timestep, encoder_hidden_states, down_residuals=None,
             mid_residual=None):
    """UNet noise prediction plus the output of every decoder block (`up_blocks.i`)."""
    captured = {}

    def capture(index):
        def hook(_module, _inputs, output):
            captured[f"up_blocks.{index}"] = output.detach().clone()
        return hook

    handles = [block.register_forward_hook(capture(index))
               for index, block in enumerate(unet.up_blocks)]
    try:
        noise_pred = unet(sample, timestep, encoder_hidden_states=encoder_hidden_states,
                          down_block_additional_residuals=down_residuals,
                          mid_block_additional_residual=mid_residual, return_dict=False)[0]
    finally:
        for handle in handles:
            handle.remove()
    return {"noise_pred": noise_pred, **captured}


@torch.no_grad()
def run_controlnet(controlnet, sample, timestep, encoder_hidden_states, condition, scale):
    """ControlNet residuals as `down_block_res_samples.i` and `mid_block_res_sample`."""
    down, mid = controlnet(sample, timestep, encoder_hidden_states=encoder_hidden_states,
                           controlnet_cond=condition, conditioning_scale=scale,
                           return_dict=False)
    outputs = {f"down_block_res_samples.{index}": tensor for index, tensor in enumerate(down)}
    outputs["mid_block_res_sample"] = mid
    return outputs


def residuals_of(controlnet_outputs):
    """The residual list and mid residual of run_controlnet's dict, in UNet order."""
    count = sum(1 for key in controlnet_outputs if key.startswith("down_block_res_samples."))
    down = [controlnet_outputs[f"down_block_res_samples.{index}"] for index in range(count)]
    return down, controlnet_outputs["mid_block_res_sample"]


@torch.no_grad()
def run_vae_encoder(vae, image):
    """Latent distribution mean (encoder + quant_conv) and that mean times the scaling factor."""
    mean = vae.encode(image).latent_dist.mean
    return {"latent_mean": mean, "latent": mean * vae.config.scaling_factor}


def directory_size(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, name)) for name in files)
    return total
