// PackFormat: the constants, element types and quantisation schemes of the .mvad container,
// exactly as docs/FORMAT.md defines them (version 1.0).

/// Fixed numbers of the on-disk format; docs/FORMAT.md is the normative description.
public enum PackFormat {
    /// The eight bytes every pack starts with.
    public static let magic: [UInt8] = Array("MVADPACK".utf8)
    /// The major version this reader understands; any other major is refused.
    public static let majorVersion: UInt32 = 1
    /// The minor version this writer produces; readers accept any minor of their major.
    public static let minorVersion: UInt32 = 0
    /// Size of the fixed header in bytes.
    public static let headerSize = 128
    /// Header bytes covered by the header's own CRC-32 (all but its last four bytes).
    public static let headerChecksummedSize = 124
    /// Alignment of the data section and of every tensor's first byte.
    public static let dataAlignment = 64
    /// Alignment of the metadata block and the tensor table.
    public static let sectionAlignment = 8
    /// Longest tensor name, in UTF-8 bytes.
    public static let maximumNameLength = 1024
    /// Largest rank a tensor may have.
    public static let maximumRank = 8
    /// Largest metadata block, in bytes.
    public static let maximumMetadataLength = 16 << 20
    /// Largest tensor table, in bytes (a 2,000-tensor model needs well under 1 MiB).
    public static let maximumTableLength = 64 << 20
    /// Largest number of tensors in one table.
    public static let maximumTensorCount = 1 << 20
    /// Bytes of the table before the first entry: the u64 count.
    public static let tableHeaderSize = 8
    /// Bytes of an entry before its shape: the fixed fields.
    public static let entryFixedSize = 32
    /// Elements per block of the `.int8Blocks32` scheme.
    public static let quantizationBlockSize = 32
}

/// The element type of a stored tensor, with its one-byte code in the table.
public enum PackDType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case float32 = 1
    case float16 = 2
    case int8 = 3
    case int32 = 4
    case uint8 = 5

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .float16: return 2
        case .int8, .uint8: return 1
        }
    }

    /// The short name used in errors and by `mvad info`: f32, f16, i8, i32, u8.
    public var description: String {
        switch self {
        case .float32: return "f32"
        case .float16: return "f16"
        case .int8: return "i8"
        case .int32: return "i32"
        case .uint8: return "u8"
        }
    }
}

/// How a tensor's stored values map to real numbers, with its one-byte code in the table.
///
/// Both int8 schemes are symmetric (no zero point): real = Float(q) * scale. The scales live
/// in a separate tensor of the same pack, named in the quantised tensor's entry.
public enum PackQuantization: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The values are stored as they are.
    case none = 0
    /// i8 values of shape [O, ...]; one f32 scale per output channel, scales of shape [O].
    case int8PerChannel = 1
    /// i8 values of shape [..., K] with K a multiple of 32; one scale (f16 or f32) per run of
    /// 32 consecutive elements along the last axis, scales of shape [..., K / 32].
    case int8Blocks32 = 2
    /// i8 weights of shape [O, ...] (K = the product of the other extents) in the packed panel
    /// layout of mvad_gemm_s8 (docs/FORMAT.md): P = ceil(O / 16) panels of 64 * (ceil(K / 4) + 1)
    /// bytes, each a 16-row int32 row-sum header then 16 x 4 groups; a rank-4 convolution
    /// weight's K columns are packed tap-major, (ky * kW + kx) * Cin + c. One f32 scale per
    /// output channel, scales of shape [O]. The runtime multiplies straight from the mapping.
    case int8Panels = 3

    /// The short name used in errors and by `mvad info`.
    public var description: String {
        switch self {
        case .none: return "none"
        case .int8PerChannel: return "int8/channel"
        case .int8Blocks32: return "int8/block32"
        case .int8Panels: return "int8/panels"
        }
    }

    /// The scale shape this scheme needs for a quantised tensor of `shape`, or nil when the
    /// shape cannot carry the scheme (rank 0, or a last extent not a multiple of 32).
    public func scaleShape(for shape: [Int]) -> [Int]? {
        switch self {
        case .none:
            return nil
        case .int8PerChannel, .int8Panels:
            guard let channels = shape.first else { return nil }
            return [channels]
        case .int8Blocks32:
            let block = PackFormat.quantizationBlockSize
            guard let last = shape.last, last % block == 0 else { return nil }
            return shape.dropLast() + [last / block]
        }
    }

    /// The dtypes this scheme allows for its scales tensor.
    public var scaleDTypes: [PackDType] {
        switch self {
        case .none: return []
        case .int8PerChannel, .int8Panels: return [.float32]
        case .int8Blocks32: return [.float16, .float32]
        }
    }
}
