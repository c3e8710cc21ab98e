// Shared between the int8 matrix product's dispatcher (gemm_s8.c) and its per-CPU paths
// (gemm_s8_x86.c, gemm_s8_arm.c): the packed-layout geometry and the tile interface.
#ifndef MVAD_GEMM_S8_INTERNAL_H
#define MVAD_GEMM_S8_INTERNAL_H

#include "mvad_gemm.h"

#include <string.h>

// One packed group: 16 weight rows (output columns) x 4 k-values.
#define S8_PANEL_ROWS 16
#define S8_GROUP_K 4
#define S8_GROUP_BYTES 64

// Fully unrolls a short loop over accumulators so they live in registers (GCC and Clang).
#define S8_UNROLL _Pragma("GCC unroll 16")

static inline size_t s8_groups(size_t k) { return (k + S8_GROUP_K - 1) / S8_GROUP_K; }
static inline size_t s8_panels(size_t n) { return (n + S8_PANEL_ROWS - 1) / S8_PANEL_ROWS; }

// Bytes of one panel: its 16 int32 row sums, then one 64-byte group per 4 k-values.
static inline size_t s8_panel_bytes(size_t k) { return S8_GROUP_BYTES * (s8_groups(k) + 1); }

static inline int32_t s8_load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void s8_store_i32(void *p, int32_t v) { memcpy(p, &v, sizeof v); }

// Copies `rows` rows of A into out[group][row][4] (mr rows per group), each 4-byte group
// xor-ed with `flip`; rows past `rows` and k-values past k get the byte `pad`.
static inline void s8_pack_a_bytes(uint8_t *out, size_t mr, const int8_t *a, size_t lda,
                                   size_t rows, size_t k, uint8_t pad, uint32_t flip) {
    size_t groups = s8_groups(k), full = k / S8_GROUP_K;
    memset(out, pad, groups * mr * S8_GROUP_K);
    for (size_t i = 0; i < rows; i++) {
        const int8_t *row = a + i * lda;
        for (size_t g = 0; g < full; g++) {
            int32_t v = s8_load_i32(row + S8_GROUP_K * g) ^ (int32_t)flip;
            s8_store_i32(out + (g * mr + i) * S8_GROUP_K, v);
        }
        for (size_t q = full * S8_GROUP_K; q < k; q++) {
            out[(full * mr + i) * S8_GROUP_K + q % S8_GROUP_K] = (uint8_t)row[q] ^ (uint8_t)flip;
        }
    }
}

// A vector path: it repacks `rows` (<= mr) rows of A, k values each, into its own scratch
// form (zero-padded to mr rows and to whole k-groups), then computes mr x (16 * panels) tiles
// of C from that scratch and `panels` (<= np) consecutive weight panels into
// out[mr][16 * np]. `b` is the first panel's group for the scratch's first k-value; `sums` is
// NULL or that panel's row sums, for paths that correct with them (once per product).
typedef struct {
    int mr;                  // rows of A per tile
    int np;                  // weight panels per tile
    size_t a_bytes_per_k;    // scratch bytes per row and k-value (1 for int8, 2 for int16)
    void (*pack_a)(void *scratch, const int8_t *a, size_t lda, size_t rows, size_t k);
    void (*tile)(const void *scratch, size_t groups, const int8_t *b, const int8_t *sums,
                 size_t panel_bytes, size_t panels, int32_t *out);
} s8_tile_path;

#if defined(__x86_64__)
extern const s8_tile_path s8_path_avx2;
extern const s8_tile_path s8_path_avx512vnni;
double s8_peak_gops_avx2(double seconds);
double s8_peak_gops_avx512vnni(double seconds);
#elif defined(__aarch64__)
extern const s8_tile_path s8_path_neon;
extern const s8_tile_path s8_path_neon_sdot;
double s8_peak_gops_neon(double seconds);
double s8_peak_gops_neon_sdot(double seconds);
#endif

// Seconds on a monotonic clock, for the peak measurements.
double s8_now_seconds(void);

#endif
