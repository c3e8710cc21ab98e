// The int8 matrix product C = A * B^T: weight packing, the scalar reference definition, the
// tile driver every vector path shares, and runtime CPU detection and dispatch.

#include "gemm_s8_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

// ---- packing ------------------------------------------------------------------------------

size_t mvad_pack_s8_weights_size(size_t n, size_t k) {
    return s8_panels(n) * s8_panel_bytes(k);
}

void mvad_pack_s8_weights(const int8_t *w, size_t n, size_t k, int8_t *packed) {
    size_t groups = s8_groups(k), panel_bytes = s8_panel_bytes(k);
    memset(packed, 0, mvad_pack_s8_weights_size(n, k));

    for (size_t row = 0; row < n; row++) {
        int8_t *panel = packed + (row / S8_PANEL_ROWS) * panel_bytes;
        size_t r = row % S8_PANEL_ROWS;
        int32_t sum = 0;
        for (size_t g = 0; g < groups; g++) {
            for (size_t q = 0; q < S8_GROUP_K && g * S8_GROUP_K + q < k; q++) {
                int8_t v = w[row * k + g * S8_GROUP_K + q];
                panel[S8_GROUP_BYTES * (g + 1) + S8_GROUP_K * r + q] = v;
                sum += v;
            }
        }
        memcpy(panel + sizeof(int32_t) * r, &sum, sizeof sum);
    }
}

// ---- scalar reference ---------------------------------------------------------------------

// The definition every other path reproduces: plain int32 sums read from the packed layout.
static void gemm_s8_scalar(size_t m, size_t n, size_t k, const int8_t *a, size_t lda,
                           const int8_t *b_packed, int32_t *c, size_t ldc) {
    size_t panel_bytes = s8_panel_bytes(k);
    for (size_t j = 0; j < n; j++) {
        const int8_t *groups = b_packed + (j / S8_PANEL_ROWS) * panel_bytes + S8_GROUP_BYTES;
        const int8_t *col = groups + S8_GROUP_K * (j % S8_PANEL_ROWS);
        for (size_t i = 0; i < m; i++) {
            const int8_t *row = a + i * lda;
            uint32_t sum = 0;  // wraps like the vector lanes; never does within the contract
            for (size_t q = 0; q < k; q++) {
                int8_t w = col[S8_GROUP_BYTES * (q / S8_GROUP_K) + q % S8_GROUP_K];
                sum += (uint32_t)((int32_t)row[q] * w);
            }
            c[i * ldc + j] = (int32_t)sum;
        }
    }
}

// ---- tile driver --------------------------------------------------------------------------

// The weights one pass over A streams against: sized to stay in the L2 cache (1 MB per core
// on Zen 5, 512 KB or more on common Arm cores) next to the rows of A being worked on.
enum { S8_L2_BLOCK_BYTES = 384 * 1024, S8_MIN_BLOCK_GROUPS = 128 };

// Stores the valid part of a tile into C, or adds it to C for the later blocks of k (int32
// addition wraps like the vector lanes, so the blocked sum is still exact).
static void store_tile(int32_t *c, size_t ldc, const int32_t *out, size_t tile_cols,
                       size_t rows, size_t cols, int accumulate) {
    for (size_t r = 0; r < rows; r++) {
        int32_t *dst = c + r * ldc;
        const int32_t *src = out + r * tile_cols;
        if (!accumulate) {
            memcpy(dst, src, cols * sizeof(int32_t));
        } else {
            for (size_t j = 0; j < cols; j++) {
                dst[j] = (int32_t)((uint32_t)dst[j] + (uint32_t)src[j]);
            }
        }
    }
}

