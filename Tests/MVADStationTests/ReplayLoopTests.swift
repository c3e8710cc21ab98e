// The replay loop over recorded parts: verdicts and scores equal to `mvad inspect`'s for the
// same parts (the committed reference), rejected parts saved with their heatmap, an
// unreadable part failing with FAULT on the handshake, and a stop that interrupts an inspection.

import Foundation
import MVADCapture
import MVADInspect
import MVADStation
import Synchronization
import XCTest

/// A stop request that comes in the middle of an inspection: once `arm()` is called (when a
/// part has been acquired), the check with index `firesAt` after it, and every later one,
/// answers true.
final class StopDuringInspection: CancellationCheck {
    private let state = Mutex<(armed: Bool, asked: Int)>((false, 0))
    let firesAt: Int

    init(firesAt: Int) { self.firesAt = firesAt }

    func arm() { state.withLock { $0.armed = true } }

    /// Checks made since `arm()`.
    var asked: Int { state.withLock { $0.asked } }

    var isCancelled: Bool {
        state.withLock { state in
            guard state.armed else { return false }
            defer { state.asked += 1 }
            return state.asked >= firesAt
        }
    }
}

/// A replay source that arms a stop request when it hands out a part.
final class ArmingSource: PartSource {
    let replay: ReplaySource
    let stop: StopDuringInspection

    init(_ replay: ReplaySource, arming stop: StopDuringInspection) {
        self.replay = replay
        self.stop = stop
    }

    var partsPerPass: Int? { replay.partsPerPass }

    func acquire(partNumber: Int) throws(StationFault) -> AcquiredPart {
        let part = try replay.acquire(partNumber: partNumber)
        stop.arm()
        return part
    }

    func recover() -> Bool { replay.recover() }
}

