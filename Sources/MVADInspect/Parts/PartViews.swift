// PartViews: the files of one part's seven views (six lights, the normal map) and its optional
// ground-truth mask, as found in a folder in Eyecandies naming or plain naming.

import Foundation

/// One view of a part.
public enum PartView: Hashable, Sendable {
    /// Lighting condition 0...5 (Eyecandies image_K; image_5 has all lights on).
    case light(Int)
    case normals
    case mask

    /// The file-name stem of the view without a part id: "image_3", "normals", "mask".
    public var stem: String {
        switch self {
        case .light(let index): return "image_\(index)"
        case .normals: return "normals"
        case .mask: return "mask"
        }
    }
}

/// Where a part's views are. A nil URL is a view with no file in the folder.
public struct PartViews: Sendable, Equatable {
    /// How the files of a part are named.
    public enum Naming: Sendable, Equatable {
        /// `NNN_image_0..5.<ext>`, `NNN_normals.<ext>`, `NNN_mask.<ext>`; several parts per folder.
        case eyecandies
        /// `image_0..5.<ext>`, `normals.<ext>`, `mask.<ext>`; one part per folder.
        case plain
    }

    /// Number of lighting conditions of a part.
    public static let lightCount = 6
    /// File extensions of views, compared case-insensitively.
    public static let extensions = ["png", "jpg", "jpeg"]

    /// The Eyecandies number ("000"), or the folder's name for plain naming.
    public let id: String
    public let folder: URL
    public let naming: Naming
    /// The six lights, index = lighting condition.
    public let lights: [URL?]
    public let normals: URL?
    public let mask: URL?

    public init(id: String, folder: URL, naming: Naming, lights: [URL?], normals: URL?,
                mask: URL?) {
        precondition(lights.count == PartViews.lightCount,
                     "a part has \(PartViews.lightCount) lights, got \(lights.count)")
        self.id = id
        self.folder = folder
        self.naming = naming
        self.lights = lights
        self.normals = normals
        self.mask = mask
    }

    /// The file of a view, if present.
    public func url(of view: PartView) -> URL? {
        switch view {
        case .light(let index): return lights[index]
        case .normals: return normals
        case .mask: return mask
        }
    }

    /// The file-name stem of a view in this part's naming: "000_image_3" or "image_3".
    public func fileStem(of view: PartView) -> String {
        naming == .eyecandies ? "\(id)_\(view.stem)" : view.stem
    }

    /// The path of a view's file, or for a missing view the pattern it was looked for under:
    /// "<folder>/000_image_3.{png,jpg,jpeg}".
    public func path(of view: PartView) -> String {
        if let url = url(of: view) { return url.path }
        let alternatives = PartViews.extensions.joined(separator: ",")
        return folder.appendingPathComponent(fileStem(of: view)).path + ".{\(alternatives)}"
    }
}

extension PartViews {
    /// Ids of the parts of `other` that are also parts of `parts`: one of their view files is
    /// the same file (the same path, a symbolic or a hard link), or all their view files have
    /// the same contents (a copy). One identical file alone is not enough for a copy: two
    /// different parts can share, say, an all-dark view.
    public static func overlapping(_ parts: [PartViews], _ other: [PartViews]) -> [String] {
        let mine = parts.map(ViewIdentity.init)
        let files = mine.reduce(into: Set<String>()) { $0.formUnion($1.fileIDs) }
        let contents = Set(mine.compactMap(\.contents))
        return other.filter { part in
            let identity = ViewIdentity(part)
            return !identity.fileIDs.isDisjoint(with: files)
                || identity.contents.map { contents.contains($0) } ?? false
        }.map(\.id)
    }
}

/// What makes two listed parts the same part: their files, and their views' contents.
private struct ViewIdentity {
    /// "device:inode" of each view file that could be read.
    let fileIDs: Set<String>
    /// Size and FNV-1a hash of every view, in view order; nil if a view is missing or
    /// unreadable.
    let contents: [String]?

    init(_ part: PartViews) {
        var ids = Set<String>()
        var digests: [String]? = []
        for url in part.lights + [part.normals] {
            guard let url else { digests = nil; continue }
            let path = url.resolvingSymlinksInPath().path
            if let attributes = try? FileManager.default.attributesOfItem(atPath: path),
               let device = attributes[.systemNumber], let inode = attributes[.systemFileNumber] {
                ids.insert("\(device):\(inode)")
            }
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)) else {
                digests = nil
                continue
            }
            digests?.append("\(data.count):\(ViewIdentity.fnv1a(data))")
        }
        fileIDs = ids
        contents = digests
    }

    static func fnv1a(_ data: Data) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
