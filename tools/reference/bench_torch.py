"""Times diffusers on CPU at the runtime's workload (batch 6, 256 px images, 32 x 32 latents) so
`mvad bench` can compare against it. Prints one line of JSON on stdout; progress on stderr.

    bench_torch.py --models /work/models-full --threads 2 --repeats 3 [--only unet,vae]

Models come from `full_size.py make`. Each component is loaded, warmed up once, timed
`--repeats` times, and freed before the next one. Components left out by --only have no key.
"""

import argparse
import gc
import json
import os
import resource
import sys
import time

import torch
from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel

import bench_workload as workload
import reference_common as common
from bench_workload import (BATCH, COMPONENTS, CONTEXT_WIDTH, IMAGE_SIZE, LATENT_SIZE, TIMESTEP,
                            TOKENS, log)

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", required=True, help="folder written by full_size.py make")
    workload.add_timing_arguments(parser, threads_help="torch.set_num_threads")
    args = parser.parse_args()

    only = workload.checked_components(parser, args)

    torch.set_num_threads(args.threads)
    common.quiet_libraries()
    generator = torch.Generator().manual_seed(0)

    result = {"torch": torch.__version__, "threads": args.threads}
    with torch.inference_mode():
        for name in COMPONENTS:
            if name in only:
                result[f"{name}_s"] = BENCHMARKS[name](args.models, args.repeats, generator)
                gc.collect()
    result["peak_rss_mb"] = round(peak_resident_kb() / 1024, 1)
    print(json.dumps(result))
    return 0


def time_calls(name, call, repeats):
    """One warm-up call, then `repeats` timed calls; returns the times in seconds."""
    log(f"{name}: warm-up")
    call()
    times = []
    for index in range(repeats):
        started = time.perf_counter()
        call()
        times.append(round(time.perf_counter() - started, 4))
        log(f"{name}: run {index + 1}/{repeats} {times[-1]:.2f} s")
    return times


def latent_inputs(generator):
    sample = torch.randn(BATCH, 4, LATENT_SIZE, LATENT_SIZE, generator=generator)   # [N, 4, h, w]
    timestep = torch.full((BATCH,), TIMESTEP)                                       # [N]
    context = torch.randn(BATCH, TOKENS, CONTEXT_WIDTH, generator=generator)       # [N, L, D]
    return sample, timestep, context


def bench_unet(models, repeats, generator):
    log("unet: loading")
    unet = UNet2DConditionModel.from_pretrained(os.path.join(models, "unet")).eval()
    sample, timestep, context = latent_inputs(generator)
    times = time_calls("unet", lambda: unet(sample, timestep, encoder_hidden_states=context),
                       repeats)
    del unet
    return times


def bench_controlnet(models, repeats, generator):
    log("controlnet: loading")
    controlnet = ControlNetModel.from_pretrained(os.path.join(models, "controlnet")).eval()
    sample, timestep, context = latent_inputs(generator)
    condition = torch.rand(BATCH, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator)  # [N, 3, H, W]

    def call():
        return controlnet(sample, timestep, encoder_hidden_states=context,
                          controlnet_cond=condition, conditioning_scale=1.0)

    times = time_calls("controlnet", call, repeats)
    del controlnet
    return times


def bench_vae(models, repeats, generator):
    log("vae: loading")
    vae = AutoencoderKL.from_pretrained(os.path.join(models, "vae")).eval()
    image = torch.rand(BATCH, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator) * 2 - 1
    times = time_calls("vae", lambda: vae.encode(image).latent_dist.mean, repeats)
    del vae
    return times


BENCHMARKS = {"unet": bench_unet, "controlnet": bench_controlnet, "vae": bench_vae}


def peak_resident_kb():
    """VmHWM of this process. getrusage's ru_maxrss is not used: Linux carries it over exec
    from the parent, so under `mvad bench` it would report mvad's peak instead."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


if __name__ == "__main__":
    sys.exit(main())
