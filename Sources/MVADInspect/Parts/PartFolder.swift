// PartFolder: finds the parts in a folder from the file names of their views (Eyecandies
// `NNN_image_K.<ext>` or plain `image_K.<ext>`), ignoring depth maps and every other file.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum PartFolder {
    /// Every part in `folder`, sorted by id (numerically for Eyecandies ids). A folder in plain
    /// naming holds one part, whose id is the folder's name. Views may be PNG or JPEG (extension
    /// case-insensitive); `NNN_depth.*`, hidden files and other files are ignored. Parts may miss
    /// views: loading reports what a modality lacks.
    public static func parts(in folder: URL) throws -> [PartViews] {
        var groups: [PartKey: [PartView: [String]]] = [:]
        for name in try fileNames(in: folder.path) {
            guard let (key, view) = classify(name) else { continue }
            guard isFile(folder.appendingPathComponent(name).path) else { continue }
            groups[key, default: [:]][view, default: []].append(name)
        }
        try checkOneNaming(groups, folder: folder)

        return try groups.keys.sorted(by: PartKey.precedes).map { key in
            let id = key.naming == .plain ? folder.lastPathComponent : key.id
            let views = try resolve(groups[key] ?? [:], part: id, folder: folder)
            return PartViews(id: id, folder: folder, naming: key.naming,
                             lights: (0..<PartViews.lightCount).map { views[.light($0)] },
                             normals: views[.normals], mask: views[.mask])
        }
    }

    /// The part with Eyecandies id `id` (or the plain part, for id == folder name) in `folder`.
    public static func part(id: String, in folder: URL) throws -> PartViews? {
        try parts(in: folder).first { $0.id == id }
    }

    /// Which part and view a file name belongs to, or nil for files that are not views.
    static func classify(_ name: String) -> (PartKey, PartView)? {
        guard !name.hasPrefix("."), let dot = name.lastIndex(of: ".") else { return nil }
        let fileExtension = name[name.index(after: dot)...].lowercased()
        guard PartViews.extensions.contains(fileExtension) else { return nil }
        let stem = String(name[..<dot])
        if let view = view(named: stem) {
            return (PartKey(naming: .plain, id: ""), view)
        }
        guard let underscore = stem.firstIndex(of: "_") else { return nil }
        let id = String(stem[..<underscore])
        guard !id.isEmpty, id.allSatisfy({ $0.isASCII && $0.isNumber }),
              let view = view(named: String(stem[stem.index(after: underscore)...])) else {
            return nil
        }
        return (PartKey(naming: .eyecandies, id: id), view)
    }

    /// "image_0".."image_5", "normals", "mask"; nil otherwise (depth maps included).
    private static func view(named stem: String) -> PartView? {
        if stem == PartView.normals.stem { return .normals }
        if stem == PartView.mask.stem { return .mask }
        return (0..<PartViews.lightCount).lazy.map(PartView.light).first { $0.stem == stem }
    }

    /// One URL per view; two files for one view are an error naming both.
    private static func resolve(_ files: [PartView: [String]], part: String,
                                folder: URL) throws -> [PartView: URL] {
        var urls: [PartView: URL] = [:]
        for (view, names) in files {
            guard names.count == 1, let name = names.first else {
                let paths = names.sorted().map { folder.appendingPathComponent($0).path }
                throw PartError.ambiguousView(part: part, files: paths)
            }
            urls[view] = folder.appendingPathComponent(name)
        }
        return urls
    }

    private static func checkOneNaming(_ groups: [PartKey: [PartView: [String]]],
                                       folder: URL) throws {
        let plain = groups.first { $0.key.naming == .plain }
        let eyecandies = groups.first { $0.key.naming == .eyecandies }
        if let plain, let eyecandies {
            let example = { (views: [PartView: [String]]) in views.values.flatMap { $0 }.sorted()
                .first ?? "" }
            throw PartError.mixedNaming(folder: folder.path, plainFile: example(plain.value),
                                        eyecandiesFile: example(eyecandies.value))
        }
    }

    /// The names in a folder, through the C library so errors carry the system's reason.
    static func fileNames(in path: String) throws -> [String] {
        guard let directory = opendir(path) else {
            throw PartError.unreadableFolder(path: path, reason: FileBytes.errnoText())
        }
        defer { closedir(directory) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 {
                    throw PartError.unreadableFolder(path: path, reason: FileBytes.errnoText())
                }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            names.append(name)
        }
    }

    /// True for a regular file or a link to one.
    static func isFile(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
    }

    /// True for a folder or a link to one.
    static func isFolder(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }
}

/// A part's identity within a folder while its files are grouped.
struct PartKey: Hashable {
    let naming: PartViews.Naming
    let id: String

    /// Numeric order of Eyecandies ids ("9" before "10"), then text order.
    static func precedes(_ lhs: PartKey, _ rhs: PartKey) -> Bool {
        let left = lhs.id.drop { $0 == "0" }
        let right = rhs.id.drop { $0 == "0" }
        if left.count != right.count { return left.count < right.count }
        if left != right { return left < right }
        return lhs.id < rhs.id
    }
}
