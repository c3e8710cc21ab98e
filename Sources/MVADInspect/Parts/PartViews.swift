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
    /// The view files of this part with symbolic links resolved (the mask left out).
    public var resolvedViewFiles: Set<String> {
        Set((lights + [normals]).compactMap { $0?.resolvingSymlinksInPath().path })
    }

    /// Ids of the parts of `other` that share a view file with some part of `parts`: the same
    /// part listed twice, perhaps through a link.
    public static func overlapping(_ parts: [PartViews], _ other: [PartViews]) -> [String] {
        let files = parts.reduce(into: Set<String>()) { $0.formUnion($1.resolvedViewFiles) }
        return other.filter { !$0.resolvedViewFiles.isDisjoint(with: files) }.map(\.id)
    }
}
