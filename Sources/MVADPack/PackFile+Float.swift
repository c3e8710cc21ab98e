// PackFile+Float: unquantised f32 and f16 tensors of a pack widened to engine Tensors
// (dequantising the int8 schemes belongs to the int8 kernels, not here).

import MVADEngine

extension PackFile {
    /// The tensor `name` as Float32, copied out of the mapping. f16 values are widened exactly.
    /// Throws `notAFloatTensor` for integer or quantised tensors; with `verify`, checks the
    /// tensor's CRC-32 first.
    public func floatTensor(_ name: String, verify: Bool = false) throws -> Tensor {
        let entry = try requireEntry(name)
        guard entry.quantization == .none, entry.dtype == .float32 || entry.dtype == .float16
        else {
            throw PackError.notAFloatTensor(
                path: path, tensor: name, dtype: entry.dtype, scheme: entry.quantization)
        }
        let bytes = span(of: entry)
        if verify { try check(entry, bytes) }
        return Tensor(shape: entry.shape) { destination in
            if entry.dtype == .float32 {
                Self.widenFloat32(bytes, into: destination)
            } else {
                Self.widenFloat16(bytes, into: destination)
            }
        }
    }

    /// Little-endian f32 values from `bytes` into `destination`.
    private static func widenFloat32(
        _ bytes: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>
    ) {
        for i in destination.indices {
            let bits = bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
            destination[i] = Float(bitPattern: UInt32(littleEndian: bits))
        }
    }

    /// Little-endian IEEE binary16 values from `bytes`, widened exactly into `destination`.
    private static func widenFloat16(
        _ bytes: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>
    ) {
        for i in destination.indices {
            let bits = bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
            destination[i] = Float(Float16(bitPattern: UInt16(littleEndian: bits)))
        }
    }
}
