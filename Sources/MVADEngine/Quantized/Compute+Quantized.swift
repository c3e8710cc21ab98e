// Int8 linear layers and convolutions (issue 4): activations are quantised per row (per token,
// or per output pixel of a convolution) at run time, multiplied exactly in int32 by
// mvad_gemm_s8 against the per-row quantised weights, and scaled back to float.
//
// A task takes a block of rows (tokens or output pixels) and computes all outputs of those
// rows; a product with too few rows for every worker is split by output columns instead. The
// float <-> int8 steps are the C kernels of mvad_quant.h. The int32 sums are exact and every
// float step is one fixed expression per element, so the result does not depend on the split
// or on the thread count, and it equals the scalar twin `ReferenceQuantized` bit for bit.

import MVADKernels

extension Compute {
    /// Rows (tokens or output pixels) per task on the int8 paths.
    static let quantizedRowChunk = 256
    /// Output columns per task when a product has too few rows to give every worker a row
    /// task: four 16-row weight panels.
    static let quantizedColumnBlock = 64

    /// How a product of `m` rows and `n` outputs is cut into tasks. Every output value is
    /// computed the same way whatever the cut, so the bits never depend on it.
    private func quantizedSplit(rows m: Int, outputs n: Int) -> (rowTasks: Int, columnTasks: Int) {
        let rowTasks = (m + Compute.quantizedRowChunk - 1) / Compute.quantizedRowChunk
        guard rowTasks < threads else { return (max(rowTasks, 1), 1) }
        // Few rows (a prompt, a time embedding, the inner UNet levels): one row task, and the
        // outputs split in whole weight panels.
        return (1, (n + Compute.quantizedColumnBlock - 1) / Compute.quantizedColumnBlock)
    }

    /// Output columns of column task `task` of a product with `n` outputs.
    private static func columnBlock(_ task: Int, of n: Int) -> Range<Int> {
        (task * quantizedColumnBlock)..<min(n, (task + 1) * quantizedColumnBlock)
    }

    /// y = x W^T + b over the last dimension: x [..., in] -> y [..., out], on int8 weights.
    public func linear(_ x: Tensor, _ layer: QuantizedLinear) -> Tensor {
        let (k, n) = (layer.inFeatures, layer.outFeatures)
        precondition(x.shape.last == k, "int8 linear expects last dim \(k), got shape \(x.shape)")
        let m = x.count / k
        var outShape = x.shape
        outShape[outShape.count - 1] = n
        let split = quantizedSplit(rows: m, outputs: n)
        let perTask = (m + split.rowTasks - 1) / split.rowTasks

        return Tensor(shape: outShape) { out in
            x.withUnsafeBufferPointer { xp in
                layer.matrix.withOperands { weights in
                    let slots = split.columnTasks > 1 ? 1 : workers(for: split.rowTasks)
                    let scratch = QuantizedScratch(slots: slots, rows: perTask, depth: k,
                                                   outputs: n)
                    let ctx = UncheckedBox((xp.start, out.start, weights, scratch.pointers))

                    // Activations [rows, K] -> int8 [rows, K] and one scale per row.
                    let quantize = { (rows: Range<Int>, slot: QuantizedScratch.Slice) in
                        for i in 0..<rows.count {
                            let row = ctx.value.0 + (rows.lowerBound + i) * k
                            let (scale, inverse) = Int8Quantization.scales(
                                maxAbs: mvad_absmax(row, k))
                            slot.rowScales[i] = scale
                            mvad_quantize_row(row, k, inverse, slot.activations + i * k)
                        }
                    }
                    // int32 [rows, columns] = int8 [rows, K] x int8 [columns, K]^T, then
                    // y = acc * rowScale * scale[n] + bias[n].
                    let multiply = { (rows: Range<Int>, columns: Range<Int>,
                                      slot: QuantizedScratch.Slice) in
                        let (_, out, weights, _) = ctx.value
                        let j = columns.lowerBound
                        mvad_gemm_s8(rows.count, columns.count, k, slot.activations, k,
                                     weights.panels(from: j, depth: k), slot.accumulators + j, n)
                        mvad_dequantize_rows(slot.accumulators + j, rows.count, columns.count, n,
                                             slot.rowScales, weights.scales + j, weights.bias + j,
                                             out + rows.lowerBound * n + j, n)
                    }

                    if split.columnTasks > 1 {
                        let slot = ctx.value.3.slice(0)
                        quantize(0..<m, slot)
                        forEachTask(split.columnTasks) { task in
                            multiply(0..<m, Compute.columnBlock(task, of: n), slot)
                        }
                    } else {
                        forEachTask(split.rowTasks) { task, worker in
                            let rows = (task * perTask)..<min(m, (task + 1) * perTask)
                            let slot = ctx.value.3.slice(worker)
                            quantize(rows, slot)
                            multiply(rows, 0..<n, slot)
                        }
                    }
                }
            }
        }
    }

