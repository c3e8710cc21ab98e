"""Writes the tiny diffusers models and the golden inputs/outputs the Swift tests compare against:
UNet2DConditionModel (conv and linear projections, sharded, fp16), ControlNetModel, a ControlLoRA,
AutoencoderKL's encoder (new and old attention keys), and single-op references.

Run from the repository root:
    tools/reference/.venv/bin/python tools/reference/make_fixtures.py
Every parameter is re-drawn from a seeded generator, so no tensor is zero and re-runs are
byte-identical on the same machine and library versions.
"""

import argparse
import copy
import glob
import os
import shutil
import sys

import diffusers
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
from diffusers.models.activations import GEGLU
from diffusers.models.embeddings import get_timestep_embedding

import reference_common as common

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT_PATH = "tools/reference/make_fixtures.py"
DEFAULT_OUT = "Tests/MVADEngineTests/Fixtures/tiny"

# diffusers reads `attention_head_dim` as the number of heads (a historical misnomer): 4 heads of
# width 4 / 8 here; for unet_linear, 2 heads in block 0 and 4 (of width 8) in the mid block.
# Widths are as small as the structure allows, to keep the committed fixtures small.
UNET_CONFIG = dict(
    sample_size=8, in_channels=4, out_channels=4, block_out_channels=(16, 32, 32),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    layers_per_block=2, attention_head_dim=4, cross_attention_dim=32, norm_num_groups=8,
    use_linear_projection=False,
)
UNET_LINEAR_CONFIG = dict(
    sample_size=8, in_channels=4, out_channels=4, block_out_channels=(16, 32),
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    layers_per_block=1, attention_head_dim=[2, 4], cross_attention_dim=24, norm_num_groups=8,
    use_linear_projection=True,
)
VAE_CONFIG = dict(
    in_channels=3, out_channels=3,
    down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
    up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
    block_out_channels=(8, 16), layers_per_block=1, latent_channels=4, norm_num_groups=4,
    sample_size=16,
)
CONDITIONING_EMBEDDING_CHANNELS = (8, 8, 16, 16)
LORA_RANK = 4
LORA_ALPHA = 8.0
LORA_UP_STD = 0.1  # (alpha / r) * B @ A is then about 40 % of W: a missing LoRA cannot pass.
TIMESTEPS = [1.0, 81.0]
BATCH = 2
TOKENS = 7
SHARD_SIZE = "300KB"

# diffusers' former AttentionBlock (old VAE checkpoints) named the attention parameters so.
OLD_ATTENTION_NAMES = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}

# Offsets added to --seed, one independent generator per purpose.
SEED_OFFSETS = {
    "unet": 1, "unet_linear": 2, "controlnet": 3, "controllora": 4, "vae": 5,
    "case.unet": 11, "case.unet_linear": 12, "case.controlnet": 13, "case.vae": 14, "ops": 20,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, DEFAULT_OUT),
                        help=f"output folder (default <repository>/{DEFAULT_OUT})")
    parser.add_argument("--seed", type=int, default=0, help="base random seed (default 0)")
    args = parser.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    common.quiet_libraries()

    writer = FixtureWriter(args.out, args.seed)
    writer.reset()

    unet = make_unet(writer)
    unet_linear = make_unet_linear(writer)
    # The sharded and fp16 copies are of the smaller unet_linear, to keep the fixtures small.
    make_unet_sharded(writer, unet_linear)
    make_unet_fp16(writer, unet_linear)
    make_controlnet(writer, unet)
    make_controllora(writer, unet)
    make_vae(writer)
    make_ops(writer)

    print(f"total {common.directory_size(writer.out) / 1e6:.2f} MB in {writer.out_label}")


