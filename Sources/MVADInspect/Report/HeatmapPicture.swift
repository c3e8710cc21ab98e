// The heatmap picture a person reads: the all-lights view with the fused anomaly map laid
// over it, then the RGB and normal-map anomaly maps, side by side. Colours are on a fixed
// scale anchored at the threshold (never normalised per image), so the same colour means
// the same score on every part.
//
// The maps drawn are the grid distances bilinearly upsampled without blur, weighted as the
// image score weighs them: a part whose score passes the threshold shows threshold colours
// where its largest distances are (the blurred pixel maps of the metrics peak lower). Each
// modality's panel shows its weighted share on the scale of its share of the threshold.

import MVADEngine

public enum HeatmapPicture {
    /// The scale's top: maps at `ceiling` x threshold or above get the hottest colour.
    public static let ceiling: Float = 2

    /// The picture of one inspected part from its grid maps [G, G] (nil for a modality not
    /// scored) and the image-score weights.
    public static func render(view: Tensor, rgbGrid: Tensor?, normalsGrid: Tensor?,
                              rgbWeight: Double, normalsWeight: Double,
                              threshold: Float) throws -> Image {
        let size = view.shape[view.rank - 1]
        func upsampled(_ grid: Tensor?, _ weight: Double) throws -> Tensor? {
            guard let grid else { return nil }
            let map = try ScoreMapFilters.bilinearResize(grid, height: size, width: size)
            return Tensor(shape: map.shape, scalars: map.scalars.map { $0 * Float(weight) })
        }
        let rgb = try upsampled(rgbGrid, rgbWeight)
        let normals = try upsampled(normalsGrid, normalsWeight)
        let parts = [rgb, normals].compactMap { $0 }
        guard let first = parts.first else {
            throw ScoringError.invalidParameter(name: "heatmap maps", found: "none",
                                                expected: "an RGB and/or a normal-map grid")
        }
        var fused = first.scalars
        for other in parts.dropFirst() {
            for i in fused.indices { fused[i] += other.scalars[i] }
        }
        let share = Float(parts.count)
        return render(view: view, fused: Tensor(shape: first.shape, scalars: fused),
                      rgb: rgb.map { Tensor(shape: $0.shape, scalars: $0.scalars.map { $0 * share }) },
                      normals: normals.map {
                          Tensor(shape: $0.shape, scalars: $0.scalars.map { $0 * share })
                      },
                      threshold: threshold)
    }

    /// lights view [3, S, S] in [0, 1]; maps [S, S]; threshold > 0. Returns an 8-bit RGB
    /// image three panels wide (fused overlay, RGB map, normal map) with a colour bar below.
    /// Small models are drawn enlarged (nearest) so that each panel is at least this wide.
    public static let minimumPanel = 256

    public static func render(view: Tensor, fused: Tensor, rgb: Tensor?, normals: Tensor?,
                              threshold: Float) -> Image {
        let size = view.shape[view.rank - 1]
        let zoom = max(1, minimumPanel / size)
        let bar = max(4, size / 16)
        let width = 3 * size
        let height = size + bar
        var pixels = [UInt8](repeating: 0, count: width * zoom * height * zoom * 3)
        func put(_ x: Int, _ y: Int, _ c: (Float, Float, Float)) {
            let rgb = [c.0, c.1, c.2].map { UInt8(max(0, min(255, ($0 * 255).rounded()))) }
            for dy in 0..<zoom {
                for dx in 0..<zoom {
                    let i = ((y * zoom + dy) * width * zoom + x * zoom + dx) * 3
                    pixels[i] = rgb[0]
                    pixels[i + 1] = rgb[1]
                    pixels[i + 2] = rgb[2]
                }
            }
        }
        let plane = size * size
        for y in 0..<size {
            for x in 0..<size {
                let p = y * size + x
                let base = (view.scalars[p], view.scalars[plane + p], view.scalars[2 * plane + p])
                let level = fused.scalars[p] / threshold
                let heat = colour(level)
                // Below half the threshold the view shows through; above, the heat takes over.
                let alpha = max(0, min(0.75, (level - 0.5) * 1.5))
                put(x, y, (base.0 * (1 - alpha) + heat.0 * alpha,
                           base.1 * (1 - alpha) + heat.1 * alpha,
                           base.2 * (1 - alpha) + heat.2 * alpha))
                put(size + x, y, rgb.map { colour($0.scalars[p] / threshold) } ?? (0.2, 0.2, 0.2))
                put(2 * size + x, y, normals.map { colour($0.scalars[p] / threshold) } ?? (0.2, 0.2, 0.2))
            }
        }
        for y in size..<height {
            for x in 0..<width {
                let level = Float(x) / Float(width - 1) * ceiling
                // A white tick at the threshold (level 1) on the colour bar.
                let tick = abs(level - 1) < ceiling / Float(width) * 1.5
                put(x, y, tick ? (1, 1, 1) : colour(level))
            }
        }
        return Image(width: width * zoom, height: height * zoom, channels: 3,
                     samples: .uint8(pixels))
    }

    /// Colour of a map value in units of the threshold: dark blue at 0, green near 0.75,
    /// yellow at 1 (the threshold), red at `ceiling` and above.
    static func colour(_ level: Float) -> (Float, Float, Float) {
        let stops: [(Float, (Float, Float, Float))] = [
            (0, (0.05, 0.05, 0.35)), (0.5, (0.1, 0.45, 0.75)), (0.75, (0.2, 0.75, 0.35)),
            (1, (1, 0.9, 0.1)), (1.5, (1, 0.45, 0.05)), (ceiling, (0.85, 0.05, 0.05)),
        ]
        let v = max(0, min(ceiling, level.isFinite ? level : ceiling))
        for i in 1..<stops.count where v <= stops[i].0 {
            let (a, ca) = stops[i - 1]
            let (b, cb) = stops[i]
            let t = (v - a) / (b - a)
            return (ca.0 + (cb.0 - ca.0) * t, ca.1 + (cb.1 - ca.1) * t, ca.2 + (cb.2 - ca.2) * t)
        }
        return stops[stops.count - 1].1
    }
}

extension HeatmapPicture {
    /// The picture of one inspection: the all-lights view (image_5), or the normal map when
    /// only normals were inspected, under the anomaly maps weighted as the score weighs them,
    /// on the scale of the threshold (or of the part's own score without one). nil when the
    /// part has no view to draw on.
    public static func render(_ result: InspectionResult, part: LoadedPart, rgbWeight: Double,
                              normalsWeight: Double) throws -> Image? {
        let view: Tensor
        if let lights = part.lights {
            let plane = lights.count / 6
            view = Tensor(shape: Array(lights.shape.dropFirst()),
                          scalars: Array(lights.scalars[(5 * plane)..<(6 * plane)]))
        } else if let normals = part.normals {
            view = Tensor(shape: Array(normals.shape.dropFirst()), scalars: normals.scalars)
        } else {
            return nil
        }
        let anchor = Float(result.threshold ?? result.score)
        return try render(view: view, rgbGrid: result.scores.modalities[.rgb]?.gridMap,
                          normalsGrid: result.scores.modalities[.normals]?.gridMap,
                          rgbWeight: rgbWeight, normalsWeight: normalsWeight,
                          threshold: max(anchor, 1e-12))
    }
}
