// `mvad profile check P`: reads a station profile and reports every problem by its key (JSON
// path): unknown keys with the closest valid one, ranges, paths and, on request, devices.

import Foundation
import MVADStation

enum ProfileCommand: Command {
    static let name = "profile"
    static let summary = "check a station profile (firmware-profiles/*.json)"

    static let specs = [
        OptionSpec(name: "--devices", value: nil,
                   help: "also require the camera and GPIO chip device nodes to exist"),
        OptionSpec(name: "--no-paths", value: nil,
                   help: "skip the model, bank and folder checks (a board's profile checked "
                       + "on another machine)"),
    ]

    static let help = helpText(
        usage: "mvad profile check P [--devices | --no-paths]", summary: summary, specs: specs,
        details: """
        Checks the station profile P as `mvad run` would load it: keys are snake_case with the
        unit in the name (debounce_us, pulse_ms, max_bytes); an unknown key is refused with the
        closest valid key; numbers must lie in their ranges; the model, bank, replay folder and
        rejects folder must exist (relative paths are relative to the profile's folder), and a
        .mvad pack passes the full checksum check the station runs before its first part.
        Every problem is printed as 'key: problem'; the exit status is 1 if there is any.
        """)

    static func run(_ arguments: [String]) throws {
        let args = try ParsedArguments(arguments, specs: specs, command: name)
        guard args.positional.count == 2, args.positional[0] == "check" else {
            throw UsageError(message: "profile: usage: mvad profile check P [--devices]")
        }
        let path = args.positional[1]
        let profile: StationProfile
        do {
            profile = try StationProfile.decode(path: path)
        } catch {
            throw CommandFailure(report(error))
        }
        var issues = profile.problems(checkPaths: !args.has("--no-paths"),
                                      checkDevices: args.has("--devices"))
        var isFolder: ObjCBool = false
        if !args.has("--no-paths"), !issues.contains(where: { $0.key == "model.path" }),
           FileManager.default.fileExists(atPath: profile.model.path, isDirectory: &isFolder),
           !isFolder.boolValue {
            do {
                try PartInspection.verify(pack: profile.model.path)
            } catch {
                issues.append(ProfileIssue(key: "model.path", message: "\(error)"))
            }
        }
        guard issues.isEmpty else {
            throw CommandFailure(report(StationProfileError(file: path, issues: issues)))
        }
        var parts = ["source \(profile.source.rawValue)", "model \(profile.model.path)",
                     "bank \(profile.model.bank ?? "stored in the pack")"]
        if let replay = profile.replay { parts.append("replay \(replay.parts)") }
        if let handshake = profile.handshake {
            parts.append("handshake \(handshake.chip) (\(handshake.resultMode.rawValue))")
        }
        print("profile \(path): ok: " + parts.joined(separator: ", "))
    }

    /// One line per issue.
    static func report(_ error: StationProfileError) -> String {
        "profile \(error.file): \(error.issues.count) problem(s)\n"
            + error.issues.map { "  " + $0.description }.joined(separator: "\n")
    }
}