class FixtureWriter:
    """Owns the output folder, the seeded generators and the golden-case metadata."""

    OWNED = ("unet", "unet_linear", "unet_sharded", "unet_fp16", "controlnet", "controllora",
             "vae", "vae_oldkeys", "cases")

    def __init__(self, out, seed):
        self.out = os.path.abspath(out)
        inside = os.path.commonpath([self.out, REPO_ROOT]) == REPO_ROOT
        self.out_label = os.path.relpath(self.out, REPO_ROOT) if inside else self.out
        self.seed = seed
        arguments = f"--out {self.out_label} --seed {seed}"
        self.metadata = {
            "generator": f"{SCRIPT_PATH} {arguments}",
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "regenerate": f"tools/reference/.venv/bin/python {SCRIPT_PATH} {arguments}",
            "seed": str(seed),
        }

    def reset(self):
        """Removes the folders this script writes (so no stale shard survives) and recreates out."""
        os.makedirs(self.out, exist_ok=True)
        for name in self.OWNED:
            shutil.rmtree(os.path.join(self.out, name), ignore_errors=True)
        os.makedirs(os.path.join(self.out, "cases"))

    def generator(self, purpose):
        return torch.Generator().manual_seed(self.seed + SEED_OFFSETS[purpose])

    def path(self, *parts):
        return os.path.join(self.out, *parts)

    def report_folder(self, name):
        print(f"{name + '/':<14} {common.directory_size(self.path(name)) / 1e6:7.3f} MB")

    def write_case(self, name, inputs, outputs, extra_metadata=None):
        """One golden case: float32 inputs and outputs in cases/<name>.safetensors."""
        overlap = set(inputs) & set(outputs)
        assert not overlap, f"names used as input and output: {overlap}"
        tensors = {key: value.to(torch.float32) for key, value in {**inputs, **outputs}.items()}
        for key, value in tensors.items():
            assert torch.isfinite(value).all(), f"{name}: '{key}' is not finite"
        metadata = dict(self.metadata)
        metadata["inputs"] = ",".join(sorted(inputs))
        metadata["outputs"] = ",".join(sorted(outputs))
        metadata.update(extra_metadata or {})
        path = self.path("cases", f"{name}.safetensors")
        common.write_safetensors(path, tensors, metadata)
        largest = max(float(value.abs().max()) for value in outputs.values())
        print(f"cases/{name + '.safetensors':<24} {len(inputs)} inputs, {len(outputs):2d} outputs, "
              f"{os.path.getsize(path) / 1e3:7.1f} kB, max |output| {largest:.3g}")


# ---------------------------------------------------------------------------------------------
# Models


def save_and_reload(writer, name, model):
    """Saves `model` under name/ and returns it read back (weights checked equal).

    Only never-loaded models are saved: a model read by from_pretrained would write its
    absolute `_name_or_path` into config.json.
    """
    model.save_pretrained(writer.path(name), safe_serialization=True)
    writer.report_folder(name)
    reloaded = type(model).from_pretrained(writer.path(name)).eval()
    assert_same_weights(model, reloaded)
    return reloaded


def assert_same_weights(expected, actual, transform=lambda tensor: tensor):
    actual_state = actual.state_dict()
    for key, value in expected.state_dict().items():
        assert torch.equal(transform(value), actual_state[key]), key


def randomised(model, writer, purpose):
    common.randomise_(model, writer.generator(purpose))
    zeros = common.zero_tensor_names(model)
    assert not zeros, f"{purpose}: zero tensors after randomisation: {zeros[:5]}"
    return model.eval()


def unet_inputs(generator, cross_attention_dim):
    return {
        "sample": torch.randn(BATCH, 4, 8, 8, generator=generator),                 # [N, 4, h, w]
        "timestep": torch.tensor(TIMESTEPS),                                       # [N]
        "encoder_hidden_states": torch.randn(BATCH, TOKENS, cross_attention_dim,   # [N, L, D]
                                             generator=generator),
    }


def unet_outputs(unet, inputs, down_residuals=None, mid_residual=None):
    return common.run_unet(unet, inputs["sample"], inputs["timestep"],
                           inputs["encoder_hidden_states"], down_residuals, mid_residual)


def make_unet(writer):
    model = randomised(UNet2DConditionModel(**UNET_CONFIG), writer, "unet")
    unet = save_and_reload(writer, "unet", model)
    inputs = unet_inputs(writer.generator("case.unet"), UNET_CONFIG["cross_attention_dim"])
    writer.write_case("unet", inputs, unet_outputs(unet, inputs))
    return model


def make_unet_linear(writer):
    model = randomised(UNet2DConditionModel(**UNET_LINEAR_CONFIG), writer, "unet_linear")
    unet = save_and_reload(writer, "unet_linear", model)
    inputs = unet_inputs(writer.generator("case.unet_linear"),
                         UNET_LINEAR_CONFIG["cross_attention_dim"])
    writer.write_case("unet_linear", inputs, unet_outputs(unet, inputs))
    return model


