// PackOutputFile: the temporary file a pack is written to, flushed and renamed over the target
// on commit, removed on discard.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file being written next to its final path; nothing appears at `path` until `commit()`.
final class PackOutputFile {
    private let path: String
    private let temporaryPath: String
    private let descriptor: Int32
    private var isOpen = true
    private(set) var length = 0

    init(path: String) throws {
        self.path = path
        temporaryPath = path + ".tmp-\(getpid())"
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw PackError.cannotCreate(
                path: path, reason: "opening \(temporaryPath) failed: \(errnoText())")
        }
    }

    deinit {
        if isOpen { close(descriptor) }
    }

    /// Writes all of `bytes`, retrying short and interrupted writes.
    func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { span in
            guard var cursor = span.baseAddress else { return }
            var remaining = span.count
            while remaining > 0 {
                let written = write(descriptor, cursor, min(remaining, 1 << 30))
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else {
                    let reason = written == 0 ? "the system wrote 0 bytes" : errnoText()
                    throw PackError.writeFailed(path: path, reason: reason)
                }
                cursor += written
                remaining -= written
            }
        }
        length += bytes.count
    }

    /// Writes zeros until the file is `offset` bytes long.
    func appendZeros(upTo offset: Int) throws {
        precondition(offset >= length, "tensors are written in ascending offset order")
        if offset > length { try append([UInt8](repeating: 0, count: offset - length)) }
    }

    /// Flushes, closes and renames the file into place.
    func commit() throws {
        guard fsync(descriptor) == 0 else {
            throw PackError.writeFailed(path: path, reason: errnoText())
        }
        isOpen = false
        guard close(descriptor) == 0 else {
            throw PackError.writeFailed(path: path, reason: errnoText())
        }
        guard rename(temporaryPath, path) == 0 else {
            throw PackError.cannotReplace(path: path, reason: errnoText())
        }
    }

    /// Closes and removes the temporary file after a failure.
    func discard() {
        if isOpen { close(descriptor) }
        isOpen = false
        unlink(temporaryPath)
    }
}
