"""Computes the CLIP text embedding that conditions the UNet and writes it for the Swift runtime.

    export_prompt.py --clip DIR (--category GummyBear | --prompt "text") -o prompt_embedding.safetensors

The method conditions every UNet / ControlNet evaluation on the embedding of the prompt
"A photo of a <Category>" (docs: /work/shared/notes/PIPELINE.md, "Text conditioning"). mvad never
runs CLIP, so this script computes the embedding once, the way diffusers' StableDiffusionPipeline
does (`encode_prompt` without classifier-free guidance or clip skip):

- tokenise with padding="max_length", max_length=tokenizer.model_max_length, truncation=True;
- run the text encoder in float32, eval mode, without gradients and without an attention mask
  (SD v1.x text encoders do not use one; the padding tokens take part as in diffusers);
- keep `last_hidden_state`, [1, L, D] (77 x 768 for SD v1.4).

DIR is a local folder: either a Stable Diffusion pipeline root holding `text_encoder/` and
`tokenizer/`, or a single folder holding a CLIPTextModel (config.json + model.safetensors) and a
CLIPTokenizer (vocab.json + merges.txt, or tokenizer.json). Nothing is downloaded. Pickled weights
(pytorch_model.bin) are refused: convert them to safetensors first.

The output holds one float32 tensor, `encoder_hidden_states`, and the metadata `prompt`,
`category` (with --category), `clip_folder` (as given), `torch`, `transformers` and `generator`.
Errors print one line naming the path and what was expected, with exit status 1.
"""

import argparse
import json
import os
import sys

GENERATOR = "tools/reference/export_prompt.py"
PROMPT_TEMPLATE = "A photo of a {}"
TENSOR_NAME = "encoder_hidden_states"

TEXT_ENCODER_SUBFOLDER = "text_encoder"
TOKENIZER_SUBFOLDER = "tokenizer"
CONFIG_FILE = "config.json"
# What CLIPTextModel.from_pretrained(use_safetensors=True) reads, in its order of preference.
SAFE_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
# A half-precision copy as published in the "fp16" variant of SD pipelines (loaded as float32).
FP16_VARIANT_FILES = ("model.fp16.safetensors", "model.fp16.safetensors.index.json")
PICKLE_WEIGHT_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json",
                       "pytorch_model.fp16.bin", "pytorch_model.fp16.bin.index.json")
CLIP_MODEL_TYPES = ("clip_text_model", "clip")


class ExportError(Exception):
    """A problem to report as one line (the message names the path involved)."""


def main(argv=None):
    args = parse_args(argv)
    try:
        export(args)
    except ExportError as error:
        print(f"export_prompt.py: error: {error}", file=sys.stderr)
        return 1
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Writes the CLIP text embedding of a prompt (encoder_hidden_states [1, L, D], "
                    "float32) to a safetensors file for mvad.")
    parser.add_argument("--clip", required=True, metavar="DIR",
                        help="SD pipeline root (text_encoder/ + tokenizer/) or a folder holding a "
                             "CLIPTextModel and a CLIPTokenizer")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--category", help=f"object category; the prompt is "
                                          f"'{PROMPT_TEMPLATE.format('<Category>')}'")
    which.add_argument("--prompt", help="the prompt text, used as given")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="output file, e.g. prompt_embedding.safetensors")
    args = parser.parse_args(argv)
    if args.category is not None and not args.category.strip():
        parser.error("--category must not be empty")
    if args.prompt is not None and not args.prompt.strip():
        parser.error("--prompt must not be empty")
    return args


def export(args):
    prompt = args.prompt if args.prompt is not None else PROMPT_TEMPLATE.format(args.category)
    # Every check on the folders comes before the slow torch / transformers imports.
    encoder_folder, variant = locate_text_encoder(args.clip)
    tokenizer_folder = locate_tokenizer(args.clip)
    output_folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(output_folder):
        raise ExportError(f"{args.output}: the folder {output_folder} does not exist")

    embedding, token_count, versions = encode(prompt, encoder_folder, variant, tokenizer_folder)

    metadata = {"prompt": prompt, "clip_folder": args.clip, "generator": GENERATOR, **versions}
    if args.category is not None:
        metadata["category"] = args.category
    write(args.output, embedding, metadata)
    shape = ", ".join(str(size) for size in embedding.shape)
    print(f"wrote {args.output}: {TENSOR_NAME} [{shape}] float32, prompt {prompt!r} "
          f"({token_count} tokens with start/end)")