def make_unet_sharded(writer, unet):
    """The `unet_linear` weights in >= 3 shards plus diffusion_pytorch_model.safetensors.index.json."""
    unet.save_pretrained(writer.path("unet_sharded"), safe_serialization=True,
                         max_shard_size=SHARD_SIZE)
    shards = glob.glob(writer.path("unet_sharded", "diffusion_pytorch_model-*.safetensors"))
    index = writer.path("unet_sharded", "diffusion_pytorch_model.safetensors.index.json")
    assert len(shards) >= 3 and os.path.exists(index), f"{len(shards)} shards"
    writer.report_folder("unet_sharded")

    assert_same_weights(unet, UNet2DConditionModel.from_pretrained(writer.path("unet_sharded")))


def make_unet_fp16(writer, unet):
    """The `unet_linear` saved in half precision; its reference runs in float32 on the rounded weights."""
    copy.deepcopy(unet).half().save_pretrained(writer.path("unet_fp16"), safe_serialization=True,
                                               variant="fp16")
    assert os.path.exists(writer.path("unet_fp16", "diffusion_pytorch_model.fp16.safetensors"))
    writer.report_folder("unet_fp16")

    rounded = UNet2DConditionModel.from_pretrained(writer.path("unet_fp16"), variant="fp16",
                                                   torch_dtype=torch.float32).eval()
    assert_same_weights(unet, rounded, lambda tensor: tensor.half().float())
    inputs = unet_inputs(writer.generator("case.unet_linear"),
                         UNET_LINEAR_CONFIG["cross_attention_dim"])
    writer.write_case("unet_fp16", inputs, unet_outputs(rounded, inputs), {
        "weights": "unet_linear's fp16 weights widened to float32; computed in float32; "
                   "inputs as in unet_linear"})


def controlnet_inputs(writer):
    generator = writer.generator("case.controlnet")
    inputs = unet_inputs(generator, UNET_CONFIG["cross_attention_dim"])
    inputs["controlnet_cond"] = torch.rand(BATCH, 3, 64, 64, generator=generator)  # [N, 3, 8h, 8w]
    inputs["conditioning_scale"] = torch.tensor([1.0])                             # [1]
    return inputs


def controlnet_case_outputs(controlnet, unet, inputs):
    """Residuals of `controlnet`, then `unet` run with them added."""
    outputs = common.run_controlnet(
        controlnet, inputs["sample"], inputs["timestep"], inputs["encoder_hidden_states"],
        inputs["controlnet_cond"], float(inputs["conditioning_scale"][0]))
    down, mid = common.residuals_of(outputs)
    outputs.update(unet_outputs(unet, inputs, down, mid))
    return outputs


def make_controlnet(writer, unet):
    model = ControlNetModel.from_unet(
        unet, conditioning_embedding_out_channels=CONDITIONING_EMBEDDING_CHANNELS)
    controlnet = save_and_reload(writer, "controlnet", randomised(model, writer, "controlnet"))
    inputs = controlnet_inputs(writer)
    writer.write_case("controlnet", inputs, controlnet_case_outputs(controlnet, unet, inputs))


