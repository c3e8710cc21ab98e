// ResampleWeights: the per-output-pixel bicubic weights of one axis, computed exactly as Pillow's
// Image.resize(..., BICUBIC) computes them (double precision, antialiased when shrinking).

/// Weights of one axis of a separable resize from `inputSize` to `outputSize` samples.
///
/// Output sample `o` is centred at input coordinate c = (o + 0.5) * scale, scale = in / out.
/// When shrinking, the cubic kernel is stretched by `scale` (antialiasing): support =
/// 2 * max(scale, 1). The taps are the inputs i in [Int(c - support + 0.5), Int(c + support + 0.5))
/// clamped to the image, with weight cubic((i - c + 0.5) / max(scale, 1)), normalised to sum 1.
/// Every operation and its order follows Pillow so that the doubles are identical.
struct ResampleWeights {
    /// First input index of each output sample.
    let starts: [Int]
    /// Number of taps of each output sample.
    let counts: [Int]
    /// Taps of output `o` at `o * stride ..< o * stride + counts[o]`.
    let weights: [Double]
    /// Distance between the tap lists of consecutive outputs.
    let stride: Int

    /// Keys' cubic convolution kernel with a = -0.5 (Pillow's BICUBIC), written in the same
    /// evaluation order as Pillow so the doubles match.
    static func cubic(_ value: Double) -> Double {
        let a = -0.5
        let x = abs(value)
        if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0 }
        if x < 2.0 { return (((x - 5.0) * x + 8.0) * x - 4.0) * a }
        return 0.0
    }

    init(inputSize: Int, outputSize: Int) {
        precondition(inputSize > 0 && outputSize > 0, "resize sizes must be positive")
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1.0)
        let support = 2.0 * filterScale
        let inverseFilterScale = 1.0 / filterScale
        stride = Int(support.rounded(.up)) * 2 + 1

        var starts = [Int](repeating: 0, count: outputSize)
        var counts = [Int](repeating: 0, count: outputSize)
        var weights = [Double](repeating: 0, count: outputSize * stride)
        for output in 0..<outputSize {
            let center = (Double(output) + 0.5) * scale
            let first = max(Int(center - support + 0.5), 0)
            let end = min(Int(center + support + 0.5), inputSize)
            let base = output * stride
            var total = 0.0
            for tap in 0..<(end - first) {
                let weight = ResampleWeights.cubic((Double(tap + first) - center + 0.5)
                                                   * inverseFilterScale)
                weights[base + tap] = weight
                total += weight
            }
            if total != 0 {
                for tap in 0..<(end - first) { weights[base + tap] /= total }
            }
            starts[output] = first
            counts[output] = end - first
        }
        self.starts = starts
        self.counts = counts
        self.weights = weights
    }

    /// Bits after the binary point of the 8-bit fixed-point path (32 - 8 - 2, as Pillow).
    static let precisionBits = 22

    /// The weights as fixed-point integers, rounded half away from zero as Pillow does.
    func fixedPoint() -> [Int32] {
        let one = Double(1 << ResampleWeights.precisionBits)
        return weights.map { weight in
            weight < 0 ? Int32(-0.5 + weight * one) : Int32(0.5 + weight * one)
        }
    }

    /// Pillow (13) runs the vertical pass first when the height shrinks by more than twice as
    /// many pixels as the width does; otherwise horizontal first. (Found by comparing both
    /// orders with Pillow on 1,100 random size pairs; the order changes the 8-bit rounding.)
    static func verticalPassFirst(inputWidth: Int, inputHeight: Int, outputWidth: Int,
                                  outputHeight: Int) -> Bool {
        outputHeight < inputHeight
            && inputHeight - outputHeight > 2 * (inputWidth - outputWidth)
    }

    /// Runs the two separable passes in Pillow's order, skipping a pass whose size is
    /// unchanged. `horizontal(values, rows)` resizes `rows` rows; `vertical(values, columns)`
    /// resizes columns of an image `columns` wide.
    static func inPillowOrder<T>(
        _ values: [T], width: Int, height: Int, newWidth: Int, newHeight: Int,
        horizontal: ([T], Int) -> [T], vertical: ([T], Int) -> [T]
    ) -> [T] {
        var values = values
        if verticalPassFirst(inputWidth: width, inputHeight: height, outputWidth: newWidth,
                             outputHeight: newHeight) {
            if newHeight != height { values = vertical(values, width) }
            if newWidth != width { values = horizontal(values, newHeight) }
        } else {
            if newWidth != width { values = horizontal(values, height) }
            if newHeight != height { values = vertical(values, newWidth) }
        }
        return values
    }
}
