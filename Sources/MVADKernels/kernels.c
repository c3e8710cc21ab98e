// Element-wise SIMD kernels (exp, softmax, SiLU, GELU/GEGLU) with runtime CPU dispatch.
//
// exp(x): x = n ln2 + r with |r| <= ln2 / 2, e^r by a degree-6 polynomial (the classic
// single-precision minimax coefficients), then scaled by 2^n through the exponent bits. All
// arithmetic is written as explicit fused multiply-adds so that the scalar and vector paths
// give identical bits.

#include "mvad_kernels.h"
#include "transpose_x86.h"

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

// erf(a) for 0 <= a < 4 as eight polynomials of degree 7, one per half-unit interval i
// (a in [i / 2, i / 2 + 1/2)), each in u = a - (i / 2 + 1/4). Fitted by least squares on
// Chebyshev nodes against Python's math.erf (tools/reference/fit_erf.py); the fit is within
// 1.2e-9 of erf, below float's resolution near 1. From 4 on, erf is 1 in float.
// ERF_COEF[j][i] is the coefficient of u^j for interval i.
#define ERF_INTERVALS 8
#define ERF_DEGREE 7
#define ERF_ONE_FROM 4.0f
#define SQRT1_2 0.70710678118654752f
static const float ERF_COEF[ERF_DEGREE + 1][ERF_INTERVALS] __attribute__((aligned(32))) = {
    {2.763263890e-01f, 7.111556334e-01f, 9.229001289e-01f, 9.866716711e-01f,
     9.985372833e-01f, 9.998993781e-01f, 9.999956972e-01f, 9.999998863e-01f},
    {1.060014128e+00f, 6.429310713e-01f, 2.365211220e-01f, 5.277499545e-02f,
     7.142319215e-03f, 5.862772866e-04f, 2.918901172e-05f, 8.814288510e-07f},
    {-2.650029553e-01f, -4.821981600e-01f, -2.956517445e-01f, -9.235620183e-02f,
     -1.607015690e-02f, -1.612267421e-03f, -9.486933320e-05f, -3.306070940e-06f},
    {-3.091704952e-01f, 2.678835053e-02f, 1.675358903e-01f, 9.015738693e-02f,
     2.172451249e-02f, 2.760380299e-03f, 1.958126299e-04f, 7.970327810e-06f},
    {1.269345625e-01f, 1.506756288e-01f, -6.132034984e-03f, -4.810552455e-02f,
     -1.908825631e-02f, -3.257710447e-03f, -2.861694293e-04f, -1.378540906e-05f},
    {8.003626588e-02f, -5.321708910e-02f, -4.718655398e-02f, 6.618473107e-03f,
     1.066005948e-02f, 2.756290985e-03f, 3.136288468e-04f, 1.833005908e-05f},
    {-3.934079509e-02f, -2.658282998e-02f, 2.059773656e-02f, 9.049494666e-03f,
     -2.779565164e-03f, -1.667850578e-03f, -2.737584383e-04f, -2.069242211e-05f},
    {-1.580337053e-02f, 1.788549519e-02f, 3.745110611e-03f, -5.933099288e-03f,
     -7.215269426e-04f, 6.358154765e-04f, 1.735965527e-04f, 1.714472560e-05f},
};

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

// erf by the interval polynomials. NaN picks the last interval (fminf drops it) and stays NaN
// through the polynomial, as the vector path's min/compare order gives too.
static inline float erf_scalar(float x) {
    float a = fabsf(x);
    int i = (int)fminf(a * 2.0f, (float)(ERF_INTERVALS - 1));
    float u = a - (0.5f * (float)i + 0.25f);
    float p = ERF_COEF[ERF_DEGREE][i];
    for (int j = ERF_DEGREE - 1; j >= 0; j--) p = fmaf(p, u, ERF_COEF[j][i]);
    if (a >= ERF_ONE_FROM) p = 1.0f;
    return copysignf(p, x);
}

// GELU, exact form: x / 2 (1 + erf(x / sqrt 2)).
static inline float gelu_scalar(float x) {
    return 0.5f * x * (1.0f + erf_scalar(x * SQRT1_2));
}

