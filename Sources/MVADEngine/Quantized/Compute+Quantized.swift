// Int8 linear layers and convolutions (issue 4): activations are quantised per row (per token,
// or per output pixel of a convolution) at run time, multiplied exactly in int32 by
// mvad_gemm_s8 against the per-row quantised weights, and scaled back to float.
//
// A task takes a fixed block of rows (tokens or output pixels) and computes all outputs of
// those rows. The int32 sums are exact and every float step is one fixed expression per
// element, so the result does not depend on the split or on the thread count, and it equals
// the scalar twin `ReferenceQuantized` bit for bit.

import MVADKernels

extension Compute {
    // FIXME(perf): fewer than 257 rows (a prompt, a time embedding, the 8x8 UNet level of one
    // image) make one task on one worker, because tasks split rows only; splitting the outputs
    // too, in blocks of whole 16-row weight panels, would spread them.
    /// Rows (tokens or output pixels) per task on the int8 paths.
    static let quantizedRowChunk = 256

    /// y = x W^T + b over the last dimension: x [..., in] -> y [..., out], on int8 weights.
    public func linear(_ x: Tensor, _ layer: QuantizedLinear) -> Tensor {
        let (k, n) = (layer.inFeatures, layer.outFeatures)
        precondition(x.shape.last == k, "int8 linear expects last dim \(k), got shape \(x.shape)")
        let m = x.count / k
        var outShape = x.shape
        outShape[outShape.count - 1] = n

        return Tensor(shape: outShape) { out in
            x.withUnsafeBufferPointer { xp in
                layer.matrix.withOperands { weights in
                    let chunk = Compute.quantizedRowChunk
                    let tasks = (m + chunk - 1) / chunk
                    let scratch = QuantizedScratch(workers: workers(for: tasks), rows: chunk,
                                                   depth: k, outputs: n, patchFloats: 0)
                    let ctx = UncheckedBox((xp.start, out.start, weights, scratch.pointers))
                    forEachTask(tasks) { task, worker in
                        let (x, out, weights, pointers) = ctx.value
                        let rows = (task * chunk)..<min(m, (task + 1) * chunk)
                        let buffers = pointers.slice(worker)

                        // Activations [rows, K] -> int8 [rows, K] and one scale per row.
                        for i in 0..<rows.count {
                            buffers.rowScales[i] = quantizeRow(
                                x + (rows.lowerBound + i) * k, count: k,
                                into: buffers.activations + i * k)
                        }

                        // int32 [rows, N] = int8 [rows, K] x int8 [N, K]^T.
                        mvad_gemm_s8(rows.count, n, k, buffers.activations, k, weights.packed,
                                     buffers.accumulators, n)

                        // y [rows, N] = acc * rowScale * scale[n] + bias[n].
                        for i in 0..<rows.count {
                            let acc = buffers.accumulators + i * n
                            let y = out + (rows.lowerBound + i) * n
                            let rowScale = buffers.rowScales[i]
                            for j in 0..<n {
                                y[j] = Int8Quantization.dequantize(
                                    acc[j], rowScale: rowScale, columnScale: weights.scales[j],
                                    bias: weights.bias[j])
                            }
                        }
                    }
                }
            }
        }
    }

