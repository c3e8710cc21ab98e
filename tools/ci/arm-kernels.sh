#!/usr/bin/env bash
# Checks the int8 matrix kernels on every path without ARM hardware: cross-compiles them with
# the test driver tools/ci/arm_kernels_test.c for AArch64 and runs it under qemu, once on a CPU
# with the dot-product extension (NEON SDOT path) and once without (plain NEON path), then
# builds and runs the same driver natively (scalar, AVX2 and AVX-512 VNNI where present).
# Installs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user if missing (needs root).
# Exits non-zero on any failure. Usage: tools/ci/arm-kernels.sh [--bench]
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
kernels="$root/Sources/MVADKernels"
driver="$root/tools/ci/arm_kernels_test.c"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
bench="${1:-}"
start=$SECONDS

# ---- toolchain ----------------------------------------------------------------------------
missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
[ -f /usr/aarch64-linux-gnu/include/stdio.h ] || missing+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
echo "toolchain ready after $((SECONDS - start)) s"

sources=("$kernels"/gemm_s8.c "$kernels"/gemm_s8_x86.c "$kernels"/gemm_s8_arm.c "$driver")
flags=(-O2 -Wall -Wextra -Werror -I"$kernels/include")

# ---- AArch64 under qemu -------------------------------------------------------------------
run_arm() {  # $1: AArch64 binary, $2: compiler named in the log
    echo "== qemu-aarch64 -cpu max (has dotprod), $2"
    qemu-aarch64 -cpu max "$1" --expect neon_sdot
    echo "== qemu-aarch64 -cpu cortex-a53 (no dotprod), $2"
    qemu-aarch64 -cpu cortex-a53 "$1" --expect neon
}

aarch64-linux-gnu-gcc "${flags[@]}" -static "${sources[@]}" -o "$out/arm_gcc"
run_arm "$out/arm_gcc" aarch64-linux-gnu-gcc

# Clang is what SwiftPM compiles the kernels with on an Arm board: compile with it too and
# link with the cross GCC.
if command -v clang >/dev/null; then
    objects=()
    for src in "${sources[@]}"; do
        obj="$out/$(basename "$src" .c).o"
        clang --target=aarch64-linux-gnu -isystem /usr/aarch64-linux-gnu/include \
            "${flags[@]}" -c "$src" -o "$obj"
        objects+=("$obj")
    done
    aarch64-linux-gnu-gcc -static "${objects[@]}" -o "$out/arm_clang"
    run_arm "$out/arm_clang" clang
fi

# ---- native ------------------------------------------------------------------------------
# With GCC and, when present, Clang: the compiler SwiftPM builds the package with, and so the
# one the optional benchmark uses (GCC 12 adds register copies around vpdpbusd).
compilers=(gcc)
command -v clang >/dev/null && compilers+=(clang)
for cc in "${compilers[@]}"; do
    "$cc" "${flags[@]}" -O3 "${sources[@]}" -o "$out/native_kernels_test"
    echo "== native $(uname -m), $cc"
    if [ "$cc" = "${compilers[-1]}" ]; then
        "$out/native_kernels_test" $bench
    else
        "$out/native_kernels_test"
    fi
done

echo "arm-kernels: all checks passed in $((SECONDS - start)) s"
