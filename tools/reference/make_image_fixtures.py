"""Writes the image fixtures of the MVADInspect tests to Tests/MVADInspectTests/Fixtures/images:
small PNGs of every colour type and bit depth with their exact samples, JPEGs with Pillow's
decoded samples, and Pillow's bicubic / nearest resize results that the Swift resize must match.

Run from the repository root (needs numpy and Pillow; torch is not used):
    /work/venv/bin/python tools/reference/make_image_fixtures.py [--out DIR] [--seed 0]
A re-run with the same versions writes byte-identical files. The folder size is printed at the end.
"""

import argparse
import json
import os
import struct
import zlib

import numpy as np
import PIL
import PIL.features
from PIL import Image

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT_PATH = "tools/reference/make_image_fixtures.py"
DEFAULT_OUT = "Tests/MVADInspectTests/Fixtures/images"
SIZE_LIMIT = 300 * 1024

# PNG colour types (PNG specification, IHDR).
GREY, RGB, PALETTE, GREY_ALPHA, RGBA = 0, 2, 3, 4, 6
CHANNELS = {GREY: 1, RGB: 3, PALETTE: 1, GREY_ALPHA: 2, RGBA: 4}

# Colour-space chunks. The decoder must ignore them (as Pillow and torchvision do): with them in
# place, libpng's simplified API would gamma-convert the samples.
GAMA_LINEAR = struct.pack(">I", 100000)
GAMA_SRGB = struct.pack(">I", 45455)
SRGB_PERCEPTUAL = bytes([0])

# Resize cases: (width, height) of Pillow's output for the 37 x 29 noise image. 16 x 16 shrinks both
# axes (horizontal pass first), 64 x 48 enlarges both, 29 x 37 shrinks the width and enlarges the
# height, 40 x 9 enlarges the width and shrinks the height (Pillow 13 runs the vertical pass first).
BICUBIC_SIZES = [(16, 16), (64, 48), (29, 37), (40, 9)]
NEAREST_SIZES = [(16, 16), (64, 48)]


# --- A minimal PNG encoder, so every colour type, bit depth and chunk is under our control ---

