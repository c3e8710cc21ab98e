// AArch64 paths of the int8 matrix product: plain NEON (vmull_s8 products widened pairwise
// into int32 by vpadalq_s16) and NEON dot product (vdotq_s32, FEAT_DotProd). The dot-product
// functions carry their own target attribute, so the file builds with default flags.

#include "gemm_s8_internal.h"

#if defined(__aarch64__)
#include <arm_neon.h>

// GCC's arm_neon.h declares vdotq_s32 under armv8.2-a+dotprod, and a caller must enable at
// least what an always-inline callee does.
#if defined(__clang__)
#define DOTPROD __attribute__((target("dotprod")))
#else
#define DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

// Both paths read A as int8 [group][row][4], zero-padded to mr rows and whole groups.
static void pack_a_rows(int8_t *out, size_t mr, const int8_t *a, size_t lda, size_t rows,
                        size_t k) {
    s8_pack_a_bytes((uint8_t *)out, mr, a, lda, rows, k, 0, 0);
}

// The 4 activation bytes of one row and group, repeated in all four 32-bit lanes.
static inline int8x16_t broadcast_group(const int8_t *a) {
    return vreinterpretq_s8_s32(vdupq_n_s32(s8_load_i32(a)));
}

// ---- NEON: 2 rows x 16 columns ------------------------------------------------------------

enum { NEON_MR = 2 };

static void pack_a_neon(void *scratch, const int8_t *a, size_t lda, size_t rows, size_t k) {
    pack_a_rows(scratch, NEON_MR, a, lda, rows, k);
}

// Register b[v] holds columns 4v ..< 4v + 4 x 4 k-values. vmull_s8 multiplies its low half
// (columns 4v, 4v + 1) and vmull_high_s8 its high half; each int16 product fits, and
// vpadalq_s16 adds neighbouring pairs into int32, leaving two partial sums per column.
static void tile_neon(const void *scratch, size_t groups, const int8_t *b, const int8_t *sums,
                      size_t panel_bytes, size_t panels, int32_t *out) {
    (void)sums;
    (void)panel_bytes;
    (void)panels;
    const int8_t *a = scratch;
    int32x4_t lo[NEON_MR][4], hi[NEON_MR][4];
    S8_UNROLL
    for (int i = 0; i < NEON_MR; i++) {
        S8_UNROLL
        for (int v = 0; v < 4; v++) lo[i][v] = hi[i][v] = vdupq_n_s32(0);
    }

    for (size_t g = 0; g < groups; g++, b += S8_GROUP_BYTES, a += NEON_MR * S8_GROUP_K) {
        int8x16_t bv[4] = {vld1q_s8(b), vld1q_s8(b + 16), vld1q_s8(b + 32), vld1q_s8(b + 48)};
        S8_UNROLL
        for (int i = 0; i < NEON_MR; i++) {
            int8x16_t av = broadcast_group(a + i * S8_GROUP_K);
            S8_UNROLL
            for (int v = 0; v < 4; v++) {
                lo[i][v] = vpadalq_s16(lo[i][v], vmull_s8(vget_low_s8(bv[v]), vget_low_s8(av)));
                hi[i][v] = vpadalq_s16(hi[i][v], vmull_high_s8(bv[v], av));
            }
        }
    }

    S8_UNROLL
    for (int i = 0; i < NEON_MR; i++) {
        S8_UNROLL
        for (int v = 0; v < 4; v++) {
            vst1q_s32(out + i * S8_PANEL_ROWS + 4 * v, vpaddq_s32(lo[i][v], hi[i][v]));
        }
    }
}

const s8_tile_path s8_path_neon = {NEON_MR, 1, 1, pack_a_neon, tile_neon};

// ---- NEON dot product: 4 rows x 16 columns ------------------------------------------------

enum { SDOT_MR = 4 };

static void pack_a_sdot(void *scratch, const int8_t *a, size_t lda, size_t rows, size_t k) {
    pack_a_rows(scratch, SDOT_MR, a, lda, rows, k);
}

