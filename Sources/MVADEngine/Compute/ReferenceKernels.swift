// Plain scalar twins of the optimised operators: direct loops, no BLAS, no threads. Tests
// compare every fast path against these with a named error limit.

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
            return ReferenceQuantized.linear(x, QuantizedLinear(matrix: matrix))
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
}
