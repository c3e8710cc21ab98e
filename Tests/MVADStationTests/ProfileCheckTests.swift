// Station profile checks: unknown keys with the closest valid key, ranges, paths relative to
// the profile file, and the shipped firmware profiles.

import Foundation
import MVADStation
import XCTest

final class ProfileCheckTests: XCTestCase {
    /// A replay profile in a temporary folder, pointing at the fixture with absolute paths;
    /// `edit` changes the JSON object before it is written.
    private func write(_ edit: (inout [String: Any]) -> Void = { _ in }) throws -> String {
        var object: [String: Any] = [
            "station": "test",
            "source": "replay",
            "model": ["path": Fixture.models, "bank": Fixture.bank, "threshold": 36],
            "replay": ["parts": Fixture.testParts],
        ]
        edit(&object)
        let folder = try temporaryFolder()
        let url = folder.appendingPathComponent("profile.json")
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        return url.path
    }

    private func issues(_ path: String) -> [ProfileIssue] {
        do {
            _ = try StationProfile.load(path: path)
            return []
        } catch {
            return error.issues
        }
    }

    func testValidReplayProfileLoads() throws {
        let profile = try StationProfile.load(path: try write())
        XCTAssertEqual(profile.source, .replay)
        XCTAssertEqual(profile.model.threshold, 36)
        XCTAssertEqual(profile.model.threads, 4)
    }

    func testUnknownKeyNamesItsPathAndTheClosestKey() throws {
        let path = try write { object in
            object["handshake"] = [
                "chip": "/dev/gpiochip0", "trigger": "T", "debounce_ms": 5,
                "outputs": ["ready": "R", "busy": "B", "pass": "P", "fail": "F",
                            "result_valid": "V", "fault": "X"],
            ]
        }
        let found = issues(path)
        XCTAssertEqual(found.count, 1)
        XCTAssertEqual(found.first?.key, "handshake.debounce_ms")
        XCTAssertTrue(found.first?.message.contains("did you mean 'debounce_us'?") == true,
                      "\(found)")
    }

    func testTopLevelTypoSuggestsKey() throws {
        let path = try write { $0["rejets"] = ["folder": "/tmp", "max_bytes": 1] }
        XCTAssertEqual(issues(path).first?.key, "rejets")
        XCTAssertTrue(issues(path).first?.message.contains("'rejects'") == true)
    }

    func testRangesAreCheckedAndEveryErrorNamesItsKey() throws {
        let path = try write { object in
            object["model"] = ["path": Fixture.models, "bank": Fixture.bank, "threshold": -1,
                               "threads": 0, "modality": "depth"]
            object["replay"] = ["parts": Fixture.testParts, "interval_ms": -5]
            object["rejects"] = ["folder": "/tmp/mvad-rejects-test", "max_bytes": 0]
            object["handshake"] = [
                "chip": "/dev/gpiochip0", "trigger": "R", "pulse_ms": 0, "debounce_us": 2_000_000,
                "outputs": ["ready": "R", "busy": "B", "pass": "P", "fail": "F",
                            "result_valid": "V", "fault": -3],
            ]
        }
        let keys = Set(issues(path).map(\.key))
        XCTAssertEqual(keys, ["model.threads", "model.threshold", "model.modality",
                              "replay.interval_ms", "rejects.max_bytes", "handshake.pulse_ms",
                              "handshake.debounce_us", "handshake.outputs.fault",
                              "handshake.trigger"])
        let trigger = issues(path).first { $0.key == "handshake.trigger" }
        XCTAssertEqual(trigger?.message, "line 'R' is also handshake.outputs.ready")
    }

    func testMissingAndWrongTypedKeysNameTheirPath() throws {
        let missing = try write { $0["model"] = ["bank": Fixture.bank] }
        XCTAssertEqual(issues(missing),
                       [ProfileIssue(key: "model.path", message: "missing (required)")])
        // Only a pack can hold banks: a model folder without model.bank is refused.
        let folder = try write { $0["model"] = ["path": Fixture.models] }
        XCTAssertEqual(issues(folder), [ProfileIssue(
            key: "model.bank", message: "is needed with a model folder; only a .mvad pack can hold "
                + "its banks")])
        let typed = try write { $0["model"] = ["path": Fixture.models, "bank": Fixture.bank,
                                               "threads": "two"] }
        XCTAssertEqual(issues(typed).first?.key, "model.threads")
    }

