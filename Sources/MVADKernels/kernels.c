// Element-wise SIMD kernels (exp, softmax, SiLU) with runtime CPU dispatch.
//
// exp(x): x = n ln2 + r with |r| <= ln2 / 2, e^r by a degree-6 polynomial (the classic
// single-precision minimax coefficients), then scaled by 2^n through the exponent bits. All
// arithmetic is written as explicit fused multiply-adds so that the scalar and vector paths
// give identical bits.

#include "mvad_kernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define MVAD_X86 1
#elif defined(__aarch64__)
#include <arm_neon.h>
#define MVAD_ARM 1
#endif

#define EXP_HI 88.3762626647949f
#define EXP_LO -87.3365478515625f
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f
#define LN2_LO -2.12194440e-4f
#define P0 1.9875691500e-4f
#define P1 1.3981999507e-3f
#define P2 8.3334519073e-3f
#define P3 4.1665795894e-2f
#define P4 1.6666665459e-1f
#define P5 5.0000001201e-1f
#define LANES 8

// ---- scalar definition --------------------------------------------------------------------

static inline float exp_scalar(float x) {
    x = fminf(fmaxf(x, EXP_LO), EXP_HI);
    float n = floorf(fmaf(x, LOG2E, 0.5f));
    float r = fmaf(n, -LN2_HI, x);
    r = fmaf(n, -LN2_LO, r);
    float p = P0;
    p = fmaf(p, r, P1);
    p = fmaf(p, r, P2);
    p = fmaf(p, r, P3);
    p = fmaf(p, r, P4);
    p = fmaf(p, r, P5);
    float y = fmaf(p, r * r, r) + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

static void exp_scalar_loop(float *dst, const float *src, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] = exp_scalar(src[i]);
}

// Sum of the exponentials in 8 lanes (lane i takes elements i, i + 8, ...), then the lanes
// added pairwise in a fixed tree: the order every path reproduces.
static float sum_lanes(const float lanes[LANES]) {
    float a = lanes[0] + lanes[4], b = lanes[1] + lanes[5];
    float c = lanes[2] + lanes[6], d = lanes[3] + lanes[7];
    return (a + c) + (b + d);
}

static void softmax_row_scalar(float *row, size_t cols, float scale) {
    float maximum = -INFINITY;
    for (size_t i = 0; i < cols; i++) maximum = fmaxf(maximum, row[i]);
    float shift = -maximum * scale;
    float lanes[LANES] = {0};
    size_t full = cols / LANES * LANES;
    for (size_t i = 0; i < full; i++) {
        row[i] = exp_scalar(fmaf(row[i], scale, shift));
        lanes[i % LANES] += row[i];
    }
    float sum = sum_lanes(lanes);
    for (size_t i = full; i < cols; i++) {
        row[i] = exp_scalar(fmaf(row[i], scale, shift));
        sum += row[i];
    }
    float inverse = 1.0f / sum;
    for (size_t i = 0; i < cols; i++) row[i] *= inverse;
}

static void silu_scalar(float *data, size_t count) {
    for (size_t i = 0; i < count; i++) data[i] = data[i] / (1.0f + exp_scalar(-data[i]));
}

// ---- AVX2 + FMA ---------------------------------------------------------------------------

#if MVAD_X86
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256 exp_avx2(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_LO)), _mm256_set1_ps(EXP_HI));
    __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(LOG2E), _mm256_set1_ps(0.5f)));
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-LN2_HI), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-LN2_LO), r);
    __m256 p = _mm256_set1_ps(P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P5));
    __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
}

AVX2 static void exp_avx2_loop(float *dst, const float *src, size_t count) {
    size_t i = 0;
    for (; i + LANES <= count; i += LANES) _mm256_storeu_ps(dst + i, exp_avx2(_mm256_loadu_ps(src + i)));
    for (; i < count; i++) dst[i] = exp_scalar(src[i]);
}

AVX2 static void softmax_row_avx2(float *row, size_t cols, float scale) {
    size_t full = cols / LANES * LANES;
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    for (size_t i = 0; i < full; i += LANES) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(row + i));
    float lanes[LANES];
    _mm256_storeu_ps(lanes, vmax);
    float maximum = -INFINITY;
    for (int l = 0; l < LANES; l++) maximum = fmaxf(maximum, lanes[l]);
    for (size_t i = full; i < cols; i++) maximum = fmaxf(maximum, row[i]);

    float shift = -maximum * scale;
    __m256 vscale = _mm256_set1_ps(scale), vshift = _mm256_set1_ps(shift);
    __m256 vsum = _mm256_setzero_ps();
    for (size_t i = 0; i < full; i += LANES) {
        __m256 e = exp_avx2(_mm256_fmadd_ps(_mm256_loadu_ps(row + i), vscale, vshift));
        _mm256_storeu_ps(row + i, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    _mm256_storeu_ps(lanes, vsum);
    float sum = sum_lanes(lanes);
    for (size_t i = full; i < cols; i++) {
        row[i] = exp_scalar(fmaf(row[i], scale, shift));
        sum += row[i];
    }
    __m256 inverse = _mm256_set1_ps(1.0f / sum);
    for (size_t i = 0; i < full; i += LANES) {
        _mm256_storeu_ps(row + i, _mm256_mul_ps(_mm256_loadu_ps(row + i), inverse));
    }
    for (size_t i = full; i < cols; i++) row[i] *= 1.0f / sum;
}

AVX2 static void silu_avx2(float *data, size_t count) {
    size_t i = 0;
    __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    for (; i + LANES <= count; i += LANES) {
        __m256 x = _mm256_loadu_ps(data + i);
        __m256 e = exp_avx2(_mm256_sub_ps(zero, x));
        _mm256_storeu_ps(data + i, _mm256_div_ps(x, _mm256_add_ps(one, e)));
    }
    for (; i < count; i++) data[i] = data[i] / (1.0f + exp_scalar(-data[i]));
}
#endif

// ---- dispatch -----------------------------------------------------------------------------

static int detected = -1;
static int forced = -1;

static mvad_path detect(void) {
#if MVAD_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return MVAD_PATH_AVX2;
#endif
    return MVAD_PATH_SCALAR;
}

mvad_path mvad_kernel_path(void) {
    if (forced >= 0) return (mvad_path)forced;
    if (detected < 0) detected = (int)detect();
    return (mvad_path)detected;
}

mvad_path mvad_force_kernel_path(mvad_path path) {
    mvad_path previous = mvad_kernel_path();
    if (path == MVAD_PATH_SCALAR || path == (mvad_path)detected) forced = (int)path;
    return previous;
}

void mvad_exp(float *dst, const float *src, size_t count) {
#if MVAD_X86
    if (mvad_kernel_path() == MVAD_PATH_AVX2) { exp_avx2_loop(dst, src, count); return; }
#endif
    exp_scalar_loop(dst, src, count);
}

void mvad_softmax_rows(float *data, size_t rows, size_t cols, float scale) {
#if MVAD_X86
    if (mvad_kernel_path() == MVAD_PATH_AVX2) {
        for (size_t r = 0; r < rows; r++) softmax_row_avx2(data + r * cols, cols, scale);
        return;
    }
#endif
    for (size_t r = 0; r < rows; r++) softmax_row_scalar(data + r * cols, cols, scale);
}

void mvad_silu(float *data, size_t count) {
#if MVAD_X86
    if (mvad_kernel_path() == MVAD_PATH_AVX2) { silu_avx2(data, count); return; }
#endif
    silu_scalar(data, count);
}
