// Plain scalar twins of the optimised operators: direct loops, no BLAS, no threads. Tests
// compare every fast path against these with a named error limit.

import Foundation

public enum ReferenceKernels {
    /// Direct convolution, accumulated in Double.
    public static func conv2d(_ x: Tensor, _ conv: Conv2d) -> Tensor {
        if let int8 = QuantizedConv2d(holding: conv) { return ReferenceQuantized.conv2d(x, int8) }
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let g = ConvGeometry(height: h, width: w, channels: cin, conv: conv)
        let (cout, ho, wo) = (conv.outChannels, g.outHeight, g.outWidth)
        let (kh, kw) = (conv.kernelHeight, conv.kernelWidth)
        var out = [Float](repeating: 0, count: n * cout * ho * wo)
        for image in 0..<n {
            for o in 0..<cout {
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var sum = Double(conv.bias?.scalars[o] ?? 0)
                        for c in 0..<cin {
                            for ky in 0..<kh {
                                let iy = oy * conv.stride - conv.padding.top + ky
                                guard iy >= 0 && iy < h else { continue }
                                for kx in 0..<kw {
                                    let ix = ox * conv.stride - conv.padding.left + kx
                                    guard ix >= 0 && ix < w else { continue }
                                    let xv = x.scalars[((image * cin + c) * h + iy) * w + ix]
                                    let wv = conv.weight.scalars[((o * cin + c) * kh + ky) * kw + kx]
                                    sum += Double(xv) * Double(wv)
                                }
                            }
                        }
                        out[((image * cout + o) * ho + oy) * wo + ox] = Float(sum)
                    }
                }
            }
        }
        return Tensor(shape: [n, cout, ho, wo], scalars: out)
    }

    /// x [..., in] W^T + b, accumulated in Double.
    public static func linear(_ x: Tensor, _ layer: Linear) -> Tensor {
        if let matrix = layer.quantized {
            var y = ReferenceQuantized.linear(x, QuantizedLinear(matrix: matrix))
            if let update = layer.lowRank {
                let down = linear(x, Linear(weight: update.down, bias: nil))
                let delta = linear(down, Linear(weight: update.up, bias: nil))
                for i in y.scalars.indices { y.scalars[i] += update.scale * delta.scalars[i] }
            }
            return y
        }
        let (input, output) = (layer.inFeatures, layer.outFeatures)
        let rows = x.count / input
        var out = [Float](repeating: 0, count: rows * output)
        for r in 0..<rows {
            for j in 0..<output {
                var sum = Double(layer.bias?.scalars[j] ?? 0)
                for i in 0..<input {
                    sum += Double(x.scalars[r * input + i]) * Double(layer.weight.scalars[j * input + i])
                }
                out[r * output + j] = Float(sum)
            }
        }
        var shape = x.shape
        shape[shape.count - 1] = output
        return Tensor(shape: shape, scalars: out)
    }

    /// softmax(Q K^T / sqrt(d)) V per head in Double, optionally causal (query i sees keys
    /// 0...i). q [N, Lq, H * d], k and v [N, Lk, H * d] -> [N, Lq, H * d].
    public static func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int,
                                 causal: Bool = false) -> Tensor {
        let (n, lq, width) = (q.shape[0], q.shape[1], q.shape[2])
        let lk = k.shape[1]
        let d = width / heads
        let scale = 1 / Double(d).squareRoot()
        var out = [Float](repeating: 0, count: q.count)
        for image in 0..<n {
            for head in 0..<heads {
                for i in 0..<lq {
                    let visible = causal ? min(lk, i + 1) : lk
                    let qRow = (image * lq + i) * width + head * d
                    var scores = [Double](repeating: 0, count: visible)
                    for j in 0..<visible {
                        let kRow = (image * lk + j) * width + head * d
                        var dot = 0.0
                        for c in 0..<d {
                            dot += Double(q.scalars[qRow + c]) * Double(k.scalars[kRow + c])
                        }
                        scores[j] = dot * scale
                    }
                    let largest = scores.max() ?? 0
                    let weights = scores.map { exp($0 - largest) }
                    let total = weights.reduce(0, +)
                    for c in 0..<d {
                        var sum = 0.0
                        for j in 0..<visible {
                            let vRow = (image * lk + j) * width + head * d
                            sum += weights[j] * Double(v.scalars[vRow + c])
                        }
                        out[qRow + c] = Float(sum / total)
                    }
                }
            }
        }
        return Tensor(shape: q.shape, scalars: out)
    }
}
