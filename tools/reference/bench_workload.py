"""The workload bench_torch.py and bench_onnx.py time, and the command-line parts they share.
No torch or onnxruntime import here, so each bench loads only its own runtime."""

import sys
import time

COMPONENTS = ("unet", "controlnet", "vae")
BATCH = 6
LATENT_SIZE = 32
IMAGE_SIZE = 256
TOKENS = 77
CONTEXT_WIDTH = 768
TIMESTEP = 81.0


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def add_timing_arguments(parser, threads_help):
    """--threads, --repeats and --only, as both benches take them."""
    parser.add_argument("--threads", type=int, required=True, help=threads_help)
    parser.add_argument("--repeats", type=int, required=True, help="timed runs per component")
    parser.add_argument("--only", default=",".join(COMPONENTS),
                        help=f"comma-separated subset of {','.join(COMPONENTS)}")


def checked_components(parser, args):
    """The --only names, in order; exits through the parser on a mistake."""
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in only if name not in COMPONENTS]
    if unknown or not only:
        parser.error(f"--only takes names from {','.join(COMPONENTS)}, got '{args.only}'")
    if args.threads < 1 or args.repeats < 1:
        parser.error(f"--threads and --repeats must be >= 1, got {args.threads}, {args.repeats}")
    return only
