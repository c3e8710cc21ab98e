// 2-D convolution (torch.nn.functional.conv2d, groups = 1) as im2col + BLAS sgemm.
//
// Large images: each image's output columns are cut into fixed chunks; a task unfolds its
// chunk's input patches into a [K, cols] matrix (K = Cin * kH * kW) and multiplies the
// weight [Cout, K] by it straight into the NCHW output. Small images (the UNet's inner
// levels): the patches of the whole batch are unfolded once, and tasks split the output
// channels instead. Either way every task's size depends only on the problem.

extension Compute {
    /// Output columns per task on the large-image path.
    static let convColumnChunk = 1024

    /// Convolves x [N, Cin, H, W] with `conv` -> [N, Cout, Ho, Wo].
    public func conv2d(_ x: Tensor, _ conv: Conv2d) -> Tensor {
        if let int8 = QuantizedConv2d(holding: conv) { return conv2d(x, int8) }
        precondition(x.rank == 4, "conv2d expects NCHW input, got \(x.shape)")
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(cin == conv.inChannels,
                     "conv2d expects \(conv.inChannels) input channels, got \(cin)")
        let geometry = ConvGeometry(height: h, width: w, channels: cin, conv: conv)
        let (cout, ho, wo) = (conv.outChannels, geometry.outHeight, geometry.outWidth)
        precondition(ho > 0 && wo > 0, "conv2d output would be empty for input \(x.shape)")

        var out = Tensor(shape: [n, cout, ho, wo]) { _ in }
        out.withUnsafeMutableBufferPointer { op in
            x.withUnsafeBufferPointer { xp in
                conv.weight.withUnsafeBufferPointer { wp in
                    let io = ConvOperands(x: xp.start, weight: wp.start,
                                          out: op.start, batch: n, outChannels: cout)
                    if ho * wo >= Compute.convColumnChunk {
                        convolveByColumns(io, geometry)
                    } else {
                        convolveByChannels(io, geometry)
                    }
                }
            }
        }
        if let bias = conv.bias { addPlaneBias(&out, bias) }
        return out
    }

    /// Tasks = (image, column chunk); the product lands directly in the output.
    private func convolveByColumns(_ io: ConvOperands, _ g: ConvGeometry) {
        let plane = g.outHeight * g.outWidth
        let k = g.patchSize
        let chunk = min(plane, Compute.convColumnChunk)
        let chunksPerImage = (plane + chunk - 1) / chunk
        let tasks = io.batch * chunksPerImage
        let scratch = Scratch(workers: workers(for: tasks), perWorker: g.isPointwise ? 1 : k * chunk)
        let patches = UncheckedBox((scratch.slice(0), scratch.perWorker))
        let box = UncheckedBox(io)
        forEachTask(tasks) { task, worker in
            let io = box.value
            let image = task / chunksPerImage
            let first = image * plane + (task % chunksPerImage) * chunk
            let columns = first..<min(first + chunk, (image + 1) * plane)
            let position = columns.lowerBound - image * plane
            let b: UnsafePointer<Float>
            let ldb: Int
            if g.isPointwise {
                b = io.x + image * g.channels * plane + position
                ldb = plane
            } else {
                let buffer = patches.value.0 + worker * patches.value.1
                g.unfold(io.x, columns: columns, into: buffer)
                b = UnsafePointer(buffer)
                ldb = columns.count
            }
            sgemm(transA: false, transB: false, m: io.outChannels, n: columns.count, k: k,
                  a: io.weight, lda: k, b: b, ldb: ldb,
                  c: io.out + image * io.outChannels * plane + position, ldc: plane)
        }
    }

