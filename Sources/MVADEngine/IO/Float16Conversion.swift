// Float16Conversion: exact widening of IEEE half (F16) and bfloat16 (BF16) bit patterns to
// Float32, reading little-endian values from possibly unaligned bytes.

/// Bit-level conversions used by the safetensors loader. Every half and bfloat16 value is
/// exactly representable as a Float32, so these conversions are exact, NaN payloads included.
enum Float16Conversion {
    /// The Float32 with the same value as the IEEE binary16 bit pattern `bits`.
    ///
    /// Finite values (normal and subnormal) are moved into place by shifting exponent and
    /// mantissa up 13 bits and scaling by 2^112, the difference of the exponent biases
    /// (127 - 15); the product is exact. Infinities and NaNs get the Float32 all-ones exponent.
    /// Half subnormals pass through a Float32 subnormal, so this assumes the CPU does not flush
    /// subnormals to zero (Swift never turns FTZ/DAZ on); the tests check all 65,536 patterns
    /// against Swift's own `Float16`, several times slower here (no F16C in the x86_64 baseline).
    @inline(__always)
    static func float(fromHalfBits bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let magnitude = UInt32(bits & 0x7FFF) << 13
        let finite = (Float(bitPattern: magnitude) * 0x1p112).bitPattern
        let special = 0x7F80_0000 | magnitude
        // A select rather than a branch, so mixed data costs no mispredictions.
        return Float(bitPattern: (bits & 0x7C00 == 0x7C00 ? special : finite) | sign)
    }

    /// The Float32 with the same value as the bfloat16 bit pattern `bits` (its top 16 bits).
    @inline(__always)
    static func float(fromBFloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Converts `count` little-endian half values starting at `source` (any alignment).
    static func convertHalf(
        from source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<count {
            let bits = source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
            destination[i] = float(fromHalfBits: UInt16(littleEndian: bits))
        }
    }

    /// Converts `count` little-endian bfloat16 values starting at `source` (any alignment).
    static func convertBFloat16(
        from source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<count {
            let bits = source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
            destination[i] = float(fromBFloat16Bits: UInt16(littleEndian: bits))
        }
    }

    /// Copies `count` little-endian Float32 values starting at `source` (any alignment).
    static func copyFloat32(
        from source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>
    ) {
        #if _endian(little)
        UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: 4 * count)
        #else
        for i in 0..<count {
            let bits = source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
            destination[i] = Float(bitPattern: UInt32(littleEndian: bits))
        }
        #endif
    }
}
