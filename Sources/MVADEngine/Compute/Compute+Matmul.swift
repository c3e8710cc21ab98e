// Matrix products through BLAS (row-major sgemm), and the fully connected layer.

import CBLAS

extension Compute {
    /// C[m, n] = alpha * op(A) op(B) + beta * C, row-major, on raw pointers with leading
    /// dimensions; a thin, named wrapper over cblas_sgemm.
    @inline(__always)
    func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
            beta, c, blasint(ldc))
    }

    /// y = x W^T + b over the last dimension: x [..., in] -> y [..., out] (torch.nn.Linear).
    public func linear(_ x: Tensor, _ layer: Linear) -> Tensor {
        let inFeatures = layer.inFeatures
        let outFeatures = layer.outFeatures
        precondition(x.shape.last == inFeatures,
                     "linear expects last dim \(inFeatures), got shape \(x.shape)")
        let rows = x.count / inFeatures
        var outShape = x.shape
        outShape[outShape.count - 1] = outFeatures
        return Tensor(shape: outShape) { out in
            x.withUnsafeBufferPointer { xp in
                layer.weight.withUnsafeBufferPointer { wp in
                    let xBase = UncheckedBox(xp.baseAddress!)
                    let wBase = UncheckedBox(wp.baseAddress!)
                    let oBase = UncheckedBox(out.baseAddress!)
                    forEachRange(rows, chunk: Compute.rowChunk) { range in
                        let o = oBase.value + range.lowerBound * outFeatures
                        sgemm(transA: false, transB: true, m: range.count, n: outFeatures,
                              k: inFeatures, a: xBase.value + range.lowerBound * inFeatures,
                              lda: inFeatures, b: wBase.value, ldb: inFeatures, c: o,
                              ldc: outFeatures)
                        if let bias = layer.bias {
                            bias.withUnsafeBufferPointer { bp in
                                for r in 0..<range.count {
                                    let row = o + r * outFeatures
                                    for j in 0..<outFeatures { row[j] += bp[j] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Rows per task for token-wise work (linear layers, norms over tokens).
    static let rowChunk = 128
}