final class ReplayLoopTests: XCTestCase {
    /// `mvad inspect`'s lines for the fixture test parts (Fixtures/README.md).
    private func reference() throws -> [String: [String: Any]] {
        let url = Fixture.repository.appendingPathComponent(
            "Tests/MVADStationTests/Fixtures/inspect-test-parts.jsonl")
        var lines: [String: [String: Any]] = [:]
        for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8))
                                       as? [String: Any])
            lines[try XCTUnwrap(object["part"] as? String)] = object
        }
        return lines
    }

    /// Parts 000 and 001 of the fixture, and a part 002 whose image_3 is not a PNG.
    private func replayFolder() throws -> URL {
        let folder = try temporaryFolder().appendingPathComponent("parts")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let source = URL(fileURLWithPath: Fixture.testParts)
        for id in ["000", "001"] {
            for stem in (0..<6).map({ "image_\($0)" }) + ["normals"] {
                let name = "\(id)_\(stem).png"
                try FileManager.default.copyItem(at: source.appendingPathComponent(name),
                                                 to: folder.appendingPathComponent(name))
                let broken = folder.appendingPathComponent("002_\(stem).png")
                if id == "001" {
                    try FileManager.default.copyItem(at: source.appendingPathComponent(name),
                                                     to: broken)
                }
            }
        }
        try Data("not a png".utf8).write(to: folder.appendingPathComponent("002_image_3.png"))
        return folder
    }

    func testReplayVerdictsMatchInspectAndFaultsFailSafe() throws {
        let rig = StationRig()
        let folder = try replayFolder()
        let rejects = try RejectStore(folder: folder.deletingLastPathComponent()
                                        .appendingPathComponent("rejects").path,
                                      maximumBytes: 50_000_000)
        let collector = Collector()
        let source = try ReplaySource(folder: folder.path)
        XCTAssertEqual(source.partsPerPass, 3)
        let loop = StationLoop(
            source: source, inspection: try Fixture.inspection(),
            handshake: try Handshake(profile: rig.handshakeProfile(), system: rig.kernel),
            trigger: .immediate, rejects: rejects, notifier: nil, system: rig.kernel,
            cancellation: StationCancellation(), reporter: collector.reporter)
        loop.maximumParts = 3
        let summary = loop.run()

        let expected = try reference()
        let direct = try Fixture.inspection()
        XCTAssertEqual(collector.records.map(\.partID), ["000", "001", "002"])
        XCTAssertEqual(collector.records.map(\.partNumber), [1, 2, 3])
        for record in collector.records.prefix(2) {
            let id = try XCTUnwrap(record.partID)
            let line = try XCTUnwrap(expected[id])
            XCTAssertEqual(record.verdict.rawValue, line["verdict"] as? String, id)
            // The loop's scores are those of inspecting the original files on this machine,
            // to the last bit...
            let folder = URL(fileURLWithPath: Fixture.testParts)
            let views = try XCTUnwrap(PartFolder.part(id: id, in: folder))
            let (alone, _) = try direct.inspect(views)
            XCTAssertEqual(record.score, alone.score, id)
            XCTAssertEqual(record.rgbScore, alone.inspection.rgbScore, id)
            // ...and those `mvad inspect` printed when the reference was made, to float
            // precision: OpenBLAS picks its kernels by CPU, and their sums round differently.
            let score = try XCTUnwrap(line["score"] as? Double)
            let rgb = try XCTUnwrap(line["rgb_score"] as? Double)
            XCTAssertEqual(try XCTUnwrap(record.score), score, accuracy: 1e-5 * score, id)
            XCTAssertEqual(try XCTUnwrap(record.rgbScore), rgb, accuracy: 1e-5 * rgb, id)
            XCTAssertEqual(record.threshold, 36)
            XCTAssertFalse(record.fault)
            for stage in ["acquire_s", "load_s", "inversion_s", "scoring_s", "total_s"] {
                XCTAssertNotNil(record.stageSeconds[stage], "\(id) \(stage)")
            }
        }
        XCTAssertEqual(collector.records.map(\.verdict), [.fail, .pass, .fail])

        // The unreadable part: FAIL + FAULT, with the reason naming the file.
        let broken = collector.records[2]
        XCTAssertTrue(broken.fault)
        XCTAssertEqual(broken.faultKind, .partUnreadable)
        XCTAssertTrue(broken.reason?.contains("002_image_3.png") == true, broken.reason ?? "")
        XCTAssertEqual(summary.faults, 1)
        XCTAssertEqual(summary.passed, 1)
        XCTAssertEqual(summary.failed, 2)
        let faultUp = try XCTUnwrap(rig.edges("FAULT", to: true).first)
        let validTimes = rig.edges("RESULT_VALID", to: true)
        XCTAssertEqual(validTimes.count, 3)
        XCTAssertGreaterThan(faultUp, validTimes[1])
        XCTAssertLessThan(faultUp, validTimes[2])
        XCTAssertEqual(rig.edges("PASS", to: true).count, 1)

        // Rejected parts 000 and 002 saved; 000 with its heatmap and record.
        let saved = try XCTUnwrap(collector.records[0].savedTo)
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: saved))
        XCTAssertTrue(files.isSuperset(of: ["000_image_0.png", "000_image_5.png",
                                            "000_normals.png", "heatmap.png", "record.json"]),
                      "\(files)")
        XCTAssertNil(collector.records[1].savedTo)
        XCTAssertNotNil(collector.records[2].savedTo)
        XCTAssertEqual(rejects.entries.count, 2)

        // The last line of a bounded run carries the process figures; every line is JSON.
        XCTAssertNotNil(collector.records[2].process)
        XCTAssertNil(collector.records[1].process)
        let json = collector.records[2].jsonLine()
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(object["part_number"] as? Int, 3)
        XCTAssertEqual(object["fault_kind"] as? String, "part_unreadable")
        XCTAssertNotNil((object["process"] as? [String: Any])?["start"])
    }

    /// A stop while the first part is in the UNet fails that part as stopped (no FAULT, no
    /// score), presents FAIL with READY low, and ends the loop before a second part.
    func testStopDuringTheInspectionFailsThePartAndEndsTheLoop() throws {
        let rig = StationRig()
        let folder = try replayFolder()
        // After the part is acquired the loop asks once before the inspection; the inspection
        // then asks before each of its 7 VAE encodes and before each UNet batch: check 10 is
        // inside the DDIM inversion.
        let stop = StopDuringInspection(firesAt: 10)
        let collector = Collector()
        let loop = StationLoop(
            source: ArmingSource(try ReplaySource(folder: folder.path), arming: stop),
            inspection: try Fixture.inspection(),
            handshake: try Handshake(profile: rig.handshakeProfile(), system: rig.kernel),
            trigger: .immediate, rejects: nil, notifier: nil, system: rig.kernel,
            cancellation: stop, reporter: collector.reporter)
        loop.maximumParts = 2                           // a loop that ignored the stop goes on
        let summary = loop.run()

        XCTAssertEqual(collector.records.count, 1)
        XCTAssertEqual(summary.parts, 1)
        let record = try XCTUnwrap(collector.records.first)
        XCTAssertEqual(record.partID, "000")
        XCTAssertEqual(record.verdict, .fail)
        XCTAssertFalse(record.fault)
        XCTAssertNil(record.faultKind)
        XCTAssertTrue(record.reason?.contains("stopped during the inspection") == true,
                      record.reason ?? "no reason")
        // Interrupted, not finished: no score and none of the inspection's stage times.
        XCTAssertNil(record.score)
        for stage in ["encode_s", "inversion_s", "features_s", "scoring_s"] {
            XCTAssertNil(record.stageSeconds[stage], stage)
        }
        XCTAssertGreaterThan(stop.asked, 10)

        // FAIL presented, never PASS, READY low after it, everything released at the end.
        let failUp = try XCTUnwrap(rig.edges("FAIL", to: true).first)
        XCTAssertTrue(rig.edges("PASS", to: true).isEmpty)
        XCTAssertTrue(rig.edges("FAULT", to: true).isEmpty)
        XCTAssertFalse(rig.level("READY", at: failUp + 1))
        for name in ["READY", "BUSY", "PASS", "FAIL", "RESULT_VALID", "FAULT"] {
            XCTAssertFalse(rig.level(name, at: rig.kernel.now), name)
        }
    }
}

