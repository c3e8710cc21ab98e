// PackWeights: the tensors of one component of a pack (all names under a prefix such as
// "unet.") served as a WeightSource: int8 weights as stored, or any tensor as Float32.

import MVADEngine

/// One component of a pack, seen through the `WeightSource` protocol the model ports load from.
///
/// `quantized(_:)` hands out per-output-channel int8 tensors as stored, which the model
/// loaders turn into int8 layers. `tensor(_:)` returns f32 and f16 tensors as stored (f16
/// widened exactly) and dequantises int8 ones, `real = Float(q) * scale`, for callers that
/// need floats. Blockwise int8 (blocks of 32) has no int8 layer and is always dequantised.
public struct PackWeights: WeightSource {
    public let pack: PackFile
    /// The key prefix of the component, e.g. "unet."; names are served without it.
    public let prefix: String
    /// Stored names under the prefix, without it, except the scales of quantised tensors.
    public let names: [String]

    public init(pack: PackFile, prefix: String) {
        self.pack = pack
        self.prefix = prefix
        let scales = Set(pack.entries.map(\.scalesName).filter { !$0.isEmpty })
        names = pack.names
            .filter { $0.hasPrefix(prefix) && !scales.contains($0) }
            .map { String($0.dropFirst(prefix.count)) }
    }

    public func shape(_ name: String) -> [Int]? {
        pack.entry(prefix + name)?.shape
    }

    public func tensor(_ name: String) throws -> Tensor {
        let entry = try pack.requireEntry(prefix + name)
        defer { pack.releaseResidentPages(of: entry) }
        switch entry.quantization {
        case .none:
            return try pack.floatTensor(entry.name)
        case .int8PerChannel, .int8Blocks32:
            return try dequantised(entry)
        case .int8Panels:
            guard let (values, scales) = try quantized(name) else {
                preconditionFailure("a panel entry always has int8 values")
            }
            let run = entry.elementCount / max(scales.count, 1)
            return Tensor(shape: entry.shape) { out in
                for i in 0..<values.count { out[i] = Float(values[i]) * scales[i / run] }
            }
        }
    }

    /// The int8 values (row-major, the weight's own column order) and per-row scales of a
    /// per-output-channel tensor, stored plain or in panels; nil for others. A row of scale 0
    /// (the converter's mark of an all-zero channel) dequantises to zeros whatever its values,
    /// so it is served as zeros with scale 1, the engine's convention.
    public func quantized(_ name: String) throws -> (values: [Int8], scales: [Float])? {
        let entry = try pack.requireEntry(prefix + name)
        var values: [Int8]
        switch entry.quantization {
        case .int8PerChannel:
            let count = entry.elementCount
            values = try pack.withUnsafeBytes(entry.name) { bytes in
                [Int8](unsafeUninitializedCapacity: count) { buffer, initialized in
                    if let destination = buffer.baseAddress, let source = bytes.baseAddress {
                        UnsafeMutableRawPointer(destination).copyMemory(from: source,
                                                                        byteCount: count)
                    }
                    initialized = count
                }
            }
            pack.releaseResidentPages(of: entry)
        case .int8Panels:
            guard let matrix = try borrowedMatrix(entry, bias: nil) else { return nil }
            values = matrix.values
        case .none, .int8Blocks32:
            return nil
        }
        var scales = try pack.floatTensor(entry.scalesName).scalars
        let run = entry.elementCount / max(scales.count, 1)
        for row in scales.indices where scales[row] == 0 {
            scales[row] = 1
            values.replaceSubrange((row * run)..<((row + 1) * run),
                                   with: repeatElement(0, count: run))
        }
        return (values, scales)
    }

    /// The matrix of a panel-layout entry, multiplying straight from the mapping (the
    /// matrix keeps the pack alive). Scale-0 rows are all-zero rows: served with scale 1.
    private func borrowedMatrix(_ entry: PackEntry, bias: [Float]?) throws -> QuantizedMatrix? {
        let scales = try pack.floatTensor(entry.scalesName).scalars.map { $0 == 0 ? 1 : $0 }
        return try pack.withUnsafeBytes(entry.name) { bytes in
            try QuantizedMatrix(borrowing: bytes, owner: pack, scales: scales,
                                shape: entry.shape, bias: bias)
        }
    }

    /// The packed int8 matrix of `name`, built once per pack: the UNet and a ControlLoRA stored
    /// separate over its encoder load the same unet.* tensors and share one copy.
    public func quantizedMatrix(_ name: String, shape: [Int], bias: Tensor?) throws
        -> QuantizedMatrix? {
        let entry = try pack.requireEntry(prefix + name)
        if entry.quantization == .int8Panels {
            return try borrowedMatrix(entry, bias: bias?.scalars)
        }
        return try pack.quantizedMatrices.matrix(prefix + name, bias: bias?.scalars) {
            guard let (values, scales) = try quantized(name) else { return nil }
            return try QuantizedMatrix(values: values, scales: scales, shape: shape,
                                       bias: bias?.scalars)
        }
    }

    /// An int8 tensor times its scales. The open check guarantees i8 values, f32 or f16 scales
    /// of the shape the scheme needs, and a byte length equal to the element count.
    private func dequantised(_ entry: PackEntry) throws -> Tensor {
        let scales = try pack.floatTensor(entry.scalesName).scalars
        let count = entry.elementCount
        // Elements sharing one scale: a whole output row, or a block of 32.
        let run = entry.quantization == .int8PerChannel
            ? count / max(entry.shape.first ?? 1, 1)
            : PackFormat.quantizationBlockSize
        return try pack.withUnsafeBytes(entry.name) { bytes in
            Tensor(shape: entry.shape) { destination in
                for i in 0..<count {
                    let q = Int8(bitPattern: bytes[i])
                    destination[i] = Float(q) * scales[i / run]
                }
            }
        }
    }
}
