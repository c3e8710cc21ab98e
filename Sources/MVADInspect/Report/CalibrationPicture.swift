// The calibration picture a technician reads in seconds: a histogram of the good (green) and
// bad (red) part scores with the threshold (white line) and its margin band (shaded), and,
// when bad parts exist, the ROC curve (false-reject rate across, detection rate up) with the
// chosen operating point.

public enum CalibrationPicture {
    public static let height = 240
    static let histogramWidth = 480
    static let rocWidth = 240
    static let bins = 40

    /// An 8-bit RGB picture: histogram panel, then the ROC panel when there are bad parts.
    public static func render(good: [PartScore], bad: [PartScore], result: CalibrationResult,
                              roc: [ROCPoint]) -> Image {
        let width = histogramWidth + (bad.isEmpty ? 0 : rocWidth)
        var canvas = Canvas(width: width, height: height)
        drawHistogram(&canvas, good: good.map(\.score), bad: bad.map(\.score), result: result)
        if !bad.isEmpty { drawROC(&canvas, roc: roc, result: result, good: good, bad: bad) }
        return Image(width: width, height: height, channels: 3, samples: .uint8(canvas.pixels))
    }

    static func drawHistogram(_ c: inout Canvas, good: [Double], bad: [Double],
                              result: CalibrationResult) {
        let all = good + bad + [result.threshold, result.band.lower, result.band.upper]
        let low = all.min() ?? 0
        let high = all.max() ?? 1
        let span = max(high - low, 1e-12) * 1.1
        let origin = low - span * 0.05
        func column(_ score: Double) -> Int {
            min(histogramWidth - 1, max(0, Int((score - origin) / span * Double(histogramWidth))))
        }
        let binWidth = histogramWidth / bins
        func counts(_ scores: [Double]) -> [Int] {
            var result = [Int](repeating: 0, count: bins)
            for s in scores { result[min(bins - 1, column(s) / binWidth)] += 1 }
            return result
        }
        let goodCounts = counts(good), badCounts = counts(bad)
        let tallest = max(1, (goodCounts + badCounts).max() ?? 1)
        let plot = height - 20
        c.fill(x: 0..<histogramWidth, y: 0..<height, (24, 24, 32))
        // The margin band, shaded.
        c.fill(x: column(result.band.lower)..<(column(result.band.upper) + 1), y: 0..<plot, (60, 60, 90))
        for bin in 0..<bins {
            let x0 = bin * binWidth
            let half = binWidth / 2
            let g = goodCounts[bin] * (plot - 10) / tallest
            let b = badCounts[bin] * (plot - 10) / tallest
            c.fill(x: x0..<(x0 + half), y: (plot - g)..<plot, (60, 190, 90))
            c.fill(x: (x0 + half)..<(x0 + binWidth - 1), y: (plot - b)..<plot, (220, 60, 50))
        }
        // Scores as ticks below the axis: every part is visible even when bins merge.
        for s in good { c.fill(x: column(s)..<(column(s) + 1), y: (plot + 2)..<(plot + 10), (60, 190, 90)) }
        for s in bad { c.fill(x: column(s)..<(column(s) + 1), y: (plot + 10)..<(plot + 18), (220, 60, 50)) }
        let t = column(result.threshold)
        c.fill(x: max(0, t - 1)..<min(histogramWidth, t + 2), y: 0..<height, (255, 255, 255))
    }

    static func drawROC(_ c: inout Canvas, roc: [ROCPoint], result: CalibrationResult,
                        good: [PartScore], bad: [PartScore]) {
        let x0 = histogramWidth
        let size = min(rocWidth, height) - 20
        let left = x0 + 10, top = 10
        c.fill(x: x0..<(x0 + rocWidth), y: 0..<height, (16, 16, 24))
        c.fill(x: left..<(left + size), y: top..<(top + size), (32, 32, 44))
        func point(_ fpr: Double, _ tpr: Double) -> (Int, Int) {
            (left + Int(fpr * Double(size - 1)), top + size - 1 - Int(tpr * Double(size - 1)))
        }
        for i in 0..<size { c.set(left + i, top + size - 1 - i, (70, 70, 90)) }    // chance line
        for (a, b) in zip(roc, roc.dropFirst()) {
            let (ax, ay) = point(a.falsePositiveRate, a.truePositiveRate)
            let (bx, by) = point(b.falsePositiveRate, b.truePositiveRate)
            let steps = max(abs(bx - ax), abs(by - ay), 1)
            for s in 0...steps {
                c.set(ax + (bx - ax) * s / steps, ay + (by - ay) * s / steps, (240, 200, 60))
            }
        }
        let fpr = Double(result.rates.falseRejects) / Double(max(1, good.count))
        let tpr = 1 - Double(result.rates.falseAccepts) / Double(max(1, bad.count))
        let (px, py) = point(fpr, tpr)
        c.fill(x: (px - 3)..<(px + 4), y: (py - 3)..<(py + 4), (255, 255, 255))
    }
}

/// An RGB pixel buffer with clipped drawing.
struct Canvas {
    let width: Int
    let height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
    }

    mutating func set(_ x: Int, _ y: Int, _ colour: (UInt8, UInt8, UInt8)) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = colour.0
        pixels[i + 1] = colour.1
        pixels[i + 2] = colour.2
    }

    mutating func fill(x: Range<Int>, y: Range<Int>, _ colour: (UInt8, UInt8, UInt8)) {
        for row in y { for col in x { set(col, row, colour) } }
    }
}