// Lane j of vdotq_s32(acc, b[v], a) adds column 4v + j's 4 products: one column per lane.
DOTPROD static void tile_sdot(const void *scratch, size_t groups, const int8_t *b,
                              const int8_t *sums, size_t panel_bytes, size_t panels,
                              int32_t *out) {
    (void)sums;
    (void)panel_bytes;
    (void)panels;
    const int8_t *a = scratch;
    int32x4_t acc[SDOT_MR][4];
    S8_UNROLL
    for (int i = 0; i < SDOT_MR; i++) {
        S8_UNROLL
        for (int v = 0; v < 4; v++) acc[i][v] = vdupq_n_s32(0);
    }

    for (size_t g = 0; g < groups; g++, b += S8_GROUP_BYTES, a += SDOT_MR * S8_GROUP_K) {
        int8x16_t bv[4] = {vld1q_s8(b), vld1q_s8(b + 16), vld1q_s8(b + 32), vld1q_s8(b + 48)};
        S8_UNROLL
        for (int i = 0; i < SDOT_MR; i++) {
            int8x16_t av = broadcast_group(a + i * S8_GROUP_K);
            S8_UNROLL
            for (int v = 0; v < 4; v++) acc[i][v] = vdotq_s32(acc[i][v], bv[v], av);
        }
    }

    S8_UNROLL
    for (int i = 0; i < SDOT_MR; i++) {
        S8_UNROLL
        for (int v = 0; v < 4; v++) vst1q_s32(out + i * S8_PANEL_ROWS + 4 * v, acc[i][v]);
    }
}

const s8_tile_path s8_path_neon_sdot = {SDOT_MR, 1, 1, pack_a_sdot, tile_sdot};

// ---- peak rates ---------------------------------------------------------------------------

// Register-only loops of independent accumulators. The empty asm makes the weights opaque on
// every iteration so the compiler cannot hoist the multiplies out of the loop.
enum { PEAK_CHAINS = 12, PEAK_INNER = 1 << 16 };

double s8_peak_gops_neon(double seconds) {
    int32x4_t acc[PEAK_CHAINS];
    int8x16_t a = vdupq_n_s8(3), b = vdupq_n_s8(-5);
    S8_UNROLL
    for (int j = 0; j < PEAK_CHAINS; j++) acc[j] = vdupq_n_s32(j);  // distinct chains
    double start = s8_now_seconds(), elapsed = 0, rounds = 0;
    do {
        for (int it = 0; it < PEAK_INNER; it++) {
            __asm__("" : "+w"(b));
            S8_UNROLL
            for (int j = 0; j < PEAK_CHAINS; j++) {
                acc[j] = vpadalq_s16(acc[j], vmull_s8(vget_low_s8(a), vget_low_s8(b)));
            }
        }
        rounds += 1;
        elapsed = s8_now_seconds() - start;
    } while (elapsed < seconds);
    volatile int sink = 0;
    S8_UNROLL
    for (int j = 0; j < PEAK_CHAINS; j++) sink += vaddvq_s32(acc[j]);
    double macs = rounds * PEAK_INNER * PEAK_CHAINS * 8.0;  // 8 products per vmull_s8
    return 2 * macs / elapsed * 1e-9;
}

DOTPROD double s8_peak_gops_neon_sdot(double seconds) {
    int32x4_t acc[PEAK_CHAINS];
    int8x16_t a = vdupq_n_s8(3), b = vdupq_n_s8(-5);
    S8_UNROLL
    for (int j = 0; j < PEAK_CHAINS; j++) acc[j] = vdupq_n_s32(j);  // distinct chains
    double start = s8_now_seconds(), elapsed = 0, rounds = 0;
    do {
        for (int it = 0; it < PEAK_INNER; it++) {
            __asm__("" : "+w"(b));
            S8_UNROLL
            for (int j = 0; j < PEAK_CHAINS; j++) acc[j] = vdotq_s32(acc[j], a, b);
        }
        rounds += 1;
        elapsed = s8_now_seconds() - start;
    } while (elapsed < seconds);
    volatile int sink = 0;
    S8_UNROLL
    for (int j = 0; j < PEAK_CHAINS; j++) sink += vaddvq_s32(acc[j]);
    double macs = rounds * PEAK_INNER * PEAK_CHAINS * 16.0;  // 16 products per sdot
    return 2 * macs / elapsed * 1e-9;
}

#endif
