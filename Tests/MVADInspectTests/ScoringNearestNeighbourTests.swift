// Tests of the nearest-neighbour search: against numpy/scipy distances, against its scalar twin
// across several tiles, the precision limit for equal vectors, and thread-count determinism.

import XCTest
import MVADEngine
@testable import MVADInspect

final class ScoringNearestNeighbourTests: XCTestCase {
    /// Fast vs reference limit on random data (relative to the reference distance).
    private let twinLimit = 1e-4

    func testMatchesScipyDistances() throws {
        let fixture = try ScoringFixtures.safetensors("knn.safetensors")
        let queries = try fixture.tensor("queries")
        let expected = try fixture.tensor("distances").scalars
        let expectedIndices = try fixture.tensor("indices").scalars.map { Int($0) }
        let index = try NearestNeighbourIndex(vectors: fixture.tensor("bank"))

        let result = try index.search(queries, compute: Compute(threads: 2))
        XCTAssertEqual(result.indices, expectedIndices)
        let error = ScoringFixtures.maxRelativeError(result.distances, expected)
        XCTAssertLessThanOrEqual(error, ScoringFixtures.mapLimit, "max relative error \(error)")
    }

    func testMatchesScalarTwinOverSeveralTiles() throws {
        var random = ScoringRandom(seed: 11)
        let bank = random.tensor([1000, 24])
        let queries = random.tensor([77, 24])
        let twin = NearestNeighbourIndex.referenceSearch(queries: queries, bank: bank)
        for (bankTile, queryTile) in [(4096, 256), (128, 16), (333, 7)] {
            let index = try NearestNeighbourIndex(
                vectors: bank, bankTile: bankTile, queryTile: queryTile)
            let result = try index.search(queries, compute: Compute(threads: 2))
            XCTAssertEqual(result.indices, twin.indices, "tiles \(bankTile) x \(queryTile)")
            for (fast, exact) in zip(result.distances, twin.distances) {
                XCTAssertLessThanOrEqual(abs(Double(fast) - exact), twinLimit * exact)
            }
        }
    }

    func testQueryEqualToABankVector() throws {
        // The |q|^2 + |b|^2 - 2 q.b formula cancels for equal vectors (on this data it alone
        // gives up to 1.4e-3 |q|); the chosen row's distance is recomputed directly, so every
        // query equal to a bank row must find that row at a distance under 1e-3 |q|.
        var random = ScoringRandom(seed: 5)
        var bank = random.tensor([500, 320])
        bank.withUnsafeMutableBufferPointer { values in
            for i in 0..<values.count { values[i] = values[i] * 40 + 3 }  // large norms
        }
        let result = try NearestNeighbourIndex(vectors: bank, bankTile: 128)
            .search(bank, compute: Compute(threads: 2))

        XCTAssertEqual(result.indices, Array(0..<500))
        let norms = NearestNeighbourIndex.squaredRowNorms(bank).map { Double($0).squareRoot() }
        for (distance, norm) in zip(result.distances, norms) {
            XCTAssertLessThan(Double(distance), 1e-3 * norm, "distance \(distance), |q| \(norm)")
        }
    }

    func testTiesGoToTheLowestIndex() throws {
        let bank = Tensor(shape: [4, 2], scalars: [5, 5, 1, 0, -1, 0, 1, 0])
        let queries = Tensor(shape: [1, 2], scalars: [0, 0])
        let result = try NearestNeighbourIndex(vectors: bank, bankTile: 2)
            .search(queries, compute: Compute(threads: 1))
        XCTAssertEqual(result.indices, [1])
        XCTAssertEqual(result.distances, [1])
    }

    func testBitIdenticalForOneTwoAndFourThreads() throws {
        var random = ScoringRandom(seed: 23)
        let bank = random.tensor([700, 32])
        let queries = random.tensor([300, 32])
        let index = try NearestNeighbourIndex(vectors: bank, bankTile: 100, queryTile: 32)
        let one = try index.search(queries, compute: Compute(threads: 1))
        for threads in [2, 4] {
            let other = try index.search(queries, compute: Compute(threads: threads))
            XCTAssertEqual(other.indices, one.indices, "\(threads) threads")
            XCTAssertEqual(other.distances.map(\.bitPattern), one.distances.map(\.bitPattern),
                           "\(threads) threads")
        }
    }

    func testRefusesBadInput() throws {
        let bank = Tensor(shape: [2, 2], scalars: [0, 1, 2, 3])
        let index = try NearestNeighbourIndex(vectors: bank)
        XCTAssertThrowsError(try index.search(Tensor(zeros: [3, 5]), compute: Compute())) {
            XCTAssertEqual($0 as? ScoringError, .invalidShape(
                what: "the nearest-neighbour queries", found: [3, 5],
                expected: "[P, 2] (the bank's channels)"))
        }
        let nan = Tensor(shape: [1, 2], scalars: [0, .nan])
        XCTAssertThrowsError(try index.search(nan, compute: Compute()))
        let empty = try MemoryBank(modality: .rgb, channels: 2, settings: [:])
        XCTAssertThrowsError(try NearestNeighbourIndex(bank: empty)) {
            XCTAssertEqual($0 as? ScoringError, .emptyBank(modality: "rgb"))
        }
    }
}
