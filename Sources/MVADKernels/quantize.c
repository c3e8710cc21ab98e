// Float <-> int8 steps around mvad_gemm_s8 (see mvad_quant.h). Every loop body below is
// written once as plain C over independent elements; the compiler vectorises it for the
// baseline target and again, through the wrappers, for AVX2 and AVX-512 (NEON is baseline on
// AArch64). Only exact operations appear (compares, selects, one rounding per multiply or
// add, -ffp-contract=off), so every build gives the bits of the scalar definition. The one
// hand-written loop, the channels-last transpose for AVX2, only moves and compares values.

#include "mvad_quant.h"
#include "mvad_kernels.h"
#include "transpose_x86.h"

#include <string.h>

#define INLINE static inline __attribute__((always_inline))
#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))
#define AVX512 __attribute__((target("avx2,avx512f,avx512bw,avx512vl")))
#endif

/// Columns per tile of the transposing loops: 64 floats or int32 = 4 cache lines a row.
#define TILE_COLS 64
/// Rows per tile of the transposing loops.
#define TILE_ROWS 32
/// Independent maxima kept by mvad_absmax, so the reduction vectorises.
#define MAX_LANES 16

// ---- the scalar definitions ---------------------------------------------------------------

/// |x| as a select (no libm call); -0 becomes +0.
INLINE float magnitude(float x) { return x < 0 ? -x : (x > 0 ? x : 0.0f); }

/// m if a is NaN or not larger, else a: NaN never becomes a maximum.
INLINE float larger(float m, float a) { return a > m ? a : m; }

/// Round half away from zero of value * inverse, clamped to [-127, 127], NaN to 0; adding
/// 1.5 * 2^23 rounds to nearest even (floats there are spaced by 1), and a tie that went
/// towards zero is moved one step away. The result is the low byte of the biased float.
INLINE int8_t quantize_one(float value, float inverse) {
    const float magic = 12582912.0f;
    float scaled = value * inverse;
    float high = scaled > 127.0f ? 127.0f : scaled;
    float clamped = high < -127.0f ? -127.0f : high;
    float v = clamped == clamped ? clamped : 0.0f;
    float biased = v + magic;
    float remainder = v - (biased - magic);
    float step = (remainder == 0.5f && v > 0) ? 1.0f : ((remainder == -0.5f && v < 0) ? -1.0f : 0.0f);
    float result = biased + step;
    uint32_t bits;
    memcpy(&bits, &result, sizeof bits);
    return (int8_t)(uint8_t)bits;
}

INLINE float dequantize_one(int32_t acc, float row_scale, float col_scale, float bias) {
    float product = (float)acc * row_scale;
    float scaled = product * col_scale;
    return scaled + bias;
}

// ---- loop bodies, compiled once per target ------------------------------------------------

INLINE float absmax_body(const float *restrict x, size_t count) {
    float lanes[MAX_LANES] = {0};
    size_t full = count / MAX_LANES * MAX_LANES;
    for (size_t i = 0; i < full; i += MAX_LANES) {
        for (size_t l = 0; l < MAX_LANES; l++) lanes[l] = larger(lanes[l], magnitude(x[i + l]));
    }
    float m = 0;
    for (size_t i = full; i < count; i++) m = larger(m, magnitude(x[i]));
    for (size_t l = 0; l < MAX_LANES; l++) m = larger(m, lanes[l]);
    return m;
}

INLINE void quantize_row_body(const float *restrict x, size_t count, float inverse,
                              int8_t *restrict q) {
    for (size_t i = 0; i < count; i++) q[i] = quantize_one(x[i], inverse);
}

INLINE void dequantize_rows_body(const int32_t *restrict acc, size_t rows, size_t n,
                                 size_t lda, const float *restrict row_scales,
                                 const float *restrict col_scales, const float *restrict bias,
                                 float *restrict y, size_t ldy) {
    for (size_t i = 0; i < rows; i++) {
        const int32_t *restrict a = acc + i * lda;
        float *restrict out = y + i * ldy;
        float rs = row_scales[i];
        for (size_t j = 0; j < n; j++) out[j] = dequantize_one(a[j], rs, col_scales[j], bias[j]);
    }
}

/// Dequantises a tile of rows (contiguous, vectorised) into `staging`, then copies its
/// columns out as runs of the channel planes.
INLINE void dequantize_columns_body(const int32_t *restrict acc, size_t rows, size_t n,
                                    size_t lda, const float *restrict row_scales,
                                    const float *restrict col_scales,
                                    const float *restrict bias, float *restrict out,
                                    size_t ldo) {
    float staging[TILE_ROWS * TILE_COLS];
    for (size_t i0 = 0; i0 < rows; i0 += TILE_ROWS) {
        size_t tr = rows - i0 < TILE_ROWS ? rows - i0 : TILE_ROWS;
        for (size_t j0 = 0; j0 < n; j0 += TILE_COLS) {
            size_t tc = n - j0 < TILE_COLS ? n - j0 : TILE_COLS;
            for (size_t i = 0; i < tr; i++) {
                const int32_t *restrict a = acc + (i0 + i) * lda + j0;
                float *restrict dst = staging + i * TILE_COLS;
                float rs = row_scales[i0 + i];
                for (size_t j = 0; j < tc; j++) {
                    dst[j] = dequantize_one(a[j], rs, col_scales[j0 + j], bias[j0 + j]);
                }
            }
            for (size_t j = 0; j < tc; j++) {
                float *restrict dst = out + (j0 + j) * ldo + i0;
                for (size_t i = 0; i < tr; i++) dst[i] = staging[i * TILE_COLS + j];
            }
        }
    }
}

