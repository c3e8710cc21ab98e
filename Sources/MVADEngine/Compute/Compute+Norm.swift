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
    /// Each pass keeps four running sums (elements i, i + 4, ... in sum i % 4) added at the
    /// end as (s0 + s1) + (s2 + s3): the order is fixed, and the four chains of additions do
    /// not wait on each other as one chain would.
    static func moments(_ p: UnsafePointer<Float>, count: Int, eps: Double) -> (Float, Float) {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var i = 0
        while i + 4 <= count {
            s0 += Double(p[i])
            s1 += Double(p[i + 1])
            s2 += Double(p[i + 2])
            s3 += Double(p[i + 3])
            i += 4
        }
        while i < count {
            s0 += Double(p[i])
            i += 1
        }
        let mean = ((s0 + s1) + (s2 + s3)) / Double(count)
        var q0 = 0.0, q1 = 0.0, q2 = 0.0, q3 = 0.0
        i = 0
        while i + 4 <= count {
            let d0 = Double(p[i]) - mean, d1 = Double(p[i + 1]) - mean
            let d2 = Double(p[i + 2]) - mean, d3 = Double(p[i + 3]) - mean
            q0 += d0 * d0
            q1 += d1 * d1
            q2 += d2 * d2
            q3 += d3 * d3
            i += 4
        }
        while i < count {
            let d = Double(p[i]) - mean
            q0 += d * d
            i += 1
        }
        let variance = ((q0 + q1) + (q2 + q3)) / Double(count)
        return (Float(mean), Float(1 / (variance + eps).squareRoot()))
    }
}