final class LineTriggerTests: XCTestCase {
    /// A line on the trigger input starts a part; lines read together with it count as
    /// triggers while busy (not queued); the end of input ends the run. The only part has an
    /// empty normal map, so it fails with FAULT. systemd notifications go to a test socket.
    func testEachLineIsATriggerAndEndOfInputStops() throws {
        let folder = try temporaryFolder()
        let source = URL(fileURLWithPath: Fixture.testParts)
        for stem in (0..<6).map({ "image_\($0)" }) + ["normals"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent("000_\(stem).png"),
                                             to: folder.appendingPathComponent("000_\(stem).png"))
        }
        try Data().write(to: folder.appendingPathComponent("000_normals.png"))
        let pipe = Pipe()
        pipe.fileHandleForWriting.write(Data("part\n\npart\n".utf8))
        try pipe.fileHandleForWriting.close()
        let collector = Collector()
        let socketPath = folder.appendingPathComponent("notify").path
        let listener = try NotifySocket(path: socketPath)
        let notifier = try SystemdNotifier(environment: ["NOTIFY_SOCKET": socketPath,
                                                         "WATCHDOG_USEC": "60000000"])
        let loop = StationLoop(
            source: try ReplaySource(folder: folder.path), inspection: try Fixture.inspection(),
            handshake: nil, trigger: .lines(descriptor: pipe.fileHandleForReading.fileDescriptor),
            rejects: nil, notifier: notifier, system: LinuxSystemCalls(),
            cancellation: StationCancellation(), reporter: collector.reporter)
        let summary = loop.run()
        // Three lines in one read: one trigger, the other two counted as arriving while busy.
        XCTAssertEqual(collector.records.count, 1)
        XCTAssertEqual(collector.records.first?.triggersWhileBusy, 2)
        XCTAssertEqual(collector.records.first?.faultKind, .partUnreadable)
        XCTAssertEqual(summary.faults, 1)
        // systemd heard READY, one watchdog ping (the next is due after 30 s) and STOPPING.
        XCTAssertEqual(listener.receive(), ["READY=1\nSTATUS=waiting for parts", "WATCHDOG=1",
                                            "STOPPING=1"])
    }
}