    /// Convolves x [N, Cin, H, W] with int8 weights -> [N, Cout, Ho, Wo].
    public func conv2d(_ x: Tensor, _ conv: QuantizedConv2d) -> Tensor {
        precondition(x.rank == 4, "int8 conv2d expects NCHW input, got \(x.shape)")
        let (batch, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(cin == conv.inChannels,
                     "int8 conv2d expects \(conv.inChannels) input channels, got \(cin)")
        let g = conv.geometry(height: h, width: w)
        let (cout, k, plane) = (conv.outChannels, g.patchSize, g.outHeight * g.outWidth)
        precondition(g.outHeight > 0 && g.outWidth > 0,
                     "int8 conv2d output would be empty for input \(x.shape)")
        let total = batch * plane  // output pixels of the whole batch

        var out = Tensor(shape: [batch, cout, g.outHeight, g.outWidth]) { _ in }
        out.withUnsafeMutableBufferPointer { op in
            x.withUnsafeBufferPointer { xp in
                conv.matrix.withOperands { weights in
                    let chunk = Compute.quantizedRowChunk
                    let tasks = (total + chunk - 1) / chunk
                    let scratch = QuantizedScratch(workers: workers(for: tasks), rows: chunk,
                                                   depth: k, outputs: cout, patchFloats: k * chunk)
                    let ctx = UncheckedBox((xp.start, op.start, weights, scratch.pointers))
                    forEachTask(tasks) { task, worker in
                        let (x, out, weights, pointers) = ctx.value
                        let pixels = (task * chunk)..<min(total, (task + 1) * chunk)
                        let buffers = pointers.slice(worker)

                        // Patches [K, pixels] -> int8 [pixels, K], one scale per pixel.
                        g.unfold(x, columns: pixels, into: buffers.patches)
                        quantizeColumns(buffers.patches, rows: k, columns: pixels.count,
                                        into: buffers.activations, scales: buffers.rowScales,
                                        inverses: buffers.inverses, staging: buffers.staging)

                        // int32 [pixels, Cout] = int8 [pixels, K] x int8 [Cout, K]^T.
                        mvad_gemm_s8(pixels.count, cout, k, buffers.activations, k,
                                     weights.packed, buffers.accumulators, cout)

                        // out [N, Cout, Ho, Wo] at these pixels, one channel plane at a time.
                        storePixels(buffers, pixels: pixels, plane: plane, outChannels: cout,
                                    weights: weights, into: out)
                    }
                }
            }
        }
        return out
    }

    /// Writes the dequantised accumulators [pixels, Cout] into the NCHW output, splitting the
    /// pixel range where it crosses from one image to the next.
    private func storePixels(_ buffers: QuantizedScratch.Slice, pixels: Range<Int>, plane: Int,
                             outChannels cout: Int, weights: QuantizedMatrix.Operands,
                             into out: UnsafeMutablePointer<Float>) {
        var pixel = pixels.lowerBound
        while pixel < pixels.upperBound {
            let (image, position) = (pixel / plane, pixel % plane)
            let run = min(plane - position, pixels.upperBound - pixel)
            let first = pixel - pixels.lowerBound
            for c in 0..<cout {
                let y = out + (image * cout + c) * plane + position
                let (scale, bias) = (weights.scales[c], weights.bias[c])
                for i in 0..<run {
                    y[i] = Int8Quantization.dequantize(
                        buffers.accumulators[(first + i) * cout + c],
                        rowScale: buffers.rowScales[first + i], columnScale: scale, bias: bias)
                }
            }
            pixel += run
        }
    }
}

/// Quantises `count` floats as one row into `q`; returns the row's scale.
private func quantizeRow(_ x: UnsafePointer<Float>, count: Int,
                         into q: UnsafeMutablePointer<Int8>) -> Float {
    var maxAbs: Float = 0
    for i in 0..<count { maxAbs = max(maxAbs, abs(x[i])) }
    let (scale, inverse) = Int8Quantization.scales(maxAbs: maxAbs)
    for i in 0..<count { q[i] = Int8Quantization.quantize(x[i], inverse: inverse) }
    return scale
}

/// Quantises each column of the float matrix p [rows, columns] as one row of q [columns, rows]
/// (the transpose), writing the column scales into `scales`. `inverses` [columns] and
/// `staging` [rows, columns] are scratch.
private func quantizeColumns(_ p: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
                             into q: UnsafeMutablePointer<Int8>,
                             scales: UnsafeMutablePointer<Float>,
                             inverses: UnsafeMutablePointer<Float>,
                             staging: UnsafeMutablePointer<Int8>) {
    // Column maxima, accumulated row by row over contiguous memory.
    scales.initialize(repeating: 0, count: columns)
    for r in 0..<rows {
        let row = p + r * columns
        for j in 0..<columns { scales[j] = max(scales[j], abs(row[j])) }
    }
    for j in 0..<columns {
        (scales[j], inverses[j]) = Int8Quantization.scales(maxAbs: scales[j])
    }

    // int8 [rows, columns], row by row over contiguous memory.
    for r in 0..<rows {
        let (src, dst) = (p + r * columns, staging + r * columns)
        for j in 0..<columns { dst[j] = Int8Quantization.quantize(src[j], inverse: inverses[j]) }
    }

    // Transposed in 32 x 32 tiles so that reads and writes both stay in a few cache lines.
    let tile = 32
    for r0 in stride(from: 0, to: rows, by: tile) {
        let r1 = min(rows, r0 + tile)
        for j0 in stride(from: 0, to: columns, by: tile) {
            for j in j0..<min(columns, j0 + tile) {
                let dst = q + j &* rows
                for r in r0..<r1 { dst[r] = staging[r &* columns &+ j] }
            }
        }
    }
}

extension QuantizedMatrix {
    /// Raw pointers to the packed weights, scales and bias, valid inside `body`.
    struct Operands {
        let packed: UnsafePointer<Int8>
        let scales: UnsafePointer<Float>
        let bias: UnsafePointer<Float>
    }