    func testRelativePathsAreRelativeToTheProfileFile() throws {
        let folder = try temporaryFolder()
        let nested = folder.appendingPathComponent("profiles")
        try FileManager.default.createDirectory(at: nested, withIntermediateDirectories: true)
        let json = """
            {"source": "replay", "model": {"path": "../model", "bank": "banks/b.bank"},
             "replay": {"parts": "parts"}}
            """
        let url = nested.appendingPathComponent("p.json")
        try Data(json.utf8).write(to: url)
        let profile = try StationProfile.decode(path: url.path)
        XCTAssertEqual(profile.model.path, folder.appendingPathComponent("model").path)
        XCTAssertEqual(profile.model.bank, nested.appendingPathComponent("banks/b.bank").path)
        XCTAssertEqual(profile.replay?.parts, nested.appendingPathComponent("parts").path)
        // None of them exists: each is reported by its key.
        XCTAssertEqual(Set(issues(url.path).map(\.key)), ["model.path", "model.bank", "replay.parts"])
    }

    /// profile check reads the replay folder as mvad run does: an empty folder or a dataset
    /// root (parts only in its split folders) is refused by key, not only later by run.
    func testReplayFolderWithoutPartsIsRefusedByKey() throws {
        let empty = try temporaryFolder()
        let datasetRoot = try temporaryFolder()
        try FileManager.default.createDirectory(
            at: datasetRoot.appendingPathComponent("val/data"), withIntermediateDirectories: true)
        for folder in [empty, datasetRoot] {
            let path = try write { $0["replay"] = ["parts": folder.path] }
            let found = issues(path)
            XCTAssertEqual(found.map(\.key), ["replay.parts"], folder.path)
            XCTAssertTrue(found.first?.message.contains("holds no parts") ?? false)
        }
    }

    func testReplayPartsLackingViewsAreNamed() throws {
        let folder = try temporaryFolder()
        let source = URL(fileURLWithPath: Fixture.testParts)
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path)
        where name.hasPrefix("000_") || (name.hasPrefix("001_") && name != "001_image_3.png") {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name),
                                             to: folder.appendingPathComponent(name))
        }
        let path = try write { $0["replay"] = ["parts": folder.path] }
        XCTAssertEqual(issues(path), [ProfileIssue(
            key: "replay.parts", message: "1 of 2 parts lack views modality 'both' needs: 001")])
    }

    /// Rejected parts rotate inside their folder: it must be a folder, and not hold inputs.
    func testRejectsFolderMustBeItsOwnFolder() throws {
        let file = try temporaryFolder().appendingPathComponent("rejects")
        try Data("x".utf8).write(to: file)
        let onFile = try write { $0["rejects"] = ["folder": file.path, "max_bytes": 100_000] }
        XCTAssertEqual(issues(onFile).map(\.message), ["\(file.path) is a file; rejected parts "
                                                       + "need a folder"])
        let onParts = try write { $0["rejects"] = ["folder": Fixture.testParts,
                                                   "max_bytes": 100_000] }
        XCTAssertEqual(issues(onParts).map(\.key), ["rejects.folder"])
        XCTAssertTrue(issues(onParts).first?.message.contains("overlaps replay.parts") ?? false)
    }

    func testShippedFirmwareProfilesDecodeAndPassTheirRangeChecks() throws {
        let folder = Fixture.repository.appendingPathComponent("firmware-profiles")
        for name in ["rpi5.json", "jetson-orin-nano.json", "rk3588.json", "replay.json"] {
            let profile = try StationProfile.decode(path: folder.appendingPathComponent(name).path)
            XCTAssertEqual(profile.problems(checkPaths: false, checkDevices: false), [], name)
            if name != "replay.json" {
                XCTAssertEqual(profile.source, .capture, name)
                XCTAssertNotNil(profile.handshake, name)
            }
        }
        // The replay profile runs from a clean clone: its model, bank and parts exist.
        let replay = folder.appendingPathComponent("replay.json").path
        XCTAssertEqual(try StationProfile.load(path: replay).source, .replay)
    }
}
