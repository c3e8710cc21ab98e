// NearestNeighbours: each query vector's nearest memory-bank vector, found with BLAS products
// over fixed tiles (the matrix-product form torch.cdist uses), and its directly computed distance.

import CBLAS
import MVADEngine

/// The nearest bank vector of every query: `distances[p]` and `indices[p]` for query p.
public struct NearestNeighbours: Sendable, Equatable {
    public var distances: [Float]
    public var indices: [Int]
}

/// A memory bank prepared for nearest-neighbour search: its vectors [M, C] and their squared
/// norms, computed once.
///
/// The nearest row is chosen by d(q, b)^2 = |q|^2 + |b|^2 - 2 q.b, with q.b from one sgemm per
/// (query tile, bank tile) pair (|q|^2 is the same for every b and is left out of the
/// comparison). The distance returned for the chosen row is then recomputed directly, as the
/// square root of the sum of (q - b)^2 in Double.
///
/// Precision limit: the formula cancels when q and b are close. On Float data its error on d^2
/// grows like eps_float * sqrt(C) * |q| |b|; at d = 0 that is an error in d of about 1e-3 * |q|
/// (measured: up to 1.4e-3 * |q| for C = 320). The direct recomputation removes this error
/// from the reported distance (a query equal to a bank vector gets 0), but the choice of row
/// keeps it: among rows whose squared distances differ by less than the formula error, a
/// slightly farther one may be chosen, so the result can exceed the true nearest distance
/// d_min by up to sqrt(d_min^2 + 2 E) - d_min, E the formula's error on squared distances.
///
/// Determinism: tasks are fixed tiles of `queryTile` queries; each walks the bank in fixed
/// tiles of `bankTile` rows in order, so results are bit-identical for any thread count.
/// Ties in distance go to the lowest bank index.
public struct NearestNeighbourIndex: Sendable {
    /// Bank rows per sgemm (4096 rows: products of a query tile stay around 4 MB).
    public static let defaultBankTile = 4096
    /// Queries per task.
    public static let defaultQueryTile = 256

    /// The bank vectors [M, C].
    public let vectors: Tensor
    public let bankTile: Int
    public let queryTile: Int
    /// |b|^2 of every bank row [M], summed in Double, rounded to Float.
    private let squaredNorms: [Float]

    /// Prepares `bank`, which must hold at least one vector, all finite.
    public init(
        bank: MemoryBank, bankTile: Int = defaultBankTile, queryTile: Int = defaultQueryTile
    ) throws {
        guard bank.count > 0 else { throw ScoringError.emptyBank(modality: bank.modality.rawValue) }
        try self.init(
            vectors: bank.vectors, bankTile: bankTile, queryTile: queryTile,
            what: "the \(bank.modality.rawValue) bank")
    }

    /// Prepares the rows of `vectors` [M, C] (M > 0, all finite); `what` names them in errors.
    public init(
        vectors: Tensor, bankTile: Int = defaultBankTile, queryTile: Int = defaultQueryTile,
        what: String = "the bank"
    ) throws {
        guard vectors.rank == 2, vectors.shape[0] > 0, vectors.shape[1] > 0 else {
            throw ScoringError.invalidShape(
                what: what, found: vectors.shape, expected: "[M, C] with M > 0 and C > 0")
        }
        guard bankTile > 0, queryTile > 0 else {
            throw ScoringError.invalidParameter(
                name: "bankTile and queryTile", found: "\(bankTile) and \(queryTile)",
                expected: "> 0")
        }
        try ScoringError.requireFinite(vectors, what)
        self.vectors = vectors
        self.bankTile = bankTile
        self.queryTile = queryTile
        self.squaredNorms = Self.squaredRowNorms(vectors)
    }

    /// Number of bank vectors (M).
    public var count: Int { vectors.shape[0] }
    /// Channels per vector (C).
    public var channels: Int { vectors.shape[1] }