def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_row(row, bit_depth):
    """One scanline's bytes: samples big-endian for 16 bit, packed high bits first below 8."""
    if bit_depth == 16:
        return row.astype(">u2").tobytes()
    if bit_depth == 8:
        return row.astype(np.uint8).tobytes()
    per_byte = 8 // bit_depth
    padded = np.zeros(-(-len(row) // per_byte) * per_byte, np.uint8)
    padded[:len(row)] = row
    groups = padded.reshape(-1, per_byte)
    shifts = np.arange(per_byte - 1, -1, -1) * bit_depth
    return (groups << shifts).sum(axis=1).astype(np.uint8).tobytes()


def encode_png(samples, bit_depth, color_type, palette=None, transparency=None, extra=()):
    """samples: [H, W, C] integers. extra: (chunk type, data) pairs written before PLTE/IDAT."""
    height, width = samples.shape[:2]
    flat = samples.reshape(height, -1)
    raw = b"".join(b"\x00" + pack_row(flat[y], bit_depth) for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    for kind, data in extra:
        out += png_chunk(kind, data)
    if palette is not None:
        out += png_chunk(b"PLTE", np.asarray(palette, np.uint8).tobytes())
    if transparency is not None:
        out += png_chunk(b"tRNS", transparency)
    out += png_chunk(b"IDAT", zlib.compress(raw, 9))
    return out + png_chunk(b"IEND", b"")


# --- Writers of the fixture files ---

def fnv1a64(array):
    """FNV-1a 64-bit hash of an array's bytes (simple to recompute in the Swift tests)."""
    value = 0xCBF29CE484222325
    for byte in np.ascontiguousarray(array, np.uint8).reshape(-1).tolist():
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def write_safetensors(path, tensors, metadata):
    """Byte-stable safetensors file of float32 arrays (keys sorted)."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        blob = np.ascontiguousarray(tensors[name], "<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def expected_entry(samples, bit_depth):
    height, width, channels = samples.shape
    return {"width": width, "height": height, "channels": channels, "bit_depth": bit_depth,
            "samples": [int(v) for v in samples.reshape(-1)]}


def make_decode_cases(rng, out, expected):
    """PNGs of each kind; `expected` gets the samples the decoder must return."""
    def grid(height, width, channels, top):
        values = rng.integers(0, top + 1, (height, width, channels), dtype=np.int64)
        corners = [0, top, 1, top - 1]
        values.reshape(-1)[:len(corners)] = corners  # extremes are always present
        return values

    cases = []
    grey8 = grid(5, 7, 1, 255)
    cases.append(("grey8.png", grey8, 8, GREY, {"extra": [(b"gAMA", GAMA_LINEAR)]}, grey8))
    grey4 = grid(5, 7, 1, 15)
    cases.append(("grey4.png", grey4, 4, GREY, {}, grey4 * 17))
    grey16 = grid(5, 7, 1, 65535)
    grey16.reshape(-1)[4:8] = [256, 257, 32768, 65280]  # high and low bytes differ or not
    cases.append(("grey16.png", grey16, 16, GREY, {"extra": [(b"gAMA", GAMA_SRGB)]}, grey16))
    grey_alpha8 = grid(5, 7, 2, 255)
    cases.append(("grey_alpha8.png", grey_alpha8, 8, GREY_ALPHA, {}, grey_alpha8))
    rgb8 = grid(5, 7, 3, 255)
    cases.append(("rgb8.png", rgb8, 8, RGB, {"extra": [(b"sRGB", SRGB_PERCEPTUAL)]}, rgb8))
    rgba8 = grid(5, 7, 4, 255)  # translucent: colours must not come back premultiplied
    cases.append(("rgba8.png", rgba8, 8, RGBA, {}, rgba8))
    rgb16 = grid(5, 7, 3, 65535)
    rgb16_chunks = [(b"gAMA", GAMA_SRGB), (b"sRGB", SRGB_PERCEPTUAL)]
    cases.append(("rgb16.png", rgb16, 16, RGB, {"extra": rgb16_chunks}, rgb16))
    rgba16 = grid(4, 3, 4, 65535)
    rgba16[..., 3] = 65535
    cases.append(("rgba16_opaque.png", rgba16, 16, RGBA, {}, rgba16))
    palette = rng.integers(0, 256, (6, 3))
    alpha = np.array([0, 128, 255, 255, 255, 255])
    indices = grid(5, 7, 1, 5)
    palette_expected = np.concatenate([palette[indices[..., 0]], alpha[indices]], axis=2)
    palette_options = {"palette": palette, "transparency": bytes([0, 128])}
    cases.append(("palette.png", indices, 8, PALETTE, palette_options, palette_expected))

    for name, samples, depth, color_type, options, decoded in cases:
        data = encode_png(samples, depth, color_type, **options)
        with open(os.path.join(out, name), "wb") as handle:
            handle.write(data)
        expected[name] = expected_entry(decoded, 16 if depth == 16 else 8)
        check_with_pillow(os.path.join(out, name), decoded, depth)

    translucent = grid(4, 3, 4, 65535)
    translucent[0, 0, 3] = 1000
    with open(os.path.join(out, "rgba16_translucent.png"), "wb") as handle:
        handle.write(encode_png(translucent, 16, RGBA))


def check_with_pillow(path, decoded, depth):
    """Cross-checks our encoder: Pillow must read the 8-bit files and grey16 to the same values."""
    image = Image.open(path)
    if depth == 16 and image.mode != "I;16":
        return  # Pillow keeps only the high byte of 16-bit colour images
    if image.mode == "P":
        image = image.convert("RGBA")
    values = np.asarray(image).astype(np.int64).reshape(decoded.shape)
    if not np.array_equal(values, decoded):
        raise SystemExit(f"{path}: Pillow decodes other values than the fixture expects")


def make_jpeg_cases(rng, out, expected):
    """JPEGs (4:2:0 colour, grey, CMYK) and the samples Pillow decodes from them."""
    y, x = np.mgrid[0:16, 0:24]
    smooth = np.stack([x * 10, y * 15, (x + y) * 6], axis=2)
    colour = np.clip(smooth + rng.integers(-20, 21, smooth.shape), 0, 255).astype(np.uint8)
    Image.fromarray(colour).save(os.path.join(out, "rgb.jpg"), quality=90, subsampling=2)
    grey = np.clip(x[:8, :16] * 12 + rng.integers(-10, 11, (8, 16)), 0, 255).astype(np.uint8)
    Image.fromarray(grey).save(os.path.join(out, "grey.jpg"), quality=90)
    cmyk = Image.fromarray(colour[:8, :8]).convert("CMYK")
    cmyk.save(os.path.join(out, "cmyk.jpg"), quality=90)
    for name in ("rgb.jpg", "grey.jpg"):
        decoded = np.asarray(Image.open(os.path.join(out, name))).astype(np.int64)
        if decoded.ndim == 2:
            decoded = decoded[..., None]
        expected[name] = expected_entry(decoded, 8)


def make_resize_cases(rng, out):
    """Noise images and Pillow's bicubic / nearest results."""
    noise = rng.integers(0, 256, (29, 37, 3), dtype=np.uint8)
    source = Image.fromarray(noise)
    source.save(os.path.join(out, "noise_37x29.png"))
    for width, height in BICUBIC_SIZES:
        resized = source.resize((width, height), Image.Resampling.BICUBIC)
        resized.save(os.path.join(out, f"noise_37x29_bicubic_{width}x{height}.png"))

    # Float bicubic ('F' mode) on a 16-bit grey image scaled to [0, 1] as float32.
    grey16 = rng.integers(0, 65536, (29, 37), dtype=np.int64)
    with open(os.path.join(out, "noise_37x29_grey16.png"), "wb") as handle:
        handle.write(encode_png(grey16[..., None], 16, GREY))
    unit = grey16.astype(np.float32) / np.float32(65535)
    planes = {}
    for width, height in BICUBIC_SIZES:
        resized = Image.fromarray(unit, mode="F").resize((width, height), Image.Resampling.BICUBIC)
        planes[f"{width}x{height}"] = np.asarray(resized, np.float32)
    metadata = {"generator": SCRIPT_PATH, "pillow": PIL.__version__,
                "input": "noise_37x29_grey16.png as float32 v / 65535, Pillow mode 'F'"}
    write_safetensors(os.path.join(out, "noise_37x29_grey16_bicubic.safetensors"), planes, metadata)

    # A mask with 0 / 255 regions and a few faint non-zero pixels (1 and 128 count as defect).
    mask = np.zeros((29, 37), np.uint8)
    mask[5:14, 8:21] = 255
    mask[20, 30] = 1
    mask[22:25, 2:4] = 128
    mask_image = Image.fromarray(mask)
    mask_image.save(os.path.join(out, "mask_37x29.png"))
    for width, height in NEAREST_SIZES:
        resized = mask_image.resize((width, height), Image.Resampling.NEAREST)
        resized.save(os.path.join(out, f"mask_37x29_nearest_{width}x{height}.png"))


def eyecandies_reference():
    """Hashes of Pillow's decode and 256 px bicubic of the shared GummyBear views, if present."""
    shared = os.environ.get("MVAD_SHARED_DIR", os.path.join(os.path.dirname(REPO_ROOT), "shared"))
    folder = os.path.join(shared, "data", "eyecandies", "GummyBear-full")
    if not os.path.isdir(folder):
        return None
    views = {}
    for name in ("000_image_0.jpg", "000_normals.jpg"):
        image = Image.open(os.path.join(folder, name)).convert("RGB")
        resized = image.resize((256, 256), Image.Resampling.BICUBIC)
        views[name] = {"decoded_fnv1a64": f"{fnv1a64(np.asarray(image)):016x}",
                       "bicubic_256_fnv1a64": f"{fnv1a64(np.asarray(resized)):016x}",
                       "width": image.width, "height": image.height}
    return {"folder": "data/eyecandies/GummyBear-full", "views": views}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, DEFAULT_OUT))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    expected = {}
    make_decode_cases(rng, args.out, expected)
    make_jpeg_cases(rng, args.out, expected)
    make_resize_cases(rng, args.out)
    document = {
        "generator": SCRIPT_PATH,
        "regenerate": f"/work/venv/bin/python {SCRIPT_PATH} --seed {args.seed}",
        "pillow": PIL.__version__,
        "libjpeg_turbo": PIL.features.version("libjpeg_turbo"),
        "numpy": np.__version__,
        "samples": "row-major, interleaved channels; PNG values exact, JPEG values Pillow's",
        "images": expected,
        "eyecandies": eyecandies_reference(),
    }
    with open(os.path.join(args.out, "expected.json"), "w") as handle:
        json.dump(document, handle, separators=(",", ":"), sort_keys=True)
        handle.write("\n")

    total = sum(os.path.getsize(os.path.join(args.out, name)) for name in os.listdir(args.out))
    print(f"{args.out}: {len(os.listdir(args.out))} files, {total} bytes")
    if total > SIZE_LIMIT:
        raise SystemExit(f"fixtures take {total} bytes, more than the {SIZE_LIMIT}-byte budget")


if __name__ == "__main__":
    main()
