// Photometric stereo on parts written by `mvad synth` (MVADSynth): views, lights.json and the
// true normal maps read back from the files; mean angular error on the object <= 5 degrees.

import Foundation
import MVADCapture
import MVADInspect
import MVADSynth
import XCTest

final class SynthPhotometricStereoTests: XCTestCase {
    /// Writes `parts` train parts of a synthetic category and returns, per part, the mean
    /// angular error of photometric stereo against the stored normals over the object.
    private func errors(settings: SynthSettings, parts: Int) throws -> [Double] {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("mvad-synth-ps-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let dataset = try SynthDataset(category: "SynthCandy", masterSeed: 7, settings: settings)
        try dataset.write(to: root, counts: SplitCounts(train: parts, val: 0, test: 0))
        let folder = root.appendingPathComponent("SynthCandy")

        // lights.json: directions and intensities of the five lights, and the ambient.
        let lightsData = try Data(contentsOf: folder.appendingPathComponent("lights.json"))
        let lights = try XCTUnwrap(try JSONSerialization.jsonObject(with: lightsData) as? [String: Any])
        let entries = try XCTUnwrap(lights["lights"] as? [[String: Any]])
        let directions = try entries.map { try XCTUnwrap($0["direction"] as? [Double]) }
        let intensity = try XCTUnwrap(entries.first?["intensity"] as? Double)
        let ambient = try XCTUnwrap(lights["ambient"] as? Double)
        let stereo = PhotometricStereo(directions: directions, shadowLevel: 3,
                                       ambient: .proportional, ambientRatio: ambient / intensity)

        let found = try PartFolder.parts(in: folder.appendingPathComponent("train/data"))
        XCTAssertEqual(found.count, parts)
        return try found.enumerated().map { index, part in
            let views = try (0..<5).map {
                try ImageDecoder.decode(contentsOf: try XCTUnwrap(part.lights[$0]))
            }
            let stored = try ImageDecoder.decode(contentsOf: try XCTUnwrap(part.normals))
            let truth = NormalField.decode(stored)
            let onObject = dataset.render(split: .train, index: index).surface.onObject
            let field = stereo.normals(views: views)
            let solved = zip(onObject, field.valid).map { $0 && $1 }
            XCTAssertGreaterThan(Double(solved.filter { $0 }.count),
                                 0.95 * Double(onObject.filter { $0 }.count), "part \(part.id)")
            // Unsolved object pixels (if any) count with the (0, 0, 1) they hold.
            return try XCTUnwrap(field.meanAngularError(to: truth, mask: onObject))
        }
    }

    func testSynthPartsWithSpecularAndNoise() throws {
        var settings = SynthSettings()
        settings.size = 128
        let errors = try errors(settings: settings, parts: 3)
        let mean = errors.reduce(0, +) / Double(errors.count)
        XCTAssertLessThanOrEqual(mean, 5, "per part: \(errors)")
        XCTAssertTrue(errors.allSatisfy { $0 <= 5 }, "per part: \(errors)")
        print(String(format: "photometric stereo on mvad synth parts (128 px, specular + noise): "
                     + "mean angular error on the object %.2f deg (parts: %@)", mean,
                     errors.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
    }

    func testLambertianSynthParts() throws {
        let errors = try errors(settings: SynthSettings.lambertian(size: 128), parts: 2)
        let mean = errors.reduce(0, +) / Double(errors.count)
        XCTAssertLessThanOrEqual(mean, 3, "per part: \(errors)")
        print(String(format: "photometric stereo on lambertian mvad synth parts: %.2f deg", mean))
    }
}
