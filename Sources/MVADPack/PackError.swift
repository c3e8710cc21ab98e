// PackError: every way a .mvad pack can fail to open, validate, read or be written, each case
// described as a full sentence naming the file, the section or tensor, found and expected.

/// A defect in a pack file, or a failure to read or write one. One case per defect.
public enum PackError: Error, Sendable, Equatable {
    // Opening the file.
    case cannotOpen(path: String, reason: String)
    case notARegularFile(path: String)
    case emptyFile(path: String)
    case cannotMap(path: String, reason: String)
    case fileTooShort(path: String, size: Int)

    // The header.
    case badMagic(path: String, found: [UInt8])
    case unsupportedMajorVersion(path: String, major: UInt32, minor: UInt32)
    case headerChecksumMismatch(path: String, stored: UInt32, computed: UInt32)
    case unknownFlags(path: String, flags: UInt64)
    case truncated(path: String, declaredSize: UInt64, actualSize: Int, section: String)
    case trailingBytes(path: String, declaredSize: UInt64, actualSize: Int)
    case sectionOutOfBounds(path: String, section: String, offset: UInt64, length: UInt64,
                            fileSize: Int)
    case sectionMisaligned(path: String, section: String, offset: UInt64, alignment: Int)
    case sectionsOutOfOrder(path: String, earlier: String, later: String, earlierEnd: UInt64,
                            laterStart: UInt64)

    // The metadata block.
    case metadataTooLarge(path: String, length: UInt64, limit: Int)
    case metadataChecksumMismatch(path: String, stored: UInt32, computed: UInt32)
    case metadataNotUTF8(path: String)
    case metadataNotJSONObject(path: String, reason: String)

    // The tensor table.
    case tableTooShort(path: String, length: UInt64)
    case tableTooLarge(path: String, length: UInt64, limit: Int)
    case tableChecksumMismatch(path: String, stored: UInt32, computed: UInt32)
    case tensorCountTooLarge(path: String, count: UInt64, limit: Int)
    case entryTruncated(path: String, index: Int, needed: Int, remaining: Int)
    case tableTrailingBytes(path: String, used: Int, length: Int)
    case unknownDType(path: String, tensor: String, code: UInt8)
    case unknownQuantization(path: String, tensor: String, code: UInt8)
    case rankTooLarge(path: String, index: Int, rank: Int)
    case emptyName(path: String, index: Int)
    case nameTooLong(path: String, index: Int, length: UInt64)
    case nameNotUTF8(path: String, index: Int)
    case duplicateName(path: String, tensor: String)
    case extentTooLarge(path: String, tensor: String, extent: UInt64)
    case sizeOverflow(path: String, tensor: String, dtype: PackDType, shape: [Int])
    case byteLengthMismatch(path: String, tensor: String, dtype: PackDType, shape: [Int],
                            expected: Int, found: UInt64)

    // The data section.
    case tensorOutOfBounds(path: String, tensor: String, offset: UInt64, length: UInt64,
                           dataSection: Range<Int>)
    case tensorMisaligned(path: String, tensor: String, offset: UInt64)
    case tensorsOverlapOrUnsorted(path: String, first: String, firstRange: Range<Int>,
                                  second: String, secondRange: Range<Int>)

    // Quantisation.
    case quantizedDTypeMismatch(path: String, tensor: String, scheme: PackQuantization,
                                dtype: PackDType)
    case unexpectedScalesName(path: String, tensor: String, scales: String)
    case scalesNotFound(path: String, tensor: String, scales: String)
    case scalesDTypeMismatch(path: String, tensor: String, scales: String, dtype: PackDType,
                             allowed: [PackDType])
    case shapeUnfitForScheme(path: String, tensor: String, scheme: PackQuantization,
                             shape: [Int])
    case scalesShapeMismatch(path: String, tensor: String, scales: String, found: [Int],
                             expected: [Int])

    // Verification and access.
    case dataChecksumMismatch(path: String, tensor: String, stored: UInt32, computed: UInt32)
    case paddingNotZero(path: String, offset: Int)
    case tensorNotFound(path: String, tensor: String)
    case notAFloatTensor(path: String, tensor: String, dtype: PackDType,
                         scheme: PackQuantization)

    // Writing.
    case invalidMetadataJSON(path: String, reason: String)
    case cannotCreate(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case cannotReplace(path: String, reason: String)
}