    /// The nearest bank vector of every row of `queries` [P, C].
    public func search(_ queries: Tensor, compute: Compute) throws -> NearestNeighbours {
        guard queries.rank == 2, queries.shape[1] == channels else {
            throw ScoringError.invalidShape(
                what: "the nearest-neighbour queries", found: queries.shape,
                expected: "[P, \(channels)] (the bank's channels)")
        }
        try ScoringError.requireFinite(queries, "the nearest-neighbour queries")
        let queryCount = queries.shape[0]
        var distances = [Float](repeating: 0, count: queryCount)
        var indices = [Int](repeating: 0, count: queryCount)

        queries.withUnsafeBufferPointer { q in
            vectors.withUnsafeBufferPointer { b in
                distances.withUnsafeMutableBufferPointer { d in
                    indices.withUnsafeMutableBufferPointer { ix in
                        let tasks = (queryCount + queryTile - 1) / queryTile
                        compute.forEachTask(tasks) { task in
                            let start = task * queryTile
                            let rows = start..<min(queryCount, start + queryTile)
                            searchTile(rows, queries: q, bank: b, distances: d, indices: ix)
                        }
                    }
                }
            }
        }
        return NearestNeighbours(distances: distances, indices: indices)
    }

    /// Finds the nearest bank row of the queries in `rows`, one bank tile at a time.
    private func searchTile(
        _ rows: Range<Int>, queries: UnsafeBufferPointer<Float>, bank: UnsafeBufferPointer<Float>,
        distances: UnsafeMutableBufferPointer<Float>,
        indices: UnsafeMutableBufferPointer<Int>
    ) {
        guard let q = queries.baseAddress, let b = bank.baseAddress, !rows.isEmpty else { return }
        let (bankCount, c) = (count, channels)
        let tileRows = min(bankTile, bankCount)
        let products = UnsafeMutablePointer<Float>.allocate(capacity: rows.count * tileRows)
        defer { products.deallocate() }
        // best[i] = min over the bank rows seen of |b|^2 - 2 q.b (|q|^2 left out).
        var best = [Float](repeating: .infinity, count: rows.count)
        var bestIndex = [Int](repeating: 0, count: rows.count)

        for tileStart in stride(from: 0, to: bankCount, by: bankTile) {
            let n = min(bankTile, bankCount - tileStart)
            // products [rows, n] = -2 * Q[rows] B[tile]^T
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans, blasint(rows.count), blasint(n),
                blasint(c), -2, q + rows.lowerBound * c, blasint(c), b + tileStart * c,
                blasint(c), 0, products, blasint(n))
            squaredNorms.withUnsafeBufferPointer { norms in
                for i in 0..<rows.count {
                    let row = products + i * n
                    var (minimum, minimumIndex) = (best[i], bestIndex[i])
                    for j in 0..<n {
                        let value = row[j] + norms[tileStart + j]
                        if value < minimum { (minimum, minimumIndex) = (value, tileStart + j) }
                    }
                    (best[i], bestIndex[i]) = (minimum, minimumIndex)
                }
            }
        }

        for i in 0..<rows.count {
            let query = rows.lowerBound + i
            distances[query] = Float(Self.distance(q + query * c, b + bestIndex[i] * c, c))
            indices[query] = bestIndex[i]
        }
    }

    /// sqrt(sum over k < c of (a[k] - b[k])^2), summed in Double.
    private static func distance(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: Int
    ) -> Double {
        var sum = 0.0
        for k in 0..<c {
            let difference = Double(a[k]) - Double(b[k])
            sum += difference * difference
        }
        return sum.squareRoot()
    }

    /// |row|^2 of every row of `matrix` [R, C], accumulated in Double in channel order.
    static func squaredRowNorms(_ matrix: Tensor) -> [Float] {
        let (rows, c) = (matrix.shape[0], matrix.shape[1])
        let scalars = matrix.scalars
        return (0..<rows).map { r in
            var sum = 0.0
            for k in (r * c)..<((r + 1) * c) { sum += Double(scalars[k]) * Double(scalars[k]) }
            return Float(sum)
        }
    }

    /// Scalar twin of `search`: direct sums of (q - b)^2 in Double, lowest index on ties.
    static func referenceSearch(
        queries: Tensor, bank: Tensor
    ) -> (distances: [Double], indices: [Int]) {
        let (c, bankCount) = (bank.shape[1], bank.shape[0])
        let (q, b) = (queries.scalars, bank.scalars)
        var distances: [Double] = []
        var indices: [Int] = []
        for p in 0..<queries.shape[0] {
            var (minimum, minimumIndex) = (Double.infinity, 0)
            for m in 0..<bankCount {
                var sum = 0.0
                for k in 0..<c {
                    let difference = Double(q[p * c + k]) - Double(b[m * c + k])
                    sum += difference * difference
                }
                if sum < minimum { (minimum, minimumIndex) = (sum, m) }
            }
            distances.append(minimum.squareRoot())
            indices.append(minimumIndex)
        }
        return (distances, indices)
    }
}
