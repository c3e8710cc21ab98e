// The whole method against the PyTorch reference (tools/reference/pipeline.py) on tiny
// random-weight models and synthetic parts: schedule, latents after every inversion step,
// feature maps, banks, grid maps, image scores and their ranking, pixel maps.

import Foundation
import XCTest
@testable import MVADEngine
@testable import MVADInspect

final class PipelineParityTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/pipeline")
    let compute = Compute(threads: 2)

    private func expected() throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Self.root.appendingPathComponent("expected.safetensors").path)
    }

    private func model() throws -> InspectionModel {
        try InspectionModel.load(folder: Self.root.appendingPathComponent("models").path)
    }

    private func part(_ split: String, _ id: String, modality: Modality = .both) throws -> LoadedPart {
        let folder = Self.root.appendingPathComponent("parts/\(split)")
        let views = try XCTUnwrap(try PartFolder.part(id: id, in: folder))
        return try PartLoader.load(views, size: 32, modality: modality)
    }

    private func check(_ actual: Tensor?, _ expected: Tensor, _ name: String, limit: Double = 1e-4,
                       file: StaticString = #filePath, line: UInt = #line) {
        guard let actual else { return XCTFail("\(name): missing", file: file, line: line) }
        XCTAssertEqual(actual.count, expected.count, "\(name): size", file: file, line: line)
        var difference = 0.0, norm = 0.0
        for (a, b) in zip(actual.scalars, expected.scalars) {
            difference += Double(a - b) * Double(a - b)
            norm += Double(b) * Double(b)
        }
        let error = (difference / max(norm, 1e-30)).squareRoot()
        XCTAssertLessThanOrEqual(error, limit, "\(name): relative L2 error \(error)", file: file, line: line)
    }

    func testScheduleMatchesDiffusers() throws {
        let reference = try expected().tensor("scheduler.alphas_cumprod").scalars
        let ours = DDIMScheduler(SchedulerSettings()).alphasCumprod
        XCTAssertEqual(ours.count, reference.count)
        let worst = zip(ours, reference).map { abs($0 - $1) }.max() ?? 1
        XCTAssertLessThanOrEqual(worst, 1e-7)
    }

    func testLatentsAfterEveryInversionStepAndFeaturesMatch() throws {
        let reference = try expected()
        let extractor = FeatureExtractor(model: try model(), compute: compute)
        for (split, id) in [("train", "000"), ("test", "002")] {
            let loaded = try part(split, id)
            var latents: [Int: Tensor] = [:]
            let features = try extractor.features(
                of: PartImages(lights: loaded.lights, normals: loaded.normals), modality: .both,
                observe: { t, x in latents[t] = x })
            for t in [0, 1, 21, 41, 61, 81] {
                check(latents[t], try reference.tensor("\(split).\(id).latents.\(t)"),
                      "\(split).\(id) latents at \(t)")
            }
            if split == "test" {
                check(features.rgb, try reference.tensor("test.\(id).features.rgb"), "features.rgb")
                check(features.normals, try reference.tensor("test.\(id).features.normals"),
                      "features.normals")
            }
        }
    }

    /// Builds the banks from the train parts and scores the test parts, as the reference.
    private func runMethod(_ modality: Modality) throws -> (BankFile, [String: InspectionResult]) {
        let model = try model()
        var builder = try BankBuilder(model: model, modality: modality, compute: compute)
        for id in ["000", "001", "002", "003"] { _ = try builder.add(try part("train", id, modality: modality)) }
        let banks = try builder.bankFile(coresetFraction: nil, provenance: [:])
        let inspector = try Inspector(model: model, banks: banks, modality: modality, compute: compute)
        var results: [String: InspectionResult] = [:]
        for id in ["000", "001", "002", "003"] {
            results[id] = try inspector.inspect(try part("test", id, modality: modality))
        }
        return (banks, results)
    }

    func testBanksScoresRankingAndPixelMapsMatch() throws {
        let reference = try expected()
        let (banks, results) = try runMethod(.both)
        check(try banks.bank(.rgb).vectors, try reference.tensor("bank.rgb"), "bank.rgb")
        check(try banks.bank(.normals).vectors, try reference.tensor("bank.normals"), "bank.normals")
        var ours: [(String, Double)] = []
        var theirs: [(String, Double)] = []
        for (id, result) in results.sorted(by: { $0.key < $1.key }) {
            let key = "test.\(id)"
            check(result.scores.modalities[.rgb]?.gridMap, try reference.tensor("\(key).grid.rgb"),
                  "\(key) grid rgb")
            check(result.scores.modalities[.normals]?.gridMap,
                  try reference.tensor("\(key).grid.normals"), "\(key) grid normals")
            check(result.scores.pixelMap, try reference.tensor("\(key).pixelmap"), "\(key) pixel map")
            for (name, value) in [("rgb", result.rgbScore), ("normals", result.normalsScore),
                                  ("fused", result.score)] {
                let expectedScore = Double(try reference.tensor("\(key).score.\(name)").scalars[0])
                let relative = abs((value ?? .nan) - expectedScore) / abs(expectedScore)
                XCTAssertLessThanOrEqual(relative, 1e-4, "\(key) \(name) score \(value ?? .nan) "
                                         + "vs \(expectedScore)")
            }
            ours.append((id, result.score))
            theirs.append((id, Double(try reference.tensor("\(key).score.fused").scalars[0])))
        }
        XCTAssertEqual(ours.sorted { $0.1 < $1.1 }.map(\.0), theirs.sorted { $0.1 < $1.1 }.map(\.0),
                       "ranking of the test parts")
    }

    func testRGBOnlyRunsTheUNetWithoutControlNetAsTheReference() throws {
        let reference = try expected()
        let (banks, results) = try runMethod(.rgb)
        check(try banks.bank(.rgb).vectors, try reference.tensor("bank.rgbonly"), "bank.rgbonly")
        XCTAssertNil(banks.normals)
        for (id, result) in results {
            let expectedScore = Double(try reference.tensor("test.\(id).score.rgbonly").scalars[0])
            XCTAssertEqual(result.score, expectedScore, accuracy: 1e-4 * expectedScore)
        }
    }

    func testScoresAreBitIdenticalAcrossThreadCounts() throws {
        let model = try model()
        let loaded = try part("test", "003")
        var seen: [[Float]] = []
        for threads in [1, 2, 4] {
            let extractor = FeatureExtractor(model: model, compute: Compute(threads: threads))
            let f = try extractor.features(of: PartImages(lights: loaded.lights, normals: loaded.normals),
                                           modality: .both)
            seen.append((f.rgb?.scalars ?? []) + (f.normals?.scalars ?? []))
        }
        XCTAssertEqual(seen[0], seen[1])
        XCTAssertEqual(seen[0], seen[2])
    }
}
