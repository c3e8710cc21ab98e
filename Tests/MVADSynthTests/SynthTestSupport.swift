// Helpers of the synth tests: temporary folders, small datasets, and reading back files.

import Foundation
import MVADInspect
import MVADSynth
import XCTest

enum SynthTestSupport {
    /// A fresh empty folder under the system's temporary folder, removed by the caller.
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("mvad-synth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A 64 px dataset (fast enough for debug-build tests).
    static func dataset(seed: UInt64 = 7, settings: SynthSettings? = nil,
                        kinds: [DefectKind] = DefectKind.allCases) throws -> SynthDataset {
        var small = settings ?? SynthSettings()
        if settings == nil { small.size = 64 }
        return try SynthDataset(category: "SynthCandy", masterSeed: seed, settings: small,
                                kinds: kinds)
    }

    /// Every file under `root` (relative path -> bytes).
    static func files(under root: URL) throws -> [String: Data] {
        var result: [String: Data] = [:]
        let prefix = root.standardizedFileURL.path + "/"
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
        else { return result }
        for case let url as URL in walker {
            var isFolder: ObjCBool = false
            let path = url.standardizedFileURL.path
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder),
                  !isFolder.boolValue else { continue }
            result[String(path.dropFirst(prefix.count))] = try Data(contentsOf: url)
        }
        return result
    }

    /// The 8-bit samples of a decoded PNG.
    static func bytes(_ image: Image) -> [UInt8] {
        guard case .uint8(let values) = image.samples else { return [] }
        return values
    }

    /// Pixels where two interleaved images differ in any channel.
    static func differingPixels(_ a: [Float], _ b: [Float], channels: Int) -> [Bool] {
        (0..<(a.count / channels)).map { pixel in
            (0..<channels).contains { a[pixel * channels + $0] != b[pixel * channels + $0] }
        }
    }

    static func differingPixels(_ a: [UInt8], _ b: [UInt8], channels: Int) -> [Bool] {
        (0..<(a.count / channels)).map { pixel in
            (0..<channels).contains { a[pixel * channels + $0] != b[pixel * channels + $0] }
        }
    }
}
