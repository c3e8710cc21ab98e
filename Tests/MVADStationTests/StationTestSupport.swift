// Test rig for the station tests: the pipeline fixture (tiny model, parts, a bank built from
// its train parts), and an emulated station: kernel, camera, and one GPIO chip holding the
// five lights, the six handshake outputs and the trigger input.

import Foundation
import MVADCapture
import MVADCaptureEmulation
import MVADInspect
import MVADStation
import XCTest

enum Fixture {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let pipeline = repository.appendingPathComponent("Tests/MVADInspectTests/Fixtures/pipeline")
    static let models = pipeline.appendingPathComponent("models").path
    static let testParts = pipeline.appendingPathComponent("parts/test").path
    /// Built by `mvad bank build --model <pipeline>/models --parts <pipeline>/parts/train -o
    /// Tests/MVADStationTests/Fixtures/pipeline.bank` (see Fixtures/README.md).
    static let bank = repository
        .appendingPathComponent("Tests/MVADStationTests/Fixtures/pipeline.bank").path
    static let threshold = 36.0

    /// The model and bank, loaded once for all tests (loading takes a while in debug builds).
    nonisolated(unsafe) private static var shared: PartInspection?
    static func inspection() throws -> PartInspection {
        if let shared { return shared }
        var profile = ModelProfile(path: models, bank: bank, threshold: threshold)
        profile.threads = 2
        let loaded = try PartInspection(profile: profile)
        shared = loaded
        return loaded
    }

}

extension XCTestCase {
    /// A fresh temporary folder, deleted when the test ends.
    func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("mvad-station-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}

/// Line names on the emulated chip, in offset order.
let stationLines = ["LIGHT_0", "LIGHT_1", "LIGHT_2", "LIGHT_3", "LIGHT_4",
                    "READY", "BUSY", "PASS", "FAIL", "RESULT_VALID", "FAULT", "TRIGGER"]

/// The offset of a line of `stationLines`.
func line(_ name: String) -> Int {
    guard let offset = stationLines.firstIndex(of: name) else {
        preconditionFailure("no line \(name) on the emulated chip")
    }
    return offset
}

/// An emulated station at /dev/video0 and /dev/gpiochip0.
final class StationRig {
    let kernel = EmulatedKernel()
    let chip = EmulatedGPIOChip(label: "emulated-station", lineNames: stationLines)
    let camera: EmulatedCamera
    static let cameraPath = "/dev/video0"
    static let chipPath = "/dev/gpiochip0"

    init() {
        camera = EmulatedCamera(timestampSource: .startOfExposure,
                                scene: StationRig.scene(chip: chip))
        kernel.install(camera, at: StationRig.cameraPath)
        kernel.install(chip, at: StationRig.chipPath)
    }

    /// A camera image whose colours depend on which lights were on at `time`.
    static func scene(chip: EmulatedGPIOChip) -> (UInt64, Int, Int) -> Image {
        { time, width, height in
            let lit = (0..<5).map { chip.isLit(offset: $0, at: time) }
            var pixels = [UInt8](repeating: 0, count: width * height * 3)
            for y in 0..<height {
                for x in 0..<width {
                    let p = (y * width + x) * 3
                    var level = 16
                    for (k, on) in lit.enumerated() where on { level += 20 + 6 * k + (x + k * y) % 7 }
                    pixels[p] = UInt8(min(255, level))
                    pixels[p + 1] = UInt8(min(255, level + y))
                    pixels[p + 2] = UInt8(min(255, level / 2 + x))
                }
            }
            return Image(width: width, height: height, channels: 3, samples: .uint8(pixels))
        }
    }

    func captureProfile() -> CaptureProfile {
        var camera = CameraProfile(device: StationRig.cameraPath, pixelFormat: .rgb24, width: 64,
                                   height: 48, frameIntervalMicroseconds: 33_333)
        camera.timeoutMilliseconds = 500
        var lights = LightsProfile(gpio: GPIOLightsProfile(
            chip: StationRig.chipPath, lines: (0..<5).map { .name("LIGHT_\($0)") }))
        lights.settleMilliseconds = 20
        var normals = NormalsProfile()
        normals.source = .photometricStereo
        normals.lightDirections = [[0.5, 0, 0.866], [-0.5, 0, 0.866], [0, 0.5, 0.866],
                                   [0, -0.5, 0.866], [0, 0, 1]]
        var profile = CaptureProfile(camera: camera, lights: lights, normals: normals)
        profile.reopen.attempts = 2
        profile.reopen.initialBackoffMilliseconds = 100
        profile.reopen.maximumBackoffMilliseconds = 200
        return profile
    }

    func handshakeProfile(_ mode: ResultMode = .level) -> HandshakeProfile {
        var profile = HandshakeProfile(
            chip: StationRig.chipPath,
            outputs: HandshakeOutputLines(ready: .name("READY"), busy: .name("BUSY"),
                                          pass: .name("PASS"), fail: .name("FAIL"),
                                          resultValid: .name("RESULT_VALID"),
                                          fault: .name("FAULT")),
            trigger: .name("TRIGGER"))
        profile.debounceMicroseconds = 5000
        profile.resultMode = mode
        profile.pulseMilliseconds = 50
        return profile
    }

    /// A trigger pulse on the TRIGGER input: high at `time`, low 30 ms later.
    func pulseTrigger(at time: UInt64) {
        kernel.schedule(at: time) { self.chip.drive(offset: line("TRIGGER"), to: true) }
        kernel.schedule(at: time + 30_000_000) { self.chip.drive(offset: line("TRIGGER"), to: false) }
    }

    /// The value of output `name` at `time`.
    func level(_ name: String, at time: UInt64) -> Bool {
        chip.history(offset: line(name)).last { $0.time <= time }?.value ?? false
    }

    /// Times at which output `name` went to `value`.
    func edges(_ name: String, to value: Bool) -> [UInt64] {
        chip.history(offset: line(name)).filter { $0.value == value && $0.time > 0 }.map(\.time)
    }
}

/// Collects what a loop reports.
final class Collector {
    var records: [PartRecord] = []
    var logs: [(LogLevel, String)] = []
    var reporter: StationReporter {
        StationReporter(record: { self.records.append($0) }, log: { self.logs.append(($0, $1)) })
    }
}