    /// Convolves x [N, Cin, H, W] with int8 weights -> [N, Cout, Ho, Wo].
    ///
    /// Images are copied channels-last a group at a time, so that each output pixel's patch is
    /// kH * kW contiguous runs of Cin values, quantised straight into a row of int8
    /// activations (tap-major, the order the weights are packed in).
    public func conv2d(_ x: Tensor, _ conv: QuantizedConv2d) -> Tensor {
        precondition(x.rank == 4, "int8 conv2d expects NCHW input, got \(x.shape)")
        let (batch, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(cin == conv.inChannels,
                     "int8 conv2d expects \(conv.inChannels) input channels, got \(cin)")
        let g = conv.geometry(height: h, width: w)
        let (cout, k, plane) = (conv.outChannels, g.patchSize, g.outHeight * g.outWidth)
        precondition(g.outHeight > 0 && g.outWidth > 0,
                     "int8 conv2d output would be empty for input \(x.shape)")
        let shape = mvad_conv_shape(
            height: h, width: w, channels: cin, kernel_height: conv.kernelHeight,
            kernel_width: conv.kernelWidth, stride: conv.stride, pad_top: conv.padding.top,
            pad_left: conv.padding.left, out_width: g.outWidth)
        let inPlane = h * w
        let group = max(1, min(batch, channelsLastBudget / max(1, cin * inPlane)))
        let channelsLast = UnsafeMutablePointer<Float>.allocate(capacity: group * inPlane * (cin + 1))
        defer { channelsLast.deallocate() }

        var out = Tensor(shape: [batch, cout, g.outHeight, g.outWidth]) { _ in }
        out.withUnsafeMutableBufferPointer { op in
            x.withUnsafeBufferPointer { xp in
                conv.matrix.withOperands { weights in
                    let io = UncheckedBox((xp.start, op.start, weights, channelsLast))
                    for first in stride(from: 0, to: batch, by: group) {
                        let images = first..<min(batch, first + group)
                        // x [images, Cin, H, W] -> [images, H, W, Cin] and maxima [images, H, W].
                        forEachTask(images.count) { i in
                            let (x, _, _, last) = io.value
                            mvad_channels_last(x + (first + i) * cin * inPlane, cin, inPlane,
                                               last + i * inPlane * cin,
                                               last + images.count * inPlane * cin + i * inPlane)
                        }
                        convolveGroup(io, images: images, shape: shape, plane: plane, depth: k,
                                      outChannels: cout)
                    }
                }
            }
        }
        return out
    }

    /// Convolves the pixels of `images`, whose channels-last copy and maxima are in io.3.
    private func convolveGroup(
        _ io: UncheckedBox<(UnsafePointer<Float>, UnsafeMutablePointer<Float>,
                            QuantizedMatrix.Operands, UnsafeMutablePointer<Float>)>,
        images: Range<Int>, shape: mvad_conv_shape, plane: Int, depth k: Int, outChannels cout: Int
    ) {
        let inPlane = shape.height * shape.width
        let total = images.count * plane  // output pixels of the group
        let split = quantizedSplit(rows: total, outputs: cout)
        let perTask = (total + split.rowTasks - 1) / split.rowTasks
        let small = split.columnTasks > 1
        let scratch = QuantizedScratch(slots: small ? 1 : workers(for: split.rowTasks),
                                       rows: perTask, depth: k, outputs: cout)
        let slots = UncheckedBox(scratch.pointers)

        // Patches of group pixels `pixels` -> int8 rows from row `first` of the slot.
        let quantize = { (pixels: Range<Int>, first: Int, slot: QuantizedScratch.Slice) in
            let last = io.value.3
            let maxima = last + images.count * inPlane * shape.channels
            var pixel = pixels.lowerBound
            while pixel < pixels.upperBound {
                let (image, position) = (pixel / plane, pixel % plane)
                let run = min(plane - position, pixels.upperBound - pixel)
                let row = first + (pixel - pixels.lowerBound)
                let bad = mvad_quantize_patches(
                    last + image * inPlane * shape.channels, maxima + image * inPlane, shape,
                    position, run, slot.activations + row * k, k, slot.rowScales + row)
                precondition(bad == 0, "int8 quantisation of \(bad) patches holding infinity")
                pixel += run
            }
        }
        // int32 [pixels, columns] = int8 [pixels, K] x int8 [columns, K]^T, then stored
        // dequantised into the NCHW output.
        let multiply = { (pixels: Range<Int>, columns: Range<Int>, slot: QuantizedScratch.Slice) in
            let (_, out, weights, _) = io.value
            let j = columns.lowerBound
            mvad_gemm_s8(pixels.count, columns.count, k, slot.activations, k,
                         weights.panels(from: j, depth: k), slot.accumulators + j, cout)
            let absolute = (images.lowerBound * plane + pixels.lowerBound)
                ..< (images.lowerBound * plane + pixels.upperBound)
            storePixels(slot, pixels: absolute, columns: columns, plane: plane,
                        outChannels: cout, weights: weights, into: out)
        }

        if small {
            let slot = slots.value.slice(0)
            let block = Compute.quantizedColumnBlock
            forEachTask((total + block - 1) / block) { task in
                let pixels = (task * block)..<min(total, (task + 1) * block)
                quantize(pixels, pixels.lowerBound, slot)
            }
            forEachTask(split.columnTasks) { task in
                multiply(0..<total, Compute.columnBlock(task, of: cout), slot)
            }
        } else {
            forEachTask(split.rowTasks) { task, worker in
                let pixels = (task * perTask)..<min(total, (task + 1) * perTask)
                let slot = slots.value.slice(worker)
                quantize(pixels, 0, slot)
                multiply(pixels, 0..<cout, slot)
            }
        }
    }

    /// Writes the dequantised accumulators [pixels, columns] into the NCHW output, splitting
    /// the pixel range where it crosses from one image to the next.
    private func storePixels(_ slot: QuantizedScratch.Slice, pixels: Range<Int>,
                             columns: Range<Int>, plane: Int, outChannels cout: Int,
                             weights: QuantizedMatrix.Operands,
                             into out: UnsafeMutablePointer<Float>) {
        let j = columns.lowerBound
        var pixel = pixels.lowerBound
        while pixel < pixels.upperBound {
            let (image, position) = (pixel / plane, pixel % plane)
            let run = min(plane - position, pixels.upperBound - pixel)
            let first = pixel - pixels.lowerBound
            mvad_dequantize_columns(slot.accumulators + first * cout + j, run, columns.count,
                                    cout, slot.rowScales + first, weights.scales + j,
                                    weights.bias + j, out + (image * cout + j) * plane + position,
                                    plane)
            pixel += run
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

extension QuantizedMatrix.Operands {
    /// The packed weights from output `first` on; `first` is a multiple of the 16-row panel.
    func panels(from first: Int, depth k: Int) -> UnsafePointer<Int8> {
        precondition(first % 16 == 0, "a weight panel starts at a multiple of 16, got \(first)")
        return packed + (first / 16) * mvad_pack_s8_weights_size(16, k)
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

/// Scratch of the int8 paths: row slots (one per worker, or one shared by every task when the
/// outputs are split) of int8 activations [rows, K], int32 accumulators [rows, N] and row
/// scales [rows].
struct QuantizedScratch: ~Copyable {
    /// One row slot.
    struct Slice {
        let activations: UnsafeMutablePointer<Int8>
        let accumulators: UnsafeMutablePointer<Int32>
        let rowScales: UnsafeMutablePointer<Float>
    }

    /// The base address and byte offsets of every slot's buffers.
    struct Pointers {
        let base: UnsafeMutableRawPointer
        let slotStride: Int
        let offsets: (accumulators: Int, rowScales: Int)

        func slice(_ slot: Int) -> Slice {
            let start = base + slot * slotStride
            return Slice(
                activations: start.assumingMemoryBound(to: Int8.self),
                accumulators: (start + offsets.accumulators).assumingMemoryBound(to: Int32.self),
                rowScales: (start + offsets.rowScales).assumingMemoryBound(to: Float.self))
        }
    }

    let pointers: Pointers

    init(slots: Int, rows: Int, depth: Int, outputs: Int) {
        func aligned(_ bytes: Int) -> Int { (bytes + 63) / 64 * 64 }
        let accumulators = aligned(rows * depth)
        let rowScales = accumulators + aligned(rows * outputs * 4)
        let slotStride = rowScales + aligned(rows * 4)
        let base = UnsafeMutableRawPointer.allocate(byteCount: max(1, slots) * slotStride,
                                                    alignment: 64)
        pointers = Pointers(base: base, slotStride: slotStride,
                            offsets: (accumulators, rowScales))
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
