// Helpers of the part tests: scratch part folders filled with small generated views, and the
// location of the shared Eyecandies data.

import Foundation
import XCTest
@testable import MVADInspect

enum PartFixtures {
    /// Writes a width x height RGB PNG of one colour (value, value + 1, value + 2) at
    /// folder/name, whatever the name's extension (the decoder goes by content).
    static func writeView(_ folder: URL, _ name: String, width: Int = 8, height: Int = 8,
                          value: UInt8 = 40) throws {
        let pixel = [value, value &+ 1, value &+ 2]
        let samples = Array([[UInt8]](repeating: pixel, count: width * height).joined())
        let image = Image(width: width, height: height, channels: 3, samples: .uint8(samples))
        try ImageWriter.writePNG(image, to: folder.appendingPathComponent(name))
    }

    /// Writes a grey mask; `defect` sets one pixel to 255, otherwise all pixels are 0.
    static func writeMask(_ folder: URL, _ name: String, width: Int = 8, height: Int = 8,
                          defect: Bool) throws {
        var samples = [UInt8](repeating: 0, count: width * height)
        if defect { samples[width + 1] = 255 }
        let image = Image(width: width, height: height, channels: 1, samples: .uint8(samples))
        try ImageWriter.writePNG(image, to: folder.appendingPathComponent(name))
    }

    /// The seven views of Eyecandies part `id` (light k has value 10 * k), optionally its mask.
    static func writeEyecandiesPart(_ folder: URL, id: String, ext: String = "png",
                                    mask: Bool? = nil) throws {
        for light in 0..<6 {
            try writeView(folder, "\(id)_image_\(light).\(ext)", value: UInt8(10 * light))
        }
        try writeView(folder, "\(id)_normals.\(ext)", value: 128)
        if let mask {
            try writeMask(folder, "\(id)_mask.png", defect: mask)
        }
    }

    /// MVAD_SHARED_DIR, or else ../shared next to the repository root.
    static var sharedFolder: URL {
        if let path = ProcessInfo.processInfo.environment["MVAD_SHARED_DIR"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return repository.deletingLastPathComponent().appendingPathComponent("shared")
    }
}

/// Asserts that `body` throws a PartError matching `matches`, and returns it.
@discardableResult
func assertPartError<T>(_ body: @autoclosure () throws -> T,
                        file: StaticString = #filePath, line: UInt = #line,
                        _ matches: (PartError) -> Bool) -> PartError? {
    do {
        _ = try body()
        XCTFail("expected a PartError, got a result", file: file, line: line)
    } catch let error as PartError {
        XCTAssertTrue(matches(error), "unexpected error: \(error)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected a PartError, got \(type(of: error)): \(error)", file: file, line: line)
    }
    return nil
}
