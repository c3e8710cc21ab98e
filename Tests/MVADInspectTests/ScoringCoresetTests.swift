// Tests of the greedy k-center coreset: against its scalar twin, a hand-made case with ties,
// the size rule, and thread-count determinism.

import XCTest
import MVADEngine
@testable import MVADInspect

final class ScoringCoresetTests: XCTestCase {
    func testMatchesScalarTwinOnRandomData() throws {
        var random = ScoringRandom(seed: 31)
        let vectors = random.tensor([400, 12])
        let twin = Coreset.referenceSelect(count: 60, from: vectors)
        for tile in [4096, 64, 37] {
            let fast = try Coreset.select(
                count: 60, from: vectors, compute: Compute(threads: 2), tile: tile)
            XCTAssertEqual(fast, twin, "tile \(tile)")
        }
        XCTAssertEqual(Set(twin).count, 60, "no row is chosen twice")
    }

    func testHandMadeCase() throws {
        // Points on a line: 0, 1, 10, 4, 6 and a duplicate of 10. From row 0 (value 0): the
        // farthest is 10 (row 2; the duplicate row 5 ties and loses on index), then 4 or 6 are
        // 4 away from the set {0, 10}: row 3 wins the tie; then 6 (2 from 4), then 1.
        let vectors = Tensor(shape: [6, 1], scalars: [0, 1, 10, 4, 6, 10])
        let compute = Compute(threads: 2)
        XCTAssertEqual(try Coreset.select(count: 6, from: vectors, compute: compute),
                       [0, 2, 3, 4, 1, 5])
        XCTAssertEqual(Coreset.referenceSelect(count: 6, from: vectors), [0, 2, 3, 4, 1, 5])

        // Two directions tie exactly at distance 1 from the origin: the lower index wins.
        let square = Tensor(shape: [3, 2], scalars: [0, 0, 0, 1, 1, 0])
        XCTAssertEqual(try Coreset.select(count: 3, from: square, compute: compute), [0, 1, 2])
    }

    func testSelectionCountAndFraction() throws {
        XCTAssertEqual(try Coreset.selectionCount(fraction: 0.1, of: 1000), 100)
        XCTAssertEqual(try Coreset.selectionCount(fraction: 1, of: 7), 7)
        XCTAssertEqual(try Coreset.selectionCount(fraction: 0.001, of: 10), 1)
        XCTAssertThrowsError(try Coreset.selectionCount(fraction: 0, of: 10))
        XCTAssertThrowsError(try Coreset.selectionCount(fraction: 1.5, of: 10))
    }

    func testSameSelectionForOneTwoAndFourThreads() throws {
        var random = ScoringRandom(seed: 41)
        let vectors = random.tensor([900, 16])
        let one = try Coreset.select(
            count: 90, from: vectors, compute: Compute(threads: 1), tile: 50)
        for threads in [2, 4] {
            let other = try Coreset.select(
                count: 90, from: vectors, compute: Compute(threads: threads), tile: 50)
            XCTAssertEqual(other, one, "\(threads) threads")
        }
    }
}
