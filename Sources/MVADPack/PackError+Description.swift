// PackError+Description: the sentences PackError prints, one per case, each saying which file,
// which section or tensor, what was found and what was expected.

extension PackError: CustomStringConvertible {
    public var description: String {
        fileDescription ?? tableDescription ?? dataDescription ?? "malformed .mvad pack"
    }

    /// Opening, header, section and metadata cases.
    private var fileDescription: String? {
        switch self {
        case let .cannotOpen(path, reason):
            return "\(path): cannot open the file for reading: \(reason)."
        case let .notARegularFile(path):
            return "\(path): is not a regular file (a directory?); expected a .mvad pack."
        case let .emptyFile(path):
            return "\(path): the file is empty (0 bytes); expected a .mvad pack that starts with "
                + "a \(PackFormat.headerSize)-byte header."
        case let .cannotMap(path, reason):
            return "\(path): cannot memory-map the file: \(reason)."
        case let .fileTooShort(path, size):
            return "\(path): the file is \(size) bytes long, shorter than the "
                + "\(PackFormat.headerSize)-byte header; it is truncated or not a .mvad pack."
        case let .badMagic(path, found):
            return "\(path): the header starts with bytes \(hex(found)); expected \"MVADPACK\" "
                + "(this is not a .mvad pack)."
        case let .unsupportedMajorVersion(path, major, minor):
            return "\(path): the pack is format version \(major).\(minor); this reader handles "
                + "major version \(PackFormat.majorVersion) only. Use a matching mvad."
        case let .headerChecksumMismatch(path, stored, computed):
            return "\(path): the header's CRC-32 is \(hex(computed)) but the header stores "
                + "\(hex(stored)); the header is corrupt."
        case let .unknownFlags(path, flags):
            return "\(path): the header sets flags \(hex(flags)); format "
                + "\(PackFormat.majorVersion).x defines none, so expected 0."
        case let .truncated(path, declared, actual, section):
            return "\(path): the header declares a \(declared)-byte file but it holds \(actual) "
                + "bytes, ending inside the \(section); the file is truncated (incomplete copy?)."
        case let .trailingBytes(path, declared, actual):
            return "\(path): the header declares a \(declared)-byte file but it holds \(actual) "
                + "bytes; expected no bytes after the data section."
        case let .sectionOutOfBounds(path, section, offset, length, fileSize):
            return "\(path): the \(section) spans \(length) bytes from offset \(offset), past "
                + "the end of the \(fileSize)-byte file."
        case let .sectionMisaligned(path, section, offset, alignment):
            return "\(path): the \(section) starts at offset \(offset); expected a multiple of "
                + "\(alignment)."
        case let .sectionsOutOfOrder(path, earlier, later, earlierEnd, laterStart):
            return "\(path): the \(later) starts at offset \(laterStart), before the \(earlier) "
                + "ends at \(earlierEnd); expected header, metadata, table, data in that order."
        case let .metadataTooLarge(path, length, limit):
            return "\(path): the metadata block is \(length) bytes, over the limit of \(limit)."
        case let .metadataChecksumMismatch(path, stored, computed):
            return "\(path): the metadata block's CRC-32 is \(hex(computed)) but the header "
                + "stores \(hex(stored)); the metadata is corrupt."
        case let .metadataNotUTF8(path):
            return "\(path): the metadata block is not valid UTF-8; expected a UTF-8 JSON object."
        case let .metadataNotJSONObject(path, reason):
            return "\(path): the metadata block is not a JSON object (\(reason))."
        default:
            return nil
        }
    }

    /// Tensor-table cases.
    private var tableDescription: String? {
        switch self {
        case let .tableTooShort(path, length):
            return "\(path): the tensor table is \(length) bytes; expected at least "
                + "\(PackFormat.tableHeaderSize) for its tensor count."
        case let .tableTooLarge(path, length, limit):
            return "\(path): the tensor table is \(length) bytes, over the limit of \(limit)."
        case let .tableChecksumMismatch(path, stored, computed):
            return "\(path): the tensor table's CRC-32 is \(hex(computed)) but the header "
                + "stores \(hex(stored)); the table is corrupt."
        case let .tensorCountTooLarge(path, count, limit):
            return "\(path): the tensor table declares \(count) tensors; its length allows at "
                + "most \(limit)."
        case let .entryTruncated(path, index, needed, remaining):
            return "\(path): table entry \(index) needs \(needed) bytes but only \(remaining) "
                + "remain in the tensor table."
        case let .tableTrailingBytes(path, used, length):
            return "\(path): the entries use \(used) of the tensor table's \(length) bytes; "
                + "expected them to fill it exactly."
        case let .unknownDType(path, tensor, code):
            return "\(path): tensor '\(tensor)' has dtype code \(code); expected 1 (f32), "
                + "2 (f16), 3 (i8), 4 (i32) or 5 (u8)."
        case let .unknownQuantization(path, tensor, code):
            return "\(path): tensor '\(tensor)' has quantisation code \(code); expected 0 "
                + "(none), 1 (int8 per channel) or 2 (int8 blocks of 32)."
        case let .rankTooLarge(path, index, rank):
            return "\(path): table entry \(index) has rank \(rank); expected at most "
                + "\(PackFormat.maximumRank)."
        case let .emptyName(path, index):
            return "\(path): table entry \(index) has an empty name; expected 1 to "
                + "\(PackFormat.maximumNameLength) UTF-8 bytes."
        case let .nameTooLong(path, index, length):
            return "\(path): table entry \(index) has a \(length)-byte name; expected at most "
                + "\(PackFormat.maximumNameLength) bytes."
        case let .nameNotUTF8(path, index):
            return "\(path): the name of table entry \(index) is not valid UTF-8."
        case let .duplicateName(path, tensor):
            return "\(path): two tensors are named '\(tensor)'; expected unique names."
        case let .extentTooLarge(path, tensor, extent):
            return "\(path): tensor '\(tensor)' has a shape extent of \(extent), larger than "
                + "any file can hold."
        case let .sizeOverflow(path, tensor, dtype, shape):
            return "\(path): tensor '\(tensor)' of dtype \(dtype) and shape \(shape) has a byte "
                + "count that overflows a 64-bit integer."
        case let .byteLengthMismatch(path, tensor, dtype, shape, expected, found):
            return "\(path): tensor '\(tensor)' stores \(found) bytes but dtype \(dtype) x "
                + "shape \(shape) needs \(expected)."
        default:
            return nil
        }
    }

