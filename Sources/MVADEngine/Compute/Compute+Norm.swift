// Normalisation layers: GroupNorm over NCHW (optionally fused with SiLU) and LayerNorm over
// the last dimension. Statistics are accumulated in Double, in a fixed order per group/row.

import MVADKernels

extension Compute {
    /// torch.nn.GroupNorm on x [N, C, ...]; with `silu` the SiLU activation follows in the
    /// same pass (the common norm -> SiLU pair of every ResNet block).
    public func groupNorm(_ x: Tensor, _ norm: GroupNorm, silu: Bool = false) -> Tensor {
        precondition(x.rank >= 2 && x.shape[1] == norm.channels,
                     "group norm expects \(norm.channels) channels, got shape \(x.shape)")
        let n = x.shape[0]
        let channels = norm.channels
        let perChannel = x.count / (n * channels)
        let perGroupChannels = channels / norm.groups
        let groupSize = perGroupChannels * perChannel
        let eps = Double(norm.eps)

        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { xp in
                norm.weight.withUnsafeBufferPointer { gp in
                    norm.bias.withUnsafeBufferPointer { bp in
                        let ctx = UncheckedBox((xp.start, gp.start, bp.start,
                                                out.start))
                        forEachTask(n * norm.groups) { task in
                            let (xb, gamma, beta, ob) = ctx.value
                            let start = task * groupSize
                            let (mean, rstd) = Compute.moments(xb + start, count: groupSize, eps: eps)
                            let firstChannel = (task % norm.groups) * perGroupChannels
                            for cg in 0..<perGroupChannels {
                                let c = firstChannel + cg
                                let scale = rstd * gamma[c]
                                let shift = beta[c] - mean * scale
                                let src = xb + start + cg * perChannel
                                let dst = ob + start + cg * perChannel
                                for i in 0..<perChannel { dst[i] = src[i] * scale + shift }
                                if silu { mvad_silu(dst, perChannel) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// torch.nn.LayerNorm over the last dimension of x [..., D].
    public func layerNorm(_ x: Tensor, _ norm: LayerNorm) -> Tensor {
        let d = norm.weight.count
        precondition(x.shape.last == d, "layer norm expects last dim \(d), got shape \(x.shape)")
        let rows = x.count / d
        let eps = Double(norm.eps)
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { xp in
                norm.weight.withUnsafeBufferPointer { gp in
                    norm.bias.withUnsafeBufferPointer { bp in
                        let ctx = UncheckedBox((xp.start, gp.start, bp.start,
                                                out.start))
                        forEachRange(rows, chunk: Compute.rowChunk) { range in
                            let (xb, gamma, beta, ob) = ctx.value
                            for r in range {
                                let src = xb + r * d
                                let dst = ob + r * d
                                let (mean, rstd) = Compute.moments(src, count: d, eps: eps)
                                for i in 0..<d {
                                    dst[i] = (src[i] - mean) * rstd * gamma[i] + beta[i]
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Mean and 1 / sqrt(biased variance + eps) of `count` floats, two passes in Double.
    static func moments(_ p: UnsafePointer<Float>, count: Int, eps: Double) -> (Float, Float) {
        var sum = 0.0
        for i in 0..<count { sum += Double(p[i]) }
        let mean = sum / Double(count)
        var squares = 0.0
        for i in 0..<count {
            let d = Double(p[i]) - mean
            squares += d * d
        }
        let variance = squares / Double(count)
        return (Float(mean), Float(1 / (variance + eps).squareRoot()))
    }
}
