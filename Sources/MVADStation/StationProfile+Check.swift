// Loading and checking a station profile: every problem names its key as a JSON path
// ("handshake.pulse_ms"), says what was found and what is expected; relative paths are
// resolved against the profile file's folder.

import Foundation
import MVADCapture

/// One problem in a profile, at `key` (a JSON path; "" for the whole file).
public struct ProfileIssue: Equatable, Sendable, CustomStringConvertible {
    public let key: String
    public let message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { key.isEmpty ? message : "'\(key)': \(message)" }
}

/// A station profile that cannot be used, with every problem found.
public struct StationProfileError: Error, Equatable, CustomStringConvertible {
    public let file: String
    public let issues: [ProfileIssue]

    public init(file: String, issues: [ProfileIssue]) {
        self.file = file
        self.issues = issues
    }

    public var description: String {
        "station profile '\(file)': " + issues.map(\.description).joined(separator: "; ")
    }
}

extension StationProfile {
    /// Reads, resolves and checks the profile at `path`; throws every problem at once.
    /// `checkDevices` also requires the camera and GPIO chip nodes to exist.
    public static func load(path: String, checkDevices: Bool = false) throws(StationProfileError)
        -> StationProfile {
        let profile = try decode(path: path)
        let issues = profile.problems(checkPaths: true, checkDevices: checkDevices)
        guard issues.isEmpty else { throw StationProfileError(file: path, issues: issues) }
        return profile
    }

