// CaptureWriter: captured parts on disk in the Eyecandies layout (DIR/data/NNN_image_K.png,
// NNN_normals.png) with each part's capture record as NNN_capture.json, also for parts that
// were not captured (with the reason).

import Foundation
import MVADInspect

/// Writes parts under `root/data`.
public struct CaptureWriter {
    public let root: URL
    public var data: URL { root.appendingPathComponent("data") }

    /// Creates `root/data` if needed.
    public init(root: URL) throws {
        self.root = root
        try FileManager.default.createDirectory(at: root.appendingPathComponent("data"),
                                                withIntermediateDirectories: true)
    }

    /// The Eyecandies id of part number `number`: three digits at least ("007").
    public static func id(_ number: Int) -> String {
        precondition(number >= 0, "part numbers are >= 0, got \(number)")
        let digits = String(number)
        return String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }

    /// Writes the six views, the normal map (if any) and the record; returns the files written.
    @discardableResult
    public func write(_ part: CapturedPart) throws -> [URL] {
        let id = part.record.part
        var files: [URL] = []
        for (k, image) in part.images.enumerated() {
            let url = data.appendingPathComponent("\(id)_image_\(k).png")
            try ImageWriter.writePNG(image, to: url)
            files.append(url)
        }
        if let normals = part.normals {
            let url = data.appendingPathComponent("\(id)_normals.png")
            try ImageWriter.writePNG(normals, to: url)
            files.append(url)
        }
        files.append(try writeRecord(CaptureOutcome(captured: true, reason: nil,
                                                    record: part.record), id: id))
        return files
    }

    /// Records a part that was not captured, with the reason.
    @discardableResult
    public func writeFailure(part id: String, reason: String) throws -> URL {
        try writeRecord(CaptureOutcome(captured: false, reason: reason, record: nil), id: id)
    }

    private func writeRecord(_ outcome: CaptureOutcome, id: String) throws -> URL {
        let url = data.appendingPathComponent("\(id)_capture.json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(outcome).write(to: url, options: .atomic)
        return url
    }
}

/// The content of NNN_capture.json.
public struct CaptureOutcome: Codable, Equatable, Sendable {
    public let captured: Bool
    public let reason: String?
    public let record: PartCaptureRecord?
}
