// ScoreMapFilters: the two filters that turn a feature-grid distance map into a pixel map,
// matching torch.nn.functional.interpolate(mode="bilinear", align_corners=False) and
// scipy.ndimage.gaussian_filter(x, sigma, truncate=4.0, mode="reflect").

import Foundation
import MVADEngine

/// Resampling and smoothing of 2-D score maps [H, W] (row-major, y outermost).
public enum ScoreMapFilters {
    /// Bilinear resize of `map` [H, W] to [outHeight, outWidth] with half-pixel centres, as
    /// torch's interpolate(mode="bilinear", align_corners=False) without a scale_factor:
    /// source coordinate = (o + 0.5) * in / out - 0.5, clamped below at 0; the right/bottom
    /// neighbour is clamped to the last row/column. Weights and sums in Double.
    public static func bilinearResize(
        _ map: Tensor, height outHeight: Int, width outWidth: Int
    ) throws -> Tensor {
        guard map.rank == 2, map.shape[0] > 0, map.shape[1] > 0 else {
            throw ScoringError.invalidShape(
                what: "the map to resize", found: map.shape, expected: "[H, W] with H, W > 0")
        }
        guard outHeight > 0, outWidth > 0 else {
            throw ScoringError.invalidParameter(
                name: "resize target", found: "\(outHeight) x \(outWidth)", expected: "> 0 x > 0")
        }
        let (inHeight, inWidth) = (map.shape[0], map.shape[1])
        let rows = taps(input: inHeight, output: outHeight)
        let columns = taps(input: inWidth, output: outWidth)
        let source = map.scalars
        return Tensor(shape: [outHeight, outWidth]) { out in
            for y in 0..<outHeight {
                let (y0, y1, wy0, wy1) = rows[y]
                for x in 0..<outWidth {
                    let (x0, x1, wx0, wx1) = columns[x]
                    let top = wx0 * Double(source[y0 * inWidth + x0])
                        + wx1 * Double(source[y0 * inWidth + x1])
                    let bottom = wx0 * Double(source[y1 * inWidth + x0])
                        + wx1 * Double(source[y1 * inWidth + x1])
                    out[y * outWidth + x] = Float(wy0 * top + wy1 * bottom)
                }
            }
        }
    }

    /// For every output index along one axis: the two source indices and their weights.
    private static func taps(
        input: Int, output: Int
    ) -> [(Int, Int, Double, Double)] {
        let scale = Double(input) / Double(output)
        return (0..<output).map { o in
            let position = max(0, (Double(o) + 0.5) * scale - 0.5)
            let first = min(Int(position), input - 1)
            let second = min(first + 1, input - 1)
            let fraction = position - Double(first)
            return (first, second, 1 - fraction, fraction)
        }
    }

    /// Radius of the Gaussian kernel as scipy computes it: Int(truncate * sigma + 0.5)
    /// (16 for sigma 4 and truncate 4).
    public static func gaussianRadius(sigma: Double, truncate: Double = 4) -> Int {
        Int(truncate * sigma + 0.5)
    }

    /// Gaussian smoothing of `map` [H, W] as scipy.ndimage.gaussian_filter on a float32 array:
    /// separable, first along the rows axis (0) then the columns axis (1), each pass summed in
    /// Double and stored as Float; weights exp(-x^2 / (2 sigma^2)) for |x| <= radius, divided by
    /// their sum; borders extended by half-sample symmetric reflection (scipy's "reflect":
    /// d c b a | a b c d | d c b a, repeated as often as the radius needs). sigma 0 returns
    /// the map unchanged, as scipy does.
    public static func gaussianBlur(
        _ map: Tensor, sigma: Double, truncate: Double = 4
    ) throws -> Tensor {
        guard map.rank == 2 else {
            throw ScoringError.invalidShape(
                what: "the map to blur", found: map.shape, expected: "[H, W]")
        }
        guard sigma >= 0, sigma.isFinite, truncate > 0, truncate.isFinite else {
            throw ScoringError.invalidParameter(
                name: "Gaussian sigma and truncate", found: "\(sigma) and \(truncate)",
                expected: "sigma >= 0 and truncate > 0, both finite")
        }
        guard sigma > 0, map.count > 0 else { return map }
        let radius = gaussianRadius(sigma: sigma, truncate: truncate)
        let weights = gaussianWeights(sigma: sigma, radius: radius)
        let (height, width) = (map.shape[0], map.shape[1])
        let vertical = filterLines(
            map.scalars, count: width, length: height, stride: width, step: 1,
            weights: weights)
        let horizontal = filterLines(
            vertical, count: height, length: width, stride: 1, step: width, weights: weights)
        return Tensor(shape: map.shape, scalars: horizontal)
    }

    /// Normalised Gaussian weights for offsets -radius...radius.
    static func gaussianWeights(sigma: Double, radius: Int) -> [Double] {
        let raw = (-radius...radius).map { x in
            exp(-0.5 / (sigma * sigma) * Double(x * x))
        }
        let total = raw.reduce(0, +)
        return raw.map { $0 / total }
    }

    /// Correlates `count` lines of `length` samples with `weights`; sample i of line l sits at
    /// l * step + i * stride. Reflective borders.
    private static func filterLines(
        _ input: [Float], count: Int, length: Int, stride: Int, step: Int, weights: [Double]
    ) -> [Float] {
        let radius = weights.count / 2
        let sourceIndex = (-radius..<(length + radius)).map { reflect($0, length: length) }
        var output = [Float](repeating: 0, count: input.count)
        var line = [Double](repeating: 0, count: length)
        for l in 0..<count {
            let base = l * step
            for i in 0..<length { line[i] = Double(input[base + i * stride]) }
            for i in 0..<length {
                var sum = 0.0
                for (k, weight) in weights.enumerated() {
                    sum += weight * line[sourceIndex[i + k]]
                }
                output[base + i * stride] = Float(sum)
            }
        }
        return output
    }

    /// Half-sample symmetric reflection of `index` into 0..<length (period 2 * length).
    static func reflect(_ index: Int, length: Int) -> Int {
        let period = 2 * length
        let wrapped = ((index % period) + period) % period
        return wrapped < length ? wrapped : period - 1 - wrapped
    }
}
