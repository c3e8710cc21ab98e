// Int8 weights for the int8 model pack (issue 4): one matrix [N, K] quantised symmetrically per
// output row and kept in the packed layout of mvad_gemm_s8, and the linear / conv layers on it.

import MVADKernels

/// Why raw int8 weights (as a model pack stores them) cannot form a `QuantizedMatrix`.
public enum QuantizedWeightsError: Error, Equatable, CustomStringConvertible {
    case countMismatch(field: String, found: Int, expected: Int)
    case valueOutOfRange(row: Int, column: Int, value: Int8)
    case badScale(row: Int, value: Float)

    public var description: String {
        switch self {
        case let .countMismatch(field, found, expected):
            return "quantised weights: '\(field)' has \(found) elements, expected \(expected)"
        case let .valueOutOfRange(row, column, value):
            return "quantised weights: value \(value) at [\(row), \(column)] is outside "
                + "[-127, 127]; re-quantise symmetrically (-128 is never produced)"
        case let .badScale(row, value):
            return "quantised weights: scale \(value) of row \(row) must be finite and > 0"
        }
    }
}

/// The rounding shared by weights, activations and their scalar twins. A row is quantised with
/// scale = max|v| / 127 and q = round(v * (127 / max|v|)) with halves away from zero, clamped to
/// [-127, 127]; multiplying by the inverse (rather than dividing by the scale) keeps the hand
/// cases exact: 0.5 in a row whose max is 1 gives 0.5 * 127 = 63.5 -> 64. An all-zero row gets
/// scale 1 and all-zero q.
enum Int8Quantization {
    /// (scale, inverse) for a row whose largest magnitude is `maxAbs`.
    @inline(__always)
    static func scales(maxAbs: Float) -> (scale: Float, inverse: Float) {
        precondition(maxAbs.isFinite, "int8 quantisation of a row holding \(maxAbs)")
        if maxAbs == 0 { return (1, 1) }
        return (maxAbs / 127, 127 / maxAbs)
    }

    /// round-half-away-from-zero(value * inverse), clamped; NaN becomes 0. Written with
    /// adds and selects that vectorise on baseline x86-64 (no SSE4.1 round, no libm call, no
    /// checked conversion): adding 1.5 * 2^23, where floats are spaced by 1, rounds v to the
    /// nearest integer n with ties to even (exact for |v| <= 127); a tie that went towards
    /// zero (v - n = +-0.5 with the sign of v) is moved one step away. The result is the low
    /// byte of the biased float's bits.
    @inline(__always)
    static func quantize(_ value: Float, inverse: Float) -> Int8 {
        let magic: Float = 12_582_912
        let scaled = value * inverse
        let high = scaled > 127 ? 127 : scaled
        let clamped = high < -127 ? -127 : high
        let v = clamped == clamped ? clamped : 0
        let biased = v + magic
        let remainder = v - (biased - magic)
        let step: Float = (remainder == 0.5 && v > 0) ? 1 : ((remainder == -0.5 && v < 0) ? -1 : 0)
        return Int8(truncatingIfNeeded: (biased + step).bitPattern)
    }

    /// One output value: ((acc * rowScale) * columnScale) + bias, in exactly this order.
    @inline(__always)
    static func dequantize(_ acc: Int32, rowScale: Float, columnScale: Float,
                           bias: Float) -> Float {
        let product = Float(acc) * rowScale
        let scaled = product * columnScale
        return scaled + bias
    }
}

/// Int8 weights W [N, K] (N outputs, K inputs) with one fp32 scale per row: W ~ q * scale[n].
/// Stored packed for mvad_gemm_s8, with the layer's float bias [N] (zeros when it had none).
///
/// A convolution's K = Cin * kH * kW columns are given and read back in the weight's own
/// order, column (c * kH + ky) * kW + kx, but packed tap-major, column (ky * kW + kx) * Cin + c,
/// the order in which mvad_quantize_patches lays out a patch from channels-last input. Integer
/// sums do not depend on the order of their terms, so the products are the same.
public struct QuantizedMatrix: Sendable {
    /// N: output features / channels.
    public let rows: Int
    /// K: inputs per output (in features, or Cin * kH * kW).
    public let columns: Int
    /// kH * kW for a convolution's weights (packed tap-major), 1 for a linear layer's.
    public let taps: Int
    /// scale[n] = max|w_n| / 127 (1 for an all-zero row).
    public let scales: [Float]
    /// bias [N], zeros when the layer had none.
    public let bias: [Float]
    /// q [N, K] in the layout of mvad_pack_s8_weights: owned, or borrowed from a mapped pack.
    let packed: PackedPanels

