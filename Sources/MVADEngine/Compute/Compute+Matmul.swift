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
    /// Many rows: tasks take fixed blocks of rows. Few rows (a prompt, a time embedding):
    /// tasks take fixed blocks of output features instead.
    public func linear(_ x: Tensor, _ layer: Linear) -> Tensor {
        if let matrix = layer.quantized {
            var y = linear(x, QuantizedLinear(matrix: matrix))           // [..., out]
            if let update = layer.lowRank {
                let down = linear(x, Linear(weight: update.down, bias: nil))   // [..., r]
                addInPlace(&y, linear(down, Linear(weight: update.up, bias: nil)),
                           scale: update.scale)
            }
            return y
        }
        let (inFeatures, outFeatures) = (layer.inFeatures, layer.outFeatures)
        precondition(x.shape.last == inFeatures,
                     "linear expects last dim \(inFeatures), got shape \(x.shape)")
        let rows = x.count / inFeatures
        var outShape = x.shape
        outShape[outShape.count - 1] = outFeatures
        return Tensor(shape: outShape) { out in
            x.withUnsafeBufferPointer { xp in
                layer.weight.withUnsafeBufferPointer { wp in
                    let ctx = UncheckedBox((xp.start, wp.start, out.start,
                                            layer.bias?.scalars))
                    let byRows = rows >= 2 * Compute.rowChunk
                    let block = byRows ? Compute.rowChunk : max(16, (outFeatures / 4 + 15) / 16 * 16)
                    let tasks = ((byRows ? rows : outFeatures) + block - 1) / block
                    forEachTask(tasks) { task in
                        let (xb, wb, ob, bias) = ctx.value
                        let r = byRows ? (task * block)..<min(rows, (task + 1) * block) : 0..<rows
                        let f = byRows ? 0..<outFeatures
                            : (task * block)..<min(outFeatures, (task + 1) * block)
                        let o = ob + r.lowerBound * outFeatures + f.lowerBound
                        sgemm(transA: false, transB: true, m: r.count, n: f.count, k: inFeatures,
                              a: xb + r.lowerBound * inFeatures, lda: inFeatures,
                              b: wb + f.lowerBound * inFeatures, ldb: inFeatures, c: o,
                              ldc: outFeatures)
                        guard let bias else { return }
                        for i in 0..<r.count {
                            let row = o + i * outFeatures
                            for j in 0..<f.count { row[j] += bias[f.lowerBound + j] }
                        }
                    }
                }
            }
        }
    }

    /// Rows per task for token-wise work (linear layers, norms over tokens).
    static let rowChunk = 512
}