// Runs a vector path over C in tiles of mr rows x (16 np) columns; partial tiles at the right
// and bottom edges are computed in full on zero padding and only their valid part is stored.
// The weights are cut into blocks of panels x k-groups that fit S8_L2_BLOCK_BYTES; each row
// tile of A is packed once per block and used against all of the block's panels.
// Returns 0 if the scratch allocation fails (the caller then falls back to scalar).
static int gemm_s8_tiled(const s8_tile_path *path, size_t m, size_t n, size_t k,
                         const int8_t *a, size_t lda, const int8_t *b_packed, int32_t *c,
                         size_t ldc) {
    size_t groups = s8_groups(k), panels = s8_panels(n), panel_bytes = s8_panel_bytes(k);
    size_t mr = (size_t)path->mr, np = (size_t)path->np, tile_cols = S8_PANEL_ROWS * np;

    size_t block_groups = S8_L2_BLOCK_BYTES / S8_GROUP_BYTES / panels;
    if (block_groups < S8_MIN_BLOCK_GROUPS) block_groups = S8_MIN_BLOCK_GROUPS;
    if (block_groups > groups) block_groups = groups;
    size_t block_panels = S8_L2_BLOCK_BYTES / S8_GROUP_BYTES / block_groups / np * np;
    if (block_panels < np) block_panels = np;

    size_t scratch_bytes = mr * block_groups * S8_GROUP_K * path->a_bytes_per_k;
    void *scratch = aligned_alloc(64, (scratch_bytes + 63) / 64 * 64);
    if (scratch == NULL) return 0;
    int32_t out[8 * 32] __attribute__((aligned(64)));  // mr <= 8, 16 np <= 32

    for (size_t p_start = 0; p_start < panels; p_start += block_panels) {
        size_t p_end = panels - p_start < block_panels ? panels : p_start + block_panels;
        for (size_t g_start = 0; g_start < groups; g_start += block_groups) {
            size_t block_g = groups - g_start < block_groups ? groups - g_start : block_groups;
            size_t k_start = S8_GROUP_K * g_start;
            size_t block_k = S8_GROUP_K * block_g;
            if (block_k > k - k_start) block_k = k - k_start;

            for (size_t i0 = 0; i0 < m; i0 += mr) {
                size_t rows = m - i0 < mr ? m - i0 : mr;
                path->pack_a(scratch, a + i0 * lda + k_start, lda, rows, block_k);

                for (size_t p0 = p_start; p0 < p_end; p0 += np) {
                    const int8_t *panel = b_packed + p0 * panel_bytes;
                    size_t tile_panels = p_end - p0 < np ? p_end - p0 : np;
                    path->tile(scratch, block_g, panel + S8_GROUP_BYTES * (g_start + 1),
                               g_start == 0 ? panel : NULL, panel_bytes, tile_panels, out);
                    size_t j0 = p0 * S8_PANEL_ROWS;
                    size_t cols = n - j0 < tile_cols ? n - j0 : tile_cols;
                    store_tile(c + i0 * ldc + j0, ldc, out, tile_cols, rows, cols, g_start > 0);
                }
            }
        }
    }
    free(scratch);
    return 1;
}

// ---- detection and dispatch ---------------------------------------------------------------

#if defined(__x86_64__)
// AVX-512 state (opmask, upper ZMM halves, ZMM16-31) and AVX state must be enabled by the OS.
static int x86_os_saves_avx512(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xE6) == 0xE6;
}
#endif

static int s8_detected = -1;
static int s8_forced = -1;

static mvad_s8_path detect_s8_path(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vnni") && x86_os_saves_avx512()) {
        return MVAD_S8_PATH_AVX512VNNI;
    }
    if (__builtin_cpu_supports("avx2")) return MVAD_S8_PATH_AVX2;
    return MVAD_S8_PATH_SCALAR;
#elif defined(__aarch64__) && defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) ? MVAD_S8_PATH_NEON_SDOT : MVAD_S8_PATH_NEON;
#elif defined(__aarch64__) && defined(__APPLE__)
    int dot = 0;
    size_t size = sizeof dot;
    if (sysctlbyname("hw.optional.arm.FEAT_DotProd", &dot, &size, NULL, 0) != 0) dot = 0;
    return dot ? MVAD_S8_PATH_NEON_SDOT : MVAD_S8_PATH_NEON;
#elif defined(__aarch64__)
    return MVAD_S8_PATH_NEON;
#else
    return MVAD_S8_PATH_SCALAR;
#endif
}

