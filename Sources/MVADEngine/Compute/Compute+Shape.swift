// Data movement: channel concatenation and slicing, nearest 2x upsampling, and the
// NCHW <-> token (N, L = H * W, C) layout changes of the transformer blocks.

import MVADKernels

extension Compute {
    /// Concatenates NCHW tensors along channels (torch.cat(dim=1)).
    public func concatChannels(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty, "concat of nothing")
        let n = parts[0].shape[0]
        let spatial = Array(parts[0].shape.dropFirst(2))
        for p in parts {
            precondition(p.shape[0] == n && Array(p.shape.dropFirst(2)) == spatial,
                         "concat: shape \(p.shape) does not match \(parts[0].shape)")
        }
        let plane = spatial.reduce(1, *)
        let channels = parts.reduce(0) { $0 + $1.shape[1] }
        var out = [Float]()
        out.reserveCapacity(n * channels * plane)
        for image in 0..<n {
            for p in parts {
                let size = p.shape[1] * plane
                out.append(contentsOf: p.scalars[(image * size)..<((image + 1) * size)])
            }
        }
        return Tensor(shape: [n, channels] + spatial, scalars: out)
    }

    /// Concatenates tensors along the batch (first) dimension (torch.cat(dim=0)).
    public func concatBatch(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty, "concat of nothing")
        let inner = Array(parts[0].shape.dropFirst())
        for p in parts {
            precondition(Array(p.shape.dropFirst()) == inner,
                         "concat: shape \(p.shape) does not match \(parts[0].shape)")
        }
        let n = parts.reduce(0) { $0 + $1.shape[0] }
        return Tensor(shape: [n] + inner, scalars: Array(parts.map(\.scalars).joined()))
    }

    /// Channels `range` of x [N, C, ...].
    public func sliceChannels(_ x: Tensor, _ range: Range<Int>) -> Tensor {
        let n = x.shape[0]
        let c = x.shape[1]
        precondition(range.lowerBound >= 0 && range.upperBound <= c, "channel slice out of range")
        let plane = x.count / (n * c)
        var out = [Float]()
        out.reserveCapacity(n * range.count * plane)
        for image in 0..<n {
            let start = (image * c + range.lowerBound) * plane
            out.append(contentsOf: x.scalars[start..<(start + range.count * plane)])
        }
        var shape = x.shape
        shape[1] = range.count
        return Tensor(shape: shape, scalars: out)
    }

    /// Images `range` of x [N, ...].
    public func sliceBatch(_ x: Tensor, _ range: Range<Int>) -> Tensor {
        let per = x.count / max(1, x.shape[0])
        var shape = x.shape
        shape[0] = range.count
        return Tensor(shape: shape,
                      scalars: Array(x.scalars[(range.lowerBound * per)..<(range.upperBound * per)]))
    }

    /// Nearest-neighbour upsampling by 2 in H and W (F.interpolate(scale_factor=2)).
    public func upsampleNearest2x(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4, "upsample expects NCHW, got \(x.shape)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return Tensor(shape: [n, c, 2 * h, 2 * w]) { out in
            x.withUnsafeBufferPointer { xp in
                let ctx = UncheckedBox((xp.start, out.start))
                forEachRange(n * c, chunk: 16) { planes in
                    let (src, dst) = ctx.value
                    for p in planes {
                        let s = src + p * h * w
                        let d = dst + p * 4 * h * w
                        for y in 0..<(2 * h) {
                            let srow = s + (y / 2) * w
                            let drow = d + y * 2 * w
                            for xx in 0..<(2 * w) { drow[xx] = srow[xx / 2] }
                        }
                    }
                }
            }
        }
    }

    /// [N, C, H, W] -> [N, H * W, C].
    public func toTokens(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4, "toTokens expects NCHW, got \(x.shape)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return transposeLast(x.reshaped([n, c, h * w])).reshaped([n, h * w, c])
    }

    /// [N, H * W, C] -> [N, C, H, W].
    public func fromTokens(_ x: Tensor, height: Int, width: Int) -> Tensor {
        precondition(x.rank == 3 && x.shape[1] == height * width,
                     "fromTokens: \(x.shape) is not [N, \(height * width), C]")
        let (n, c) = (x.shape[0], x.shape[2])
        return transposeLast(x).reshaped([n, c, height, width])
    }

    /// Swaps the last two dimensions of x [N, A, B] -> [N, B, A].
    public func transposeLast(_ x: Tensor) -> Tensor {
        precondition(x.rank == 3, "transposeLast expects rank 3, got \(x.shape)")
        let (n, a, b) = (x.shape[0], x.shape[1], x.shape[2])
        let tile = 32
        return Tensor(shape: [n, b, a]) { out in
            x.withUnsafeBufferPointer { xp in
                let ctx = UncheckedBox((xp.start, out.start))
                let rowTiles = (a + tile - 1) / tile
                forEachTask(n * rowTiles) { task in
                    let (src, dst) = ctx.value
                    let image = task / rowTiles
                    let i0 = (task % rowTiles) * tile
                    // Rows i0 ..< i0 + tile of the image become its columns i0 ..< i0 + tile.
                    mvad_transpose(src + image * a * b + i0 * b, b, min(tile, a - i0), b,
                                   dst + image * a * b + i0, a)
                }
            }
        }
    }
}
