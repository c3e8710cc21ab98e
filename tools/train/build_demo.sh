#!/usr/bin/env bash
# Rebuilds the shipped demo pack, models/demo.mvad, from nothing, and measures it:
#   1. synthetic parts: mvad synth --seed 1 (40 train, 10 val, 60 test_public parts, 256 px);
#   2. training on the train split: tools/train/demo_model.sh (VAE, UNet, ControlLoRA; seeds 0);
#   3. an int8 pack without banks, then the banks built with it from the train split (int8
#      features, as the station computes them);
#   4. the int8 pack with those banks stored in it, checked against the float model on the
#      val parts (quality gate);
#   5. the threshold: mvad calibrate on that pack, with the val split as good parts and the
#      defective test_public parts of seed 1 as bad parts; the pack again, now with the
#      threshold -> OUT/demo.mvad (copy it to models/demo.mvad, and OUT/calibration.csv to
#      models/demo-calibration.csv);
#   6. evidence on a fresh test set (mvad synth --seed 2, 60 parts, never used above): the
#      int8 pack, the float model folder and the plain-UNet ablation, each with its own banks.
# Usage: tools/train/build_demo.sh OUT [path/to/mvad]   (mvad: default .build/release/mvad)
# Training takes about 16 minutes on an idle 2-core x86 CPU; the rest about 5 minutes.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,16p' "$0"; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$1"
mvad="${2:-$repo/.build/release/mvad}"
[ -x "$mvad" ] || { echo "build_demo: no mvad at $mvad (swift build -c release)" >&2; exit 1; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
data="$out/data/SynthCandy"
fresh="$out/fresh/SynthCandy"
log="$out/build_demo.log"
step() { echo "== $*" | tee -a "$log"; }

step "synthetic parts (seed 1) and a fresh test set (seed 2)"
"$mvad" synth -o "$out/data" --seed 1 --train 40 --val 10 --test 60 --force | tee -a "$log"
"$mvad" synth -o "$out/fresh" --seed 2 --train 0 --val 0 --test 60 --force | tee -a "$log"
# The defective test_public parts of seed 1 (odd ids) as calibration's bad parts.
rm -rf "$out/bad" && mkdir -p "$out/bad"
for mask in "$data"/test_public/data/*_mask.png; do
    id="$(basename "$mask" _mask.png)"
    if [ $((10#$id % 2)) -eq 1 ]; then
        for view in "$data"/test_public/data/"$id"_*.png; do ln -s "$view" "$out/bad/"; done
    fi
done

step "training"
"$here/demo_model.sh" "$data" "$out/train" 2>&1 | tee -a "$log"
model="$out/train/model"

step "int8 pack without banks; banks from the train split with its int8 features"
"$mvad" convert --model "$model" -o "$out/nobank.mvad" --weights int8 | tee -a "$log"
"$mvad" bank build --model "$out/nobank.mvad" --parts "$data" -o "$out/bank.safetensors" \
    | tee -a "$log"

step "the pack with its banks (int8 per feature vector), gated against the float model"
"$mvad" convert --model "$model" -o "$out/banks.mvad" --weights int8 \
    --bank "$out/bank.safetensors" --calibration-parts "$data/val/data" | tee -a "$log"

step "threshold: val parts (good) and seed 1's defective test parts (bad), scored by that pack"
"$mvad" calibrate --model "$out/banks.mvad" -o "$out/calibrated.bank" \
    --good "$data/val/data" --bad "$out/bad" --csv "$out/calibration.csv" \
    --plot "$out/calibration.png" | tee -a "$log"

step "the demo pack: the same, with the calibrated threshold stored"
# The calibrated bank holds the pack's int8 banks widened to f32; storing them again gives
# the same int8 values, so the scores above are the demo pack's scores.
"$mvad" convert --model "$model" -o "$out/demo.mvad" --weights int8 \
    --bank "$out/calibrated.bank" | tee -a "$log"

step "evidence on the fresh test set (seed 2): int8 pack"
"$mvad" evaluate --model "$out/demo.mvad" --dataset "$fresh" | tee -a "$log"
"$mvad" evaluate --model "$out/demo.mvad" --dataset "$fresh" --json > "$out/evaluate-int8.json"
step "float model folder, its own banks"
"$mvad" bank build --model "$model" --parts "$data" -o "$out/bank-float.safetensors" | tee -a "$log"
"$mvad" evaluate --model "$model" --bank "$out/bank-float.safetensors" --dataset "$fresh" \
    | tee -a "$log"
"$mvad" evaluate --model "$model" --bank "$out/bank-float.safetensors" --dataset "$fresh" \
    --json > "$out/evaluate-float.json"
step "ablation: the plain UNet (no ControlLoRA), its own banks"
mkdir -p "$out/plain"
for item in unet vae prompt_embedding.safetensors settings.json; do
    ln -sfn "$model/$item" "$out/plain/$item"
done
"$mvad" bank build --model "$out/plain" --parts "$data" -o "$out/bank-plain.safetensors" \
    | tee -a "$log"
"$mvad" evaluate --model "$out/plain" --bank "$out/bank-plain.safetensors" --dataset "$fresh" \
    | tee -a "$log"
ls -l "$out/demo.mvad" | tee -a "$log"
echo "build_demo: $out/demo.mvad in $SECONDS s (log: $log); copy it to $repo/models/demo.mvad"
