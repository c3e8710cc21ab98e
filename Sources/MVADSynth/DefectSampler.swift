// DefectSampler: draws where a defect sits on the part and how strong it is. Sizes scale with
// the image size (the numbers below are for 256 px, with floors in pixels so that small images
// still get a visible, non-empty defect) and every defect lies on the candy.

import Foundation

enum DefectSampler {
    /// One defect of `kind` on the part with `shape`.
    static func sample(_ kind: DefectKind, shape: ShapeParameters, size: Int,
                       random: inout SynthRandom) -> DefectParameters {
        let scale = Double(size) / 256
        // A value for 256 px scaled to the image, but at least `floor` pixels.
        let scaled = { (value: Double, floor: Double) in max(floor, value * scale) }
        let angle = random.uniform(0, 2 * Double.pi)
        let wobble = [random.uniform(0.1, 0.22), random.uniform(0.04, 0.12)]
        switch kind {
        case .stain:
            let (x, y) = interiorPoint(shape, within: 0.55, random: &random)
            return DefectParameters(kind: kind, centerX: x, centerY: y,
                                    radius: scaled(random.uniform(6, 12), 2.5),
                                    amplitude: random.uniform(0.55, 0.8), angle: angle,
                                    length: 0, wobble: wobble)
        case .discolouration:
            let (x, y) = interiorPoint(shape, within: 0.45, random: &random)
            return DefectParameters(kind: kind, centerX: x, centerY: y,
                                    radius: scaled(random.uniform(13, 22), 4),
                                    amplitude: random.uniform(0.55, 0.8), angle: angle,
                                    length: 0, wobble: wobble)
        case .dent, .bump:
            let (x, y) = interiorPoint(shape, within: 0.5, random: &random)
            let depth = scaled(random.uniform(2.2, 3.5), 0.8)
            return DefectParameters(kind: kind, centerX: x, centerY: y,
                                    radius: scaled(random.uniform(9, 16), 3),
                                    amplitude: kind == .dent ? -depth : depth, angle: angle,
                                    length: 0, wobble: [0, 0])
        case .scratch:
            let (x, y) = interiorPoint(shape, within: 0.35, random: &random)
            return DefectParameters(kind: kind, centerX: x, centerY: y,
                                    radius: scaled(random.uniform(2, 3), 1.2),
                                    amplitude: -scaled(random.uniform(1.2, 2.0), 0.5),
                                    angle: angle,
                                    length: scaled(random.uniform(20, 40), 6), wobble: [0, 0])
        case .missing:
            let (x, y) = rimPoint(shape, random: &random)
            let minor = min(shape.semiAxisA, shape.semiAxisB)
            let radius = max(2.5, minor * random.uniform(0.22, 0.35))
            return DefectParameters(kind: kind, centerX: x, centerY: y, radius: radius,
                                    amplitude: 0, angle: angle, length: 0, wobble: wobble)
        }
    }

    /// A point inside the footprint, at most `within` of the way from the centre to the rim.
    private static func interiorPoint(_ shape: ShapeParameters, within: Double,
                                      random: inout SynthRandom) -> (Double, Double) {
        let r = within * random.unit().squareRoot()
        let phi = random.uniform(0, 2 * Double.pi)
        return toImage(shape, u: r * shape.semiAxisA * cos(phi),
                       v: r * shape.semiAxisB * sin(phi))
    }

    /// A point on the footprint's rim (s = 1), where a piece breaks off.
    private static func rimPoint(_ shape: ShapeParameters,
                                 random: inout SynthRandom) -> (Double, Double) {
        let phi = random.uniform(0, 2 * Double.pi)
        let p = shape.footprintExponent
        let c = cos(phi), s = sin(phi)
        let t = pow(pow(abs(c) / shape.semiAxisA, p) + pow(abs(s) / shape.semiAxisB, p), -1 / p)
        return toImage(shape, u: t * c, v: t * s)
    }

    /// Object frame (u along the rotated major axis, v across) to image pixels.
    private static func toImage(_ shape: ShapeParameters, u: Double,
                                v: Double) -> (Double, Double) {
        let c = cos(shape.rotation), s = sin(shape.rotation)
        return (shape.centerX + c * u - s * v, shape.centerY + s * u + c * v)
    }
}