    /// Data-section, quantisation, access and writing cases.
    private var dataDescription: String? {
        switch self {
        case let .tensorOutOfBounds(path, tensor, offset, length, data):
            return "\(path): tensor '\(tensor)' spans \(length) bytes from offset \(offset), "
                + "outside the data section (bytes \(data))."
        case let .tensorMisaligned(path, tensor, offset):
            return "\(path): tensor '\(tensor)' starts at offset \(offset); expected a multiple "
                + "of \(PackFormat.dataAlignment)."
        case let .tensorsOverlapOrUnsorted(path, first, firstRange, second, secondRange):
            return "\(path): tensor '\(second)' (bytes \(secondRange)) starts before tensor "
                + "'\(first)' (bytes \(firstRange)) ends; expected table order to follow "
                + "ascending, non-overlapping offsets."
        case let .quantizedDTypeMismatch(path, tensor, scheme, dtype):
            return "\(path): tensor '\(tensor)' uses scheme \(scheme) with dtype \(dtype); "
                + "expected i8."
        case let .unexpectedScalesName(path, tensor, scales):
            return "\(path): tensor '\(tensor)' is not quantised but names scales '\(scales)'; "
                + "expected no scales name."
        case let .scalesNotFound(path, tensor, scales):
            return "\(path): tensor '\(tensor)' names scales '\(scales)', which the pack does "
                + "not hold (or names itself)."
        case let .scalesDTypeMismatch(path, tensor, scales, dtype, allowed):
            let names = allowed.map(\.description).joined(separator: " or ")
            return "\(path): scales '\(scales)' of tensor '\(tensor)' have dtype \(dtype); "
                + "expected \(names)."
        case let .shapeUnfitForScheme(path, tensor, scheme, shape):
            return "\(path): tensor '\(tensor)' of shape \(shape) cannot use scheme \(scheme); "
                + "expected rank >= 1 (and a last extent divisible by 32 for blocks)."
        case let .scalesShapeMismatch(path, tensor, scales, found, expected):
            return "\(path): scales '\(scales)' of tensor '\(tensor)' have shape \(found); "
                + "expected \(expected)."
        case let .dataChecksumMismatch(path, tensor, stored, computed):
            return "\(path): the data of tensor '\(tensor)' has CRC-32 \(hex(computed)) but "
                + "the table stores \(hex(stored)); the tensor data is corrupt."
        case let .paddingNotZero(path, offset):
            return "\(path): the padding byte at file offset \(offset) is not zero; expected "
                + "zero padding between sections and tensors."
        case let .tensorNotFound(path, tensor):
            return "\(path): the pack holds no tensor named '\(tensor)'."
        case let .notAFloatTensor(path, tensor, dtype, scheme):
            return "\(path): tensor '\(tensor)' is \(dtype) with scheme \(scheme); expected an "
                + "unquantised f32 or f16 tensor."
        case let .invalidMetadataJSON(path, reason):
            return "\(path): cannot write the metadata: \(reason); expected a JSON object."
        case let .cannotCreate(path, reason):
            return "\(path): cannot create the file: \(reason)."
        case let .writeFailed(path, reason):
            return "\(path): writing failed: \(reason); any previous file is untouched."
        case let .cannotReplace(path, reason):
            return "\(path): cannot move the finished file into place: \(reason)."
        default:
            return nil
        }
    }
}

/// `value` as 0x-prefixed hexadecimal.
private func hex<T: BinaryInteger>(_ value: T) -> String {
    "0x" + String(value, radix: 16)
}

/// `bytes` as space-separated hexadecimal pairs.
private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
}
