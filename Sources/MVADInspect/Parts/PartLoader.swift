// PartLoader: decodes the views of a part that a modality needs, checks they share one size,
// and resizes them to the model size (bicubic for views, nearest for the mask) as tensors.

import MVADEngine

/// A part's views at the model size S.
public struct LoadedPart: Sendable {
    public let id: String
    /// The six lights [6, 3, S, S] in [0, 1]; nil when the modality does not use them.
    public let lights: Tensor?
    /// The normal map [1, 3, S, S] in [0, 1]; nil when the modality does not use it.
    public let normals: Tensor?
    /// The ground-truth mask [S, S] of 0 / 1 (1 = anomalous); nil without a mask file.
    public let mask: Tensor?
    /// Width and height of the views before resizing.
    public let originalWidth: Int
    public let originalHeight: Int

    public init(id: String, lights: Tensor?, normals: Tensor?, mask: Tensor?, originalWidth: Int,
                originalHeight: Int) {
        self.id = id
        self.lights = lights
        self.normals = normals
        self.mask = mask
        self.originalWidth = originalWidth
        self.originalHeight = originalHeight
    }
}

public enum PartLoader {
    /// Loads the views `modality` needs (lights for `.rgb`, normals for `.normals`, both for
    /// `.both`) and, if `includeMask` and the part has one, the mask. Views the modality does
    /// not need are not read. A needed view without a file is an error naming its path; so is
    /// a view whose size differs from the others. Each view is resized to size x size with
    /// Pillow's bicubic filter (see `Image.bicubicTensor`), the mask with nearest + "> 0".
    public static func load(_ part: PartViews, size: Int, modality: Modality,
                            includeMask: Bool = true) throws -> LoadedPart {
        guard size > 0 else { throw PartError.invalidSize(size) }
        let needed = neededViews(modality)
        let missing = needed.filter { part.url(of: $0) == nil }
        guard missing.isEmpty else {
            throw PartError.missingViews(part: part.id, modality: modality,
                                         paths: missing.map { part.path(of: $0) })
        }

        var reference: SizeReference?
        var lightTensors: [Tensor] = []
        var normals: Tensor?
        for view in needed {
            let image = try decode(view, of: part, reference: &reference)
            let tensor = image.bicubicTensor(width: size, height: size)     // [1, 3, S, S]
            if case .light = view { lightTensors.append(tensor) } else { normals = tensor }
        }

        var mask: Tensor?
        if includeMask, part.mask != nil {
            mask = try decode(.mask, of: part, reference: &reference)
                .maskTensor(width: size, height: size)                        // [S, S]
        }
        return LoadedPart(id: part.id, lights: stack(lightTensors, size: size), normals: normals,
                          mask: mask, originalWidth: reference?.width ?? 0,
                          originalHeight: reference?.height ?? 0)
    }

    /// Whether the part's mask file marks a defect (a non-zero pixel once resized to size x
    /// size, as `load` gives the mask); nil when the part has no mask file. Reads only the mask.
    public static func maskMarksDefect(_ part: PartViews, size: Int) throws -> Bool? {
        guard part.mask != nil else { return nil }
        guard size > 0 else { throw PartError.invalidSize(size) }
        var reference: SizeReference?
        let mask = try decode(.mask, of: part, reference: &reference)
            .maskTensor(width: size, height: size)
        return mask.scalars.contains { $0 > 0 }
    }

    /// The views a modality reads, lights first.
    public static func neededViews(_ modality: Modality) -> [PartView] {
        let lights = (0..<PartViews.lightCount).map(PartView.light)
        switch modality {
        case .both: return lights + [.normals]
        case .rgb: return lights
        case .normals: return [.normals]
        }
    }

    /// The first view's size, which every other view must match.
    private struct SizeReference {
        let path: String
        let width: Int
        let height: Int
    }

    private static func decode(_ view: PartView, of part: PartViews,
                               reference: inout SizeReference?) throws -> Image {
        let path = part.path(of: view)
        let image = try ImageDecoder.decode(path: path)
        guard let first = reference else {
            reference = SizeReference(path: path, width: image.width, height: image.height)
            return image
        }
        guard image.width == first.width && image.height == first.height else {
            throw PartError.sizeMismatch(file: path, width: image.width, height: image.height,
                                         referenceFile: first.path, referenceWidth: first.width,
                                         referenceHeight: first.height)
        }
        return image
    }

    /// [1, 3, S, S] tensors to one [N, 3, S, S] tensor, or nil for none.
    private static func stack(_ tensors: [Tensor], size: Int) -> Tensor? {
        guard !tensors.isEmpty else { return nil }
        let scalars = tensors.flatMap(\.scalars)
        return Tensor(shape: [tensors.count, 3, size, size], scalars: scalars)   // [N, 3, S, S]
    }
}