    /// Quantises float weights [N, K] (row-major) per row; `taps` = kH * kW for a convolution.
    public init(weights: [Float], rows: Int, columns: Int, bias: [Float]?, taps: Int = 1) {
        precondition(weights.count == rows * columns,
                     "weights hold \(weights.count) values, expected \(rows) x \(columns)")
        var values = [Int8](repeating: 0, count: rows * columns)
        var scales = [Float](repeating: 1, count: rows)
        for n in 0..<rows {
            let row = weights[(n * columns)..<((n + 1) * columns)]
            let maxAbs = row.reduce(Float(0)) { Swift.max($0, abs($1)) }
            let (scale, inverse) = Int8Quantization.scales(maxAbs: maxAbs)
            scales[n] = scale
            for (k, w) in row.enumerated() {
                values[n * columns + k] = Int8Quantization.quantize(w, inverse: inverse)
            }
        }
        self.init(checked: values, scales: scales, rows: rows, columns: columns, bias: bias,
                  taps: taps)
    }

    /// Weights already quantised (what a model pack stores): q [N, K] row-major and scales [N];
    /// `taps` = kH * kW for a convolution.
    public init(values: [Int8], scales: [Float], rows: Int, columns: Int,
                bias: [Float]?, taps: Int = 1) throws(QuantizedWeightsError) {
        guard values.count == rows * columns else {
            throw .countMismatch(field: "values", found: values.count, expected: rows * columns)
        }
        guard scales.count == rows else {
            throw .countMismatch(field: "scales", found: scales.count, expected: rows)
        }
        if let bias, bias.count != rows {
            throw .countMismatch(field: "bias", found: bias.count, expected: rows)
        }
        if let n = scales.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
            throw .badScale(row: n, value: scales[n])
        }
        if let i = values.firstIndex(of: -128) {
            throw .valueOutOfRange(row: i / columns, column: i % columns, value: -128)
        }
        guard taps > 0, columns % taps == 0 else {
            throw .countMismatch(field: "columns (a multiple of the \(taps) kernel taps)",
                                 found: columns, expected: (columns / max(taps, 1)) * taps)
        }
        self.init(checked: values, scales: scales, rows: rows, columns: columns, bias: bias,
                  taps: taps)
    }

    /// Stored int8 weights of a linear [out, in] or convolution [out, in, kH, kW] layer of
    /// shape `shape`, with one scale per output.
    public init(values: [Int8], scales: [Float], shape: [Int],
                bias: [Float]?) throws(QuantizedWeightsError) {
        let rows = shape.first ?? 0
        try self.init(values: values, scales: scales, rows: rows,
                      columns: values.count / max(rows, 1), bias: bias,
                      taps: shape.count == 4 ? shape[2] * shape[3] : 1)
    }

    /// The weights of a torch.nn.Linear [out, in]; a layer holding int8 weights gives those.
    public init(_ layer: Linear) {
        if let matrix = layer.quantized {
            self = matrix
            return
        }
        self.init(weights: layer.weight.scalars, rows: layer.outFeatures,
                  columns: layer.inFeatures, bias: layer.bias?.scalars)
    }

    /// The weights of a Conv2d [Cout, Cin, kH, kW] as [Cout, Cin * kH * kW] (packed tap-major).
    /// A layer holding int8 weights gives those.
    public init(_ conv: Conv2d) {
        if let matrix = conv.quantized {
            self = matrix
            return
        }
        self.init(weights: conv.weight.scalars, rows: conv.outChannels,
                  columns: conv.inChannels * conv.kernelHeight * conv.kernelWidth,
                  bias: conv.bias?.scalars, taps: conv.kernelHeight * conv.kernelWidth)
    }

    private init(checked values: [Int8], scales: [Float], rows: Int, columns: Int,
                 bias: [Float]?, taps: Int) {
        precondition(rows > 0 && columns > 0, "quantised matrix must be non-empty")
        precondition(columns <= 65536, "mvad_gemm_s8 takes K <= 65536, got \(columns)")
        precondition(taps > 0 && columns % taps == 0, "\(columns) columns for \(taps) taps")
        self.rows = rows
        self.columns = columns
        self.taps = taps
        self.scales = scales
        self.bias = bias ?? [Float](repeating: 0, count: rows)
        let ordered = Self.reorder(values, rows: rows, columns: columns, taps: taps, toTaps: true)
        let owned = OwnedPanels(count: mvad_pack_s8_weights_size(rows, columns))
        ordered.withUnsafeBufferPointer { v in
            if let vb = v.baseAddress { mvad_pack_s8_weights(vb, rows, columns, owned.pointer) }
        }
        packed = PackedPanels(owned)
    }

    /// Weights already in the packed layout (what an int8 model pack stores, see
    /// `PackedPanels`), borrowed without a copy: `owner` must keep `panels` mapped and
    /// unchanged while the matrix lives. `shape` is the layer's weight shape [O, ...]; a
    /// convolution's columns must be packed tap-major. The row sums and values are trusted
    /// (a pack's checksums cover them); only sizes and scales are checked here.
    public init(borrowing panels: UnsafeRawBufferPointer, owner: AnyObject, scales: [Float],
                shape: [Int], bias: [Float]?) throws(QuantizedWeightsError) {
        let rows = shape.first ?? 0
        let columns = shape.dropFirst().reduce(1, *)
        let taps = shape.count == 4 ? shape[2] * shape[3] : 1
        guard rows > 0, columns > 0, columns <= 65536 else {
            throw .countMismatch(field: "columns (1 ... 65536 per row)", found: columns,
                                 expected: min(max(columns, 1), 65536))
        }
        guard panels.count == mvad_pack_s8_weights_size(rows, columns),
              let base = panels.baseAddress else {
            throw .countMismatch(field: "packed bytes", found: panels.count,
                                 expected: mvad_pack_s8_weights_size(rows, columns))
        }
        guard scales.count == rows else {
            throw .countMismatch(field: "scales", found: scales.count, expected: rows)
        }
        if let bias, bias.count != rows {
            throw .countMismatch(field: "bias", found: bias.count, expected: rows)
        }
        if let n = scales.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
            throw .badScale(row: n, value: scales[n])
        }
        self.rows = rows
        self.columns = columns
        self.taps = taps
        self.scales = scales
        self.bias = bias ?? [Float](repeating: 0, count: rows)
        packed = PackedPanels(base: base.assumingMemoryBound(to: Int8.self), count: panels.count,
                              owner: owner)
    }

    /// The bytes in the packed layout of mvad_pack_s8_weights (what an int8 pack stores).
    public func withPackedBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try packed.withUnsafeBufferPointer { try body(UnsafeRawBufferPointer($0)) }
    }

    /// True when the packed bytes are borrowed from a mapped pack rather than owned.
    public var borrowsPackedBytes: Bool { packed.isBorrowed }

    /// Moves each row's columns between the weight order (channel-major, c * taps + t) and the
    /// packed order (tap-major, t * C + c); `toTaps` picks the direction.
    private static func reorder(_ values: [Int8], rows: Int, columns: Int, taps: Int,
                                toTaps: Bool) -> [Int8] {
        guard taps > 1 else { return values }
        let channels = columns / taps
        var out = [Int8](repeating: 0, count: values.count)
        for n in 0..<rows {
            let base = n * columns
            for c in 0..<channels {
                for t in 0..<taps {
                    let (weightOrder, tapOrder) = (base + c * taps + t, base + t * channels + c)
                    if toTaps { out[tapOrder] = values[weightOrder] }
                    else { out[weightOrder] = values[tapOrder] }
                }
            }
        }
        return out
    }

    /// q [N, K] row-major in the weight's order, read back from the packed layout (panels of
    /// 16 rows, each a 64-byte row-sum header then groups of 16 rows x 4 columns).
    public var values: [Int8] {
        let groups = (columns + 3) / 4
        let panelBytes = 64 * (groups + 1)
        var values = [Int8](repeating: 0, count: rows * columns)
        for n in 0..<rows {
            let panel = (n / 16) * panelBytes + 64 + 4 * (n % 16)
            for k in 0..<columns {
                values[n * columns + k] = packed[panel + 64 * (k / 4) + k % 4]
            }
        }
        return Self.reorder(values, rows: rows, columns: columns, taps: taps, toTaps: false)
    }
}

