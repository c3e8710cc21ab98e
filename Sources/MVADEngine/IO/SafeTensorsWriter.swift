// SafeTensorsWriter: writes Float32 tensors as a .safetensors file, atomically (a temporary
// file in the same folder, flushed, then renamed over the target).

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes safetensors files that `SafeTensorsFile` (and the reference implementation) read:
/// every tensor as little-endian F32, in the order given, packed from data offset 0; the header
/// is padded with spaces so the data section starts on an 8-byte boundary.
public enum SafeTensorsWriter {
    /// Writes `tensors` and `metadata` to `path`, replacing any file there only once the new
    /// one is complete and flushed; on failure the temporary file is removed.
    public static func write(
        _ tensors: [(name: String, tensor: Tensor)],
        metadata: [String: String] = [:],
        to path: String
    ) throws {
        let header = try headerBytes(tensors, metadata: metadata, path: path)
        let temporaryPath = path + ".tmp-\(getpid())"
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SafeTensorsError.cannotCreate(
                path: path,
                reason: "opening \(temporaryPath) failed with \(SafeTensorsError.errnoText())")
        }

        do {
            let output = FileOutput(descriptor: descriptor, path: path)
            var length = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &length) { try output.append($0) }
            try header.withUnsafeBytes { try output.append($0) }
            for (_, tensor) in tensors {
                try writeLittleEndian(tensor, to: output)
            }
            try output.finish()
        } catch {
            unlink(temporaryPath)
            throw error
        }

        guard rename(temporaryPath, path) == 0 else {
            let reason = SafeTensorsError.errnoText()
            unlink(temporaryPath)
            throw SafeTensorsError.cannotReplace(path: path, reason: reason)
        }
    }

    /// The JSON header, padded with spaces to a multiple of 8 bytes.
    static func headerBytes(
        _ tensors: [(name: String, tensor: Tensor)], metadata: [String: String], path: String
    ) throws -> [UInt8] {
        var object: [String: Any] = [:]
        if !metadata.isEmpty { object["__metadata__"] = metadata }

        var offset = 0
        for (name, tensor) in tensors {
            if name == "__metadata__" {
                throw SafeTensorsError.invalidTensorName(
                    path: path, tensor: name, reason: "the name is reserved for the metadata")
            }
            if object[name] != nil {
                throw SafeTensorsError.invalidTensorName(
                    path: path, tensor: name, reason: "the name appears twice in the list")
            }
            let byteCount = 4 * tensor.count
            object[name] = [
                "dtype": SafeTensorsFile.DType.float32.rawValue,
                "shape": tensor.shape,
                "data_offsets": [offset, offset + byteCount],
            ] as [String: Any]
            offset += byteCount
        }

        let json: Data
        do {
            json = try JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw SafeTensorsError.writeFailed(
                path: path, reason: "cannot encode the header as JSON: \(error)")
        }
        var bytes = [UInt8](json)
        let padding = (8 - bytes.count % 8) % 8
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        return bytes
    }

    /// Writes the scalars of `tensor` as little-endian Float32.
    private static func writeLittleEndian(_ tensor: Tensor, to output: FileOutput) throws {
        #if _endian(little)
        try tensor.withUnsafeBufferPointer { try output.append(UnsafeRawBufferPointer($0)) }
        #else
        let swapped = tensor.scalars.map { $0.bitPattern.littleEndian }
        try swapped.withUnsafeBytes { try output.append($0) }
        #endif
    }
}

/// An open file descriptor being written; `finish` flushes it to disk and closes it.
private final class FileOutput {
    private let descriptor: Int32
    private let path: String
    private var isOpen = true

    init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit {
        if isOpen { close(descriptor) }
    }

    /// Writes all of `bytes`, retrying short writes and interrupted calls.
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard var cursor = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = write(descriptor, cursor, min(remaining, 1 << 30))
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                let reason = written == 0
                    ? "the system wrote 0 bytes" : SafeTensorsError.errnoText()
                throw SafeTensorsError.writeFailed(path: path, reason: reason)
            }
            cursor += written
            remaining -= written
        }
    }

    /// Flushes the data to the device and closes the descriptor.
    func finish() throws {
        guard fsync(descriptor) == 0 else {
            throw SafeTensorsError.writeFailed(path: path, reason: SafeTensorsError.errnoText())
        }
        isOpen = false
        guard close(descriptor) == 0 else {
            throw SafeTensorsError.writeFailed(path: path, reason: SafeTensorsError.errnoText())
        }
    }
}
