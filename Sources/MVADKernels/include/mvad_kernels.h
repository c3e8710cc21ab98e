// mvad's SIMD kernels: the few element-wise loops Swift cannot vectorise well without target
// flags. Each has one scalar definition of its arithmetic; the vector paths reproduce it bit
// for bit (same fused multiply-adds, same 8-lane summation order), so results never depend
// on which path the CPU takes.
#ifndef MVAD_KERNELS_H
#define MVAD_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Which implementation the dispatching kernels use on this CPU.
typedef enum {
    MVAD_PATH_SCALAR = 0,
    MVAD_PATH_AVX2 = 1,
    MVAD_PATH_NEON = 2,
    /// x86-64 with AVX-512 (F, BW, VL) enabled by the OS: the element-wise kernels run their
    /// AVX2 code, the quantisation loops of mvad_quant.h a 512-bit build.
    MVAD_PATH_AVX512 = 3,
} mvad_path;

/// The path chosen for this CPU (detected once).
mvad_path mvad_kernel_path(void);

/// 1 if this CPU can run `path` (scalar always; AVX2 also where AVX-512 was detected).
int mvad_kernel_path_available(mvad_path path);

/// Forces a path for tests; returns the previous one. A path the CPU cannot run is ignored
/// and the current one kept.
mvad_path mvad_force_kernel_path(mvad_path path);

/// e^x for each of `count` values, src and dst may be the same buffer.
void mvad_exp(float *dst, const float *src, size_t count);

/// In place: row <- softmax(scale * row), for `rows` rows of `cols` values each.
void mvad_softmax_rows(float *data, size_t rows, size_t cols, float scale);

/// In place: x <- x / (1 + e^-x).
void mvad_silu(float *data, size_t count);

/// GELU, exact (erf) form: dst <- x / 2 (1 + erf(x / sqrt 2)); src and dst may be the same.
/// erf comes from fitted polynomials (within about 1 float ulp of erff).
void mvad_gelu(float *dst, const float *src, size_t count);

/// GEGLU's gate: dst <- value * gelu(gate), element by element.
void mvad_geglu(float *dst, const float *value, const float *gate, size_t count);

/// A block of a matrix transposed: dst[j * ldd + i] = src[i * lds + j] for i < rows,
/// j < cols. Values are moved, never changed.
void mvad_transpose(const float *src, size_t lds, size_t rows, size_t cols, float *dst,
                    size_t ldd);

/// Flushes standard output; 0 when everything written so far reached it, -1 otherwise.
int mvad_flush_stdout(void);

/// Tunes the C allocator to keep freed memory for reuse (glibc; no-op elsewhere). Called
/// once by the command-line tool at start.
void mvad_retain_freed_memory(void);

#ifdef __cplusplus
}
#endif
#endif

// The int8 matrix product (issue 4).
#include "mvad_gemm.h"

// Float <-> int8 steps around the int8 product (issue 4).
#include "mvad_quant.h"
