// Bicubic resizing of feature maps, as torch.nn.functional.interpolate(mode="bicubic",
// align_corners=False) computes it: cubic convolution with A = -0.75, source coordinates
// (o + 0.5) * in / out - 0.5, edge samples clamped, no antialiasing.

import MVADEngine

public enum BicubicResize {
    /// x [N, C, H, W] -> [N, C, height, width].
    public static func resize(_ x: Tensor, height: Int, width: Int, compute c: Compute) -> Tensor {
        precondition(x.rank == 4, "bicubic resize expects NCHW, got \(x.shape)")
        let (n, channels, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        if h == height && w == width { return x }
        let rows = taps(input: h, output: height)
        let cols = taps(input: w, output: width)
        var out = [Float](repeating: 0, count: n * channels * height * width)
        let planes = n * channels
        x.scalars.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let box = UncheckedPointers(src: src.baseAddress, dst: dst.baseAddress)
                c.forEachTask(planes) { p in
                    guard let s = box.src, let d = box.dst else { return }
                    let plane = s + p * h * w
                    let target = d + p * height * width
                    for (oy, row) in rows.enumerated() {
                        for (ox, col) in cols.enumerated() {
                            // Along x within each of the four source rows, then along y.
                            func across(_ i: Int) -> Float {
                                let line = plane + row.index[i] * w
                                return line[col.index[0]] * col.weight[0]
                                    + line[col.index[1]] * col.weight[1]
                                    + line[col.index[2]] * col.weight[2]
                                    + line[col.index[3]] * col.weight[3]
                            }
                            let value = across(0) * row.weight[0] + across(1) * row.weight[1]
                                + across(2) * row.weight[2] + across(3) * row.weight[3]
                            target[oy * width + ox] = value
                        }
                    }
                }
            }
        }
        return Tensor(shape: [n, channels, height, width], scalars: out)
    }

    /// The four source indices (clamped) and weights of each output coordinate.
    struct Tap {
        var index: [Int]
        var weight: [Float]
    }

    static func taps(input: Int, output: Int) -> [Tap] {
        let scale = Float(input) / Float(output)
        return (0..<output).map { o in
            let source = (Float(o) + 0.5) * scale - 0.5
            let base = Int(source.rounded(.down))
            let t = source - Float(base)
            let weights = cubicWeights(t)
            let indices = (-1...2).map { min(max(base + $0, 0), input - 1) }
            return Tap(index: indices, weight: weights)
        }
    }

    /// Cubic convolution weights for offsets 1 + t, t, 1 - t, 2 - t (A = -0.75).
    static func cubicWeights(_ t: Float) -> [Float] {
        let a: Float = -0.75
        func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
        func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return [far(t + 1), near(t), near(1 - t), far(2 - t)]
    }
}

/// Raw pointers carried into worker tasks; each task writes its own plane.
struct UncheckedPointers: @unchecked Sendable {
    let src: UnsafePointer<Float>?
    let dst: UnsafeMutablePointer<Float>?
}