/// torch.nn.Linear on int8 weights: y = x W^T + b with x quantised per row at run time.
public struct QuantizedLinear: Sendable {
    public let matrix: QuantizedMatrix

    public init(matrix: QuantizedMatrix) { self.matrix = matrix }

    /// Quantises a float layer.
    public init(_ layer: Linear) { matrix = QuantizedMatrix(layer) }

    public var outFeatures: Int { matrix.rows }
    public var inFeatures: Int { matrix.columns }
}

/// Conv2d (groups = 1) on int8 weights [Cout, Cin * kH * kW], with stride and padding as in
/// `Conv2d`; the input patches are quantised per output pixel at run time.
public struct QuantizedConv2d: Sendable {
    public let matrix: QuantizedMatrix
    public let inChannels: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public var stride: Int
    /// Zero padding added before the convolution: top, left, bottom, right.
    public var padding: (top: Int, left: Int, bottom: Int, right: Int)

    public init(matrix: QuantizedMatrix, inChannels: Int, kernelHeight: Int, kernelWidth: Int,
                stride: Int, padding: (top: Int, left: Int, bottom: Int, right: Int)) {
        precondition(matrix.columns == inChannels * kernelHeight * kernelWidth,
                     "conv matrix has \(matrix.columns) columns, expected "
                        + "\(inChannels) x \(kernelHeight) x \(kernelWidth)")
        precondition(matrix.taps == kernelHeight * kernelWidth,
                     "conv matrix packed for \(matrix.taps) taps, expected \(kernelHeight) x \(kernelWidth)")
        precondition(stride > 0, "conv stride must be > 0, got \(stride)")
        self.matrix = matrix
        self.inChannels = inChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.stride = stride
        self.padding = padding
    }

