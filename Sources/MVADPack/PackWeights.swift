// PackWeights: the tensors of one component of a pack (all names under a prefix such as
// "unet.") served as a WeightSource, every tensor widened or dequantised to Float32.

import MVADEngine

/// One component of a pack, seen through the `WeightSource` protocol the model ports load from.
///
/// f32 and f16 tensors are returned as stored (f16 widened exactly). int8 tensors are
/// dequantised here, `real = Float(q) * scale`, so every model runs from any pack today.
/// FIXME(perf): int8 weights are widened to Float32 on load, because the engine's layers hold
/// Float32 weights; the int8 execution path will take the stored bytes and scales instead.
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
        switch entry.quantization {
        case .none:
            return try pack.floatTensor(entry.name)
        case .int8PerChannel, .int8Blocks32:
            return try dequantised(entry)
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
