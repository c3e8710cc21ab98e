"""Smoke test of export_onnx.py and bench_onnx.py on the tiny fixture models (batch 2, 8 x 8
latents), run as subprocesses the way the README uses them.

    /work/venv/bin/python tools/reference/test_export_onnx.py

Checks: every float32 export matches diffusers and every int8 model stays near it without being
identical; the int8 UNet really holds integer MatMuls; the ControlNet session's outputs fed into
the UNet session give diffusers' UNet-with-ControlNet output (computed here, not by the script);
bench_onnx.py prints one JSON line with the keys `mvad bench` reads. Prints one line per check;
exit status 0 when every check passes. Takes about a minute on 2 cores.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import torch
from diffusers import ControlNetModel, UNet2DConditionModel

HERE = os.path.dirname(os.path.abspath(__file__))
TINY = os.path.join(HERE, "..", "..", "Tests", "MVADEngineTests", "Fixtures", "tiny")
BATCH, LATENT_SIZE = 2, 8
FLOAT_TOLERANCE = 1e-5
INT8_TOLERANCE = 0.1

failures = []


def expect(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        failures.append(message)


def run(script, *arguments):
    command = [sys.executable, os.path.join(HERE, script), *arguments]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"test_export_onnx: {' '.join(command)} exited with {done.returncode}")
    return done.stdout


def chained_sessions_match(folder):
    """ControlNet session -> UNet session against diffusers' ControlNet -> UNet."""
    generator = torch.Generator().manual_seed(1)
    unet = UNet2DConditionModel.from_pretrained(os.path.join(TINY, "unet")).eval()
    controlnet = ControlNetModel.from_pretrained(os.path.join(TINY, "controlnet")).eval()
    width = unet.config.cross_attention_dim
    sample = torch.randn(BATCH, 4, LATENT_SIZE, LATENT_SIZE, generator=generator)
    timestep = torch.full((BATCH,), 81.0)
    context = torch.randn(BATCH, 77, width, generator=generator)
    condition = torch.rand(BATCH, 3, LATENT_SIZE * 8, LATENT_SIZE * 8, generator=generator)
    with torch.inference_mode():
        down, mid = controlnet(sample, timestep, encoder_hidden_states=context,
                               controlnet_cond=condition, return_dict=False)
        want = unet(sample, timestep, encoder_hidden_states=context,
                    down_block_additional_residuals=list(down),
                    mid_block_additional_residual=mid, return_dict=False)[0].numpy()
    latents = {"sample": sample.numpy(), "timestep": timestep.numpy(),
               "encoder_hidden_states": context.numpy()}
    control = ort.InferenceSession(os.path.join(folder, "controlnet.onnx"))
    residuals = dict(zip([o.name for o in control.get_outputs()],
                         control.run(None, {**latents, "controlnet_cond": condition.numpy()})))
    got = ort.InferenceSession(os.path.join(folder, "unet.onnx")).run(
        None, {**latents, **residuals})[0]
    error = float(np.linalg.norm(got - want) / np.linalg.norm(want))
    expect(error < FLOAT_TOLERANCE and len(residuals) == len(down) + 1,
           f"ControlNet session -> UNet session vs diffusers: {len(residuals)} residuals, "
           f"rel L2 {error:.2e} (< {FLOAT_TOLERANCE})")


def main():
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as folder:
        run("export_onnx.py", "--models", TINY, "--out", folder, "--batch", str(BATCH),
            "--latent-size", str(LATENT_SIZE))
        with open(os.path.join(folder, "manifest.json")) as file:
            manifest = json.load(file)
        for name, entry in sorted(manifest["components"].items()):
            float_error = entry["float_check"]["worst_output_rel_l2"]
            int8_error = entry["quantized"]["int8"]["check"]["worst_output_rel_l2"]
            expect(float_error < FLOAT_TOLERANCE,
                   f"{name}: float32 ONNX vs diffusers rel L2 {float_error:.2e} "
                   f"(< {FLOAT_TOLERANCE})")
            expect(0 < int8_error < INT8_TOLERANCE and int8_error > 10 * float_error,
                   f"{name}: int8 ONNX vs diffusers rel L2 {int8_error:.2e} "
                   f"(quantised, < {INT8_TOLERANCE})")
        expect(manifest["components"]["unet"]["inputs"]["down_residual_0"]
               == [BATCH, 16, LATENT_SIZE, LATENT_SIZE],
               "unet: residual inputs follow the config (conv_in: 16 channels)")
        graph = onnx.load(os.path.join(folder, "unet.int8.onnx"), load_external_data=False).graph
        integer = sum(node.op_type == "MatMulInteger" for node in graph.node)
        convs = sum(node.op_type == "Conv" for node in graph.node)
        expect(integer > 0 and convs > 0,
               f"unet.int8.onnx: {integer} MatMulInteger, {convs} float Conv")
        chained_sessions_match(folder)

        line = run("bench_onnx.py", "--onnx", folder, "--threads", "2", "--repeats", "2")
        lines = line.strip().splitlines()
        result = json.loads(lines[-1])
        keys = {"onnxruntime", "threads", "unet_s", "controlnet_s", "vae_s", "quantization",
                "peak_rss_mb"}
        expect(len(lines) == 1 and set(result) == keys and result["threads"] == 2
               and all(len(result[f"{c}_s"]) == 2 and min(result[f"{c}_s"]) > 0
                       for c in ("unet", "controlnet", "vae"))
               and "MatMul" in result["quantization"] and result["peak_rss_mb"] > 0,
               f"bench_onnx.py: one JSON line with keys {sorted(result)}")
        only = json.loads(run("bench_onnx.py", "--onnx", folder, "--threads", "1",
                              "--repeats", "1", "--only", "vae"))
        expect("unet_s" not in only and len(only["vae_s"]) == 1,
               "bench_onnx.py --only vae: no unet_s key")
    print(f"{len(failures)} failed" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
