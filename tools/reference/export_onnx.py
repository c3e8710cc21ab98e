"""Exports the full-size UNet (with ControlNet residual inputs), ControlNet and VAE encoder to
ONNX float32, quantises them with ONNX Runtime's dynamic int8 quantisation, and checks both
against diffusers. The result is what `bench_onnx.py` times.

    export_onnx.py --models /work/models-full --out /work/onnx [--only unet,controlnet,vae]

Writes to --out, per component C in unet, controlnet, vae_encoder: `C.onnx` + `C.onnx.data`
(float32, weights as external data: the UNet is above protobuf's 2 GB limit) and
`C.int8.onnx` + `C.int8.onnx.data`, plus `manifest.json` (versions, exporter, quantisation,
measured errors). Shapes are fixed, by default at the bench workload: batch 6, 32 x 32 latents,
77 x 768 context, 256 px images (the image sizes follow from the latent size and the configs).
"""

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
import torch
from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
from onnxruntime.quantization import QuantType, quantize_dynamic
from torch import nn

import reference_common as common

COMPONENTS = ("unet", "controlnet", "vae")
FILE_STEMS = {"unet": "unet", "controlnet": "controlnet", "vae": "vae_encoder"}
BATCH = 6            # defaults: the bench workload; --batch / --latent-size for small models
LATENT_SIZE = 32
TOKENS = 77
TIMESTEP = 81.0
OPSET = 17
LATENT_INPUT_NAMES = ["sample", "timestep", "encoder_hidden_states"]

# What the measurements in tools/reference/README.md chose: MatMul weights only, per output
# channel, signed int8. Conv (-> ConvInteger) is slower at this workload; see the README.
DEFAULT_OPS = "MatMul"


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class UNetWithResiduals(nn.Module):
    """The UNet taking the ControlNet's 12 down residuals and its mid residual as inputs."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, context, *residuals):
        down, mid = list(residuals[:-1]), residuals[-1]
        return self.unet(sample, timestep, encoder_hidden_states=context,
                         down_block_additional_residuals=down,
                         mid_block_additional_residual=mid, return_dict=False)[0]


class ControlNetResiduals(nn.Module):
    """The ControlNet at conditioning scale 1, returning its residuals as one flat tuple."""

    def __init__(self, controlnet):
        super().__init__()
        self.controlnet = controlnet

    def forward(self, sample, timestep, context, condition):
        down, mid = self.controlnet(sample, timestep, encoder_hidden_states=context,
                                    controlnet_cond=condition, conditioning_scale=1.0,
                                    return_dict=False)
        return (*down, mid)


class VAEEncoderMean(nn.Module):
    """Encoder + quant_conv, returning the mean half of the latent distribution's moments."""

    def __init__(self, vae):
        super().__init__()
        self.encoder = vae.encoder
        self.quant_conv = vae.quant_conv

    def forward(self, image):
        moments = self.encoder(image)
        if self.quant_conv is not None:
            moments = self.quant_conv(moments)
        mean, _logvar = torch.chunk(moments, 2, dim=1)
        return mean


def residual_shapes(config, batch, latent_size):
    """Shapes of the UNet's skip connections (= ControlNet residuals): conv_in, then per down
    block `layers_per_block` outputs and one after each downsampler, then the mid block.
    SD v1.x: 12 down residuals + mid."""
    channels = config["block_out_channels"]
    layers = config["layers_per_block"]
    size = latent_size
    shapes = [(batch, channels[0], size, size)]
    for index, width in enumerate(channels):
        shapes += [(batch, width, size, size)] * layers
        if index < len(channels) - 1:
            size //= 2
            shapes.append((batch, width, size, size))
    shapes.append((batch, channels[-1], size, size))    # mid block
    return shapes


def residual_names(count):
    """ONNX names of `count` residuals: down_residual_0 ... and last mid_residual."""
    return [f"down_residual_{index}" for index in range(count - 1)] + ["mid_residual"]


def latent_inputs(config, batch, latent_size, generator):
    width = config["cross_attention_dim"]
    return {"sample": torch.randn(batch, config["in_channels"], latent_size, latent_size,
                                  generator=generator),
            "timestep": torch.full((batch,), TIMESTEP),
            "encoder_hidden_states": torch.randn(batch, TOKENS, width, generator=generator)}


