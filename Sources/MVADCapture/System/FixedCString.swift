// Fixed-size C char arrays of the uAPI structs (imported by Swift as tuples): reading them as
// Strings and writing Strings into them.

/// Reads and writes NUL-terminated strings held in fixed-size C arrays (Swift tuples).
enum FixedCString {
    /// The string up to the first NUL (or the whole array), decoded as UTF-8.
    static func read<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Writes `text` (truncated to leave room for the NUL) into the array, zero-filling the rest.
    static func write<T>(_ text: String, into tuple: inout T) {
        withUnsafeMutableBytes(of: &tuple) { raw in
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            for (index, byte) in text.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
    }
}
