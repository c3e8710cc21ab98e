// The float <-> int8 steps around the int8 matrix product: largest magnitudes, activation
// quantisation (of rows, and of convolution patches from channels-last input) and
// dequantisation of the int32 sums (plain and transposing into NCHW planes). Each element's
// arithmetic has one scalar definition; the AVX2 and NEON builds of the same loops give
// identical bits.
#ifndef MVAD_QUANT_H
#define MVAD_QUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// max |x[i]| over i < count (0 for count 0). NaN is ignored.
float mvad_absmax(const float *x, size_t count);

/// q[i] = quantise(x[i] * inverse) for i < count: round half away from zero, clamp to
/// [-127, 127], NaN to 0 (the rule of Int8Quantization.quantize in MVADEngine).
void mvad_quantize_row(const float *x, size_t count, float inverse, int8_t *q);

/// y[i * ldy + j] = ((float)acc[i * lda + j] * row_scales[i]) * col_scales[j] + bias[j], in
/// this order, for i < rows, j < n.
void mvad_dequantize_rows(const int32_t *acc, size_t rows, size_t n, size_t lda,
                          const float *row_scales, const float *col_scales, const float *bias,
                          float *y, size_t ldy);

/// The transpose: out[j * ldo + i] = ((float)acc[i * lda + j] * row_scales[i]) * col_scales[j]
/// + bias[j] for i < rows, j < n (rows of pixels into channel planes).
void mvad_dequantize_columns(const int32_t *acc, size_t rows, size_t n, size_t lda,
                             const float *row_scales, const float *col_scales,
                             const float *bias, float *out, size_t ldo);


/// One image [C, HW] to channels-last [HW, C], and maxima[i] = max_c |x[c][i]| (NaN ignored).
void mvad_channels_last(const float *x, size_t channels, size_t plane, float *out,
                        float *maxima);

/// The geometry of a convolution's input and output planes.
typedef struct {
    size_t height, width, channels;          // input plane and channels
    size_t kernel_height, kernel_width, stride;
    long pad_top, pad_left;                  // zero padding before the first row / column
    size_t out_width;                        // output columns per row
} mvad_conv_shape;

/// Quantised patches of `count` output pixels of one image, starting at output pixel
/// `first` (row-major in the output plane), from the image in channels-last form `xt`
/// [H, W, C] and its per-position maxima [H, W] (mvad_channels_last). Row p of q (stride
/// ldq) is the tap-major patch: column (ky * kW + kx) * C + c holds
/// quantise(x[c][iy][ix] * inverse_p), zero outside the image; scales[p] = max / 127 over
/// the patch (1 for an all-zero patch). Returns the number of patches whose largest
/// magnitude is not finite (their rows are undefined).
size_t mvad_quantize_patches(const float *xt, const float *maxima, mvad_conv_shape shape,
                             size_t first, size_t count, int8_t *q, size_t ldq,
                             float *scales);

#ifdef __cplusplus
}
#endif
#endif