    /// Reads the file and decodes it, with relative paths resolved against its folder.
    public static func decode(path: String) throws(StationProfileError) -> StationProfile {
        let data: Data
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw StationProfileError(file: path, issues: [ProfileIssue(
                key: "", message: "is a folder; give the profile's JSON file")])
        }
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw StationProfileError(file: path, issues: [ProfileIssue(
                key: "", message: "cannot read the file: \(error.localizedDescription)")])
        }
        do {
            let profile = try JSONDecoder().decode(StationProfile.self, from: data)
            let folder = URL(fileURLWithPath: path).absoluteURL.deletingLastPathComponent()
            return profile.resolved(against: folder)
        } catch {
            throw StationProfileError(file: path, issues: [issue(from: error, data: data)])
        }
    }

    /// A decoding failure as an issue naming its key.
    static func issue(from error: Error, data: Data? = nil) -> ProfileIssue {
        switch error {
        case let error as UnknownKeyError:
            let key = error.path.isEmpty ? error.key : error.path + "." + error.key
            var text = "unknown key"
            if let suggestion = error.suggestion { text += "; did you mean '\(suggestion)'?" }
            return ProfileIssue(key: key, message: text + " (valid here: "
                                + error.validKeys.joined(separator: ", ") + ")")
        case let error as ProfileError:
            return ProfileIssue(key: "capture", message: error.message)
        case DecodingError.keyNotFound(let key, let context):
            return ProfileIssue(key: jsonPath(context.codingPath + [key]),
                                message: "missing (required)")
        case let error as DecodingError:
            var path: [any CodingKey] = []
            switch error {
            case let .typeMismatch(_, context), let .valueNotFound(_, context),
                 let .dataCorrupted(context):
                path = context.codingPath
            default: break
            }
            return ProfileIssue(key: jsonPath(path),
                                message: ProfileDecodingText.problem(error, data: data))
        default:
            return ProfileIssue(key: "", message: "\(error)")
        }
    }

    /// "a.b[2].c" from a coding path.
    static func jsonPath(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue { text += "[\(index)]"; continue }
            text += text.isEmpty ? key.stringValue : "." + key.stringValue
        }
        return text
    }

    /// The profile with its file paths made absolute against `folder`.
    func resolved(against folder: URL) -> StationProfile {
        func absolute(_ path: String) -> String {
            path.hasPrefix("/") ? path : folder.appendingPathComponent(path).standardized.path
        }
        var copy = self
        copy.model.path = absolute(model.path)
        copy.model.bank = model.bank.map(absolute)
        copy.replay?.parts = absolute(replay?.parts ?? "")
        copy.rejects?.folder = absolute(rejects?.folder ?? "")
        copy.workFolder = absolute(workFolder)
        return copy
    }

    /// Every range, consistency and (optionally) path problem.
    public func problems(checkPaths: Bool, checkDevices: Bool) -> [ProfileIssue] {
        var issues = rangeProblems()
        if let handshake { issues += handshakeProblems(handshake) }
        if checkPaths { issues += pathProblems() }
        if checkDevices { issues += deviceProblems() }
        return issues
    }

    private func rangeProblems() -> [ProfileIssue] {
        var issues: [ProfileIssue] = []
        func require(_ ok: Bool, _ key: String, _ message: String) {
            if !ok { issues.append(ProfileIssue(key: key, message: message)) }
        }
        require(!station.isEmpty, "station", "must not be empty")
        require((1...256).contains(model.threads), "model.threads",
                "must be 1...256, got \(model.threads)")
        if let threshold = model.threshold {
            require(threshold > 0 && threshold.isFinite, "model.threshold",
                    "must be a finite number > 0, got \(threshold)")
        }
        require(["both", "rgb", "normals"].contains(model.modality), "model.modality",
                "must be both, rgb or normals, got '\(model.modality)'")
        switch source {
        case .capture:
            require(capture != nil, "capture", "missing: source 'capture' needs a capture section")
            if let capture, capture.normals.source == .none, model.modality != "rgb" {
                issues.append(ProfileIssue(
                    key: "model.modality", message: "'\(model.modality)' needs a normal map, but "
                        + "capture.normals.source is none; use rgb"))
            }
        case .replay:
            require(replay != nil, "replay", "missing: source 'replay' needs a replay section")
        }
        if let replay {
            require((0...3_600_000).contains(replay.intervalMilliseconds), "replay.interval_ms",
                    "must be 0...3600000, got \(replay.intervalMilliseconds)")
        }
        if let rejects {
            require(rejects.maximumBytes > 0, "rejects.max_bytes",
                    "must be > 0, got \(rejects.maximumBytes)")
        }
        return issues
    }

    private func handshakeProblems(_ h: HandshakeProfile) -> [ProfileIssue] {
        var issues: [ProfileIssue] = []
        if !(0...1_000_000).contains(h.debounceMicroseconds) {
            issues.append(ProfileIssue(key: "handshake.debounce_us",
                                       message: "must be 0...1000000, got \(h.debounceMicroseconds)"))
        }
        if !(1...10_000).contains(h.pulseMilliseconds) {
            issues.append(ProfileIssue(key: "handshake.pulse_ms",
                                       message: "must be 1...10000, got \(h.pulseMilliseconds)"))
        }
        if h.consumer.isEmpty || h.consumer.utf8.count > 31 {
            issues.append(ProfileIssue(key: "handshake.consumer",
                                       message: "must be 1...31 bytes, got '\(h.consumer)'"))
        }
        let names = ["ready", "busy", "pass", "fail", "result_valid", "fault"]
        let all = zip(names.map { "handshake.outputs." + $0 }, h.outputs.ordered)
            + [("handshake.trigger", h.trigger)]
        for (index, (key, line)) in all.enumerated() {
            if case .offset(let offset) = line, offset < 0 {
                issues.append(ProfileIssue(key: key, message: "line offset must be >= 0, got \(offset)"))
            }
            if let first = all.prefix(index).first(where: { $0.1 == line }) {
                issues.append(ProfileIssue(key: key, message: "line \(line) is also \(first.0)"))
            }
            if let lights = capture?.lights.gpio, lights.chip == h.chip, lights.lines.contains(line) {
                issues.append(ProfileIssue(key: key, message: "line \(line) is also a light "
                                           + "(capture.lights.gpio.lines)"))
            }
        }
        return issues
    }

    private func pathProblems() -> [ProfileIssue] {
        var issues: [ProfileIssue] = []
        let files = FileManager.default
        func exists(_ path: String, folder: Bool) -> Bool {
            var isFolder: ObjCBool = false
            return files.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue == folder
        }
        var isFolder: ObjCBool = false
        if !files.fileExists(atPath: model.path, isDirectory: &isFolder) {
            issues.append(ProfileIssue(key: "model.path", message: "\(model.path) does not exist "
                                       + "(a .mvad pack or a model folder)"))
        }
        if let bank = model.bank, !exists(bank, folder: false) {
            issues.append(ProfileIssue(key: "model.bank", message: "\(bank) is not a file "
                                       + "(build one with mvad bank build)"))
        } else if model.bank == nil, exists(model.path, folder: true) {
            issues.append(ProfileIssue(key: "model.bank", message: "is needed with a model "
                                       + "folder; only a .mvad pack can hold its banks"))
        }
        if source == .replay, let replay {
            if !exists(replay.parts, folder: true) {
                issues.append(ProfileIssue(key: "replay.parts",
                                           message: "\(replay.parts) is not a folder of parts"))
            } else if let source = try? ReplaySource(folder: replay.parts) {
                // every part needs the views its modality reads, or each would fault in turn
                let needsLights = model.modality != "normals"
                let needsNormals = model.modality != "rgb"
                let incomplete = source.parts.filter { part in
                    (needsLights && part.lights.contains { $0 == nil })
                        || (needsNormals && part.normals == nil)
                }.map(\.id)
                if !incomplete.isEmpty {
                    issues.append(ProfileIssue(key: "replay.parts", message: "\(incomplete.count) "
                        + "of \(source.parts.count) parts lack views modality '\(model.modality)' "
                        + "needs: " + incomplete.prefix(5).joined(separator: ", ")
                        + (incomplete.count > 5 ? ", ..." : "")))
                }
            } else {
                // the same reading mvad run does, so a folder run would refuse fails here too
                issues.append(ProfileIssue(key: "replay.parts", message: "\(replay.parts) holds "
                    + "no parts (expected NNN_image_0..5 and NNN_normals files in the folder "
                    + "itself; a dataset root's split folders are not searched)"))
            }
        }
        if let rejects {
            let parent = URL(fileURLWithPath: rejects.folder).deletingLastPathComponent().path
            if files.fileExists(atPath: rejects.folder) && !exists(rejects.folder, folder: true) {
                issues.append(ProfileIssue(key: "rejects.folder", message: "\(rejects.folder) "
                                           + "is a file; rejected parts need a folder"))
            } else if !exists(rejects.folder, folder: true) && !exists(parent, folder: true) {
                issues.append(ProfileIssue(key: "rejects.folder", message: "neither "
                                           + "\(rejects.folder) nor its parent folder exists"))
            }
            // The store rotates what it writes there; it must not share a folder with inputs.
            let inputs = [("replay.parts", source == .replay ? replay?.parts : nil),
                          ("model.path", model.path), ("model.bank", model.bank)]
            for case let (key, path?) in inputs where Self.overlaps(rejects.folder, path) {
                issues.append(ProfileIssue(key: "rejects.folder", message: "\(rejects.folder) "
                                           + "overlaps \(key) \(path); give the rejects a folder "
                                           + "of their own"))
            }
        }
        return issues
    }

    /// Whether one path is the other or lies inside it (links resolved).
    static func overlaps(_ a: String, _ b: String) -> Bool {
        let x = URL(fileURLWithPath: a).resolvingSymlinksInPath().standardized.path
        let y = URL(fileURLWithPath: b).resolvingSymlinksInPath().standardized.path
        return x == y || x.hasPrefix(y + "/") || y.hasPrefix(x + "/")
    }

    private func deviceProblems() -> [ProfileIssue] {
        var issues: [ProfileIssue] = []
        func node(_ path: String, _ key: String) {
            if !FileManager.default.fileExists(atPath: path) {
                issues.append(ProfileIssue(key: key, message: "device \(path) does not exist"))
            }
        }
        if let handshake { node(handshake.chip, "handshake.chip") }
        if source == .capture, let capture {
            node(capture.camera.device, "capture.camera.device")
            if let gpio = capture.lights.gpio { node(gpio.chip, "capture.lights.gpio.chip") }
        }
        return issues
    }
}