    /// Quantises a float convolution, keeping its stride and padding.
    public init(_ conv: Conv2d) {
        self.init(matrix: QuantizedMatrix(conv), inChannels: conv.inChannels,
                  kernelHeight: conv.kernelHeight, kernelWidth: conv.kernelWidth,
                  stride: conv.stride, padding: conv.padding)
    }

    public var outChannels: Int { matrix.rows }

    /// The int8 view of a convolution that holds int8 weights; nil for a float one.
    init?(holding conv: Conv2d) {
        guard let matrix = conv.quantized else { return nil }
        self.init(matrix: matrix, inChannels: conv.inChannels, kernelHeight: conv.kernelHeight,
                  kernelWidth: conv.kernelWidth, stride: conv.stride, padding: conv.padding)
    }
}

/// The packed bytes of a QuantizedMatrix: its own allocation, or a range of a memory-mapped
/// model pack that `owner` keeps mapped (read-only, never written through).
struct PackedPanels: @unchecked Sendable {
    let base: UnsafePointer<Int8>
    let count: Int
    private let owner: AnyObject

    init(_ owned: OwnedPanels) {
        base = UnsafePointer(owned.pointer)
        count = owned.count
        owner = owned
    }

    init(base: UnsafePointer<Int8>, count: Int, owner: AnyObject) {
        self.base = base
        self.count = count
        self.owner = owner
    }

    /// True when the bytes belong to a mapped pack rather than to the matrix.
    var isBorrowed: Bool { !(owner is OwnedPanels) }

    subscript(index: Int) -> Int8 {
        precondition(index >= 0 && index < count, "packed byte \(index) of \(count)")
        return base[index]
    }

    func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Int8>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }
}

/// A matrix's own packed bytes, freed with the last matrix holding them.
final class OwnedPanels {
    let pointer: UnsafeMutablePointer<Int8>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = UnsafeMutablePointer<Int8>.allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { pointer.deallocate() }
}
