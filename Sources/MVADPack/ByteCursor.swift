// ByteCursor: bounds-checked little-endian reads from a span of bytes, used to parse the header
// and the tensor table without ever reading past the span.

/// Reads consecutive little-endian fields; every read reports whether the span had room.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var position = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Bytes left after the current position.
    var remaining: Int { bytes.count - position }

    mutating func u8() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        defer { position += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }

    mutating func u64() -> UInt64? {
        guard remaining >= 8 else { return nil }
        defer { position += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    /// The next `count` bytes as a sub-span, or nil when fewer remain.
    mutating func span(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, remaining >= count else { return nil }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    /// Moves the position forward by `count` bytes; false when fewer remain.
    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, remaining >= count else { return false }
        position += count
        return true
    }
}

/// Appends little-endian fields to a byte array; the writer's twin of `ByteCursor`.
struct ByteSink {
    private(set) var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { append($0) } }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { append($0) } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { append($0) } }
    mutating func append(_ span: UnsafeRawBufferPointer) { bytes.append(contentsOf: span) }
    mutating func append(_ array: [UInt8]) { bytes.append(contentsOf: array) }

    /// Appends zeros until the length is a multiple of `alignment`.
    mutating func pad(to alignment: Int) {
        let padding = (alignment - bytes.count % alignment) % alignment
        bytes.append(contentsOf: repeatElement(0, count: padding))
    }
}
