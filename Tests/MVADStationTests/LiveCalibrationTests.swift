// Live calibration (`mvad calibrate --profile P`): parts taken through the station's part
// source after scripted answers, scored as the station scores them; unreadable parts skipped
// and listed; the threshold written back into a station profile.

import Foundation
import MVADInspect
import MVADStation
import XCTest

final class LiveCalibrationTests: XCTestCase {
    /// A `ask` that gives `answers` in order, then nil (end of input), counting the prompts.
    private final class Script {
        var answers: [String?]
        var prompts: [String] = []
        init(_ answers: [String?]) { self.answers = answers }
        func ask(_ prompt: String) -> String? {
            prompts.append(prompt)
            return answers.isEmpty ? nil : answers.removeFirst()
        }
    }

    func testAnswersTakeSkipAndEndTheCollection() throws {
        let script = Script(["", "s", "  ", nil])
        var live = LiveCalibration(source: try ReplaySource(folder: Fixture.testParts),
                                   inspection: try Fixture.inspection(), ask: script.ask)
        let good = live.collect(label: "good", count: 5)
        XCTAssertEqual(script.prompts.count, 4)
        XCTAssertEqual(script.prompts[0],
                       "place good part 1 of 5, then press Enter (s = skip, q = stop)")
        // "s" passes over the replayed part 001, as a person would leave a part out.
        XCTAssertEqual(good.scored.map(\.id), ["good-01 (000)", "good-03 (002)"])
        XCTAssertEqual(good.skipped, [SkippedSample(name: "good-02",
                                                    reason: "skipped at the prompt")])
        XCTAssertTrue(good.stoppedEarly)
        XCTAssertEqual(good.contradicted, ["good-03 (002): taken as good, but its mask file "
                                           + "marks it defective"])
        // The scores are the station's for the same parts.
        let folder = URL(fileURLWithPath: Fixture.testParts)
        for (part, id) in zip(good.scored, ["000", "002"]) {
            let views = try XCTUnwrap(PartFolder.part(id: id, in: folder))
            XCTAssertEqual(part.score, try Fixture.inspection().inspect(views).0.score, id)
        }
        // After the end of input nothing more is asked.
        let bad = live.collect(label: "bad", count: 2)
        XCTAssertEqual(bad, LiveSamples(scored: [], skipped: [], stoppedEarly: true))
        XCTAssertEqual(script.prompts.count, 5)
    }

    /// A station being calibrated may have no threshold yet: calibration can still score.
    func testCalibrationNeedsNoThresholdButTheStationDoes() throws {
        let profile = ModelProfile(path: Fixture.models, bank: Fixture.bank)   // bank: none stored
        XCTAssertThrowsError(try PartInspection(profile: profile)) { error in
            XCTAssertTrue("\(error)".contains("no threshold"), "\(error)")
        }
        let scoring = try PartInspection(profile: profile, requireThreshold: false)
        XCTAssertNil(scoring.inspector.threshold)
        let views = try XCTUnwrap(PartFolder.part(id: "000",
                                                  in: URL(fileURLWithPath: Fixture.testParts)))
        XCTAssertEqual(try scoring.inspect(views).0.score,
                       try Fixture.inspection().inspect(views).0.score)
    }

    /// Replayed parts carry masks: a part taken under the label its mask contradicts is named
    /// (fixture masks: 000 and 001 empty, 002 and 003 with defect pixels).
    func testAPartWhoseMaskContradictsItsLabelIsNamed() throws {
        var live = LiveCalibration(source: try ReplaySource(folder: Fixture.testParts),
                                   inspection: try Fixture.inspection(),
                                   ask: Script(["", "", "", ""]).ask)
        let good = live.collect(label: "good", count: 3)     // 000, 001, 002
        XCTAssertEqual(good.scored.count, 3)
        XCTAssertEqual(good.contradicted, ["good-03 (002): taken as good, but its mask file "
                                           + "marks it defective"])
        let bad = live.collect(label: "bad", count: 1)       // 003
        XCTAssertEqual(bad.contradicted, [])
    }

    func testQuitStopsOneLabelOnly() throws {
        let script = Script(["q", "", ""])
        var live = LiveCalibration(source: try ReplaySource(folder: Fixture.testParts),
                                   inspection: try Fixture.inspection(), ask: script.ask)
        let good = live.collect(label: "good", count: 3)
        XCTAssertTrue(good.scored.isEmpty)
        XCTAssertTrue(good.stoppedEarly)
        let bad = live.collect(label: "bad", count: 2)
        XCTAssertEqual(bad.scored.map(\.id), ["bad-01 (000)", "bad-02 (001)"])
        XCTAssertFalse(bad.stoppedEarly)
    }

    func testAnUnreadablePartIsSkippedWithItsReasonNeverScored() throws {
        let folder = try temporaryFolder()
        let source = URL(fileURLWithPath: Fixture.testParts)
        for stem in (0..<6).map({ "image_\($0)" }) + ["normals"] {
            for (from, to) in [("000", "000"), ("001", "001")] {
                try FileManager.default.copyItem(
                    at: source.appendingPathComponent("\(from)_\(stem).png"),
                    to: folder.appendingPathComponent("\(to)_\(stem).png"))
            }
        }
        try Data("not a png".utf8).write(to: folder.appendingPathComponent("001_image_2.png"),
                                         options: .atomic)
        var live = LiveCalibration(source: try ReplaySource(folder: folder.path),
                                   inspection: try Fixture.inspection(), ask: { _ in "" })
        let good = live.collect(label: "good", count: 2)
        XCTAssertEqual(good.scored.map(\.id), ["good-01 (000)"])
        XCTAssertEqual(good.skipped.map(\.name), ["good-02"])
        XCTAssertTrue(good.skipped[0].reason.contains("001_image_2.png"), good.skipped[0].reason)
        XCTAssertFalse(good.stoppedEarly)
    }

    func testTheThresholdIsWrittenIntoTheProfileKeepingEverythingElse() throws {
        let folder = try temporaryFolder()
        let path = folder.appendingPathComponent("station.json").path
        let original: [String: Any] = [
            "station": "bench", "source": "replay",
            "model": ["path": Fixture.models, "bank": Fixture.bank, "threads": 2,
                      "modality": "both"],
            "replay": ["parts": Fixture.testParts, "interval_ms": 5],
        ]
        try JSONSerialization.data(withJSONObject: original).write(to: URL(fileURLWithPath: path))
        try StationProfile.writeThreshold(41.5, toProfileAt: path)

        let written = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        var model = try XCTUnwrap(written["model"] as? [String: Any])
        XCTAssertEqual(model.removeValue(forKey: "threshold") as? Double, 41.5)
        XCTAssertEqual(model as NSDictionary, original["model"] as? NSDictionary)
        var rest = written
        var expectedRest = original
        rest["model"] = nil
        expectedRest["model"] = nil
        XCTAssertEqual(rest as NSDictionary, expectedRest as NSDictionary)

        let profile = try StationProfile.load(path: path)
        XCTAssertEqual(profile.model.threshold, 41.5)
        XCTAssertEqual(profile.problems(checkPaths: true, checkDevices: false), [])
        XCTAssertThrowsError(try StationProfile.writeThreshold(-1, toProfileAt: path))
        XCTAssertEqual(try StationProfile.load(path: path).model.threshold, 41.5)
    }
}
