// RejectStore: the views, heatmap and record of rejected parts, one folder per part, under a
// size cap: after each save the oldest part folders are deleted until the total fits. Only
// folders named as the store names them count and are ever deleted; anything else a person
// puts in the folder is left alone.

import Foundation

/// A folder of rejected parts with a byte cap and rotation (oldest first out).
public final class RejectStore {
    public let folder: URL
    public let maximumBytes: Int
    /// The part folders kept, oldest first, with their sizes in bytes.
    public private(set) var entries: [(name: String, bytes: Int)] = []
    private var sequence = 0

    /// Creates the folder if needed and indexes the part folders it already holds (they sort
    /// by name in the order they were written).
    public init(folder: String, maximumBytes: Int) throws {
        precondition(maximumBytes > 0, "the rejects cap must be > 0, got \(maximumBytes)")
        self.folder = URL(fileURLWithPath: folder)
        self.maximumBytes = maximumBytes
        let files = FileManager.default
        let all: [String]
        do {
            try files.createDirectory(at: self.folder, withIntermediateDirectories: true)
            all = try files.contentsOfDirectory(atPath: folder)
        } catch {
            throw RejectStoreError.folderUnusable(path: folder, reason: error.localizedDescription)
        }
        let root = self.folder
        // Parts a crash left half-written are removed; they were never reported as saved.
        let suffix = RejectStore.partialSuffix
        for stale in all where stale.hasPrefix(".") && stale.hasSuffix(suffix)
            && RejectStore.isPartFolderName(String(stale.dropFirst().dropLast(suffix.count))) {
            try? files.removeItem(at: root.appendingPathComponent(stale))
        }
        let names = all.filter { name in
            var isFolder: ObjCBool = false
            return RejectStore.isPartFolderName(name)
                && files.fileExists(atPath: root.appendingPathComponent(name).path,
                                    isDirectory: &isFolder) && isFolder.boolValue
        }
        entries = names.sorted().map { ($0, RejectStore.size(of: root.appendingPathComponent($0))) }
    }

    /// Whether `name` has the form `folderName` gives: "20261203T193000.123Z-000001-p00000042-"
    /// and a part id.
    static func isPartFolderName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        // yyyyMMdd T HHmmss . SSS Z - 6 digits - p 8 digits - id
        let pattern = Array("dddddddd" + "T" + "dddddd" + "." + "ddd" + "Z-" + "dddddd" + "-p"
                            + "dddddddd" + "-")
        guard bytes.count > pattern.count else { return false }
        for (byte, expected) in zip(bytes, pattern) {
            if expected == "d" {
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return false }
            } else if byte != expected.asciiValue {
                return false
            }
        }
        return true
    }

    /// Bytes held now.
    public var totalBytes: Int { entries.reduce(0) { $0 + $1.bytes } }

    /// Saves one rejected part: `files` copied in, `write` adds generated files (heatmap,
    /// record) into the new folder. Returns the folder. Then rotates under the cap.
    ///
    /// The part is assembled in a hidden `.partial` folder and renamed into place only when
    /// everything is written, so a failed save leaves nothing behind. A part that alone is
    /// larger than the cap is not kept (the older parts stay) and the error says so.
    @discardableResult
    public func save(partNumber: Int, id: String, copying files: [URL], time: Date,
                     write: (URL) throws -> Void) throws -> URL {
        sequence += 1
        let name = RejectStore.folderName(time: time, sequence: sequence, partNumber: partNumber,
                                          id: id)
        let target = folder.appendingPathComponent(name)
        let staging = folder.appendingPathComponent("." + name + RejectStore.partialSuffix)
        let manager = FileManager.default
        do {
            do {
                try manager.createDirectory(at: staging, withIntermediateDirectories: true)
            } catch {
                throw RejectStoreError.writeFailed(path: staging.path,
                                                   reason: error.localizedDescription)
            }
            for file in files {
                do {
                    try manager.copyItem(at: file, to: staging.appendingPathComponent(file.lastPathComponent))
                } catch {
                    throw RejectStoreError.copyFailed(file: file.path,
                                                      reason: error.localizedDescription)
                }
            }
            do {
                try write(staging)
            } catch {
                throw RejectStoreError.writeFailed(path: staging.path,
                                                   reason: error.localizedDescription)
            }
            let bytes = RejectStore.size(of: staging)
            guard bytes <= maximumBytes else {
                throw RejectStoreError.largerThanCap(bytes: bytes, cap: maximumBytes)
            }
            do {
                try manager.moveItem(at: staging, to: target)
            } catch {
                throw RejectStoreError.writeFailed(path: target.path,
                                                   reason: error.localizedDescription)
            }
            entries.append((name, bytes))
        } catch {
            try? manager.removeItem(at: staging)
            throw error
        }
        rotate()
        return target
    }

    /// Suffix of the hidden folder a part is assembled in.
    static let partialSuffix = ".partial"

    /// Deletes the oldest folders until the total is within the cap.
    private func rotate() {
        while totalBytes > maximumBytes && entries.count > 1 {
            let oldest = entries.removeFirst()
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(oldest.name))
        }
    }

    /// "20261203T193000.123Z-000001-p000042-000": sorts in the order of writing.
    static func folderName(time: Date, sequence: Int, partNumber: Int, id: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        let safeID = String(id.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" })
        return formatter.string(from: time) + "-" + pad(sequence, 6) + "-p" + pad(partNumber, 8)
            + "-" + safeID
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Bytes of the regular files under `url`.
    static func size(of url: URL) -> Int {
        guard let walker = FileManager.default.enumerator(
            at: url, includingPropertiesForKeys: [.fileSizeKey, .isRegularFileKey]) else { return 0 }
        var total = 0
        for case let file as URL in walker {
            let values = try? file.resourceValues(forKeys: [.fileSizeKey, .isRegularFileKey])
            if values?.isRegularFile == true { total += values?.fileSize ?? 0 }
        }
        return total
    }
}

/// Why a rejected part could not be saved.
public enum RejectStoreError: Error, CustomStringConvertible, Equatable {
    case folderUnusable(path: String, reason: String)
    case copyFailed(file: String, reason: String)
    case writeFailed(path: String, reason: String)
    case largerThanCap(bytes: Int, cap: Int)

    public var description: String {
        switch self {
        case let .folderUnusable(path, reason):
            return "the rejects folder \(path) cannot be used: \(reason)"
        case let .writeFailed(path, reason):
            return "could not write \(path): \(reason)"
        case let .copyFailed(file, reason):
            return "could not copy \(file): \(reason)"
        case let .largerThanCap(bytes, cap):
            return "the part's files take \(bytes) bytes, more than rejects.max_bytes (\(cap)); "
                + "raise the cap to keep parts this large"
        }
    }
}