def component_case(name, models, batch, latent_size, generator):
    """(wrapper module, inputs by ONNX name, output names) for one component. Image sizes:
    the ControlNet condition is 2^(conditioning blocks - 1) times the latent size, the VAE
    image 2^(down blocks - 1) times (both 8x for SD v1.x)."""
    if name == "unet":
        unet = UNet2DConditionModel.from_pretrained(os.path.join(models, "unet")).eval()
        inputs = latent_inputs(unet.config, batch, latent_size, generator)
        shapes = residual_shapes(unet.config, batch, latent_size)
        for residual, shape in zip(residual_names(len(shapes)), shapes):
            inputs[residual] = 0.1 * torch.randn(*shape, generator=generator)
        return UNetWithResiduals(unet), inputs, ["noise_pred"]
    if name == "controlnet":
        controlnet = ControlNetModel.from_pretrained(os.path.join(models, "controlnet")).eval()
        inputs = latent_inputs(controlnet.config, batch, latent_size, generator)
        scale = 2 ** (len(controlnet.config["conditioning_embedding_out_channels"]) - 1)
        size = latent_size * scale
        inputs["controlnet_cond"] = torch.rand(batch, 3, size, size, generator=generator)
        count = len(residual_shapes(controlnet.config, batch, latent_size))
        return ControlNetResiduals(controlnet), inputs, residual_names(count)
    vae = AutoencoderKL.from_pretrained(os.path.join(models, "vae")).eval()
    size = latent_size * 2 ** (len(vae.config["block_out_channels"]) - 1)
    image = torch.rand(batch, 3, size, size, generator=generator) * 2 - 1
    return VAEEncoderMean(vae), {"image": image}, ["latent_mean"]


def export_float(module, inputs, output_names, path):
    """Legacy TorchScript exporter (dynamo=False), then one external data file next to `path`.
    The exporter itself writes a >2 GB model as one file per tensor, hence the re-save."""
    with tempfile.TemporaryDirectory(dir=os.path.dirname(path)) as scratch:
        raw = os.path.join(scratch, "model.onnx")
        with torch.inference_mode():
            torch.onnx.export(module, tuple(inputs.values()), raw, dynamo=False,
                              input_names=list(inputs), output_names=output_names,
                              opset_version=OPSET, do_constant_folding=True)
        model = onnx.load(raw, load_external_data=True)
    save_with_external_data(model, path)
    del model
    gc.collect()


def save_with_external_data(model, path):
    data = os.path.basename(path) + ".data"
    if os.path.exists(path + ".data"):
        os.remove(path + ".data")
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data, size_threshold=1024)


def quantise(source, target, ops, per_channel):
    """ORT dynamic quantisation: int8 weights (per output channel unless per_channel is
    False), activations quantised to uint8 at run time. In dynamic mode ORT's quantiser first
    rewrites every Gemm (the exporter's 2-D nn.Linear: time embeddings) as MatMul + Add, so
    "MatMul" covers all Linear layers; MatMulConstBOnly leaves the attention products
    (activation x activation) in float32. "Conv" turns Conv into ConvInteger."""
    for stale in (target, target + ".data"):
        if os.path.exists(stale):
            os.remove(stale)
    quantize_dynamic(source, target, op_types_to_quantize=ops, per_channel=per_channel,
                     weight_type=QuantType.QInt8, use_external_data_format=True,
                     extra_options={"MatMulConstBOnly": True})


