// `mvad capture`: records parts from a station's camera and lights in the Eyecandies layout
// (six lit views, the normal map, a capture record per part), for banks and calibration.

import Foundation
import MVADCapture

enum CaptureCommand: Command {
    static let name = "capture"
    static let summary = "record parts from the station camera and lights (Eyecandies layout)"

    static let specs = [
        OptionSpec(name: "--profile", value: "P", help: "capture profile (JSON, see docs/CAPTURE.md)"),
        OptionSpec(name: "-o", value: "DIR", help: "output folder; parts go to DIR/data"),
        OptionSpec(name: "--parts", value: "N", help: "parts to capture (default 1)"),
        OptionSpec(name: "--first", value: "N",
                   help: "number of the first part (default: after the last one in DIR/data)"),
        OptionSpec(name: "--prompt", value: nil,
                   help: "wait for Enter before each part (to place it under the camera)"),
    ]

    static let help = helpText(
        usage: "mvad capture --profile P -o DIR [--parts N] [--first N] [--prompt]",
        summary: summary, specs: specs, details: """
        Opens the camera and requests the light lines named in the profile, then for each part
        switches the five directional lights one at a time and then all together, takes the
        first frame exposed after each switch plus settle_ms, checks it, and writes
        DIR/data/NNN_image_0..5.png, NNN_normals.png (unless the profile's normals source is
        none) and NNN_capture.json (controls, timestamps, sequence numbers, retries). A part
        that cannot be captured gets a NNN_capture.json with the reason; the command then
        goes on and exits with status 1 at the end. A camera that disappears is reopened
        with the profile's backoff.
        """)

    static func run(_ arguments: [String]) throws {
        let args = try ParsedArguments(arguments, specs: specs, command: name)
        try args.noPositional()
        let profilePath = try args.required("--profile")
        let output = try args.required("-o")
        let count = try args.int("--parts", default: 1, range: 1...100_000) ?? 1
        let profile = try CaptureProfile.load(path: profilePath)
        let writer = try CaptureWriter(root: URL(fileURLWithPath: output))
        let first = try args.int("--first", range: 0...999_999) ?? nextNumber(in: writer.data)

        let station = try StationCapture(profile: profile, system: LinuxSystemCalls())
        var failed: [String] = []
        for number in first..<(first + count) {
            let id = CaptureWriter.id(number)
            if args.has("--prompt") {
                InspectSupport.log("place part \(id) and press Enter")
                guard readLine() != nil else { break }
            }
            do {
                let part = try station.capture(part: id)
                try writer.write(part)
                print(summary(of: part, folder: writer.data.path))
            } catch let error as StationCaptureError {
                try writer.writeFailure(part: id, reason: error.description)
                InspectSupport.log("part \(id) not captured: \(error)")
                failed.append(id)
            }
        }
        if !failed.isEmpty {
            throw CommandFailure("\(failed.count) of \(count) parts not captured: "
                                 + failed.joined(separator: ", "))
        }
    }

    /// One line per captured part.
    static func summary(of part: CapturedPart, folder: String) -> String {
        let retries = part.record.views.reduce(0) { $0 + $1.retries.count }
        let source = part.record.normalsSource.rawValue
        let normals = part.normals == nil ? "no normals" : "normals (\(source))"
        return "part \(part.record.part): 6 views + \(normals) -> \(folder) (retries \(retries), "
            + "camera reopened \(part.record.reopenCount) times)"
    }

    /// One more than the highest part number with a file in `folder`, or 0.
    static func nextNumber(in folder: URL) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let numbers = names.compactMap { name -> Int? in
            guard let underscore = name.firstIndex(of: "_") else { return nil }
            return Int(name[..<underscore])
        }
        return (numbers.max() ?? -1) + 1
    }
}
