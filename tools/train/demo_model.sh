#!/usr/bin/env bash
# Trains a small demo model from scratch on synthetic parts (`mvad synth` output, or any
# Eyecandies-layout category) and assembles the model folder mvad loads:
#   VAE (16/32/64/64, latents 4 x S/8) -> UNet (32/64/64, fixed random prompt vector of
#   width 64) -> ControlLoRA (rank 4, condition embedding 16/16/32/32, feature loss lambda
#   0.001) -> OUT_DIR/model (settings: feature blocks 1, 2 on a 16 x 16 grid).
# Sized for about 16 minutes on an idle 2-core CPU with 40 training parts at 128 px (the
# shipped demo, tools/train/build_demo.sh), more than half of it the VAE: with 6 epochs instead
# of 30 it blurred dents and bumps out of the normal maps' latents (fused image AUROC 0.77
# instead of 0.96 on the fresh test set, models/README.md). Seeds are fixed.
#   tools/train/demo_model.sh SYNTH_DIR OUT_DIR [path/to/mvad]
# SYNTH_DIR: a category folder (<dir>/train/data) or a root holding one category. With the mvad
# path, the banks of the train split are built and the test split is scored (evaluate).
# Environment: PYTHON (default tools/train/.venv/bin/python, else python3), THREADS (2),
# SIZE (128), and the epoch counts VAE_EPOCHS (30), UNET_EPOCHS (20), CONTROL_EPOCHS (4):
# 1050 VAE, 700 UNet and 160 ControlLoRA steps with 40 parts.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,16p' "$0"; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
data="$1"; out="$2"; mvad="${3:-}"
if [ -x "$here/.venv/bin/python" ]; then python="${PYTHON:-$here/.venv/bin/python}"; else python="${PYTHON:-python3}"; fi
threads="${THREADS:-2}"; size="${SIZE:-128}"
# Threads that sleep instead of spinning: on a shared 2-core machine spinning threads made
# torch several times slower.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
mkdir -p "$out"
log="$out/demo.log"
stage() {   # stage NAME COMMAND...: runs, logs the wall time
    local name="$1" began=$SECONDS; shift
    echo "== $name" | tee -a "$log"
    nice -n 10 "$@" 2>&1 | tee -a "$log"
    echo "== $name: $((SECONDS - began)) s" | tee -a "$log"
}
data_args=(--data "$data" --image-size "$size" --threads "$threads" --seed 0 --log-every 20)

stage prompt "$python" "$here/make_model_folder.py" prompt --prompt-dim 64 --seed 0 \
    -o "$out/prompt_embedding.safetensors"
stage vae "$python" "$here/train_vae.py" "${data_args[@]}" --block-channels 16,32,64,64 \
    --norm-groups 8 --batch-size 8 --lr 1e-3 --epochs "${VAE_EPOCHS:-30}" --out "$out/vae"
stage unet "$python" "$here/train_unet.py" "${data_args[@]}" --config small \
    --block-channels 32,64,64 --attention-head-dim 8 --norm-groups 8 --batch-size 8 --lr 3e-4 \
    --epochs "${UNET_EPOCHS:-20}" --vae "$out/vae" --prompt "$out/prompt_embedding.safetensors" \
    --out "$out/unet"
stage controllora "$python" "$here/train_controlnet.py" "${data_args[@]}" --lr 1e-4 \
    --epochs "${CONTROL_EPOCHS:-4}" --conditioning-channels 16,16,32,32 --unet "$out/unet" --vae "$out/vae" \
    --prompt "$out/prompt_embedding.safetensors" --out "$out/controllora"
stage folder "$python" "$here/make_model_folder.py" folder --unet "$out/unet" --vae "$out/vae" \
    --controllora "$out/controllora" --prompt "$out/prompt_embedding.safetensors" \
    -o "$out/model" --image-size "$size" --feature-blocks 1,2 --grid-size 16

if [ -n "$mvad" ]; then
    stage bank "$mvad" bank build --model "$out/model" --parts "$data" \
        -o "$out/bank.safetensors" --threads "$threads"
    test_parts="$data"
    [ -d "$data/test_public/data" ] && test_parts="$data/test_public/data"
    stage evaluate "$mvad" evaluate --model "$out/model" --bank "$out/bank.safetensors" \
        --dataset "$test_parts" --threads "$threads"
fi
echo "demo model: $out/model, $SECONDS s in all (log: $log)" | tee -a "$log"
