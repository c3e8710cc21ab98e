// Element-wise operators: activations (SiLU, GELU and its variants, GEGLU), residual adds and
// scaling.

import Foundation
import MVADKernels

extension Compute {
    /// Elements per task for element-wise work.
    static let elementChunk = 1 << 16

    /// Applies `f` to every element of x, in parallel.
    public func map(_ x: Tensor, _ f: @escaping @Sendable (Float) -> Float) -> Tensor {
        Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { xp in
                let ctx = UncheckedBox((xp.start, out.start))
                forEachRange(x.count, chunk: Compute.elementChunk) { range in
                    let (src, dst) = ctx.value
                    for i in range { dst[i] = f(src[i]) }
                }
            }
        }
    }

    /// SiLU: x * sigmoid(x).
    public func silu(_ x: Tensor) -> Tensor {
        var out = x
        out.withUnsafeMutableBufferPointer { op in
            let base = UncheckedBox(op.start)
            forEachRange(x.count, chunk: Compute.elementChunk) { range in
                mvad_silu(base.value + range.lowerBound, range.count)
            }
        }
        return out
    }

    /// GELU, exact (erf) form: torch.nn.functional.gelu(x, approximate="none").
    public func gelu(_ x: Tensor) -> Tensor {
        Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { xp in
                let ctx = UncheckedBox((xp.start, out.start))
                forEachRange(x.count, chunk: Compute.elementChunk) { range in
                    let (src, dst) = ctx.value
                    mvad_gelu(dst + range.lowerBound, src + range.lowerBound, range.count)
                }
            }
        }
    }

    /// QuickGELU of CLIP (transformers' "quick_gelu"): x * sigmoid(1.702 x).
    public func quickGELU(_ x: Tensor) -> Tensor {
        map(x) { $0 / (1 + expf(-1.702 * $0)) }
    }

    /// GELU, tanh approximation (transformers' "gelu_new" / "gelu_pytorch_tanh"):
    /// 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
    public func geluTanh(_ x: Tensor) -> Tensor {
        map(x) { v in 0.5 * v * (1 + tanhf(0.79788456080286536 * (v + 0.044715 * v * v * v))) }
    }

    /// diffusers GEGLU after its projection: h [..., 2D] -> h[..., :D] * gelu(h[..., D:]).
    public func gegluGate(_ h: Tensor) -> Tensor {
        let width = h.shape[h.rank - 1]
        precondition(width % 2 == 0, "GEGLU needs an even last dimension, got \(h.shape)")
        let half = width / 2
        let rows = h.count / width
        var shape = h.shape
        shape[shape.count - 1] = half
        return Tensor(shape: shape) { out in
            h.withUnsafeBufferPointer { hp in
                let ctx = UncheckedBox((hp.start, out.start))
                forEachRange(rows, chunk: Compute.rowChunk) { range in
                    let (src, dst) = ctx.value
                    for r in range {
                        let value = src + r * width
                        mvad_geglu(dst + r * half, value, value + half, half)
                    }
                }
            }
        }
    }

    /// a + b, same shapes.
    public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "add: shapes \(a.shape) and \(b.shape) differ")
        var out = a
        addInPlace(&out, b)
        return out
    }

    /// a += b * scale, same shapes.
    public func addInPlace(_ a: inout Tensor, _ b: Tensor, scale: Float = 1) {
        precondition(a.shape == b.shape, "add: shapes \(a.shape) and \(b.shape) differ")
        let count = a.count
        a.withUnsafeMutableBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                let ctx = UncheckedBox((ap.start, bp.start))
                forEachRange(count, chunk: Compute.elementChunk) { range in
                    let (dst, src) = ctx.value
                    if scale == 1 {
                        for i in range { dst[i] += src[i] }
                    } else {
                        for i in range { dst[i] += src[i] * scale }
                    }
                }
            }
        }
    }

    /// x * scale.
    public func scaled(_ x: Tensor, by scale: Float) -> Tensor {
        map(x) { $0 * scale }
    }

    /// Adds a per-(image, channel) value: x [N, C, H, W] += v [N, C] broadcast over H, W.
    public func addChannelBias(_ x: inout Tensor, _ v: Tensor) {
        precondition(x.rank == 4 && v.shape == [x.shape[0], x.shape[1]],
                     "channel bias \(v.shape) does not fit \(x.shape)")
        let plane = x.shape[2] * x.shape[3]
        let planes = x.shape[0] * x.shape[1]
        x.withUnsafeMutableBufferPointer { xp in
            v.withUnsafeBufferPointer { vp in
                let ctx = UncheckedBox((xp.start, vp.start))
                forEachRange(planes, chunk: 64) { range in
                    let (dst, values) = ctx.value
                    for p in range {
                        let b = values[p]
                        let row = dst + p * plane
                        for i in 0..<plane { row[i] += b }
                    }
                }
            }
        }
    }
}
