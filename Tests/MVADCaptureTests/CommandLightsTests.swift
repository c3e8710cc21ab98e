// Lights switched by an external command: the commands run in order with the light number
// substituted, and a failing command is an error with its status and output.

import Foundation
import MVADCapture
import MVADCaptureEmulation
import XCTest

final class CommandLightsTests: XCTestCase {
    private func profile(log: URL, failing: Bool = false) throws -> CommandLightsProfile {
        let failure = failing ? "; echo jammed >&2; exit 3" : ""
        let json = """
            {"set": ["/bin/sh", "-c", "echo set {light} >> \(log.path)\(failure)"],
             "all_on": ["/bin/sh", "-c", "echo all_on >> \(log.path)"],
             "all_off": ["/bin/sh", "-c", "echo all_off >> \(log.path)"]}
            """
        return try JSONDecoder().decode(CommandLightsProfile.self, from: Data(json.utf8))
    }

    func testCommandsRunInOrder() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("lights-\(UUID()).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let lights = CommandLights(profile: try profile(log: log), system: EmulatedKernel())
        XCTAssertEqual(lights.count, 5)
        _ = try lights.show([2])
        _ = try lights.show(Set(0..<5))
        _ = try lights.show([])
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines, ["all_off", "set 2", "all_on", "all_off"])
    }

    func testFailingCommandIsReported() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("lights-\(UUID()).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let lights = CommandLights(profile: try profile(log: log, failing: true), system: EmulatedKernel())
        XCTAssertThrowsError(try lights.show([4])) { error in
            guard case .commandFailed(let command, let status, let output)? = error as? LightError else {
                return XCTFail("expected commandFailed, got \(error)")
            }
            XCTAssertEqual(command.last?.hasPrefix("echo set 4"), true)
            XCTAssertEqual(status, 3)
            XCTAssertEqual(output, "jammed")
        }
    }
}