def session(path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def relative_errors(expected, actual):
    """Relative L2 over all outputs together and the worst single output's."""
    squared_error = squared_norm = 0.0
    worst = 0.0
    for want, got in zip(expected, actual):
        want = want.astype(np.float64)
        diff = float(np.sum((got.astype(np.float64) - want) ** 2))
        norm = float(np.sum(want ** 2))
        squared_error += diff
        squared_norm += norm
        worst = max(worst, (diff / norm) ** 0.5 if norm > 0 else float("inf"))
    return (squared_error / squared_norm) ** 0.5, worst


def check(path, inputs, expected, threads):
    started = time.perf_counter()
    outputs = session(path, threads).run(None, {k: v.numpy() for k, v in inputs.items()})
    if len(outputs) != len(expected) or any(o.shape != e.shape for o, e in zip(outputs, expected)):
        raise SystemExit(f"export_onnx: {path} returned shapes "
                         f"{[o.shape for o in outputs]}, expected {[e.shape for e in expected]}")
    if not all(np.isfinite(o).all() for o in outputs):
        raise SystemExit(f"export_onnx: {path} returned non-finite values")
    total, worst = relative_errors(expected, outputs)
    return {"rel_l2": total, "worst_output_rel_l2": worst,
            "run_s": round(time.perf_counter() - started, 2)}


def update_manifest(path, header, name, entry):
    """Merges one component's entry into manifest.json, re-reading it first so that runs for
    other components or quantisation variants keep theirs."""
    manifest = common.read_json(path) if os.path.exists(path) else {}
    manifest.update(header)
    old = manifest.setdefault("components", {}).get(name, {})
    if "export_s" not in entry and "export_s" in old:
        entry["export_s"] = old["export_s"]
    entry["quantized"] = {**old.get("quantized", {}), **entry["quantized"]}
    manifest["components"][name] = entry
    common.write_json(path, manifest)


def file_size_mb(path):
    return round(sum(os.path.getsize(p) for p in (path, path + ".data") if os.path.exists(p))
                 / 2 ** 20, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", required=True, help="folder written by full_size.py make")
    parser.add_argument("--out", required=True, help="folder for the ONNX files (outside git)")
    parser.add_argument("--only", default=",".join(COMPONENTS),
                        help=f"comma-separated subset of {','.join(COMPONENTS)}")
    parser.add_argument("--ops", default=DEFAULT_OPS,
                        help=f"op types to quantise, of MatMul,Conv (default {DEFAULT_OPS})")
    parser.add_argument("--per-tensor", action="store_true",
                        help="one weight scale per tensor instead of per output channel")
    parser.add_argument("--suffix", default="int8",
                        help="quantised files are C.SUFFIX.onnx (to keep variants side by side)")
    parser.add_argument("--skip-export", action="store_true",
                        help="reuse the float32 C.onnx already in --out; quantise and check only")
    parser.add_argument("--threads", type=int, default=2, help="torch and ORT threads")
    parser.add_argument("--batch", type=int, default=BATCH, help=f"batch (default {BATCH})")
    parser.add_argument("--latent-size", type=int, default=LATENT_SIZE,
                        help=f"latent height and width (default {LATENT_SIZE})")
    args = parser.parse_args()

    only = [name.strip() for name in args.only.split(",") if name.strip()]
    ops = [op.strip() for op in args.ops.split(",") if op.strip()]
    if not only or any(name not in COMPONENTS for name in only):
        parser.error(f"--only takes names from {','.join(COMPONENTS)}, got '{args.only}'")
    if not ops or any(op not in ("MatMul", "Conv") for op in ops):
        parser.error(f"--ops takes MatMul and/or Conv, got '{args.ops}'")
    if args.batch < 1 or args.latent_size < 8 or args.latent_size % 8:
        parser.error(f"--batch must be >= 1 and --latent-size a multiple of 8, "
                     f"got {args.batch}, {args.latent_size}")

    if args.skip_export:
        absent = [FILE_STEMS[name] + ".onnx" for name in only
                  if not os.path.exists(os.path.join(args.out, FILE_STEMS[name] + ".onnx"))]
        if absent:
            parser.error(f"--skip-export: no {', '.join(absent)} in {args.out}")

    torch.set_num_threads(args.threads)
    common.quiet_libraries()
    os.makedirs(args.out, exist_ok=True)
    manifest_path = os.path.join(args.out, "manifest.json")
    header = {"torch": torch.__version__, "onnx": onnx.__version__,
              "onnxruntime": ort.__version__, "opset": OPSET,
              "exporter": "torch.onnx.export(dynamo=False) (TorchScript)",
              "batch": args.batch, "latent_size": args.latent_size, "tokens": TOKENS}
    quantisation = (f"ORT quantize_dynamic: {'+'.join(ops)} weights int8 "
                    f"{'per-tensor' if args.per_tensor else 'per-channel'}, "
                    "activations uint8 dynamic; other ops float32")

    for name in only:
        generator = torch.Generator().manual_seed(0)
        stem = FILE_STEMS[name]
        float_path = os.path.join(args.out, f"{stem}.onnx")
        int8_path = os.path.join(args.out, f"{stem}.{args.suffix}.onnx")
        log(f"{name}: loading diffusers model")
        module, inputs, output_names = component_case(name, args.models, args.batch,
                                                         args.latent_size, generator)
        with torch.inference_mode():
            expected = module(*inputs.values())
        expected = [t.numpy() for t in (expected if isinstance(expected, tuple) else (expected,))]
        entry = {}
        if not args.skip_export:
            log(f"{name}: exporting to {float_path}")
            started = time.perf_counter()
            export_float(module, inputs, output_names, float_path)
            entry["export_s"] = round(time.perf_counter() - started, 1)
        del module
        gc.collect()
        entry.update({"float": os.path.basename(float_path),
                      "inputs": {key: list(value.shape) for key, value in inputs.items()},
                      "outputs": output_names, "float_mb": file_size_mb(float_path)})
        log(f"{name}: checking float32 ONNX against diffusers")
        entry["float_check"] = check(float_path, inputs, expected, args.threads)
        log(f"{name}: float32 rel L2 {entry['float_check']['rel_l2']:.2e}")

        log(f"{name}: quantising to {int8_path} ({quantisation})")
        started = time.perf_counter()
        quantise(float_path, int8_path, ops, per_channel=not args.per_tensor)
        variant = {"file": os.path.basename(int8_path), "quantization": quantisation,
                   "quantize_s": round(time.perf_counter() - started, 1),
                   "mb": file_size_mb(int8_path)}
        variant["check"] = check(int8_path, inputs, expected, args.threads)
        entry["quantized"] = {args.suffix: variant}
        log(f"{name}: {args.suffix} rel L2 {variant['check']['rel_l2']:.2e}")
        print(f"{name}: float32 ONNX vs diffusers rel L2 {entry['float_check']['rel_l2']:.3e} "
              f"(worst output {entry['float_check']['worst_output_rel_l2']:.3e}); "
              f"{args.suffix} rel L2 {variant['check']['rel_l2']:.3e} "
              f"(worst output {variant['check']['worst_output_rel_l2']:.3e}); "
              f"{entry['float_mb']:.0f} MB -> {variant['mb']:.0f} MB", flush=True)
        update_manifest(manifest_path, header, name, entry)
        gc.collect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
