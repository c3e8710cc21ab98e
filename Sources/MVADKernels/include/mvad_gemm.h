// mvad's int8 matrix product for the int8 model pack (issue 4): C = A * B^T with exact int32
// results, a packed weight layout shared by every CPU path, and runtime dispatch between a
// portable scalar definition and AVX2, AVX-512 VNNI, NEON and NEON dot-product paths.
#ifndef MVAD_GEMM_H
#define MVAD_GEMM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Which implementation mvad_gemm_s8 uses. Every path gives the same int32 results bit for bit.
typedef enum {
    MVAD_S8_PATH_SCALAR = 0,      // portable C, the reference definition
    MVAD_S8_PATH_AVX2 = 1,        // x86-64: int8 widened to int16, _mm256_madd_epi16
    MVAD_S8_PATH_AVX512VNNI = 2,  // x86-64: _mm512_dpbusd_epi32 on activations + 128
    MVAD_S8_PATH_NEON = 3,        // AArch64 without dot product: vmull_s8 + vpadalq_s16
    MVAD_S8_PATH_NEON_SDOT = 4,   // AArch64 with FEAT_DotProd: vdotq_s32
} mvad_s8_path;

/// The path mvad_gemm_s8 takes: the fastest one this CPU (and OS) supports, detected once,
/// unless a test forced another.
mvad_s8_path mvad_gemm_s8_path(void);

/// 1 if `path` is compiled in and this CPU supports it, else 0. Scalar is always available.
int mvad_gemm_s8_path_available(mvad_s8_path path);

/// Forces a path for tests; returns the previous one. An unavailable path is ignored and the
/// current one kept. Not thread-safe: call it only while no product is running.
mvad_s8_path mvad_force_gemm_s8_path(mvad_s8_path path);

/// The lower-case name of a path ("scalar", "avx2", "avx512vnni", "neon", "neon_sdot").
const char *mvad_s8_path_name(mvad_s8_path path);

/// Bytes of the packed form of an n x k int8 weight matrix (see mvad_pack_s8_weights).
size_t mvad_pack_s8_weights_size(size_t n, size_t k);

/// Packs the weights w[n][k] (row-major, row stride k) into `packed`, which must hold
/// mvad_pack_s8_weights_size(n, k) bytes (any alignment works; 64-byte alignment is fastest).
///
/// Packed layout, identical on every path so that a model pack can store it as is. With
/// K4 = ceil(k / 4) and P = ceil(n / 16), the buffer is P panels of 64 * (K4 + 1) bytes each;
/// panel p covers weight rows 16p ..< 16p + 16:
///   bytes [0, 64):               16 int32 (native byte order, little-endian on every
///                                 supported CPU): sum_k w[16p + r][k] for r = 0 ..< 16
///   bytes [64 + 64g, 128 + 64g): group g = 0 ..< K4, byte 4r + q = w[16p + r][4g + q]
///                                 for r = 0 ..< 16, q = 0 ..< 4
/// Rows past n and k-values past k are zeros (and count zero in the sums). One 64-byte group
/// is 16 output columns x 4 k-values: one AVX-512 register for vpdpbusd, four NEON registers
/// for sdot. The row sums give the AVX-512 VNNI path its +128 correction.
void mvad_pack_s8_weights(const int8_t *w, size_t n, size_t k, int8_t *packed);

/// C[i][j] = sum_{q < k} A[i][q] * B[j][q] for i < m, j < n: a linear layer y = x W^T.
///   a:        activations, m rows of k int8, row stride lda >= k
///   b_packed: the weights B[n][k] packed by mvad_pack_s8_weights(B, n, k, ...)
///   c:        m rows of n int32, row stride ldc >= n; only those entries are written
/// Contract: every value of A and B lies in [-127, 127] (symmetric quantisation; -128 is never
/// produced) and k <= 65536, so |C| <= 65536 * 127^2 < 2^31 and every partial sum is exact.
/// The AVX-512 VNNI path multiplies the unsigned bytes A + 128 with B and subtracts
/// 128 * (row sum of B); its int32 lanes wrap modulo 2^32, so this difference is still the
/// exact result. Any m, n, k >= 1 is allowed; m, n or k == 0 writes zeros (k == 0) or nothing.
void mvad_gemm_s8(size_t m, size_t n, size_t k, const int8_t *a, size_t lda,
                  const int8_t *b_packed, int32_t *c, size_t ldc);

/// Multiply-adds (m * n * k) of every mvad_gemm_s8 call since the process started, from all
/// threads: with a wall time, the achieved int8 throughput.
uint64_t mvad_gemm_s8_multiply_adds(void);

/// Measures this core's peak int8 multiply-add rate on the fastest path with a register-only
/// loop of dot-product instructions running for about `seconds`; returns giga-operations per
/// second counting a multiply-add as 2 operations. 0 on the scalar path (no meaningful peak).
double mvad_s8_peak_gops(double seconds);

#ifdef __cplusplus
}
#endif
#endif
