// Shared helpers of the engine tests: where the golden fixtures live and how outputs are
// compared with them.
//
// The fixtures under Fixtures/tiny are written by tools/reference/make_fixtures.py (see
// tools/reference/README.md for the versions and how to regenerate them).

import Foundation
import XCTest
@testable import MVADEngine

enum Fixtures {
    /// Tests/MVADEngineTests/Fixtures/tiny, found next to this source file.
    static let tiny: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Fixtures/tiny").path

    static func path(_ relative: String) -> String { tiny + "/" + relative }

    /// One golden case file (inputs and expected outputs).
    static func golden(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: path("cases/\(name).safetensors"))
    }
}

/// ||a - b|| / ||b|| in Double.
func relativeL2(_ actual: Tensor, _ expected: Tensor) -> Double {
    var difference = 0.0
    var norm = 0.0
    for (a, b) in zip(actual.scalars, expected.scalars) {
        difference += Double(a - b) * Double(a - b)
        norm += Double(b) * Double(b)
    }
    return (difference / max(norm, 1e-30)).squareRoot()
}

/// The parity limit of the engine issue: relative L2 error at most 1e-4.
let parityLimit = 1e-4

func assertMatches(_ actual: Tensor?, _ expected: Tensor, _ name: String, limit: Double = parityLimit,
                   file: StaticString = #filePath, line: UInt = #line) {
    guard let actual else {
        XCTFail("\(name): no output", file: file, line: line)
        return
    }
    XCTAssertEqual(actual.shape, expected.shape, "\(name): shape", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    XCTAssertFalse(actual.scalars.contains { !$0.isFinite }, "\(name): non-finite output",
                   file: file, line: line)
    let error = relativeL2(actual, expected)
    XCTAssertLessThanOrEqual(error, limit, "\(name): relative L2 error \(error)", file: file, line: line)
}

/// The inputs every UNet / ControlNet case shares.
struct DenoiserInputs {
    let sample: Tensor
    let timesteps: [Float]
    let context: Tensor

    init(_ golden: SafeTensorsFile) throws {
        sample = try golden.tensor("sample")
        timesteps = try golden.tensor("timestep").scalars
        context = try golden.tensor("encoder_hidden_states")
    }
}
