"""Smoke test of export_prompt.py on a tiny random CLIP text model (hidden size 32, 2 layers).

    /work/venv/bin/python tools/reference/test_export_prompt.py

Builds, in a temporary folder, a tiny CLIPTextModel and a CLIP BPE tokenizer from a hand-written
vocab.json / merges.txt, in both layouts (pipeline root with text_encoder/ + tokenizer/, and one
flat folder), runs the script on them as subprocesses and compares its output with the embedding
computed here. Prints one line per check; exit status 0 when every check passes.
"""

import time

STARTED = time.time()   # the total time printed at the end includes the imports below (~8 s)

import json  # noqa: E402
import os
import string
import subprocess
import sys
import tempfile

import torch
import transformers
from safetensors import safe_open
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "export_prompt.py")
CATEGORY = "GummyBear"
PROMPT = "A photo of a GummyBear"
LENGTH = 77
WIDTH = 32
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MERGES = [("p", "h"), ("o", "f</w>")]
# How CLIP's BPE splits the lower-cased prompt with the vocabulary below.
EXPECTED_TOKENS = [BOS, "a</w>", "ph", "o", "t", "o</w>", "of</w>", "a</w>",
                   "g", "u", "m", "m", "y", "b", "e", "a", "r</w>", EOS]

failures = []


def check(name, passed, detail=""):
    print(f"{'ok  ' if passed else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not passed:
        failures.append(name)


def tiny_vocab():
    """Letters, letters + end of word, the merge results, then the special tokens."""
    tokens = list(string.ascii_lowercase) + [c + "</w>" for c in string.ascii_lowercase]
    tokens += [a + b for a, b in MERGES] + [BOS, EOS]
    return {token: index for index, token in enumerate(tokens)}


def write_tokenizer(folder, vocab):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as file:
        json.dump(vocab, file)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as file:
        file.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in MERGES))
    config = {"tokenizer_class": "CLIPTokenizer", "model_max_length": LENGTH,
              "bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS}
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as file:
        json.dump(config, file)


def tiny_model(vocab):
    config = CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=WIDTH, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=LENGTH, bos_token_id=vocab[BOS],
        eos_token_id=vocab[EOS], pad_token_id=vocab[EOS])
    torch.manual_seed(0)
    return CLIPTextModel(config).eval()


def run(*args):
    environment = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.Popen([sys.executable, SCRIPT, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=environment)


def finish(process):
    stdout, stderr = process.communicate(timeout=120)
    return process.returncode, stdout.strip(), stderr.strip()


def check_output(label, result, path, expected, clip_folder, category):
    code, stdout, stderr = result
    check(f"{label}: exit status 0", code == 0, stderr.splitlines()[-1] if code and stderr else "")
    check(f"{label}: output exists", os.path.isfile(path))
    if code != 0 or not os.path.isfile(path):
        return
    with safe_open(path, framework="pt") as file:
        names = list(file.keys())
        metadata = file.metadata() or {}
        tensor = file.get_tensor("encoder_hidden_states") if names == ["encoder_hidden_states"] \
            else None
    check(f"{label}: single tensor encoder_hidden_states", tensor is not None, str(names))
    if tensor is None:
        return
    check(f"{label}: shape [1, {LENGTH}, {WIDTH}]", list(tensor.shape) == [1, LENGTH, WIDTH],
          str(list(tensor.shape)))
    check(f"{label}: dtype float32", tensor.dtype == torch.float32, str(tensor.dtype))
    check(f"{label}: finite", bool(torch.isfinite(tensor).all()))
    if tensor.shape == expected.shape:
        error = (tensor - expected).abs().max().item()
        check(f"{label}: equals the direct computation", error <= 1e-6, f"max abs diff {error:.2e}")
    wanted = {"prompt": PROMPT, "clip_folder": clip_folder,
              "generator": "tools/reference/export_prompt.py", "torch": torch.__version__,
              "transformers": transformers.__version__}
    if category is not None:
        wanted["category"] = category
    check(f"{label}: metadata", metadata == wanted,
          "" if metadata == wanted else f"got {metadata}")


def check_error(label, result, path, words=()):
    code, _, stderr = result
    lines = stderr.splitlines()
    message = lines[-1] if lines else ""
    good = code == 1 and len(lines) == 1 and path in message and all(w in message for w in words)
    check(f"{label}: exit 1 with one line naming the path", good, f"status {code}: {message}")


def main():
    torch.set_num_threads(1)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    with tempfile.TemporaryDirectory(prefix="export_prompt_test_") as temp:
        vocab = tiny_vocab()
        model = tiny_model(vocab)
        root, flat = os.path.join(temp, "root"), os.path.join(temp, "flat")
        model.save_pretrained(os.path.join(root, "text_encoder"))   # always safetensors in v5
        write_tokenizer(os.path.join(root, "tokenizer"), vocab)
        model.save_pretrained(flat)
        write_tokenizer(flat, vocab)
        check("fixture: weights saved as model.safetensors",
              os.path.isfile(os.path.join(flat, "model.safetensors")))

        # The error folders: tokenizer only, missing, pickled weights only.
        no_encoder = os.path.join(temp, "no_encoder")
        write_tokenizer(os.path.join(no_encoder, "tokenizer"), vocab)
        missing = os.path.join(temp, "missing")
        pickled = os.path.join(temp, "pickled")
        write_tokenizer(pickled, vocab)
        with open(os.path.join(flat, "config.json"), encoding="utf-8") as file:
            config_text = file.read()
        with open(os.path.join(pickled, "config.json"), "w", encoding="utf-8") as file:
            file.write(config_text)
        open(os.path.join(pickled, "pytorch_model.bin"), "wb").close()   # never opened

        output = lambda name: os.path.join(temp, name + ".safetensors")
        for label, folder, words in (("error, no text_encoder", no_encoder, ("no text_encoder/",)),
                                     ("error, missing folder", missing, ("no such folder",)),
                                     ("error, pickled weights only", pickled, ("safetensors",))):
            check_error(label, finish(run("--clip", folder, "--category", CATEGORY,
                                          "-o", output("error"))), folder, words)
        check("error runs leave no output", not os.path.exists(output("error")))

        # The two real runs go in parallel (one thread each); the reference is computed meanwhile.
        root_run = run("--clip", root, "--category", CATEGORY, "-o", output("root"))
        flat_run = run("--clip", flat, "--prompt", PROMPT, "-o", output("flat"))

        tokenizer = CLIPTokenizer.from_pretrained(os.path.join(root, "tokenizer"),
                                                  local_files_only=True)
        input_ids = tokenizer(PROMPT, padding="max_length", max_length=tokenizer.model_max_length,
                              truncation=True, return_tensors="pt").input_ids
        expected_ids = [vocab[token] for token in EXPECTED_TOKENS]
        expected_ids += [vocab[EOS]] * (LENGTH - len(expected_ids))
        check("fixture: tokeniser splits the prompt as CLIP BPE does",
              input_ids.tolist() == [expected_ids],
              " ".join(tokenizer.convert_ids_to_tokens(input_ids[0, :len(EXPECTED_TOKENS)])))
        with torch.no_grad():
            expected = model(input_ids).last_hidden_state                          # [1, L, D]

        check_output("pipeline root, --category", finish(root_run), output("root"), expected,
                     root, CATEGORY)
        check_output("flat folder, --prompt", finish(flat_run), output("flat"), expected,
                     flat, None)

    elapsed = time.time() - STARTED
    print(f"{'FAILED ' + str(len(failures)) if failures else 'all passed'} ({elapsed:.1f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
