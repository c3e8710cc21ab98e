// GPIO uAPI v2 through the system-call layer on the emulated chip (and a real one when
// MVAD_GPIO_CHIP names it): chip and line info, lookup by name, EBUSY for lines in use,
// output values, release on close, and debounced, timestamped edge events.

import Foundation
import MVADCapture
import MVADCaptureEmulation
import XCTest

final class GPIOTests: XCTestCase {
    func testChipInfoAndLinesByName() throws {
        let rig = EmulatedRig()
        let chip = try GPIOChip(path: EmulatedRig.chipPath, system: rig.kernel)
        XCTAssertEqual(chip.label, "emulated-lights")
        XCTAssertEqual(chip.lineCount, 7)
        XCTAssertEqual(try chip.offset(ofLineNamed: "LIGHT_3"), 3)
        XCTAssertEqual(try chip.offset(ofLineNamed: "TRIGGER"), 5)
        XCTAssertThrowsError(try chip.offset(ofLineNamed: "LIGHT_9")) {
            XCTAssertEqual($0 as? GPIOError, .noSuchLine(chip: EmulatedRig.chipPath,
                                                         name: "LIGHT_9", available: lightNames))
        }
        XCTAssertThrowsError(try chip.lineInfo(offset: 7)) {
            XCTAssertEqual($0 as? GPIOError, .offsetOutOfRange(chip: EmulatedRig.chipPath,
                                                               offset: 7, lines: 7))
        }
    }

    func testLineHeldElsewhereIsBusyAndNamesItsConsumer() throws {
        let rig = EmulatedRig()
        rig.chip.claimExternally(offset: 2, consumer: "other-daemon")
        let chip = try GPIOChip(path: EmulatedRig.chipPath, system: rig.kernel)
        XCTAssertThrowsError(try chip.request(offsets: [1, 2], direction: .output(initialValue: false),
                                              consumer: "mvad")) {
            XCTAssertEqual($0 as? GPIOError, .lineBusy(chip: EmulatedRig.chipPath,
                                                       line: "2 ('LIGHT_2')",
                                                       consumer: "other-daemon"))
        }
    }

    func testRequestHoldsLinesUntilReleased() throws {
        let rig = EmulatedRig()
        try checkHoldAndRelease(system: rig.kernel, path: EmulatedRig.chipPath, offset: 0)
        XCTAssertEqual(rig.kernel.openDescriptorCount, 0)
    }

    func testRequestHoldsLinesUntilReleasedOnRealChip() throws {
        let path = try RealDevices.chip()
        let offset = Int(ProcessInfo.processInfo.environment["MVAD_GPIO_TEST_LINE"] ?? "0") ?? 0
        try checkHoldAndRelease(system: LinuxSystemCalls(), path: path, offset: offset)
    }

    /// A second request for a held line gets EBUSY naming our consumer; after release the
    /// line can be requested again.
    private func checkHoldAndRelease(system: any SystemCalls, path: String, offset: Int) throws {
        let chip = try GPIOChip(path: path, system: system)
        var first: GPIOLineRequest? = try chip.request(offsets: [offset],
                                                       direction: .output(initialValue: true),
                                                       consumer: "mvad-test")
        XCTAssertEqual(try first?.values(), [true])
        XCTAssertEqual(try chip.lineInfo(offset: offset).consumer, "mvad-test")
        XCTAssertThrowsError(try chip.request(offsets: [offset], direction: .output(initialValue: false),
                                              consumer: "second")) {
            guard case .lineBusy(_, _, let consumer)? = $0 as? GPIOError else {
                return XCTFail("expected lineBusy, got \($0)")
            }
            XCTAssertEqual(consumer, "mvad-test")
        }
        try first?.set([false])
        XCTAssertEqual(try first?.values(), [false])
        first = nil
        XCTAssertFalse(try chip.lineInfo(offset: offset).isUsed)
        let again = try chip.request(offsets: [offset], direction: .output(initialValue: false),
                                     consumer: "mvad-test")
        XCTAssertEqual(try again.values(), [false])
    }

    func testOutputChangesAreTimed() throws {
        let rig = EmulatedRig()
        let chip = try GPIOChip(path: EmulatedRig.chipPath, system: rig.kernel)
        let lights = try chip.request(offsets: [0, 1], direction: .output(initialValue: false),
                                      consumer: "mvad")
        rig.kernel.sleep(nanoseconds: 5_000_000)
        try lights.set([true, false])
        let on = rig.kernel.now
        rig.kernel.sleep(nanoseconds: 5_000_000)
        try lights.set([false, true])
        XCTAssertTrue(rig.chip.isLit(offset: 0, at: on))
        XCTAssertFalse(rig.chip.isLit(offset: 0, at: on - 1))
        XCTAssertFalse(rig.chip.isLit(offset: 0, at: rig.kernel.now))
        XCTAssertTrue(rig.chip.isLit(offset: 1, at: rig.kernel.now))
    }

    func testDebouncedEdgesAreTimestampedAndGlitchesIgnored() throws {
        let rig = EmulatedRig()
        let chip = try GPIOChip(path: EmulatedRig.chipPath, system: rig.kernel)
        let trigger = try chip.request(offsets: [5],
                                       direction: .inputWithEdges(debounceMicroseconds: 5_000),
                                       consumer: "mvad-trigger")
        // A 2 ms glitch is shorter than the 5 ms debounce: no event.
        rig.chip.drive(offset: 5, to: true)
        rig.kernel.sleep(nanoseconds: 2_000_000)
        rig.chip.drive(offset: 5, to: false)
        XCTAssertEqual(try trigger.waitForEvents(milliseconds: 20), [])
        // A level held high: one rising edge, stamped when the debounce period ended.
        rig.chip.drive(offset: 5, to: true)
        let rise = rig.kernel.now
        let events = try trigger.waitForEvents(milliseconds: 20)
        XCTAssertEqual(events, [GPIOEdgeEvent(timestampNanoseconds: rise + 5_000_000, offset: 5,
                                              edge: .rising, sequence: 1)])
        XCTAssertEqual(try trigger.values(), [true])
        rig.chip.drive(offset: 5, to: false)
        let fall = rig.kernel.now
        XCTAssertEqual(try trigger.waitForEvents(milliseconds: 20).map(\.edge), [.falling])
        XCTAssertEqual(rig.kernel.now, fall + 5_000_000 + 10_000, "woken when the edge was accepted")
    }

    func testSettingAnInputIsRefused() throws {
        let rig = EmulatedRig()
        let chip = try GPIOChip(path: EmulatedRig.chipPath, system: rig.kernel)
        let trigger = try chip.request(offsets: [5], direction: .inputWithEdges(debounceMicroseconds: 0),
                                       consumer: "mvad")
        XCTAssertThrowsError(try trigger.set([true])) {
            XCTAssertEqual($0 as? GPIOError, .callFailed(chip: EmulatedRig.chipPath,
                                                         call: "GPIO_V2_LINE_SET_VALUES_IOCTL",
                                                         errno: .notPermitted))
        }
    }
}
