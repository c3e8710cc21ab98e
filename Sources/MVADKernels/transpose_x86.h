// An 8 x 8 transpose of 32-bit lanes in AVX2 registers, shared by the channels-last copy
// (floats) and the int8 product's activation packing (groups of four bytes). Only shuffles:
// the bits of every lane are moved, never changed.
#ifndef MVAD_TRANSPOSE_X86_H
#define MVAD_TRANSPOSE_X86_H

#if defined(__x86_64__)
#include <immintrin.h>

/// r[i] holds row i of an 8 x 8 block; afterwards r[j] holds its column j.
__attribute__((target("avx2"), always_inline)) static inline void mvad_transpose8x8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int k = 0; k < 4; k++) {
        t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    for (int k = 0; k < 2; k++) {
        u[4 * k + 0] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
        u[4 * k + 1] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
        u[4 * k + 2] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
        u[4 * k + 3] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x20);
        r[k + 4] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x31);
    }
}
#endif
#endif