def make_controllora(writer, unet):
    """Own tensors + rank-4 LoRA on every Linear, in peft and kohya spellings, over `unet`."""
    generator = writer.generator("controllora")
    template = ControlNetModel.from_unet(
        unet, conditioning_embedding_out_channels=CONDITIONING_EMBEDDING_CHANNELS).eval()
    for prefix in common.CONTROLNET_OWN_PREFIXES:
        common.randomise_(template.get_submodule(prefix.rstrip(".")), generator)
    own = common.controlnet_own_state(template)
    lora = common.random_lora(template, LORA_RANK, generator, LORA_UP_STD)

    folder = writer.path("controllora")
    os.makedirs(folder)
    config = common.controllora_config(writer.path("controlnet", "config.json"), LORA_RANK,
                                       LORA_ALPHA)
    common.write_json(os.path.join(folder, "config.json"), config)
    peft_path = os.path.join(folder, "diffusion_pytorch_model.safetensors")
    kohya_path = os.path.join(folder, "controllora_kohya.safetensors")
    common.write_safetensors(peft_path, {**own, **lora}, {"format": "pt"})
    common.write_safetensors(kohya_path, {**own, **common.peft_to_kohya(lora, LORA_ALPHA)},
                             {"format": "pt"})
    writer.report_folder("controllora")

    config = common.read_json(os.path.join(folder, "config.json"))
    peft_tensors, _ = common.read_safetensors(peft_path)
    kohya_tensors, _ = common.read_safetensors(kohya_path)
    reference = common.controllora_reference(unet, config, peft_tensors)
    from_kohya = common.controllora_reference(unet, config, kohya_tensors)
    assert_same_weights(reference, from_kohya)

    inputs = controlnet_inputs(writer)
    writer.write_case("controllora", inputs, controlnet_case_outputs(reference, unet, inputs),
                      {"lora": f"rank {LORA_RANK}, alpha {LORA_ALPHA}, deltas merged into W"})


def make_vae(writer):
    vae = save_and_reload(writer, "vae", randomised(AutoencoderKL(**VAE_CONFIG), writer, "vae"))
    generator = writer.generator("case.vae")
    image = torch.rand(BATCH, 3, 16, 16, generator=generator) * 2 - 1                # [N, 3, H, W]
    outputs = common.run_vae_encoder(vae, image)
    writer.write_case("vae", {"sample": image}, outputs,
                      {"scaling_factor": str(vae.config.scaling_factor)})

    make_vae_oldkeys(writer, image, outputs)


def make_vae_oldkeys(writer, image, outputs):
    """The `vae` with mid-block attention parameters (encoder and decoder) under the names of
    diffusers' former AttentionBlock: query, key, value, proj_attn; group_norm unchanged.

    Old diffusers-format checkpoints store these as nn.Linear weights [C, C], which is what is
    written here. [C, C, 1, 1] 1x1-conv weights occur only in CompVis/LDM single-file
    checkpoints (names q, k, v, proj_out); diffusers' from_pretrained rejects that shape.
    """
    folder = writer.path("vae_oldkeys")
    os.makedirs(folder)
    shutil.copyfile(writer.path("vae", "config.json"), os.path.join(folder, "config.json"))
    state, _ = common.read_safetensors(writer.path("vae", "diffusion_pytorch_model.safetensors"))
    renamed = {old_attention_key(key): value for key, value in state.items()}
    assert len(renamed) == len(state) and renamed.keys() != state.keys()
    common.write_safetensors(os.path.join(folder, "diffusion_pytorch_model.safetensors"), renamed,
                             {"format": "pt"})
    writer.report_folder("vae_oldkeys")

    reloaded = AutoencoderKL.from_pretrained(folder).eval()
    again = common.run_vae_encoder(reloaded, image)
    assert all(torch.equal(again[key], outputs[key]) for key in outputs)


def old_attention_key(key):
    """`<enc|dec>oder.mid_block.attentions.0.to_q.weight` -> `...attentions.0.query.weight`."""
    for new, old in OLD_ATTENTION_NAMES.items():
        for coder in ("encoder", "decoder"):
            prefix = f"{coder}.mid_block.attentions.0.{new}."
            if key.startswith(prefix):
                return f"{coder}.mid_block.attentions.0.{old}." + key[len(prefix):]
    return key


# ---------------------------------------------------------------------------------------------
# Single-op references


