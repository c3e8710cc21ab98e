// Multi-head scaled dot-product attention (torch.nn.functional.scaled_dot_product_attention
// with heads split from the feature dimension, as diffusers' Attention does).

import MVADKernels

extension Compute {
    /// Query rows per task.
    static let queryChunk = 256

    /// softmax(Q K^T / sqrt(d)) V per head. q [N, Lq, H * d], k and v [N, Lk, H * d]
    /// -> [N, Lq, H * d]. With `causal`, query i attends to keys 0...i only (torch's
    /// `is_causal`, the mask aligned at the top left), as in a text encoder.
    public func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int,
                          causal: Bool = false) -> Tensor {
        precondition(q.rank == 3 && k.rank == 3 && k.shape == v.shape,
                     "attention shapes q \(q.shape) k \(k.shape) v \(v.shape)")
        let (n, lq, width) = (q.shape[0], q.shape[1], q.shape[2])
        let lk = k.shape[1]
        precondition(k.shape[0] == n && k.shape[2] == width && width % heads == 0,
                     "attention: q \(q.shape), k \(k.shape), heads \(heads)")
        let d = width / heads
        let scale = 1 / Float(d).squareRoot()
        let queryTiles = (lq + Compute.queryChunk - 1) / Compute.queryChunk
        let tasks = n * heads * queryTiles
        let scratch = Scratch(workers: workers(for: tasks), perWorker: Compute.queryChunk * lk)
        let scores = UncheckedBox((scratch.slice(0), scratch.perWorker))

        return Tensor(shape: [n, lq, width]) { out in
            q.withUnsafeBufferPointer { qp in
                k.withUnsafeBufferPointer { kp in
                    v.withUnsafeBufferPointer { vp in
                        let ctx = UncheckedBox((qp.start, kp.start, vp.start,
                                                out.start))
                        forEachTask(tasks) { task, worker in
                            let (qb, kb, vb, ob) = ctx.value
                            let tile = task % queryTiles
                            let head = (task / queryTiles) % heads
                            let image = task / (queryTiles * heads)
                            let row0 = tile * Compute.queryChunk
                            let rows = min(Compute.queryChunk, lq - row0)
                            let qOff = (image * lq + row0) * width + head * d
                            let kvOff = image * lk * width + head * d
                            let s = scores.value.0 + worker * scores.value.1   // [rows, Lk]
                            sgemm(transA: false, transB: true, m: rows, n: lk, k: d,
                                  a: qb + qOff, lda: width, b: kb + kvOff, ldb: width,
                                  c: s, ldc: lk)
                            if causal {
                                Compute.causalSoftmax(s, rows: rows, firstRow: row0, keys: lk,
                                                      scale: scale)
                            } else {
                                mvad_softmax_rows(s, rows, lk, scale)
                            }
                            sgemm(transA: false, transB: false, m: rows, n: d, k: lk,
                                  a: s, lda: lk, b: vb + kvOff, ldb: width,
                                  c: ob + qOff, ldc: width)
                        }
                    }
                }
            }
        }
    }

    /// Row r of `scores` [rows, keys] (query firstRow + r) becomes the softmax of its first
    /// firstRow + r + 1 scores, the rest zero: exactly what a -inf mask gives.
    static func causalSoftmax(_ scores: UnsafeMutablePointer<Float>, rows: Int, firstRow: Int,
                              keys: Int, scale: Float) {
        for r in 0..<rows {
            let row = scores + r * keys
            let visible = min(keys, firstRow + r + 1)
            mvad_softmax_rows(row, 1, visible, scale)
            for j in visible..<keys { row[j] = 0 }
        }
    }
}
