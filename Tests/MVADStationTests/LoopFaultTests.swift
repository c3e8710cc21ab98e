// The loop on the emulated station (camera, lights, handshake on one chip) with the tiny
// pipeline model: triggers while busy are counted, a camera that vanishes mid-part gives
// FAIL + FAULT with READY low until it is back, and a stop mid-part fails the part and
// releases the lines.

import Foundation
import MVADCapture
import MVADCaptureEmulation
import MVADStation
import XCTest

final class LoopFaultTests: XCTestCase {
    private func makeLoop(_ rig: StationRig, mode: ResultMode = .level,
                          cancellation: StationCancellation = StationCancellation(),
                          bands: [BrightnessBand]? = nil,
                          collector: Collector) throws -> StationLoop {
        var capture = rig.captureProfile()
        capture.lights.brightnessBands = bands
        capture.camera.exposureMicroseconds = 10_000
        capture.camera.gain = 40
        capture.camera.whiteBalanceKelvin = 5000
        let source = try CaptureSource(profile: capture,
                                       workFolder: try temporaryFolder().path,
                                       system: rig.kernel)
        let handshake = try Handshake(profile: rig.handshakeProfile(mode), system: rig.kernel)
        return StationLoop(source: source, inspection: try Fixture.inspection(),
                           handshake: handshake, trigger: .gpio, rejects: nil, notifier: nil,
                           system: rig.kernel, cancellation: cancellation,
                           reporter: collector.reporter)
    }

    func testTriggerWhileBusyIsCountedAndTheResultHeldAsLevels() throws {
        let rig = StationRig()
        let collector = Collector()
        let loop = try makeLoop(rig, collector: collector)
        loop.maximumParts = 1
        let t0 = rig.kernel.now + 200_000_000
        rig.pulseTrigger(at: t0)
        rig.pulseTrigger(at: t0 + 100_000_000)              // during the capture
        let summary = loop.run()

        let record = try XCTUnwrap(collector.records.first)
        XCTAssertEqual(collector.records.count, 1)
        XCTAssertEqual(record.partNumber, 1)
        XCTAssertEqual(record.triggerNanoseconds, t0 + 5_000_000)    // after 5 ms of debounce
        XCTAssertEqual(record.triggersWhileBusy, 1)
        XCTAssertEqual(summary.triggersWhileBusy, 1)
        XCTAssertTrue(collector.logs.contains { $0.0 == .warning && $0.1.contains("while busy") })
        XCTAssertFalse(record.fault)
        XCTAssertEqual(record.captureControls?.map(\.value), [1, 100, 40, 0, 5000])
        let score = try XCTUnwrap(record.score)
        XCTAssertEqual(record.verdict, score < Fixture.threshold ? .pass : .fail)

        // READY high before the trigger, BUSY from the trigger to the result, the verdict line
        // up before RESULT_VALID; READY back up after it.
        XCTAssertTrue(rig.level("READY", at: t0))
        let busyUp = try XCTUnwrap(rig.edges("BUSY", to: true).first)
        let valid = try XCTUnwrap(rig.edges("RESULT_VALID", to: true).first)
        let verdictLine = record.verdict == .pass ? "PASS" : "FAIL"
        let verdictUp = try XCTUnwrap(rig.edges(verdictLine, to: true).first)
        XCTAssertGreaterThan(busyUp, t0 + 5_000_000)
        XCTAssertFalse(rig.level("READY", at: busyUp))
        XCTAssertLessThan(verdictUp, valid)
        XCTAssertFalse(rig.level("BUSY", at: valid))
        let readyAgain = try XCTUnwrap(rig.edges("READY", to: true).last)
        XCTAssertGreaterThan(readyAgain, valid)
        XCTAssertLessThan(readyAgain, valid + 1_000_000)
        XCTAssertTrue(rig.edges("FAULT", to: true).isEmpty)
    }

