"""Times ONNX Runtime (CPU) on the int8 models from export_onnx.py at the runtime's workload
(batch 6, 256 px images, 32 x 32 latents), as bench_torch.py does for PyTorch. Prints one line
of JSON on stdout; progress on stderr.

    bench_onnx.py --onnx /work/onnx --threads 2 --repeats 3 [--only unet,vae] [--variant int8]

Each component's session is created, warmed up once, timed `--repeats` times, and freed before
the next one. The UNet runs with zero ControlNet residuals (the residual inputs are part of the
graph, so one UNet + ControlNet evaluation costs unet_s + controlnet_s). Components left out by
--only have no key. `--variant float` times the float32 export instead.
"""

import argparse
import gc
import json
import os
import resource
import sys
import time

import numpy as np
import onnxruntime as ort

import bench_workload as workload
from bench_workload import COMPONENTS, TIMESTEP, log

FILE_STEMS = {"unet": "unet", "controlnet": "controlnet", "vae": "vae_encoder"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", required=True, help="folder written by export_onnx.py")
    workload.add_timing_arguments(parser, threads_help="intra-op threads")
    parser.add_argument("--variant", default="int8",
                        help="time C.VARIANT.onnx (export_onnx.py --suffix), or 'float' for C.onnx")
    args = parser.parse_args()

    only = workload.checked_components(parser, args)

    paths = {name: model_path(args.onnx, name, args.variant) for name in only}
    missing = [path for path in paths.values() if not os.path.exists(path)]
    if missing:
        parser.error(f"no {', '.join(missing)}; run export_onnx.py --out {args.onnx} first")

    generator = np.random.default_rng(0)
    result = {"onnxruntime": ort.__version__, "threads": args.threads}
    for name in COMPONENTS:
        if name in only:
            result[f"{name}_s"] = bench(name, paths[name], args.threads, args.repeats,
                                        generator)
            gc.collect()
    result["quantization"] = describe(args.onnx, only, args.variant)
    result["peak_rss_mb"] = round(peak_resident_kb() / 1024, 1)
    print(json.dumps(result))
    return 0


def model_path(folder, name, variant):
    stem = FILE_STEMS[name]
    return os.path.join(folder, f"{stem}.onnx" if variant == "float" else f"{stem}.{variant}.onnx")


def describe(folder, only, variant):
    """The quantisation export_onnx.py recorded in manifest.json for these models."""
    if variant == "float":
        return "none (float32)"
    path = os.path.join(folder, "manifest.json")
    if not os.path.exists(path):
        return f"unknown (no manifest.json in {folder})"
    with open(path) as file:
        components = json.load(file).get("components", {})
    found = {components.get(name, {}).get("quantized", {}).get(variant, {})
             .get("quantization", "unknown") for name in only}
    return "; ".join(sorted(found))


def session(path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def feeds(model, generator):
    """Inputs by name: latents and context ~ N(0, 1), timestep 81, condition image in [0, 1],
    VAE image in [-1, 1], ControlNet residuals zero."""
    values = {}
    for argument in model.get_inputs():
        shape = argument.shape
        if any(not isinstance(size, int) for size in shape):
            raise SystemExit(f"bench_onnx: input {argument.name} has shape {shape}; "
                             "export_onnx.py writes fixed shapes")
        if argument.name == "timestep":
            values[argument.name] = np.full(shape, TIMESTEP, dtype=np.float32)
        elif argument.name == "controlnet_cond":
            values[argument.name] = generator.random(shape, dtype=np.float32)
        elif argument.name == "image":
            values[argument.name] = generator.random(shape, dtype=np.float32) * 2 - 1
        elif argument.name.endswith("_residual") or "_residual_" in argument.name:
            values[argument.name] = np.zeros(shape, dtype=np.float32)
        else:
            values[argument.name] = generator.standard_normal(shape, dtype=np.float32)
    return values


def bench(name, path, threads, repeats, generator):
    """Session load, one warm-up call, then `repeats` timed calls; returns seconds per call."""
    log(f"{name}: loading {path}")
    started = time.perf_counter()
    model = session(path, threads)
    log(f"{name}: session ready in {time.perf_counter() - started:.1f} s")
    inputs = feeds(model, generator)
    log(f"{name}: warm-up")
    model.run(None, inputs)
    times = []
    for index in range(repeats):
        started = time.perf_counter()
        model.run(None, inputs)
        times.append(round(time.perf_counter() - started, 4))
        log(f"{name}: run {index + 1}/{repeats} {times[-1]:.2f} s")
    del model
    return times


def peak_resident_kb():
    """VmHWM of this process (ru_maxrss would carry the parent's peak over exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


if __name__ == "__main__":
    sys.exit(main())
