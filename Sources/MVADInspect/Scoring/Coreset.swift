// Coreset: deterministic greedy k-center selection of a fraction of a memory bank (the
// PatchCore-style coreset, here without its random projection and always starting at row 0).

import CBLAS
import MVADEngine

/// Greedy k-center selection over the rows of a bank [M, C].
///
/// The first row chosen is row 0 (fixed, so the result needs no random seed). Each further
/// step chooses the row farthest from every row chosen so far (largest minimum distance;
/// ties go to the lowest row index). Distances use the same formula as
/// `NearestNeighbourIndex`, |a|^2 + |b|^2 - 2 a.b with a.b from BLAS (sgemv of a bank tile
/// against the newly chosen row), clamped at 0; chosen rows are never chosen again, even when
/// rounding leaves them a tiny positive distance. No projection to fewer channels is made.
///
/// Determinism: every step splits the bank into fixed tiles of `tile` rows; each tile reports
/// its farthest row and the tiles are reduced in order, so the result is the same for any
/// number of threads.
public enum Coreset {
    /// Bank rows per task in every step.
    public static let defaultTile = 4096

    /// Number of rows a fraction `fraction` in (0, 1] of `count` rows selects:
    /// round(fraction * count), at least 1 (for count > 0) and at most `count`.
    public static func selectionCount(fraction: Double, of count: Int) throws -> Int {
        guard fraction > 0, fraction <= 1 else {
            throw ScoringError.invalidParameter(
                name: "coreset fraction", found: "\(fraction)", expected: "in (0, 1]")
        }
        guard count > 0 else { return 0 }
        return min(count, max(1, Int((fraction * Double(count)).rounded())))
    }

    /// Indices of the rows of `bank` selected for a fraction `fraction`, in selection order.
    public static func select(
        fraction: Double, of bank: MemoryBank, compute: Compute, tile: Int = defaultTile
    ) throws -> [Int] {
        let target = try selectionCount(fraction: fraction, of: bank.count)
        return try select(count: target, from: bank.vectors, compute: compute, tile: tile)
    }

    /// The bank reduced to a fraction `fraction` of its rows, in selection order; the fraction
    /// and the original size are added to its provenance.
    public static func reduce(
        _ bank: MemoryBank, fraction: Double, compute: Compute
    ) throws -> MemoryBank {
        let indices = try select(fraction: fraction, of: bank, compute: compute)
        var reduced = bank.subset(indices)
        reduced.provenance["coreset_fraction"] = "\(fraction)"
        reduced.provenance["coreset_source_count"] = "\(bank.count)"
        return reduced
    }

    /// Indices of `count` rows of `vectors` [M, C] chosen greedily, in selection order.
    public static func select(
        count target: Int, from vectors: Tensor, compute: Compute, tile: Int = defaultTile
    ) throws -> [Int] {
        guard vectors.rank == 2, vectors.shape[1] > 0 else {
            throw ScoringError.invalidShape(
                what: "the coreset input", found: vectors.shape, expected: "[M, C] with C > 0")
        }
        let rows = vectors.shape[0]
        guard target >= 0, target <= rows, tile > 0 else {
            throw ScoringError.invalidParameter(
                name: "coreset size and tile", found: "\(target) and \(tile)",
                expected: "a size in 0...\(rows) and a tile > 0")
        }
        try ScoringError.requireFinite(vectors, "the coreset input")
        guard target > 0 else { return [] }

        let norms = NearestNeighbourIndex.squaredRowNorms(vectors)
        // minimum[i]: squared distance of row i to the chosen set; -1 marks a chosen row.
        var minimum = [Float](repeating: .infinity, count: rows)
        var chosen = [0]
        chosen.reserveCapacity(target)
        while chosen.count < target, let last = chosen.last {
            minimum[last] = -1
            let next = farthestRow(
                after: last, vectors: vectors, norms: norms, minimum: &minimum,
                compute: compute, tile: tile)
            chosen.append(next)
        }
        return chosen
    }

    /// Lowers every row's minimum distance with its distance to row `last`, and returns the row
    /// with the largest minimum (lowest index on ties).
    private static func farthestRow(
        after last: Int, vectors: Tensor, norms: [Float], minimum: inout [Float],
        compute: Compute, tile: Int
    ) -> Int {
        let (rows, c) = (vectors.shape[0], vectors.shape[1])
        let tiles = (rows + tile - 1) / tile
        var tileBest = [(value: Float, index: Int)](repeating: (-.infinity, 0), count: tiles)
        vectors.withUnsafeBufferPointer { v in
            minimum.withUnsafeMutableBufferPointer { minimum in
                tileBest.withUnsafeMutableBufferPointer { tileBest in
                    guard let base = v.baseAddress else { return }
                    let center = base + last * c
                    compute.forEachTask(tiles) { task in
                        let start = task * tile
                        let n = min(tile, rows - start)
                        let products = UnsafeMutablePointer<Float>.allocate(capacity: n)
                        defer { products.deallocate() }
                        // products [n] = -2 * V[tile] center
                        cblas_sgemv(
                            CblasRowMajor, CblasNoTrans, blasint(n), blasint(c), -2,
                            base + start * c, blasint(c), center, 1, 0, products, 1)
                        var best: (value: Float, index: Int) = (-.infinity, start)
                        for j in 0..<n {
                            let row = start + j
                            let distance = max(0, norms[row] + norms[last] + products[j])
                            if minimum[row] >= 0, distance < minimum[row] {
                                minimum[row] = distance
                            }
                            if minimum[row] > best.value { best = (minimum[row], row) }
                        }
                        tileBest[task] = best
                    }
                }
            }
        }
        var best = tileBest[0]
        for candidate in tileBest.dropFirst() where candidate.value > best.value {
            best = candidate
        }
        return best.index
    }

    /// Scalar twin of `select(count:from:compute:tile:)`: direct squared distances in Double.
    static func referenceSelect(count target: Int, from vectors: Tensor) -> [Int] {
        let (rows, c) = (vectors.shape[0], vectors.shape[1])
        guard target > 0, rows > 0 else { return [] }
        let v = vectors.scalars
        var minimum = [Double](repeating: .infinity, count: rows)
        var isChosen = [Bool](repeating: false, count: rows)
        var chosen = [0]
        while chosen.count < target, let last = chosen.last {
            isChosen[last] = true
            var (bestValue, bestIndex) = (-Double.infinity, 0)
            for row in 0..<rows where !isChosen[row] {
                var sum = 0.0
                for k in 0..<c {
                    let difference = Double(v[row * c + k]) - Double(v[last * c + k])
                    sum += difference * difference
                }
                minimum[row] = min(minimum[row], sum)
                if minimum[row] > bestValue { (bestValue, bestIndex) = (minimum[row], row) }
            }
            chosen.append(bestIndex)
        }
        return chosen
    }
}