    func withOperands<R>(_ body: (Operands) -> R) -> R {
        packed.withUnsafeBufferPointer { p in
            scales.withUnsafeBufferPointer { s in
                bias.withUnsafeBufferPointer { b in
                    guard let p = p.baseAddress, let s = s.baseAddress, let b = b.baseAddress
                    else { preconditionFailure("a quantised matrix is never empty") }
                    return body(Operands(packed: p, scales: s, bias: b))
                }
            }
        }
    }
}

extension QuantizedConv2d {
    /// Output size and unfolding of this convolution on an H x W input.
    func geometry(height: Int, width: Int) -> ConvGeometry {
        // ConvGeometry reads only the shape, stride and padding of a Conv2d; this one carries a
        // single-output weight of the right shape.
        let shape = Conv2d(weight: Tensor(zeros: [1, inChannels, kernelHeight, kernelWidth]),
                           bias: nil, stride: stride, padding: padding)
        return ConvGeometry(height: height, width: width, channels: inChannels, conv: shape)
    }
}

/// Per-worker scratch of the int8 paths: float patches [K, rows] (convolutions only), int8
/// activations [rows, K] (and their untransposed staging [K, rows] for convolutions), int32
/// accumulators [rows, N], and row scales and inverses [rows].
struct QuantizedScratch: ~Copyable {
    /// One worker's buffers.
    struct Slice {
        let patches: UnsafeMutablePointer<Float>
        let activations: UnsafeMutablePointer<Int8>
        let accumulators: UnsafeMutablePointer<Int32>
        let rowScales: UnsafeMutablePointer<Float>
        let inverses: UnsafeMutablePointer<Float>
        let staging: UnsafeMutablePointer<Int8>
    }

    /// The base address and byte offsets of every worker's buffers.
    struct Pointers {
        let base: UnsafeMutableRawPointer
        let stride: Int
        let offsets: (activations: Int, accumulators: Int, rowScales: Int, inverses: Int,
                      staging: Int)

        func slice(_ worker: Int) -> Slice {
            let start = base + worker * stride
            return Slice(
                patches: start.assumingMemoryBound(to: Float.self),
                activations: (start + offsets.activations).assumingMemoryBound(to: Int8.self),
                accumulators: (start + offsets.accumulators).assumingMemoryBound(to: Int32.self),
                rowScales: (start + offsets.rowScales).assumingMemoryBound(to: Float.self),
                inverses: (start + offsets.inverses).assumingMemoryBound(to: Float.self),
                staging: (start + offsets.staging).assumingMemoryBound(to: Int8.self))
        }
    }

    let pointers: Pointers

