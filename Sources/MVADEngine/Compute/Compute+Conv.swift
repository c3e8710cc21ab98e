// 2-D convolution (torch.nn.functional.conv2d, groups = 1) as im2col + BLAS sgemm.
//
// The output columns of all images (N * Ho * Wo) are cut into fixed-size chunks; each chunk
// unfolds its input patches into a [K, cols] matrix (K = Cin * kH * kW), multiplies it by
// the weight [Cout, K] and scatters the [Cout, cols] result into the NCHW output.

extension Compute {
    /// Convolves x [N, Cin, H, W] with `conv` -> [N, Cout, Ho, Wo].
    public func conv2d(_ x: Tensor, _ conv: Conv2d) -> Tensor {
        precondition(x.rank == 4, "conv2d expects NCHW input, got \(x.shape)")
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(cin == conv.inChannels,
                     "conv2d expects \(conv.inChannels) input channels, got \(cin)")
        let geometry = ConvGeometry(
            height: h, width: w, channels: cin, conv: conv)
        let (cout, ho, wo) = (conv.outChannels, geometry.outHeight, geometry.outWidth)
        precondition(ho > 0 && wo > 0, "conv2d output would be empty for input \(x.shape)")
        let plane = ho * wo
        let total = n * plane
        let k = geometry.patchSize
        let chunk = Compute.columnChunk(total: total)

        return Tensor(shape: [n, cout, ho, wo]) { out in
            x.withUnsafeBufferPointer { xp in
                conv.weight.withUnsafeBufferPointer { wp in
                    let xBase = UncheckedBox(xp.baseAddress!)
                    let wBase = UncheckedBox(wp.baseAddress!)
                    let oBase = UncheckedBox(out.baseAddress!)
                    let bias = conv.bias?.scalars
                    forEachRange(total, chunk: chunk) { columns in
                        let cols = columns.count
                        var patches = [Float](repeating: 0, count: k * cols)
                        var product = [Float](repeating: 0, count: cout * cols)
                        patches.withUnsafeMutableBufferPointer { pp in
                            geometry.unfold(xBase.value, columns: columns, into: pp.baseAddress!)
                        }
                        patches.withUnsafeBufferPointer { pp in
                            product.withUnsafeMutableBufferPointer { cp in
                                sgemm(transA: false, transB: false, m: cout, n: cols, k: k,
                                      a: wBase.value, lda: k, b: pp.baseAddress!, ldb: cols,
                                      c: cp.baseAddress!, ldc: cols)
                            }
                        }
                        product.withUnsafeBufferPointer { cp in
                            scatterColumns(cp.baseAddress!, columns: columns, channels: cout,
                                           plane: plane, bias: bias, into: oBase.value)
                        }
                    }
                }
            }
        }
    }

    /// Copies a [C, cols] block (columns `columns` of the N * plane column space) into an
    /// NCHW output, adding the per-channel bias.
    private func scatterColumns(
        _ block: UnsafePointer<Float>, columns: Range<Int>, channels: Int, plane: Int,
        bias: [Float]?, into out: UnsafeMutablePointer<Float>
    ) {
        let cols = columns.count
        var column = columns.lowerBound
        while column < columns.upperBound {
            let image = column / plane
            let position = column % plane
            let run = min(plane - position, columns.upperBound - column)
            let offset = column - columns.lowerBound
            for c in 0..<channels {
                let src = block + c * cols + offset
                let dst = out + (image * channels + c) * plane + position
                let b = bias?[c] ?? 0
                for i in 0..<run { dst[i] = src[i] + b }
            }
            column += run
        }
    }

    /// Columns per task: a fixed size for large problems, about half the problem for small
    /// ones. Depends only on the problem size, never on the thread count.
    static func columnChunk(total: Int) -> Int {
        if total >= 1024 { return 256 }
        return max(16, ((total + 1) / 2 + 15) / 16 * 16)
    }
}

/// Index arithmetic of one convolution: output size and the im2col unfolding.
struct ConvGeometry {
    let height: Int, width: Int, channels: Int
    let kernelHeight: Int, kernelWidth: Int, stride: Int
    let padTop: Int, padLeft: Int
    let outHeight: Int, outWidth: Int

    init(height: Int, width: Int, channels: Int, conv: Conv2d) {
        self.height = height
        self.width = width
        self.channels = channels
        kernelHeight = conv.kernelHeight
        kernelWidth = conv.kernelWidth
        stride = conv.stride
        padTop = conv.padding.top
        padLeft = conv.padding.left
        outHeight = (height + conv.padding.top + conv.padding.bottom - kernelHeight) / stride + 1
        outWidth = (width + conv.padding.left + conv.padding.right - kernelWidth) / stride + 1
    }

    /// Rows of the unfolded matrix: one per (input channel, kernel row, kernel column).
    var patchSize: Int { channels * kernelHeight * kernelWidth }

    /// Writes the [K, cols] patch matrix of output columns `columns` (indices into the
    /// N * Ho * Wo column space) of input x [N, C, H, W]. Out-of-image taps are zero.
    func unfold(_ x: UnsafePointer<Float>, columns: Range<Int>, into patches: UnsafeMutablePointer<Float>) {
        let cols = columns.count
        let plane = outHeight * outWidth
        let inPlane = height * width
        var row = 0
        for c in 0..<channels {
            for ky in 0..<kernelHeight {
                for kx in 0..<kernelWidth {
                    let dstRow = patches + row * cols
                    var column = columns.lowerBound
                    while column < columns.upperBound {
                        let image = column / plane
                        let position = column % plane
                        let oy = position / outWidth
                        let ox0 = position % outWidth
                        let run = min(outWidth - ox0, columns.upperBound - column)
                        let dst = dstRow + (column - columns.lowerBound)
                        let iy = oy * stride - padTop + ky
                        if iy < 0 || iy >= height {
                            for i in 0..<run { dst[i] = 0 }
                        } else {
                            let src = x + (image * channels + c) * inPlane + iy * width
                            for i in 0..<run {
                                let ix = (ox0 + i) * stride - padLeft + kx
                                dst[i] = (ix >= 0 && ix < width) ? src[ix] : 0
                            }
                        }
                        column += run
                    }
                    row += 1
                }
            }
        }
    }
}