static mvad_s8_path detected_s8_path(void) {
    if (s8_detected < 0) s8_detected = (int)detect_s8_path();
    return (mvad_s8_path)s8_detected;
}

int mvad_gemm_s8_path_available(mvad_s8_path path) {
    mvad_s8_path best = detected_s8_path();
    switch (path) {
    case MVAD_S8_PATH_SCALAR: return 1;
    case MVAD_S8_PATH_AVX2: return best == MVAD_S8_PATH_AVX2 || best == MVAD_S8_PATH_AVX512VNNI;
    case MVAD_S8_PATH_AVX512VNNI: return best == MVAD_S8_PATH_AVX512VNNI;
    case MVAD_S8_PATH_NEON: return best == MVAD_S8_PATH_NEON || best == MVAD_S8_PATH_NEON_SDOT;
    case MVAD_S8_PATH_NEON_SDOT: return best == MVAD_S8_PATH_NEON_SDOT;
    }
    return 0;
}

mvad_s8_path mvad_gemm_s8_path(void) {
    return s8_forced >= 0 ? (mvad_s8_path)s8_forced : detected_s8_path();
}

mvad_s8_path mvad_force_gemm_s8_path(mvad_s8_path path) {
    mvad_s8_path previous = mvad_gemm_s8_path();
    if (mvad_gemm_s8_path_available(path)) s8_forced = (int)path;
    return previous;
}

const char *mvad_s8_path_name(mvad_s8_path path) {
    switch (path) {
    case MVAD_S8_PATH_SCALAR: return "scalar";
    case MVAD_S8_PATH_AVX2: return "avx2";
    case MVAD_S8_PATH_AVX512VNNI: return "avx512vnni";
    case MVAD_S8_PATH_NEON: return "neon";
    case MVAD_S8_PATH_NEON_SDOT: return "neon_sdot";
    }
    return "unknown";
}

static const s8_tile_path *tile_path(mvad_s8_path path) {
    switch (path) {
#if defined(__x86_64__)
    case MVAD_S8_PATH_AVX2: return &s8_path_avx2;
    case MVAD_S8_PATH_AVX512VNNI: return &s8_path_avx512vnni;
#elif defined(__aarch64__)
    case MVAD_S8_PATH_NEON: return &s8_path_neon;
    case MVAD_S8_PATH_NEON_SDOT: return &s8_path_neon_sdot;
#endif
    default: return NULL;
    }
}

/// Multiply-adds of every product so far (for the benchmark's throughput figure).
static _Atomic uint64_t multiply_adds;

uint64_t mvad_gemm_s8_multiply_adds(void) {
    return atomic_load_explicit(&multiply_adds, memory_order_relaxed);
}

void mvad_gemm_s8(size_t m, size_t n, size_t k, const int8_t *a, size_t lda,
                  const int8_t *b_packed, int32_t *c, size_t ldc) {
    if (m == 0 || n == 0) return;
    atomic_fetch_add_explicit(&multiply_adds, (uint64_t)m * n * k, memory_order_relaxed);
    if (k == 0) {
        for (size_t i = 0; i < m; i++) memset(c + i * ldc, 0, n * sizeof(int32_t));
        return;
    }
    const s8_tile_path *path = tile_path(mvad_gemm_s8_path());
    if (path != NULL && gemm_s8_tiled(path, m, n, k, a, lda, b_packed, c, ldc)) return;
    gemm_s8_scalar(m, n, k, a, lda, b_packed, c, ldc);
}

// ---- peak throughput ----------------------------------------------------------------------

double s8_now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double mvad_s8_peak_gops(double seconds) {
    switch (mvad_gemm_s8_path()) {
#if defined(__x86_64__)
    case MVAD_S8_PATH_AVX2: return s8_peak_gops_avx2(seconds);
    case MVAD_S8_PATH_AVX512VNNI: return s8_peak_gops_avx512vnni(seconds);
#elif defined(__aarch64__)
    case MVAD_S8_PATH_NEON: return s8_peak_gops_neon(seconds);
    case MVAD_S8_PATH_NEON_SDOT: return s8_peak_gops_neon_sdot(seconds);
#endif
    default: return 0;
    }
}