// ---- per-target builds and dispatch -------------------------------------------------------

#define BUILD(SUFFIX, ATTRIBUTES)                                                            \
    ATTRIBUTES static float absmax_##SUFFIX(const float *x, size_t count) {                  \
        return absmax_body(x, count);                                                        \
    }                                                                                        \
    ATTRIBUTES static void quantize_row_##SUFFIX(const float *x, size_t count, float inverse, \
                                                 int8_t *q) {                                \
        quantize_row_body(x, count, inverse, q);                                             \
    }                                                                                        \
    ATTRIBUTES static void dequantize_rows_##SUFFIX(                                         \
        const int32_t *acc, size_t rows, size_t n, size_t lda, const float *row_scales,      \
        const float *col_scales, const float *bias, float *y, size_t ldy) {                  \
        dequantize_rows_body(acc, rows, n, lda, row_scales, col_scales, bias, y, ldy);       \
    }                                                                                        \
    ATTRIBUTES static void dequantize_columns_##SUFFIX(                                      \
        const int32_t *acc, size_t rows, size_t n, size_t lda, const float *row_scales,      \
        const float *col_scales, const float *bias, float *out, size_t ldo) {                \
        dequantize_columns_body(acc, rows, n, lda, row_scales, col_scales, bias, out, ldo);  \
    }

