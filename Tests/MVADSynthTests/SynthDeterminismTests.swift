// Determinism of the generator: the PRNG's reference values, byte-identical datasets for one
// seed, different parts for different seeds, and parts that stay put when a split grows.

import Foundation
import MVADInspect
import MVADSynth
import XCTest

final class SynthDeterminismTests: XCTestCase {
    /// SplitMix64 from seed 0: the first outputs of the reference C implementation
    /// (Vigna's splitmix64.c), recomputed independently with Python integers.
    func testSplitMix64MatchesReferenceSequence() {
        var random = SynthRandom(seed: 0)
        XCTAssertEqual(random.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(random.next(), 0x6E78_9E6A_A1B9_65F4)
        XCTAssertEqual(random.next(), 0x06C4_5D18_8009_454F)
    }

    func testSameSeedWritesByteIdenticalFiles() throws {
        let root = try SynthTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let counts = SplitCounts(train: 2, val: 1, test: 4)
        try SynthTestSupport.dataset().write(to: root.appendingPathComponent("a"), counts: counts)
        try SynthTestSupport.dataset().write(to: root.appendingPathComponent("b"), counts: counts)

        let first = try SynthTestSupport.files(under: root.appendingPathComponent("a"))
        let second = try SynthTestSupport.files(under: root.appendingPathComponent("b"))
        // 7 parts x 8 files + 4 masks + lights.json + manifest.json
        XCTAssertEqual(first.count, 7 * 8 + 4 + 2)
        XCTAssertEqual(Set(first.keys), Set(second.keys))
        for (name, bytes) in first {
            XCTAssertEqual(bytes, second[name], "\(name) differs between two runs of one seed")
        }
    }

    func testDifferentSeedsGiveDifferentParts() throws {
        let one = try SynthTestSupport.dataset(seed: 1)
        let two = try SynthTestSupport.dataset(seed: 2)
        let a = one.render(split: .train, index: 0)
        let b = two.render(split: .train, index: 0)
        XCTAssertNotEqual(a.recipe.shape, b.recipe.shape)
        XCTAssertNotEqual(SynthTestSupport.bytes(a.viewImage(5)),
                          SynthTestSupport.bytes(b.viewImage(5)))
        XCTAssertNotEqual(SynthTestSupport.bytes(a.normalImage),
                          SynthTestSupport.bytes(b.normalImage))
        // Two parts of one split differ too, and so do the same index in two splits.
        let c = one.render(split: .train, index: 1)
        let d = one.render(split: .val, index: 0)
        XCTAssertNotEqual(a.recipe.seed, c.recipe.seed)
        XCTAssertNotEqual(a.recipe.seed, d.recipe.seed)
        XCTAssertNotEqual(a.surface.height, c.surface.height)
    }

    func testPartsStayTheSameWhenASplitGrows() throws {
        let root = try SynthTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let dataset = try SynthTestSupport.dataset()
        try dataset.write(to: root.appendingPathComponent("small"),
                          counts: SplitCounts(train: 2, val: 0, test: 3))
        try dataset.write(to: root.appendingPathComponent("large"),
                          counts: SplitCounts(train: 4, val: 1, test: 6))
        let small = try SynthTestSupport.files(under: root.appendingPathComponent("small"))
        let large = try SynthTestSupport.files(under: root.appendingPathComponent("large"))
        let parts = small.keys.filter { $0.hasSuffix(".png") }
        XCTAssertEqual(parts.count, 2 * 8 + 3 * 9)
        for name in parts {
            XCTAssertEqual(small[name], large[name], "\(name) changed when the split grew")
        }
        XCTAssertEqual(large.keys.filter { $0.hasSuffix(".png") }.count, 5 * 8 + 6 * 9)
    }

    func testDefectKindsCycleOverOddTestParts() throws {
        let dataset = try SynthTestSupport.dataset(kinds: [.stain, .dent, .missing])
        let kinds = (0..<8).map { dataset.defectKind(split: .testPublic, index: $0) }
        XCTAssertEqual(kinds, [nil, .stain, nil, .dent, nil, .missing, nil, .stain])
        XCTAssertNil(dataset.defectKind(split: .train, index: 1))
        XCTAssertNil(dataset.defectKind(split: .val, index: 3))
        // A defective test part is the same part as its good twin, plus the defect.
        let defective = dataset.recipe(split: .testPublic, index: 3)
        XCTAssertEqual(defective.defects.map(\.kind), [.dent])
        XCTAssertEqual(defective.withoutDefects,
                       dataset.sampler.recipe(seed: defective.seed, defect: nil))
    }
}
