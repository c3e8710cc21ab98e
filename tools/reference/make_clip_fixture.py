"""Writes the CLIP tokenizer and text-encoder fixtures of the Swift tests (Tests/MVADEngineTests/
Fixtures/clip): a small synthetic BPE vocabulary, two tiny random CLIPTextModels and what
transformers computes from them.

    /work/venv/bin/python tools/reference/make_clip_fixture.py [--out DIR] [--seed 0]

The real CLIP vocabulary (49408 tokens) is too big for a fixture, so the script builds a small
one the way CLIP's is laid out: the 256 byte symbols of the byte-to-unicode table, the same 256
with the end-of-word mark `</w>`, the results of a few hundred merges learned here from a short
corpus of prompts (most frequent adjacent pair first, ties broken by the pair's text), then
`<|startoftext|>` and `<|endoftext|>`. transformers' CLIPTokenizer reads these files like any
CLIP tokenizer folder; every expected token id below is what it returns.

Layout written (an SD pipeline root, so both halves are found as mvad finds them):

- `tokenizer/`: vocab.json, merges.txt, tokenizer_config.json (model_max_length 77, pad token
  `<|endoftext|>` as in SD v1.4), special_tokens_map.json.
- `text_encoder/`: CLIPTextModel, hidden 32, 2 layers, 4 heads, quick_gelu, saved with
  save_pretrained(safe_serialization=True) as model.safetensors.
- `sharded/`: a second CLIPTextModel (hidden 16, 1 layer, 2 heads, exact gelu) in two shards
  with model.safetensors.index.json, written the way older checkpoints (SD v1.4's) are: keys
  under `text_model.` (transformers 5 saves them without it) and the I64
  `text_model.embeddings.position_ids` buffer (which transformers ignores); and a
  tokenizer.json (written by CLIPTokenizer.save_pretrained) instead of vocab.json + merges.txt.
- `expected.json`: for each prompt, the ids without padding and padded to 77; the ids with
  the pad token set to "!" (as SD 2.x tokenizers declare it); the versions.
- `expected.safetensors`: last_hidden_state [1, 77, D] of both models for two prompts
  (`text_encoder.<i>`, `sharded.<i>`), float32, in eval mode without an attention mask, as
  diffusers' encode_prompt runs them.

Every parameter is redrawn from a seeded generator (reference_common.randomise_), so no tensor
is zero and the layer norms are off their defaults.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

import torch

import reference_common as common

GENERATOR = "tools/reference/make_clip_fixture.py"
MAX_LENGTH = 77
MERGE_COUNT = 300
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
OUTPUTS = ("tokenizer", "text_encoder", "sharded", "expected.json", "expected.safetensors")

# What the merges are learned from: prompts of the kind mvad uses.
CORPUS = [
    "A photo of a GummyBear", "A photo of a CandyCane", "A photo of a ChocolateCookie",
    "A photo of a ChocolatePraline", "A photo of a Confetto", "A photo of a HazelnutTruffle",
    "A photo of a LicoriceSandwich", "A photo of a Lollipop", "A photo of a Marshmallow",
    "A photo of a PeppermintCandy", "a photo of the part on the production line",
    "a close photo of a metal screw with a scratch", "the bear is red and the cane is striped",
    "photo photo photo of of a a the the candy candy cookie",
    "an industrial inspection camera takes pictures of every object under six lights",
    "anomaly detection finds dents, cracks, stains, holes and missing pieces on surfaces",
    "the gummy bear has a scratch on its left ear and a dent on the right foot",
    "chocolate cookies, hazelnut truffles and peppermint candies with sugar coating",
    "multi view diffusion features compare good parts with defective parts",
]

# The prompts whose token ids the tests check. The last one is longer than 77 tokens.
PROMPTS = [
    "A photo of a GummyBear",
    "a photo of a candy-cane, with 3 dents & 12 scratches!",
    "   Extra   spaces\tand\nnew\u00a0lines  ",
    "UPPER CASE LOLLIPOP and MiXeD CaSe",
    "it's the bear's ear; they're here, we'll see, I'd say, you've got, I'm in",
    "caf\u00e9 na\u00efve cafe\u0301 \u00c9MIGR\u00c9 \u2013 \u4e2d\u6587 \U0001F600 \ufb01ne",
    "2024-06-01 v1.4 x86_64 #7 (50%) $9.99 ...!!! ??",
    "<|endoftext|> in the middle <|startoftext|> again",
    " ".join(["A photo of a GummyBear with a scratch on its left ear"] * 8),
]

# The prompts whose last_hidden_state is stored (indices into PROMPTS).
EMBEDDED = [0, 8]


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    common.quiet_libraries()
    import transformers
    import tokenizers
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    out = args.out
    os.makedirs(out, exist_ok=True)
    for name in OUTPUTS:   # the fixture's README.md stays
        path = os.path.join(out, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    tokenizer_folder = os.path.join(out, "tokenizer")
    vocab = write_tokenizer(tokenizer_folder)
    tokenizer = transformers.CLIPTokenizer.from_pretrained(tokenizer_folder, local_files_only=True)
    check_tokenizer(tokenizer, vocab)

    generator = torch.Generator().manual_seed(args.seed)
    main_model = make_model(len(vocab), hidden=32, layers=2, heads=4, act="quick_gelu",
                            generator=generator)
    main_model.save_pretrained(os.path.join(out, "text_encoder"), safe_serialization=True)
    os.chmod(os.path.join(out, "text_encoder", "model.safetensors"), 0o644)
    small_model = make_model(len(vocab), hidden=16, layers=1, heads=2, act="gelu",
                             generator=generator)
    write_sharded(small_model, os.path.join(out, "sharded"))
    models = {"text_encoder": main_model, "sharded": small_model}
    tokenizer.save_pretrained(os.path.join(out, "sharded"))
    for name in ("vocab.json", "merges.txt"):
        path = os.path.join(out, "sharded", name)
        if os.path.exists(path):
            os.remove(path)

    versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                "tokenizers": tokenizers.__version__}
    expected = expected_ids(tokenizer, tokenizer_folder, os.path.join(out, "sharded"))
    expected.update(versions)
    expected["generator"] = GENERATOR
    expected["seed"] = args.seed
    common.write_json(os.path.join(out, "expected.json"), expected)

    write_embeddings(out, tokenizer, models, versions, args.seed)
    print(f"wrote {out}: {len(vocab)} tokens, {common.directory_size(out) / 1024:.0f} KB")


def parse_args():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(root, "Tests/MVADEngineTests/Fixtures/clip"))
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


# ---------------------------------------------------------------------------------------------
# The synthetic vocabulary


def byte_symbols():
    """The byte -> printable character table of byte-level BPE (GPT-2, CLIP), in byte order."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1))
                 + list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    table = {}
    extra = 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return table