static void gelu_scalar_loop(float *dst, const float *src, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] = gelu_scalar(src[i]);
}

static void geglu_scalar(float *dst, const float *value, const float *gate, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] = value[i] * gelu_scalar(gate[i]);
}

// Rows and columns at a time of the plain transpose: 32 x 32 floats stay in L1.
#define TRANSPOSE_TILE 32

static void transpose_scalar(const float *src, size_t lds, size_t rows, size_t cols,
                             float *dst, size_t ldd) {
    for (size_t i0 = 0; i0 < rows; i0 += TRANSPOSE_TILE) {
        size_t i1 = i0 + TRANSPOSE_TILE < rows ? i0 + TRANSPOSE_TILE : rows;
        for (size_t j0 = 0; j0 < cols; j0 += TRANSPOSE_TILE) {
            size_t j1 = j0 + TRANSPOSE_TILE < cols ? j0 + TRANSPOSE_TILE : cols;
            for (size_t i = i0; i < i1; i++) {
                for (size_t j = j0; j < j1; j++) dst[j * ldd + i] = src[i * lds + j];
            }
        }
    }
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

// Each lane fetches its interval's coefficients from the eight-wide rows of ERF_COEF.
AVX2 static inline __m256 gelu_avx2(__m256 x) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_mul_ps(x, _mm256_set1_ps(SQRT1_2));
    __m256 a = _mm256_andnot_ps(sign_bit, t);
    // min(a2, 7) returns 7 for NaN (second operand), as fminf does in the scalar path
    __m256 scaled = _mm256_min_ps(_mm256_mul_ps(a, _mm256_set1_ps(2.0f)),
                                  _mm256_set1_ps((float)(ERF_INTERVALS - 1)));
    __m256i i = _mm256_cvttps_epi32(scaled);
    __m256 center = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_set1_ps(0.5f),
                                    _mm256_set1_ps(0.25f));
    __m256 u = _mm256_sub_ps(a, center);
    __m256 p = _mm256_permutevar8x32_ps(_mm256_load_ps(ERF_COEF[ERF_DEGREE]), i);
    for (int j = ERF_DEGREE - 1; j >= 0; j--) {
        p = _mm256_fmadd_ps(p, u, _mm256_permutevar8x32_ps(_mm256_load_ps(ERF_COEF[j]), i));
    }
    __m256 saturated = _mm256_cmp_ps(a, _mm256_set1_ps(ERF_ONE_FROM), _CMP_GE_OQ);
    p = _mm256_blendv_ps(p, _mm256_set1_ps(1.0f), saturated);
    __m256 erf = _mm256_or_ps(_mm256_andnot_ps(sign_bit, p), _mm256_and_ps(sign_bit, t));
    __m256 half_x = _mm256_mul_ps(_mm256_set1_ps(0.5f), x);
    return _mm256_mul_ps(half_x, _mm256_add_ps(_mm256_set1_ps(1.0f), erf));
}

AVX2 static void gelu_avx2_loop(float *dst, const float *src, size_t count) {
    size_t i = 0;
    for (; i + LANES <= count; i += LANES) _mm256_storeu_ps(dst + i, gelu_avx2(_mm256_loadu_ps(src + i)));
    for (; i < count; i++) dst[i] = gelu_scalar(src[i]);
}

AVX2 static void geglu_avx2(float *dst, const float *value, const float *gate, size_t count) {
    size_t i = 0;
    for (; i + LANES <= count; i += LANES) {
        __m256 g = gelu_avx2(_mm256_loadu_ps(gate + i));
        _mm256_storeu_ps(dst + i, _mm256_mul_ps(_mm256_loadu_ps(value + i), g));
    }
    for (; i < count; i++) dst[i] = value[i] * gelu_scalar(gate[i]);
}