def make_ops(writer):
    g = writer.generator("ops")

    def randn(*shape, std=1.0):
        return std * torch.randn(*shape, generator=g)

    t = {}
    t["groupnorm.x"] = randn(2, 8, 3, 5)
    t["groupnorm.weight"] = 1 + randn(8, std=0.1)
    t["groupnorm.bias"] = randn(8, std=0.1)
    t["groupnorm.y"] = F.group_norm(t["groupnorm.x"], 4, t["groupnorm.weight"],
                                    t["groupnorm.bias"], eps=1e-5)

    t["layernorm.x"] = randn(2, 5, 12)
    t["layernorm.weight"] = 1 + randn(12, std=0.1)
    t["layernorm.bias"] = randn(12, std=0.1)
    t["layernorm.y"] = F.layer_norm(t["layernorm.x"], (12,), t["layernorm.weight"],
                                    t["layernorm.bias"], eps=1e-5)

    t["conv.x"] = randn(2, 3, 7, 6)
    t["conv.weight"] = randn(5, 3, 3, 3, std=27 ** -0.5)
    t["conv.bias"] = randn(5, std=0.1)
    t["conv.y"] = F.conv2d(t["conv.x"], t["conv.weight"], t["conv.bias"], stride=1, padding=1)
    t["conv_s2.y"] = F.conv2d(t["conv.x"], t["conv.weight"], t["conv.bias"], stride=2, padding=1)
    t["conv_k1.weight"] = randn(4, 3, 1, 1, std=3 ** -0.5)
    t["conv_k1.bias"] = randn(4, std=0.1)
    t["conv_k1.y"] = F.conv2d(t["conv.x"], t["conv_k1.weight"], t["conv_k1.bias"])

    t["gelu.x"] = randn(4, 16, std=3.0)
    t["gelu.y"] = F.gelu(t["gelu.x"], approximate="none")
    t["silu.x"] = randn(4, 16, std=3.0)
    t["silu.y"] = F.silu(t["silu.x"])

    t["attention.q"] = randn(2, 6, 16)                                             # [N, Lq, H*d]
    t["attention.k"] = randn(2, 9, 16)                                             # [N, Lk, H*d]
    t["attention.v"] = randn(2, 9, 16)
    t["attention.y"] = multi_head_attention(t["attention.q"], t["attention.k"],
                                            t["attention.v"], heads=4)

    t["timestep_embedding.t"] = torch.tensor([1.0, 21.0, 981.0])
    t["timestep_embedding.y"] = get_timestep_embedding(
        t["timestep_embedding.t"], 32, flip_sin_to_cos=True, downscale_freq_shift=0)
    t["timestep_embedding_shift1.y"] = get_timestep_embedding(
        t["timestep_embedding.t"], 32, flip_sin_to_cos=False, downscale_freq_shift=1)

    t["upsample.x"] = randn(1, 2, 3, 3)
    t["upsample.y"] = F.interpolate(t["upsample.x"], scale_factor=2.0, mode="nearest")

    geglu = GEGLU(8, 6).eval()
    t["geglu.x"] = randn(2, 3, 8)
    t["geglu.weight"] = randn(12, 8, std=8 ** -0.5)
    t["geglu.bias"] = randn(12, std=0.1)
    with torch.no_grad():
        geglu.proj.weight.copy_(t["geglu.weight"])
        geglu.proj.bias.copy_(t["geglu.bias"])
        t["geglu.y"] = geglu(t["geglu.x"])

    inputs = {key: value for key, value in t.items() if not key.endswith(".y")}
    outputs = {key: value for key, value in t.items() if key.endswith(".y")}
    writer.write_case("ops", inputs, outputs, {
        "groupnorm": "groups=4 eps=1e-5",
        "layernorm": "normalized_shape=[12] eps=1e-5",
        "conv": "stride=1 padding=1",
        "conv_s2": "conv.x, conv.weight, conv.bias; stride=2 padding=1",
        "conv_k1": "conv.x; stride=1 padding=0",
        "gelu": "exact (erf)",
        "attention": "heads=4 head_dim=4 scale=1/sqrt(head_dim), no mask",
        "timestep_embedding": "dim=32 flip_sin_to_cos=True downscale_freq_shift=0 max_period=10000",
        "timestep_embedding_shift1": "dim=32 flip_sin_to_cos=False downscale_freq_shift=1",
        "upsample": "nearest, scale 2",
        "geglu": "diffusers GEGLU(8, 6): h, gate = proj(x).chunk(2, -1); h * gelu(gate)",
    })


def multi_head_attention(q, k, v, heads):
    """[N, L, H*d] -> [N, H, L, d], softmax(q k^T / sqrt(d)) v, -> [N, Lq, H*d]."""
    def split(x):
        n, length, width = x.shape
        return x.reshape(n, length, heads, width // heads).transpose(1, 2)

    y = F.scaled_dot_product_attention(split(q), split(k), split(v))              # [N, H, Lq, d]
    return y.transpose(1, 2).reshape(q.shape)


if __name__ == "__main__":
    sys.exit(main())