def corpus_words(table):
    """The corpus split into words as CLIP does (lower case, letter runs, digits, other runs),
    each a list of byte symbols with `</w>` on the last."""
    import regex  # installed with transformers
    pattern = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""")
    words = []
    for line in CORPUS:
        for word in pattern.findall(" ".join(line.lower().split())):
            symbols = [table[b] for b in word.encode("utf-8")]
            symbols[-1] += "</w>"
            words.append(symbols)
    return words


def learn_merges(words, count):
    """Greedy BPE: merge the most frequent adjacent pair, `count` times (fewer if none is left)."""
    merges = []
    for _ in range(count):
        pairs = {}
        for word in words:
            for pair in zip(word, word[1:]):
                pairs[pair] = pairs.get(pair, 0) + 1
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        merged = []
        for word in words:
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged.append(out)
        words = merged
    return merges


def write_tokenizer(folder):
    """Writes the four files of an SD v1.4 tokenizer folder; returns the vocabulary."""
    os.makedirs(folder)
    table = byte_symbols()
    symbols = [table[b] for b in range(256)]
    tokens = symbols + [s + "</w>" for s in symbols]
    merges = learn_merges(corpus_words(table), MERGE_COUNT)
    for left, right in merges:
        if left + right not in tokens:
            tokens.append(left + right)
    tokens += [BOS, EOS]
    vocab = {token: index for index, token in enumerate(tokens)}

    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as file:
        json.dump(vocab, file, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as file:
        file.write("#version: 0.2\n")
        for left, right in merges:
            file.write(f"{left} {right}\n")
    common.write_json(os.path.join(folder, "special_tokens_map.json"), {
        "bos_token": {"content": BOS, "lstrip": False, "normalized": True, "rstrip": False,
                      "single_word": False},
        "eos_token": {"content": EOS, "lstrip": False, "normalized": True, "rstrip": False,
                      "single_word": False},
        "pad_token": EOS,
        "unk_token": {"content": EOS, "lstrip": False, "normalized": True, "rstrip": False,
                      "single_word": False},
    })
    common.write_json(os.path.join(folder, "tokenizer_config.json"), {
        "bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS,
        "model_max_length": MAX_LENGTH, "tokenizer_class": "CLIPTokenizer",
        "do_lower_case": True, "errors": "replace", "add_prefix_space": False,
    })
    return vocab


def check_tokenizer(tokenizer, vocab):
    if tokenizer.model_max_length != MAX_LENGTH or tokenizer.pad_token_id != vocab[EOS]:
        sys.exit(f"{GENERATOR}: the tokenizer did not read its config "
                 f"({tokenizer.model_max_length}, {tokenizer.pad_token_id})")


def expected_ids(tokenizer, tokenizer_folder, json_folder):
    """Token ids per prompt: plain, padded / truncated to 77, with pad "!", from tokenizer.json."""
    import transformers
    with tempfile.TemporaryDirectory() as bang_folder:
        for name in os.listdir(tokenizer_folder):
            shutil.copy(os.path.join(tokenizer_folder, name), bang_folder)
        config_path = os.path.join(bang_folder, "tokenizer_config.json")
        config = common.read_json(config_path)
        config["pad_token"] = "!"
        common.write_json(config_path, config)
        os.remove(os.path.join(bang_folder, "special_tokens_map.json"))
        bang = transformers.CLIPTokenizer.from_pretrained(bang_folder, local_files_only=True)
        from_json = transformers.CLIPTokenizer.from_pretrained(json_folder, local_files_only=True)
        cases = []
        for prompt in PROMPTS:
            padded = padded_ids(tokenizer, prompt)
            if padded_ids(from_json, prompt) != padded:
                sys.exit(f"{GENERATOR}: tokenizer.json and vocab.json disagree on {prompt!r}")
            cases.append({"prompt": prompt, "ids": tokenizer(prompt).input_ids,
                          "padded": padded, "padded_pad_exclamation": padded_ids(bang, prompt)})
    return {"max_length": MAX_LENGTH, "pad_exclamation_id": bang.pad_token_id, "cases": cases}


def padded_ids(tokenizer, prompt):
    return tokenizer(prompt, padding="max_length", max_length=MAX_LENGTH,
                     truncation=True).input_ids


# ---------------------------------------------------------------------------------------------
# The models


def make_model(vocab_size, hidden, layers, heads, act, generator):
    from transformers import CLIPTextConfig, CLIPTextModel
    config = CLIPTextConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden,
                            projection_dim=hidden, num_hidden_layers=layers,
                            num_attention_heads=heads, max_position_embeddings=MAX_LENGTH,
                            hidden_act=act, pad_token_id=vocab_size - 1,
                            bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1)
    model = CLIPTextModel(config).eval()
    common.randomise_(model, generator)
    return model


def write_sharded(model, folder):
    """Two shards (embeddings + final norm, the layers) with an index, in the old key layout."""
    os.makedirs(folder)
    model.config.save_pretrained(folder)
    state = {"text_model." + name: tensor.contiguous()
             for name, tensor in model.state_dict().items()}
    first = {name: tensor for name, tensor in state.items() if ".layers." not in name}
    first["text_model.embeddings.position_ids"] = torch.arange(MAX_LENGTH).unsqueeze(0)
    second = {name: tensor for name, tensor in state.items() if ".layers." in name}
    shards = {"model-00001-of-00002.safetensors": first,
              "model-00002-of-00002.safetensors": second}
    weight_map = {}
    for shard, tensors in shards.items():
        common.write_safetensors(os.path.join(folder, shard), tensors, {"format": "pt"})
        weight_map.update({name: shard for name in tensors})
    common.write_json(os.path.join(folder, "model.safetensors.index.json"),
                      {"metadata": {"total_size": 0}, "weight_map": weight_map})


@torch.no_grad()
def write_embeddings(out, tokenizer, models, versions, seed):
    """last_hidden_state of both saved models (reloaded from disk, checked to hold the weights
    they were saved with) for the EMBEDDED prompts."""
    from transformers import CLIPTextModel
    tensors = {}
    for name, original in models.items():
        model = CLIPTextModel.from_pretrained(os.path.join(out, name), local_files_only=True,
                                              use_safetensors=True, dtype=torch.float32).eval()
        saved = original.state_dict()
        for key, value in model.state_dict().items():
            if not torch.equal(value, saved[key]):
                sys.exit(f"{GENERATOR}: {name}: '{key}' did not survive saving and loading")
        for index in EMBEDDED:
            ids = tokenizer(PROMPTS[index], padding="max_length", max_length=MAX_LENGTH,
                            truncation=True, return_tensors="pt").input_ids            # [1, L]
            tensors[f"{name}.{index}"] = model(ids).last_hidden_state.contiguous()  # [1, L, D]
    metadata = {"generator": GENERATOR, "seed": seed,
                "prompts": json.dumps({str(i): PROMPTS[i] for i in EMBEDDED}),
                "regenerate": "/work/venv/bin/python " + GENERATOR, **versions}
    common.write_safetensors(os.path.join(out, "expected.safetensors"), tensors, metadata)


if __name__ == "__main__":
    main()
