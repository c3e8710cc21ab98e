// FileBytes: the thin POSIX layer under the codecs: read a whole file, and replace a file
// atomically (temporary file in the same folder, fsync, rename), with errno texts in errors.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum FileBytes {
    /// Largest file read whole (1 GiB): far above any 64 Mpx PNG or JPEG.
    static let maximumFileSize = 1 << 30

    /// The whole file. Errors name the path and carry the system's reason.
    static func readAll(path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ImageError.unreadableFile(path: path, reason: errnoText())
        }
        defer { close(descriptor) }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw ImageError.unreadableFile(path: path, reason: errnoText())
        }
        if (status.st_mode & S_IFMT) == S_IFDIR {
            throw ImageError.unreadableFile(path: path, reason: "it is a folder, not a file")
        }

        if Int(status.st_size) > maximumFileSize {
            throw ImageError.unreadableFile(
                path: path, reason: "it holds \(status.st_size) bytes, more than the "
                    + "\(maximumFileSize)-byte (1 GiB) limit for image files")
        }

        var bytes = [UInt8]()
        bytes.reserveCapacity(max(Int(status.st_size), 0))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ImageError.unreadableFile(path: path, reason: errnoText())
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > maximumFileSize {
                throw ImageError.unreadableFile(path: path, reason: "it holds more than the "
                                                    + "\(maximumFileSize)-byte (1 GiB) limit")
            }
        }
    }

    /// Writes `bytes` to a temporary file next to `path`, flushes it to disk and renames it over
    /// `path`, so readers see either the old file or the complete new one.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temporary = temporaryPath(for: path)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ImageError.writeFailed(path: path, reason: "cannot create the temporary file "
                                            + "'\(temporary)': \(errnoText())")
        }
        do {
            try writeAll(bytes, to: descriptor, path: path)
            guard fsync(descriptor) == 0 else {
                throw ImageError.writeFailed(path: path, reason: "fsync failed: \(errnoText())")
            }
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        guard close(descriptor) == 0 else {
            let reason = errnoText()
            unlink(temporary)
            throw ImageError.writeFailed(path: path, reason: "close failed: \(reason)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = errnoText()
            unlink(temporary)
            throw ImageError.writeFailed(path: path, reason: "rename from '\(temporary)' failed: "
                                            + reason)
        }
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw ImageError.writeFailed(path: path, reason: errnoText())
            }
            offset += written
        }
    }

    /// "<folder>/.<name>.tmp-<pid>-<random>": hidden, in the same file system as the target.
    private static func temporaryPath(for path: String) -> String {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let tag = UInt32.random(in: 0...UInt32.max)
        return "\(folder).\(name).tmp-\(getpid())-\(tag)"
    }

    /// The text of the current errno.
    static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}