    func testCameraVanishingMidPartFailsWithFaultUntilItIsBack() throws {
        let rig = StationRig()
        let collector = Collector()
        let loop = try makeLoop(rig, collector: collector)
        loop.maximumParts = 2
        let t0 = rig.kernel.now + 200_000_000
        rig.pulseTrigger(at: t0)
        rig.kernel.schedule(at: t0 + 60_000_000) {
            rig.camera.unplug()
            rig.kernel.removeNode(at: StationRig.cameraPath)
        }
        let replacement = EmulatedCamera(timestampSource: .startOfExposure,
                                         scene: StationRig.scene(chip: rig.chip))
        let back = t0 + 2_000_000_000
        rig.kernel.schedule(at: back) { rig.kernel.install(replacement, at: StationRig.cameraPath) }
        rig.pulseTrigger(at: t0 + 3_000_000_000)
        loop.run()

        XCTAssertEqual(collector.records.count, 2)
        let lost = collector.records[0]
        XCTAssertEqual(lost.verdict, .fail)
        XCTAssertTrue(lost.fault)
        XCTAssertEqual(lost.faultKind, .cameraLost)
        XCTAssertTrue(lost.reason?.contains("ENOENT") == true, lost.reason ?? "")
        XCTAssertNil(lost.score)

        // FAIL and FAULT for the lost part, READY low until the camera is back.
        let failUp = try XCTUnwrap(rig.edges("FAIL", to: true).first)
        let faultUp = try XCTUnwrap(rig.edges("FAULT", to: true).first)
        XCTAssertLessThan(failUp, back)
        XCTAssertLessThanOrEqual(faultUp, failUp)
        XCTAssertTrue(rig.edges("PASS", to: true).allSatisfy { $0 > back })
        XCTAssertFalse(rig.level("READY", at: failUp + 1_000_000))
        XCTAssertFalse(rig.level("READY", at: back - 1))
        let readyAgain = try XCTUnwrap(rig.edges("READY", to: true).first { $0 > failUp })
        XCTAssertGreaterThanOrEqual(readyAgain, back)
        XCTAssertLessThan(readyAgain, back + 200_000_000)           // within one wait slice
        XCTAssertEqual(rig.edges("FAULT", to: false).first { $0 > faultUp }, readyAgain)
        XCTAssertTrue(collector.logs.contains { $0.1.contains("recovered") })

        // The next part is captured from the replacement camera and inspected.
        let next = collector.records[1]
        XCTAssertFalse(next.fault)
        XCTAssertNotNil(next.score)
        XCTAssertEqual(replacement.streamOnCount, 1)
    }

    func testCaptureRejectedFailsWithFaultAndReadyLow() throws {
        let rig = StationRig()
        rig.chip.disconnected = [2]                     // light 2 does not come on
        let collector = Collector()
        // Lit views average 50 or more, the view under the dead light about 32.
        let loop = try makeLoop(rig, bands: Array(repeating: BrightnessBand(min: 42, max: 255),
                                                  count: 6),
                                collector: collector)
        loop.maximumParts = 1
        let t0 = rig.kernel.now + 200_000_000
        rig.pulseTrigger(at: t0)
        loop.run()

        let record = try XCTUnwrap(collector.records.first)
        XCTAssertEqual(record.verdict, .fail)
        XCTAssertEqual(record.faultKind, .captureRejected)
        XCTAssertTrue(record.reason?.contains("view 2") == true, record.reason ?? "")
        XCTAssertNil(record.score)
        XCTAssertFalse(loop.healthy)
        let failUp = try XCTUnwrap(rig.edges("FAIL", to: true).first)
        XCTAssertTrue(rig.level("FAULT", at: failUp))
        XCTAssertFalse(rig.level("READY", at: failUp + 1))
        XCTAssertTrue(rig.edges("PASS", to: true).isEmpty)
    }

    func testStopMidPartFailsThePartAndReleasesTheLines() throws {
        let rig = StationRig()
        let collector = Collector()
        let cancellation = StationCancellation()
        let loop = try makeLoop(rig, cancellation: cancellation, collector: collector)
        let t0 = rig.kernel.now + 200_000_000
        rig.pulseTrigger(at: t0)
        rig.kernel.schedule(at: t0 + 60_000_000) { cancellation.cancel() }   // SIGTERM
        let summary = loop.run()

        XCTAssertEqual(collector.records.count, 1)
        let record = collector.records[0]
        XCTAssertEqual(record.verdict, .fail)
        XCTAssertFalse(record.fault)
        XCTAssertTrue(record.reason?.contains("stopped") == true)
        XCTAssertNil(record.score)                       // not inspected
        XCTAssertEqual(summary.parts, 1)
        let failUp = try XCTUnwrap(rig.edges("FAIL", to: true).first)
        XCTAssertGreaterThan(failUp, t0 + 60_000_000)
        XCTAssertFalse(rig.level("READY", at: failUp + 1))
        // Released: every output de-asserted and no line held by the station.
        let chip = try GPIOChip(path: StationRig.chipPath, system: rig.kernel)
        for name in ["READY", "BUSY", "PASS", "FAIL", "RESULT_VALID", "FAULT", "TRIGGER"] {
            XCTAssertFalse(rig.level(name, at: rig.kernel.now), name)
            XCTAssertFalse(try chip.lineInfo(offset: line(name)).isUsed, name)
        }
    }
}
