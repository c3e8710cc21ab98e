// The PLC handshake on the emulated GPIO chip: busy lines, the order and timing of the result
// lines as levels and as pulses (read from the chip's line history), polarity, release.

import MVADCapture
import MVADCaptureEmulation
import MVADStation
import XCTest

final class HandshakeTests: XCTestCase {
    func testLineHeldByAnotherProcessIsAClearError() throws {
        let rig = StationRig()
        rig.chip.claimExternally(offset: line("PASS"), consumer: "plc-simulator")
        XCTAssertThrowsError(try Handshake(profile: rig.handshakeProfile(), system: rig.kernel)) {
            let text = "\($0)"
            XCTAssertTrue(text.contains("outputs"), text)
            XCTAssertTrue(text.contains("'PASS'"), text)
            XCTAssertTrue(text.contains("'plc-simulator'"), text)
            XCTAssertTrue(text.contains("EBUSY"), text)
        }
        // Nothing stays held after the failed start.
        XCTAssertEqual(rig.kernel.openDescriptorCount, 0)
    }

    func testUnknownLineNameIsNamed() throws {
        let rig = StationRig()
        var profile = rig.handshakeProfile()
        profile.outputs.fault = .name("FAULT_LAMP")
        XCTAssertThrowsError(try Handshake(profile: profile, system: rig.kernel)) {
            XCTAssertTrue("\($0)".contains("FAULT: GPIO chip '/dev/gpiochip0' has no line named "
                                           + "'FAULT_LAMP'"), "\($0)")
        }
    }

    func testLevelsAreHeldUntilTheNextTrigger() throws {
        let rig = StationRig()
        let handshake = try Handshake(profile: rig.handshakeProfile(.level), system: rig.kernel)
        try handshake.update { $0.ready = true }
        try handshake.beginPart()
        try handshake.present(pass: true, fault: false, ready: true)
        let presented = rig.kernel.now
        rig.kernel.advance(by: 5_000_000_000)
        // Five seconds later the result still stands.
        for name in ["PASS", "RESULT_VALID", "READY"] {
            XCTAssertTrue(rig.level(name, at: rig.kernel.now), name)
        }
        XCTAssertFalse(rig.level("FAIL", at: rig.kernel.now))
        XCTAssertFalse(rig.level("BUSY", at: rig.kernel.now))
        // The verdict comes before RESULT_VALID, never after.
        let pass = try XCTUnwrap(rig.edges("PASS", to: true).first)
        let valid = try XCTUnwrap(rig.edges("RESULT_VALID", to: true).first)
        XCTAssertLessThan(pass, valid)
        XCTAssertLessThanOrEqual(valid, presented)
        // The next part withdraws it at once.
        try handshake.beginPart()
        let next = rig.kernel.now
        XCTAssertFalse(rig.level("PASS", at: next))
        XCTAssertFalse(rig.level("RESULT_VALID", at: next))
        XCTAssertTrue(rig.level("BUSY", at: next))
        XCTAssertFalse(rig.level("READY", at: next))
    }

    func testPulsesLastPulseMilliseconds() throws {
        let rig = StationRig()
        let handshake = try Handshake(profile: rig.handshakeProfile(.pulse), system: rig.kernel)
        try handshake.beginPart()
        try handshake.present(pass: false, fault: true, ready: false)
        let failUp = try XCTUnwrap(rig.edges("FAIL", to: true).first)
        let failDown = try XCTUnwrap(rig.edges("FAIL", to: false).first)
        let validUp = try XCTUnwrap(rig.edges("RESULT_VALID", to: true).first)
        let validDown = try XCTUnwrap(rig.edges("RESULT_VALID", to: false).first)
        // pulse_ms = 50: the sleep is 50 ms; the ioctls around it cost 10 us each.
        XCTAssertEqual(Double(failDown - failUp) / 1e6, 50, accuracy: 0.05)
        XCTAssertEqual(Double(validDown - validUp) / 1e6, 50, accuracy: 0.05)
        XCTAssertEqual(validDown, failDown)
        XCTAssertTrue(rig.edges("PASS", to: true).isEmpty)
        // FAULT is a level: it stays after the pulse, READY stays low.
        XCTAssertTrue(rig.level("FAULT", at: rig.kernel.now + 1_000_000_000))
        XCTAssertFalse(rig.level("READY", at: rig.kernel.now))
    }

    func testActiveLowInvertsAndReleaseDeassertsAndFreesTheLines() throws {
        let rig = StationRig()
        var profile = rig.handshakeProfile()
        profile.activeHigh = false
        let handshake = try Handshake(profile: profile, system: rig.kernel)
        // De-asserted at request time: driven high.
        XCTAssertTrue(rig.level("PASS", at: rig.kernel.now))
        try handshake.beginPart()
        try handshake.present(pass: true, fault: false, ready: true)
        XCTAssertFalse(rig.level("PASS", at: rig.kernel.now))
        XCTAssertTrue(rig.level("FAIL", at: rig.kernel.now))
        handshake.release()
        XCTAssertTrue(rig.level("PASS", at: rig.kernel.now))
        let chip = try GPIOChip(path: StationRig.chipPath, system: rig.kernel)
        for name in ["READY", "PASS", "FAULT", "TRIGGER"] {
            XCTAssertFalse(try chip.lineInfo(offset: line(name)).isUsed, name)
        }
    }

    func testTriggerEdgeIsDebouncedAndTimestamped() throws {
        let rig = StationRig()
        let handshake = try Handshake(profile: rig.handshakeProfile(), system: rig.kernel)
        let start = rig.kernel.now
        // A bounce: high, low 1 ms later, high again 2 ms later, stable after.
        for (milliseconds, level) in [(10, true), (11, false), (13, true)] {
            rig.kernel.schedule(at: start + UInt64(milliseconds) * 1_000_000) {
                rig.chip.drive(offset: line("TRIGGER"), to: level)
            }
        }
        var edges: [GPIOEdgeEvent] = []
        while edges.isEmpty && rig.kernel.now < start + 1_000_000_000 {
            edges = try handshake.waitForTriggers(milliseconds: 100)
        }
        // One rising edge, accepted after 5 ms (debounce_us = 5000) of stable level.
        XCTAssertEqual(edges.map(\.timestampNanoseconds), [start + 18_000_000])
    }
}