BUILD(base, )
#if defined(__x86_64__)
BUILD(avx2, AVX2)
BUILD(avx512, AVX512)
// The build of NAME for the kernel path: NAME_base, NAME_avx2 or NAME_avx512.
#define PICK(NAME)                                                                           \
    (mvad_kernel_path() == MVAD_PATH_AVX512 ? NAME##_avx512                                  \
     : mvad_kernel_path() == MVAD_PATH_AVX2 ? NAME##_avx2 : NAME##_base)
#else
#define PICK(NAME) NAME##_base
#endif

float mvad_absmax(const float *x, size_t count) { return PICK(absmax)(x, count); }

void mvad_quantize_row(const float *x, size_t count, float inverse, int8_t *q) {
    PICK(quantize_row)(x, count, inverse, q);
}

void mvad_dequantize_rows(const int32_t *acc, size_t rows, size_t n, size_t lda,
                          const float *row_scales, const float *col_scales, const float *bias,
                          float *y, size_t ldy) {
    PICK(dequantize_rows)(acc, rows, n, lda, row_scales, col_scales, bias, y, ldy);
}

void mvad_dequantize_columns(const int32_t *acc, size_t rows, size_t n, size_t lda,
                             const float *row_scales, const float *col_scales,
                             const float *bias, float *out, size_t ldo) {
    PICK(dequantize_columns)(acc, rows, n, lda, row_scales, col_scales, bias, out, ldo);
}

// ---- convolution patches from channels-last input -----------------------------------------

/// Transposes a [C, HW] image through 32 x 32 tiles (both sides stay in a few cache lines),
/// then takes each position's largest magnitude over its now contiguous channels.
INLINE void channels_last_body(const float *restrict x, size_t channels, size_t plane,
                               float *restrict out, float *restrict maxima) {
    const size_t tile = 32;
    for (size_t c0 = 0; c0 < channels; c0 += tile) {
        size_t c1 = c0 + tile < channels ? c0 + tile : channels;
        for (size_t i0 = 0; i0 < plane; i0 += tile) {
            size_t i1 = i0 + tile < plane ? i0 + tile : plane;
            for (size_t i = i0; i < i1; i++) {
                for (size_t c = c0; c < c1; c++) out[i * channels + c] = x[c * plane + i];
            }
        }
    }
    for (size_t i = 0; i < plane; i++) maxima[i] = absmax_body(out + i * channels, channels);
}

/// (scale, inverse) of a patch: Int8Quantization.scales of MVADEngine, in C.
INLINE int patch_scales(float maximum, float *scale, float *inverse) {
    if (!(maximum - maximum == 0.0f)) return 0;   // infinite (NaN never reaches a maximum)
    if (maximum == 0.0f) {
        *scale = 1.0f;
        *inverse = 1.0f;
    } else {
        *scale = maximum / 127.0f;
        *inverse = 127.0f / maximum;
    }
    return 1;
}

INLINE size_t quantize_patches_body(const float *restrict xt, const float *restrict maxima,
                                    mvad_conv_shape s, size_t first, size_t count,
                                    int8_t *restrict q, size_t ldq, float *restrict scales) {
    size_t bad = 0;
    const long height = (long)s.height, width = (long)s.width;
    for (size_t p = 0; p < count; p++) {
        long oy = (long)((first + p) / s.out_width), ox = (long)((first + p) % s.out_width);
        long y0 = oy * (long)s.stride - s.pad_top, x0 = ox * (long)s.stride - s.pad_left;
        float maximum = 0.0f;
        for (long ky = 0; ky < (long)s.kernel_height; ky++) {
            long iy = y0 + ky;
            if (iy < 0 || iy >= height) continue;
            for (long kx = 0; kx < (long)s.kernel_width; kx++) {
                long ix = x0 + kx;
                if (ix >= 0 && ix < width) maximum = larger(maximum, maxima[iy * width + ix]);
            }
        }
        float inverse;
        if (!patch_scales(maximum, &scales[p], &inverse)) {
            bad++;
            continue;
        }
        int8_t *restrict row = q + p * ldq;
        for (long ky = 0; ky < (long)s.kernel_height; ky++) {
            long iy = y0 + ky;
            for (long kx = 0; kx < (long)s.kernel_width; kx++) {
                long ix = x0 + kx;
                int8_t *restrict dst = row + (size_t)(ky * (long)s.kernel_width + kx) * s.channels;
                if (iy < 0 || iy >= height || ix < 0 || ix >= width) {
                    memset(dst, 0, s.channels);
                } else {
                    quantize_row_body(xt + (size_t)(iy * width + ix) * s.channels, s.channels,
                                      inverse, dst);
                }
            }
        }
    }
    return bad;
}

static void channels_last_base(const float *x, size_t channels, size_t plane, float *out,
                               float *maxima) {
    channels_last_body(x, channels, plane, out, maxima);
}

static size_t quantize_patches_base(const float *xt, const float *maxima, mvad_conv_shape s,
                                    size_t first, size_t count, int8_t *q, size_t ldq,
                                    float *scales) {
    return quantize_patches_body(xt, maxima, s, first, count, q, ldq, scales);
}

#if defined(__x86_64__)
/// channels_last_body with 8 x 8 register transposes, eight positions at a time, their
/// maxima kept in one register. |x| clears the sign bit (-0 becomes +0, as magnitude()
/// gives); _mm256_max_ps(a, m) returns m when a is NaN, so NaN is ignored as larger() does.
/// Maxima are exact, so their order does not matter: the bits are those of the body.
AVX2 static void channels_last_avx2(const float *x, size_t channels, size_t plane, float *out,
                                    float *maxima) {
    const __m256 no_sign = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    size_t full_c = channels / 8 * 8, full_i = plane / 8 * 8;
    for (size_t i0 = 0; i0 < full_i; i0 += 8) {
        __m256 m = _mm256_setzero_ps();
        for (size_t c0 = 0; c0 < full_c; c0 += 8) {
            __m256 r[8];
            for (int k = 0; k < 8; k++) {
                r[k] = _mm256_loadu_ps(x + (c0 + (size_t)k) * plane + i0);
                m = _mm256_max_ps(_mm256_and_ps(r[k], no_sign), m);
            }
            mvad_transpose8x8(r);
            for (int k = 0; k < 8; k++) _mm256_storeu_ps(out + (i0 + (size_t)k) * channels + c0, r[k]);
        }
        float lane[8];
        _mm256_storeu_ps(lane, m);
        for (size_t k = 0; k < 8; k++) {
            for (size_t c = full_c; c < channels; c++) {
                float v = x[c * plane + i0 + k];
                out[(i0 + k) * channels + c] = v;
                lane[k] = larger(lane[k], magnitude(v));
            }
            maxima[i0 + k] = lane[k];
        }
    }
    for (size_t i = full_i; i < plane; i++) {
        float m = 0;
        for (size_t c = 0; c < channels; c++) {
            float v = x[c * plane + i];
            out[i * channels + c] = v;
            m = larger(m, magnitude(v));
        }
        maxima[i] = m;
    }
}

AVX2 static size_t quantize_patches_avx2(const float *xt, const float *maxima,
                                         mvad_conv_shape s, size_t first, size_t count,
                                         int8_t *q, size_t ldq, float *scales) {
    return quantize_patches_body(xt, maxima, s, first, count, q, ldq, scales);
}

AVX512 static size_t quantize_patches_avx512(const float *xt, const float *maxima,
                                             mvad_conv_shape s, size_t first, size_t count,
                                             int8_t *q, size_t ldq, float *scales) {
    return quantize_patches_body(xt, maxima, s, first, count, q, ldq, scales);
}
#define channels_last_avx512 channels_last_avx2
#endif

void mvad_channels_last(const float *x, size_t channels, size_t plane, float *out,
                        float *maxima) {
    PICK(channels_last)(x, channels, plane, out, maxima);
}

size_t mvad_quantize_patches(const float *xt, const float *maxima, mvad_conv_shape shape,
                             size_t first, size_t count, int8_t *q, size_t ldq,
                             float *scales) {
    return PICK(quantize_patches)(xt, maxima, shape, first, count, q, ldq, scales);
}