def locate_text_encoder(clip):
    """Returns (folder, variant) of the text encoder: `clip/text_encoder` or `clip` itself."""
    require_folder(clip)
    subfolder = os.path.join(clip, TEXT_ENCODER_SUBFOLDER)
    folder = subfolder if os.path.isdir(subfolder) else clip
    expected = (f"expected a CLIP text encoder ({CONFIG_FILE} + {SAFE_WEIGHT_FILES[0]}) in "
                f"{TEXT_ENCODER_SUBFOLDER}/ (pipeline root) or directly in the folder")
    if folder == clip and os.path.isdir(os.path.join(clip, TOKENIZER_SUBFOLDER)) \
            and not os.path.isfile(os.path.join(clip, CONFIG_FILE)):
        raise ExportError(f"{clip}: has {TOKENIZER_SUBFOLDER}/ but no {TEXT_ENCODER_SUBFOLDER}/; "
                          f"{expected}")

    def present(names):
        return [name for name in names if os.path.isfile(os.path.join(folder, name))]

    if not os.path.isfile(os.path.join(folder, CONFIG_FILE)):
        raise ExportError(f"{folder}: no {CONFIG_FILE}; {expected}")
    model_type = read_model_type(os.path.join(folder, CONFIG_FILE))
    if model_type not in CLIP_MODEL_TYPES:
        raise ExportError(f"{os.path.join(folder, CONFIG_FILE)}: model_type is {model_type!r}, "
                          f"not a CLIP text model; {expected}")
    if present(SAFE_WEIGHT_FILES):
        return folder, None
    if present(FP16_VARIANT_FILES):
        return folder, "fp16"
    pickles = present(PICKLE_WEIGHT_FILES)
    if pickles:
        raise ExportError(f"{folder}: only pickled weights ({', '.join(pickles)}); mvad refuses "
                          f"pickles: provide {SAFE_WEIGHT_FILES[0]} (safetensors) instead")
    raise ExportError(f"{folder}: no {SAFE_WEIGHT_FILES[0]}; {expected}")


def locate_tokenizer(clip):
    """Returns the tokenizer folder: `clip/tokenizer` or `clip` itself."""
    require_folder(clip)
    subfolder = os.path.join(clip, TOKENIZER_SUBFOLDER)
    folder = subfolder if os.path.isdir(subfolder) else clip

    def has(name):
        return os.path.isfile(os.path.join(folder, name))

    if not (has("tokenizer.json") or (has("vocab.json") and has("merges.txt"))):
        raise ExportError(f"{folder}: no CLIP tokenizer; expected vocab.json + merges.txt (or "
                          f"tokenizer.json) in {TOKENIZER_SUBFOLDER}/ (pipeline root) or directly "
                          f"in the folder")
    return folder


def require_folder(path):
    if not os.path.exists(path):
        raise ExportError(f"{path}: no such folder; expected an SD pipeline root with "
                          f"{TEXT_ENCODER_SUBFOLDER}/ and {TOKENIZER_SUBFOLDER}/, or a folder "
                          f"holding a CLIP text encoder and tokenizer")
    if not os.path.isdir(path):
        raise ExportError(f"{path}: not a folder; expected an SD pipeline root or a CLIP folder")


def read_model_type(path):
    try:
        with open(path, encoding="utf-8") as file:
            config = json.load(file)
    except (OSError, ValueError) as error:
        raise ExportError(f"{path}: cannot read the model config ({one_line(error)})") from None
    if not isinstance(config, dict):
        raise ExportError(f"{path}: the model config is not a JSON object")
    return config.get("model_type")


def encode(prompt, encoder_folder, variant, tokenizer_folder):
    """Returns (embedding [1, L, D] float32, token count without padding, version metadata)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    import transformers
    from transformers import CLIPTextModel, CLIPTokenizer

    torch.set_num_threads(1)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    try:
        tokenizer = CLIPTokenizer.from_pretrained(tokenizer_folder, local_files_only=True)
    except Exception as error:  # transformers raises OSError, ValueError, TypeError, ...
        raise ExportError(f"{tokenizer_folder}: cannot load the CLIP tokenizer "
                          f"({one_line(error)})") from None
    try:
        # transformers 5 loads in the checkpoint's dtype by default ("auto"): ask for float32.
        text_encoder = CLIPTextModel.from_pretrained(
            encoder_folder, local_files_only=True, use_safetensors=True, variant=variant,
            dtype=torch.float32)
    except Exception as error:
        raise ExportError(f"{encoder_folder}: cannot load the CLIP text encoder "
                          f"({one_line(error)})") from None
    text_encoder.eval()

    max_length = tokenizer.model_max_length
    positions = text_encoder.config.max_position_embeddings
    if max_length > positions:
        raise ExportError(f"{tokenizer_folder}: model_max_length is {max_length} but the text "
                          f"encoder has {positions} positions; set model_max_length in "
                          f"tokenizer_config.json")

    token_count = len(tokenizer(prompt).input_ids)
    if token_count > max_length:
        print(f"export_prompt.py: warning: the prompt has {token_count} tokens; truncated to "
              f"{max_length} as diffusers does", file=sys.stderr)
    input_ids = tokenizer(prompt, padding="max_length", max_length=max_length, truncation=True,
                          return_tensors="pt").input_ids                              # [1, L]

    with torch.no_grad():
        embedding = text_encoder(input_ids).last_hidden_state                         # [1, L, D]
    embedding = embedding.to(torch.float32).contiguous()
    if not torch.isfinite(embedding).all():
        raise ExportError(f"{encoder_folder}: the text encoder produced non-finite values")
    versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    return embedding, min(token_count, max_length), versions


def write(path, embedding, metadata):
    """Writes through a temporary file so that a failed run leaves no partial output."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import reference_common as common   # byte-stable writer (sorted metadata)

    temporary = path + ".partial"
    try:
        common.write_safetensors(temporary, {TENSOR_NAME: embedding}, metadata)
        os.replace(temporary, path)
    except OSError as error:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise ExportError(f"{path}: cannot write ({one_line(error)})") from None


def one_line(error):
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."


if __name__ == "__main__":
    sys.exit(main())