    init(workers: Int, rows: Int, depth: Int, outputs: Int, patchFloats: Int) {
        func aligned(_ bytes: Int) -> Int { (bytes + 63) / 64 * 64 }
        let activations = aligned(patchFloats * 4)
        let accumulators = activations + aligned(rows * depth)
        let rowScales = accumulators + aligned(rows * outputs * 4)
        let inverses = rowScales + aligned(rows * 4)
        let staging = inverses + aligned(rows * 4)
        let stride = staging + aligned(patchFloats)
        let base = UnsafeMutableRawPointer.allocate(byteCount: max(1, workers) * stride,
                                                    alignment: 64)
        pointers = Pointers(base: base, stride: stride,
                            offsets: (activations, accumulators, rowScales, inverses, staging))
    }

    deinit { pointers.base.deallocate() }
}

/// Plain scalar twins of the int8 operators: the same quantisation and float epilogue, with
/// int32 triple loops over the unpacked weights instead of the packed kernel, direct patch
/// gathering instead of im2col, and no threads. The fast paths must match these bit for bit.
enum ReferenceQuantized {
    /// x [..., in] -> [..., out].
    static func linear(_ x: Tensor, _ layer: QuantizedLinear) -> Tensor {
        let (k, n) = (layer.inFeatures, layer.outFeatures)
        let m = x.count / k
        let weights = layer.matrix.values
        var out = [Float](repeating: 0, count: m * n)
        for r in 0..<m {
            let row = Array(x.scalars[(r * k)..<((r + 1) * k)])
            let (q, rowScale) = quantize(row)
            for j in 0..<n {
                out[r * n + j] = Int8Quantization.dequantize(
                    dot(q, weights, offset: j * k), rowScale: rowScale,
                    columnScale: layer.matrix.scales[j], bias: layer.matrix.bias[j])
            }
        }
        var shape = x.shape
        shape[shape.count - 1] = n
        return Tensor(shape: shape, scalars: out)
    }

    /// x [N, Cin, H, W] -> [N, Cout, Ho, Wo].
    static func conv2d(_ x: Tensor, _ conv: QuantizedConv2d) -> Tensor {
        let (batch, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let g = conv.geometry(height: h, width: w)
        let (cout, k, kh, kw) = (conv.outChannels, g.patchSize, conv.kernelHeight, conv.kernelWidth)
        let (ho, wo) = (g.outHeight, g.outWidth)
        let weights = conv.matrix.values
        var out = [Float](repeating: 0, count: batch * cout * ho * wo)
        var patch = [Float](repeating: 0, count: k)
        for image in 0..<batch {
            for oy in 0..<ho {
                for ox in 0..<wo {
                    // The patch of this pixel, row (c * kH + ky) * kW + kx, zero outside.
                    for c in 0..<cin {
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                let iy = oy * conv.stride - conv.padding.top + ky
                                let ix = ox * conv.stride - conv.padding.left + kx
                                let inside = iy >= 0 && iy < h && ix >= 0 && ix < w
                                patch[(c * kh + ky) * kw + kx] =
                                    inside ? x.scalars[((image * cin + c) * h + iy) * w + ix] : 0
                            }
                        }
                    }
                    let (q, pixelScale) = quantize(patch)
                    for o in 0..<cout {
                        out[((image * cout + o) * ho + oy) * wo + ox] = Int8Quantization.dequantize(
                            dot(q, weights, offset: o * k), rowScale: pixelScale,
                            columnScale: conv.matrix.scales[o], bias: conv.matrix.bias[o])
                    }
                }
            }
        }
        return Tensor(shape: [batch, cout, ho, wo], scalars: out)
    }

    /// One row quantised: (q, scale).
    static func quantize(_ row: [Float]) -> ([Int8], Float) {
        var maxAbs: Float = 0
        for v in row { maxAbs = max(maxAbs, abs(v)) }
        let (scale, inverse) = Int8Quantization.scales(maxAbs: maxAbs)
        return (row.map { Int8Quantization.quantize($0, inverse: inverse) }, scale)
    }

    /// sum_i a[i] * w[offset + i] in int32.
    private static func dot(_ a: [Int8], _ w: [Int8], offset: Int) -> Int32 {
        var sum: Int32 = 0
        for i in 0..<a.count { sum += Int32(a[i]) * Int32(w[offset + i]) }
        return sum
    }
}
