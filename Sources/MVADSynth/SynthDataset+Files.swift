// SynthDataset+Files: the file-system side of writing a category: the overwrite check, folder
// creation, and files and JSON written with errors that name the path.

import Foundation

extension SynthDataset {
    /// Creates the category folder, or checks it may be reused (see `write`).
    func prepare(_ folder: URL, overwrite: Bool) throws {
        let manager = FileManager.default
        var isFolder: ObjCBool = false
        if manager.fileExists(atPath: folder.path, isDirectory: &isFolder) {
            guard isFolder.boolValue else {
                throw SynthError.writeFailed(path: folder.path,
                                             reason: "it is a file; a category folder is needed")
            }
            let entries = (try? manager.contentsOfDirectory(atPath: folder.path))?.sorted() ?? []
            if !entries.isEmpty {
                guard overwrite else {
                    throw SynthError.categoryNotEmpty(path: folder.path, entries: entries)
                }
                let ours = ["train", "val", "test_public", "lights.json", "manifest.json"]
                for name in ours where entries.contains(name) {
                    let path = folder.appendingPathComponent(name)
                    do {
                        try manager.removeItem(at: path)
                    } catch {
                        throw SynthError.writeFailed(path: path.path,
                                                     reason: "cannot remove it to overwrite: "
                                                         + error.localizedDescription)
                    }
                }
            }
        }
        try makeFolder(folder)
    }

    func makeFolder(_ folder: URL) throws {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw SynthError.writeFailed(path: folder.path, reason: error.localizedDescription)
        }
    }

    func writeFile(_ data: Data, to url: URL) throws {
        do {
            try data.write(to: url)
        } catch {
            throw SynthError.writeFailed(path: url.path, reason: error.localizedDescription)
        }
    }

    /// Pretty, key-sorted JSON: the same values always give the same bytes.
    func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do {
            data = try encoder.encode(value)
        } catch {
            throw SynthError.writeFailed(path: url.path, reason: "JSON encoding failed: \(error)")
        }
        try writeFile(data + Data("\n".utf8), to: url)
    }
}
