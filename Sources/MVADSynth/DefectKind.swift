// DefectKind and DefectParameters: the defects the generator can put on a part, which of the
// part's properties each changes (albedo, geometry or both), and the numbers that place it.

import Foundation

/// A defect type. Albedo defects leave normals and depth bit-identical; geometry defects leave
/// the albedo bit-identical; `missing` changes both.
public enum DefectKind: String, CaseIterable, Codable, Sendable {
    /// A dark, irregular blot: albedo only.
    case stain
    /// A larger faded (desaturated, lightened) patch: albedo only.
    case discolouration
    /// A shallow smooth depression: height only.
    case dent
    /// A shallow smooth swelling: height only.
    case bump
    /// A narrow straight groove: height only.
    case scratch
    /// A bite out of the rim: the surface drops to the belt and shows the belt's albedo.
    case missing

    /// Which properties of the surface this kind changes.
    public var changesAlbedo: Bool {
        self == .stain || self == .discolouration || self == .missing
    }

    public var changesGeometry: Bool {
        self == .dent || self == .bump || self == .scratch || self == .missing
    }

    /// Parses a comma-separated list ("stain,dent"); duplicates are kept once, in first order.
    /// An empty list or an unknown name is an error naming the known kinds.
    public static func parseList(_ text: String) throws -> [DefectKind] {
        var kinds: [DefectKind] = []
        for raw in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = raw.trimmingCharacters(in: .whitespaces).lowercased()
            guard let kind = DefectKind(rawValue: name == "discoloration" ? "discolouration"
                                                                           : name) else {
                throw SynthError.unknownDefectKind(name: String(raw),
                                                   known: allCases.map(\.rawValue))
            }
            if !kinds.contains(kind) { kinds.append(kind) }
        }
        guard !kinds.isEmpty else { throw SynthError.noDefectKinds }
        return kinds
    }
}

/// Where and how strong one defect is, in image pixels (x right, y down from the top-left
/// corner) and in the units its kind uses. Written to the manifest so a defect can be found
/// and reproduced.
public struct DefectParameters: Codable, Equatable, Sendable {
    public var kind: DefectKind
    /// Centre of the defect (for a scratch, the middle of the groove), in pixels.
    public var centerX: Double
    public var centerY: Double
    /// Radius in pixels (scratch: half the groove's width).
    public var radius: Double
    /// stain / discolouration: blend weight towards the defect colour at the centre (0...1);
    /// dent / bump / scratch: height change at the centre in pixels (negative = lower);
    /// missing: unused (0), the surface drops to the belt.
    public var amplitude: Double
    /// scratch: groove direction in radians (image x axis towards y down); others: rotation of
    /// the outline's wobble.
    public var angle: Double
    /// scratch: length of the groove in pixels; others 0.
    public var length: Double
    /// Relative amplitudes of the outline's 3rd and 5th harmonics (irregular edges of stains,
    /// discolouration and bites); zero for round defects.
    public var wobble: [Double]

    enum CodingKeys: String, CodingKey {
        case kind, radius, amplitude, angle, length, wobble
        case centerX = "center_x"
        case centerY = "center_y"
    }

    /// The outline radius in direction `theta` (radians): `radius` modulated by the wobble.
    func outlineRadius(_ theta: Float) -> Float {
        let phase = theta - Float(angle)
        var factor: Float = 1
        if wobble.count >= 2 {
            factor += Float(wobble[0]) * sinf(3 * phase) + Float(wobble[1]) * sinf(5 * phase + 1)
        }
        return Float(radius) * factor
    }
}
