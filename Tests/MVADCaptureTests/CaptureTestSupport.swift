// Test rig for the capture tests: an emulated kernel with a camera whose scene shows which
// lights of an emulated GPIO chip were on when each frame's exposure started.

import Foundation
import MVADCapture
import MVADCaptureEmulation
import MVADInspect
import XCTest

/// The light names on the emulated chip: five lights, then the trigger input.
let lightNames = ["LIGHT_0", "LIGHT_1", "LIGHT_2", "LIGHT_3", "LIGHT_4", "TRIGGER", "SPARE"]

/// The level a pixel has with the given lights on: 16 plus 20 + 6 k for each lit light k.
func sceneLevel(lit: [Bool]) -> Int {
    16 + lit.enumerated().reduce(0) { $0 + ($1.element ? 20 + 6 * $1.offset : 0) }
}

/// A uniform RGB image of `level` (channels level, level, level / 2).
func uniformImage(width: Int, height: Int, level: Int) -> Image {
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for p in 0..<(width * height) {
        pixels[p * 3] = UInt8(level)
        pixels[p * 3 + 1] = UInt8(level)
        pixels[p * 3 + 2] = UInt8(level / 2)
    }
    return Image(width: width, height: height, channels: 3, samples: .uint8(pixels))
}

/// A smooth test pattern: R = 4x, G = 5y, B = 128 (kept smooth so JPEG changes it little).
func gradientImage(width: Int, height: Int) -> Image {
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            let p = (y * width + x) * 3
            pixels[p] = UInt8(min(255, 4 * x))
            pixels[p + 1] = UInt8(min(255, 5 * y))
            pixels[p + 2] = 128
        }
    }
    return Image(width: width, height: height, channels: 3, samples: .uint8(pixels))
}

/// Mean of every sample of an 8-bit image.
func meanLevel(_ image: Image) -> Double {
    guard case .uint8(let values) = image.samples else { return -1 }
    return Double(values.reduce(0) { $0 + Int($1) }) / Double(values.count)
}

/// Mean of one channel of an 8-bit image.
func meanChannel(_ image: Image, _ channel: Int) -> Double {
    guard case .uint8(let values) = image.samples else { return -1 }
    var sum = 0
    for p in 0..<(image.width * image.height) { sum += Int(values[p * image.channels + channel]) }
    return Double(sum) / Double(image.width * image.height)
}

/// An emulated station: kernel, camera at /dev/video0, chip at /dev/gpiochip0.
final class EmulatedRig {
    let kernel = EmulatedKernel()
    let chip = EmulatedGPIOChip(label: "emulated-lights", lineNames: lightNames)
    let camera: EmulatedCamera
    static let cameraPath = "/dev/video0"
    static let chipPath = "/dev/gpiochip0"

    init(timestampSource: TimestampSource = .startOfExposure) {
        let chip = self.chip
        camera = EmulatedCamera(timestampSource: timestampSource) { time, width, height in
            let lit = (0..<5).map { chip.isLit(offset: $0, at: time) }
            return uniformImage(width: width, height: height, level: sceneLevel(lit: lit))
        }
        kernel.install(camera, at: EmulatedRig.cameraPath)
        kernel.install(chip, at: EmulatedRig.chipPath)
    }

    /// A camera profile for this rig.
    func cameraProfile(_ format: PixelFormat = .rgb24) -> CameraProfile {
        var profile = CameraProfile(device: EmulatedRig.cameraPath, pixelFormat: format, width: 64,
                                    height: 48, frameIntervalMicroseconds: 33_333)
        profile.exposureMicroseconds = 10_000
        profile.gain = 40
        profile.whiteBalanceKelvin = 5000
        profile.timeoutMilliseconds = 500
        return profile
    }

    /// A full capture profile: the five lights on the chip, photometric stereo off.
    func captureProfile(_ format: PixelFormat = .rgb24) -> CaptureProfile {
        var lights = LightsProfile(gpio: GPIOLightsProfile(
            chip: EmulatedRig.chipPath, lines: (0..<5).map { .name("LIGHT_\($0)") }))
        lights.settleMilliseconds = 20
        return CaptureProfile(camera: cameraProfile(format), lights: lights,
                              normals: NormalsProfile())
    }
}

/// Real devices named by the environment, or a skip saying why there are none.
enum RealDevices {
    static func camera() throws -> String {
        guard let path = ProcessInfo.processInfo.environment["MVAD_V4L2_DEVICE"], !path.isEmpty else {
            throw XCTSkip("MVAD_V4L2_DEVICE is not set: no real V4L2 camera to run this test on")
        }
        return path
    }

    static func chip() throws -> String {
        guard let path = ProcessInfo.processInfo.environment["MVAD_GPIO_CHIP"], !path.isEmpty else {
            throw XCTSkip("MVAD_GPIO_CHIP is not set: no real GPIO chip to run this test on")
        }
        return path
    }
}