// Whole 8 x 8 blocks through registers; the ragged right and bottom edges by the scalar loop.
AVX2 static void transpose_avx2(const float *src, size_t lds, size_t rows, size_t cols,
                                float *dst, size_t ldd) {
    size_t full_rows = rows / 8 * 8, full_cols = cols / 8 * 8;
    for (size_t i0 = 0; i0 < full_rows; i0 += 8) {
        for (size_t j0 = 0; j0 < full_cols; j0 += 8) {
            __m256 r[8];
            for (size_t k = 0; k < 8; k++) r[k] = _mm256_loadu_ps(src + (i0 + k) * lds + j0);
            mvad_transpose8x8(r);
            for (size_t k = 0; k < 8; k++) _mm256_storeu_ps(dst + (j0 + k) * ldd + i0, r[k]);
        }
    }
    if (full_cols < cols) {
        transpose_scalar(src + full_cols, lds, full_rows, cols - full_cols, dst + full_cols * ldd, ldd);
    }
    if (full_rows < rows) {
        transpose_scalar(src + full_rows * lds, lds, rows - full_rows, cols, dst + full_rows, ldd);
    }
}
#endif

// ---- dispatch -----------------------------------------------------------------------------

static int detected = -1;
static int forced = -1;

// The AVX2 kernels below serve the AVX-512 path too.
static inline int x86_wide(void) {
    mvad_path path = mvad_kernel_path();
    return path == MVAD_PATH_AVX2 || path == MVAD_PATH_AVX512;
}

#if MVAD_X86
// The OS must save the AVX-512 state (opmask, upper ZMM halves, ZMM16-31) as well as AVX's.
static int os_saves_avx512(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xE6) == 0xE6;
}
#endif

static mvad_path detect(void) {
#if MVAD_X86
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return MVAD_PATH_SCALAR;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && os_saves_avx512()) {
        return MVAD_PATH_AVX512;
    }
    return MVAD_PATH_AVX2;
#else
    return MVAD_PATH_SCALAR;
#endif
}

static mvad_path detected_path(void) {
    if (detected < 0) detected = (int)detect();
    return (mvad_path)detected;
}

mvad_path mvad_kernel_path(void) {
    return forced >= 0 ? (mvad_path)forced : detected_path();
}

int mvad_kernel_path_available(mvad_path path) {
    mvad_path best = detected_path();
    switch (path) {
    case MVAD_PATH_SCALAR: return 1;
    case MVAD_PATH_AVX2: return best == MVAD_PATH_AVX2 || best == MVAD_PATH_AVX512;
    case MVAD_PATH_AVX512: return best == MVAD_PATH_AVX512;
    case MVAD_PATH_NEON: return best == MVAD_PATH_NEON;
    }
    return 0;
}

mvad_path mvad_force_kernel_path(mvad_path path) {
    mvad_path previous = mvad_kernel_path();
    if (mvad_kernel_path_available(path)) forced = (int)path;
    return previous;
}

void mvad_exp(float *dst, const float *src, size_t count) {
#if MVAD_X86
    if (x86_wide()) { exp_avx2_loop(dst, src, count); return; }
#endif
    exp_scalar_loop(dst, src, count);
}

void mvad_softmax_rows(float *data, size_t rows, size_t cols, float scale) {
#if MVAD_X86
    if (x86_wide()) {
        for (size_t r = 0; r < rows; r++) softmax_row_avx2(data + r * cols, cols, scale);
        return;
    }
#endif
    for (size_t r = 0; r < rows; r++) softmax_row_scalar(data + r * cols, cols, scale);
}

void mvad_silu(float *data, size_t count) {
#if MVAD_X86
    if (x86_wide()) { silu_avx2(data, count); return; }
#endif
    silu_scalar(data, count);
}

void mvad_gelu(float *dst, const float *src, size_t count) {
#if MVAD_X86
    if (x86_wide()) { gelu_avx2_loop(dst, src, count); return; }
#endif
    gelu_scalar_loop(dst, src, count);
}

void mvad_geglu(float *dst, const float *value, const float *gate, size_t count) {
#if MVAD_X86
    if (x86_wide()) { geglu_avx2(dst, value, gate, count); return; }
#endif
    geglu_scalar(dst, value, gate, count);
}

void mvad_transpose(const float *src, size_t lds, size_t rows, size_t cols, float *dst,
                    size_t ldd) {
#if MVAD_X86
    if (x86_wide()) { transpose_avx2(src, lds, rows, cols, dst, ldd); return; }
#endif
    transpose_scalar(src, lds, rows, cols, dst, ldd);
}
