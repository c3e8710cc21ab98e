// AnomalyScores: from nearest-neighbour distances to the method's scores: the grid distance map,
// the image score (mean of the k largest grid distances), the fused image score and pixel maps.

import MVADEngine

/// The scoring steps of the method, each a pure function of its inputs.
///
/// Dimension letters: G feature-grid side, P = G * G positions, S image side.
public enum AnomalyScores {
    /// The nearest-neighbour distances of the P = G * G positions, in row-major position order
    /// (p = y * G + x), as a grid map [G, G].
    public static func gridMap(distances: [Float], gridSize: Int) throws -> Tensor {
        guard gridSize > 0, distances.count == gridSize * gridSize else {
            throw ScoringError.invalidShape(
                what: "the nearest-neighbour distances", found: [distances.count],
                expected: "[\(gridSize) * \(gridSize)] (one per grid position)")
        }
        return Tensor(shape: [gridSize, gridSize], scalars: distances)
    }

    /// Image score of one modality: the mean of the `topK` largest values of the grid map
    /// (before any upsampling or blur), summed in Double from the largest down.
    public static func imageScore(gridMap: Tensor, topK: Int = 3) throws -> Double {
        guard topK > 0, topK <= gridMap.count else {
            throw ScoringError.invalidParameter(
                name: "top-k of the image score", found: "\(topK)",
                expected: "in 1...\(gridMap.count) (the grid map's positions)")
        }
        try ScoringError.requireFinite(gridMap, "the grid map")
        let largest = gridMap.scalars.sorted(by: >).prefix(topK)
        return largest.reduce(0.0) { $0 + Double($1) } / Double(topK)
    }

    /// Fused image score: w_rgb * s_rgb + w_normals * s_normals over the modalities present
    /// (a missing modality contributes nothing).
    public static func fusedImageScore(
        rgb: Double?, normals: Double?, rgbWeight: Double = 1, normalsWeight: Double = 1
    ) -> Double {
        (rgb.map { rgbWeight * $0 } ?? 0) + (normals.map { normalsWeight * $0 } ?? 0)
    }

    /// Pixel map [S, S] of one modality: the grid map bilinearly upsampled to S x S
    /// (align_corners false), then Gaussian-blurred with `sigma` (0: no blur).
    public static func pixelMap(
        gridMap: Tensor, imageSize: Int, sigma: Double = 4, truncate: Double = 4
    ) throws -> Tensor {
        let upsampled = try ScoreMapFilters.bilinearResize(
            gridMap, height: imageSize, width: imageSize)  // [S, S]
        return try ScoreMapFilters.gaussianBlur(upsampled, sigma: sigma, truncate: truncate)
    }

    /// Fused pixel map: the element-wise sum of the modalities' pixel maps, in the order given
    /// (the method's S_rgb + S_normals; the paper's average ranks pixels identically).
    public static func fusedPixelMap(_ maps: [Tensor]) throws -> Tensor {
        guard let first = maps.first else {
            throw ScoringError.invalidParameter(
                name: "pixel maps to fuse", found: "none", expected: "at least one map")
        }
        var sum = first
        for map in maps.dropFirst() {
            guard map.shape == first.shape else {
                throw ScoringError.invalidShape(
                    what: "a pixel map to fuse", found: map.shape,
                    expected: "\(first.shape) (the first map's shape)")
            }
            sum.withUnsafeMutableBufferPointer { total in
                for (index, value) in map.scalars.enumerated() { total[index] += value }
            }
        }
        return sum
    }
}
