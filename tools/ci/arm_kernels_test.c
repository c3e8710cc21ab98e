// Test driver for the int8 matrix product (Sources/MVADKernels/gemm_s8*.c), built by
// tools/ci/arm-kernels.sh for AArch64 (run under qemu) and natively for x86-64. Every path the
// CPU offers is forced in turn and compared bit for bit with a plain triple loop on the
// unpacked matrices. Usage: arm_kernels_test [--expect PATH] [--bench]
// Exits non-zero on any mismatch, or if the detected path is not the expected one.

#include "mvad_gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static int8_t random_s8(void) {  // uniform in [-127, 127]
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return (int8_t)((int)((rng_state >> 33) % 255) - 127);
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void reference(size_t m, size_t n, size_t k, const int8_t *a, const int8_t *w,
                      int32_t *c) {
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            int64_t sum = 0;
            for (size_t q = 0; q < k; q++) sum += (int64_t)a[i * k + q] * w[j * k + q];
            c[i * n + j] = (int32_t)sum;
        }
    }
}

// One product on the current path; 1 if it equals the reference. fill: 0 random, else the
// constant value for A and (fill, or -fill when negate) for B.
static int check(size_t m, size_t n, size_t k, int fill, int negate) {
    size_t lda = k + 3, ldc = n + 2;  // strides wider than the rows, to catch stride bugs
    int8_t *a = malloc(m * lda), *w = malloc(n * k);
    int8_t *packed = aligned_alloc(64, (mvad_pack_s8_weights_size(n, k) + 63) / 64 * 64);
    int32_t *want = malloc(m * n * sizeof(int32_t)), *got = malloc(m * ldc * sizeof(int32_t));
    int8_t *dense = malloc(m * k);
    for (size_t i = 0; i < m * lda; i++) a[i] = fill ? (int8_t)fill : random_s8();
    for (size_t i = 0; i < n * k; i++) w[i] = fill ? (int8_t)(negate ? -fill : fill) : random_s8();
    for (size_t i = 0; i < m; i++) memcpy(dense + i * k, a + i * lda, k);
    for (size_t i = 0; i < m * ldc; i++) got[i] = 0x5A5A5A5A;

    reference(m, n, k, dense, w, want);
    mvad_pack_s8_weights(w, n, k, packed);
    mvad_gemm_s8(m, n, k, a, lda, packed, got, ldc);

    int ok = 1;
    for (size_t i = 0; i < m && ok; i++) {
        for (size_t j = 0; j < ldc && ok; j++) {
            int32_t expected = j < n ? want[i * n + j] : 0x5A5A5A5A;  // padding untouched
            if (got[i * ldc + j] != expected) {
                printf("  MISMATCH %s m=%zu n=%zu k=%zu at [%zu][%zu]: got %d, want %d\n",
                       mvad_s8_path_name(mvad_gemm_s8_path()), m, n, k, i, j,
                       got[i * ldc + j], expected);
                ok = 0;
            }
        }
    }
    free(a), free(w), free(packed), free(want), free(got), free(dense);
    return ok;
}

static void tally(int ok, int *passed, int *failed) { ++*(ok ? passed : failed); }

static int run_path(mvad_s8_path path) {
    static const size_t ms[] = {1, 3, 8, 17, 64}, ns[] = {1, 5, 16, 33, 320};
    static const size_t ks[] = {1, 3, 4, 31, 64, 100, 1280};  // 100: whole 32-byte blocks + a rest
    mvad_force_gemm_s8_path(path);
    if (mvad_gemm_s8_path() != path) {
        printf("%-10s could not be forced\n", mvad_s8_path_name(path));
        return 1;
    }

    int passed = 0, failed = 0;
    for (size_t x = 0; x < sizeof ms / sizeof *ms; x++) {
        for (size_t y = 0; y < sizeof ns / sizeof *ns; y++) {
            for (size_t z = 0; z < sizeof ks / sizeof *ks; z++) {
                tally(check(ms[x], ns[y], ks[z], 0, 0), &passed, &failed);
            }
        }
    }
    tally(check(3, 17, 65536, 127, 0), &passed, &failed);   // +127 * +127, k = 65536
    tally(check(3, 17, 65536, -127, 0), &passed, &failed);  // -127 * -127
    tally(check(2, 33, 65536, 127, 1), &passed, &failed);   // +127 * -127
    tally(check(9, 40, 65536, 0, 0), &passed, &failed);     // random, k = 65536
    tally(check(9, 1000, 1100, 0, 0), &passed, &failed);    // weights cut in panels and k
    printf("%-10s %d passed, %d failed\n", mvad_s8_path_name(path), passed, failed);
    return failed;
}

// Peak multiply-add rate and one UNet-like linear layer, single-threaded, on every vector
// path the CPU offers (meaningless under qemu).
static void bench(void) {
    size_t m = 6144, n = 320, k = 2880;
    int8_t *a = malloc(m * k), *w = malloc(n * k);
    int8_t *packed = aligned_alloc(64, (mvad_pack_s8_weights_size(n, k) + 63) / 64 * 64);
    int32_t *c = malloc(m * n * sizeof(int32_t));
    for (size_t i = 0; i < m * k; i++) a[i] = random_s8();
    for (size_t i = 0; i < n * k; i++) w[i] = random_s8();
    mvad_pack_s8_weights(w, n, k, packed);

    for (int p = MVAD_S8_PATH_AVX2; p <= MVAD_S8_PATH_NEON_SDOT; p++) {
        if (!mvad_gemm_s8_path_available((mvad_s8_path)p)) continue;
        mvad_force_gemm_s8_path((mvad_s8_path)p);
        const char *name = mvad_s8_path_name((mvad_s8_path)p);
        printf("%-10s peak %.0f GOPS per core\n", name, mvad_s8_peak_gops(1.0));
        double best = 1e30;
        for (int rep = 0; rep < 10; rep++) {
            double t0 = now_seconds();
            mvad_gemm_s8(m, n, k, a, k, packed, c, n);
            double t = now_seconds() - t0;
            if (t < best) best = t;
        }
        printf("%-10s gemm m=%zu n=%zu k=%zu: %.1f ms, %.0f GOPS single-threaded\n", name, m,
               n, k, best * 1e3, 2.0 * m * n * k / best * 1e-9);
    }
    free(a), free(w), free(packed), free(c);
}

int main(int argc, char **argv) {
    const char *expect = NULL;
    int want_bench = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc) expect = argv[++i];
        else if (strcmp(argv[i], "--bench") == 0) want_bench = 1;
        else { fprintf(stderr, "usage: %s [--expect PATH] [--bench]\n", argv[0]); return 2; }
    }

    mvad_s8_path detected = mvad_gemm_s8_path();
    printf("detected path: %s\n", mvad_s8_path_name(detected));
    int failures = 0;
    if (expect && strcmp(expect, mvad_s8_path_name(detected)) != 0) {
        printf("FAIL: expected path %s\n", expect);
        failures++;
    }
    for (int p = MVAD_S8_PATH_SCALAR; p <= MVAD_S8_PATH_NEON_SDOT; p++) {
        if (mvad_gemm_s8_path_available((mvad_s8_path)p)) failures += run_path((mvad_s8_path)p);
    }
    if (want_bench) bench();
    mvad_force_gemm_s8_path(detected);
    printf("%s\n", failures ? "FAILED" : "all paths agree with the reference");
    return failures ? 1 : 0;
}