    /// Unfolds the whole batch once, then tasks = blocks of output channels.
    private func convolveByChannels(_ io: ConvOperands, _ g: ConvGeometry) {
        let plane = g.outHeight * g.outWidth
        let total = io.batch * plane
        let k = g.patchSize
        let patches = UnsafeMutablePointer<Float>.allocate(capacity: k * total)
        let product = UnsafeMutablePointer<Float>.allocate(capacity: io.outChannels * total)
        defer {
            patches.deallocate()
            product.deallocate()
        }
        let buffers = UncheckedBox((patches, product))
        let box = UncheckedBox(io)
        let rowBlock = 64
        forEachTask((k + rowBlock - 1) / rowBlock) { task in
            let rows = (task * rowBlock)..<min(k, (task + 1) * rowBlock)
            g.unfold(box.value.x, columns: 0..<total, rows: rows, into: buffers.value.0)
        }
        let block = max(16, (io.outChannels / 4 + 15) / 16 * 16)
        forEachTask((io.outChannels + block - 1) / block) { task in
            let (patches, product) = buffers.value
            let rows = (task * block)..<min(box.value.outChannels, (task + 1) * block)
            sgemm(transA: false, transB: false, m: rows.count, n: total, k: k,
                  a: box.value.weight + rows.lowerBound * k, lda: k, b: patches, ldb: total,
                  c: product + rows.lowerBound * total, ldc: total)
            for c in rows {
                for image in 0..<box.value.batch {
                    let src = product + c * total + image * plane
                    let dst = box.value.out + (image * box.value.outChannels + c) * plane
                    dst.update(from: src, count: plane)
                }
            }
        }
    }

    /// x [N, C, H, W] += bias [C] per channel plane.
    func addPlaneBias(_ x: inout Tensor, _ bias: Tensor) {
        let (n, c) = (x.shape[0], x.shape[1])
        let plane = x.count / (n * c)
        x.withUnsafeMutableBufferPointer { xp in
            bias.withUnsafeBufferPointer { bp in
                let ctx = UncheckedBox((xp.start, bp.start))
                forEachRange(n * c, chunk: 64) { planes in
                    let (dst, b) = ctx.value
                    for p in planes {
                        let value = b[p % c]
                        let row = dst + p * plane
                        for i in 0..<plane { row[i] += value }
                    }
                }
            }
        }
    }
}

/// The pointers one convolution works on.
struct ConvOperands {
    let x: UnsafePointer<Float>
    let weight: UnsafePointer<Float>
    let out: UnsafeMutablePointer<Float>
    let batch: Int
    let outChannels: Int
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

    /// A 1x1, stride-1, unpadded convolution: the input already is its patch matrix.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padTop == 0 && padLeft == 0
            && outHeight == height && outWidth == width
    }

    /// Writes rows `rows` (default all) of the [K, cols] patch matrix of output columns
    /// `columns` (indices into the N * Ho * Wo column space) of x [N, C, H, W]. Row r of the
    /// matrix lands at `patches + r * cols`. Out-of-image taps are zero.
    func unfold(_ x: UnsafePointer<Float>, columns: Range<Int>, rows: Range<Int>? = nil,
                into patches: UnsafeMutablePointer<Float>) {
        let cols = columns.count
        let plane = outHeight * outWidth
        let inPlane = height * width
        let taps = kernelHeight * kernelWidth
        for row in rows ?? 0..<patchSize {
            let c = row / taps
            let ky = (row % taps) / kernelWidth
            let kx = row % kernelWidth
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
                    dst.initialize(repeating: 0, count: run)
                } else {
                    let src = x + (image * channels + c) * inPlane + iy * width
                    if stride == 1 {
                        // Taps inside the row form one contiguous run.
                        let start = ox0 - padLeft + kx
                        let lo = max(0, -start)
                        let hi = max(lo, min(run, width - start))
                        if lo > 0 { dst.initialize(repeating: 0, count: lo) }
                        if hi > lo { dst.advanced(by: lo).update(from: src + start + lo, count: hi - lo) }
                        if run > hi { dst.advanced(by: hi).initialize(repeating: 0, count: run - hi) }
                    } else {
                        for i in 0..<run {
                            let ix = (ox0 + i) * stride - padLeft + kx
                            dst[i] = (ix >= 0 && ix < width) ? src[ix] : 0
                        }
                    }
                }
                column += run
            }
        }
    }
}
