// Shared helpers of the scoring and metric tests: the fixtures written by
// tools/reference/make_scoring_fixtures.py, a seeded generator and error measures.

import Foundation
import XCTest
import MVADEngine

enum ScoringFixtures {
    /// Tests/MVADInspectTests/Fixtures/scoring, next to this source file.
    static let folder: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Fixtures/scoring").path

    static func safetensors(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: folder + "/" + name)
    }

    /// metrics.json as a JSON object.
    static func metrics() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/metrics.json"))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ScoringFixtureError.malformed("metrics.json is not an object")
        }
        return object
    }

    /// A scratch folder for files written by a test, removed by the caller.
    static func scratchFolder() throws -> String {
        let path = NSTemporaryDirectory() + "mvad-scoring-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

enum ScoringFixtureError: Error {
    case malformed(String)
}

extension ScoringFixtures {
    /// Reads `key` of a JSON object as `T`, throwing a clear error otherwise.
    static func value<T>(
        _ object: [String: Any], _ key: String, as type: T.Type = T.self
    ) throws -> T {
        guard let value = object[key] as? T else {
            throw ScoringFixtureError.malformed("key '\(key)' is missing or not \(T.self)")
        }
        return value
    }

    /// JSON numbers as Doubles (integers included).
    static func doubles(_ value: Any?) throws -> [Double] {
        guard let items = value as? [NSNumber] else {
            throw ScoringFixtureError.malformed("expected an array of numbers")
        }
        return items.map(\.doubleValue)
    }

    /// max |a - b| / max |b| in Double, for maps compared with a relative limit.
    static func maxRelativeError(_ actual: [Float], _ expected: [Float]) -> Double {
        precondition(actual.count == expected.count, "compared arrays differ in length")
        var worst = 0.0
        var scale = 0.0
        for (a, b) in zip(actual, expected) {
            worst = max(worst, abs(Double(a) - Double(b)))
            scale = max(scale, abs(Double(b)))
        }
        return worst / max(scale, 1e-30)
    }

    /// The map relative limit of the scoring issue.
    static let mapLimit = 1e-5

    static func assertMap(
        _ actual: Tensor, _ expected: Tensor, _ name: String, limit: Double = mapLimit,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(actual.shape, expected.shape, "\(name): shape", file: file, line: line)
        guard actual.shape == expected.shape else { return }
        let error = maxRelativeError(actual.scalars, expected.scalars)
        XCTAssertLessThanOrEqual(
            error, limit, "\(name): max relative error \(error)", file: file, line: line)
    }
}

/// A seeded SplitMix64 generator, so random test data is the same on every run.
struct ScoringRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }

    /// A tensor of uniform values in [-1, 1).
    mutating func tensor(_ shape: [Int]) -> Tensor {
        let count = Tensor.elementCount(shape)
        return Tensor(shape: shape, scalars: (0..<count).map { _ in 2 * uniform() - 1 })
    }
}
