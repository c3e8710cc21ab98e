// mvad command-line entry: picks the subcommand, runs it, and maps failures to exit codes.
//
// Exit codes: 0 success; 1 the command failed (bad model or input file, inference error);
// 2 usage error (unknown subcommand or option, malformed value).

import Foundation
import MVADEngine
import MVADKernels

/// A subcommand of mvad: implemented as an enum with these static members.
protocol Command {
    static var name: String { get }
    static var summary: String { get }
    static var help: String { get }
    static func run(_ arguments: [String]) throws
}

/// A subcommand's entry in the command table.
struct CommandEntry {
    let name: String
    let summary: String
    let help: String
    let run: ([String]) throws -> Void

    init<C: Command>(_ command: C.Type) {
        name = C.name
        summary = C.summary
        help = C.help
        run = C.run
    }
}

let commands: [CommandEntry] = [
    CommandEntry(BankCommand.self), CommandEntry(InspectCommand.self),
    CommandEntry(EvaluateCommand.self), CommandEntry(CalibrateCommand.self),
    CommandEntry(CaptureCommand.self), CommandEntry(RunCommand.self),
    CommandEntry(ProfileCommand.self), CommandEntry(SynthCommand.self),
    CommandEntry(RunComponentCommand.self),
    CommandEntry(CompareCommand.self), CommandEntry(PromptCommand.self),
    CommandEntry(ConvertCommand.self),
    CommandEntry(InfoCommand.self),
    CommandEntry(VerifyCommand.self), CommandEntry(BenchCommand.self),
]

let exitCodes = """
    exit codes:
      0  success
      1  the command failed: unreadable or malformed model/input file, inference error
      2  usage error: unknown subcommand or option, missing or malformed value
    """

@MainActor func topLevelHelp() -> String {
    var lines = ["usage: mvad <command> [options]", "",
                 "mvad: multi-view anomaly detection with diffusion features, on the CPU.", "",
                 "commands:"]
    let width = commands.map { $0.name.count }.max() ?? 0
    for command in commands {
        lines.append("  " + command.name.padding(toLength: width + 2, withPad: " ", startingAt: 0)
                     + command.summary)
    }
    lines += ["", "Run 'mvad <command> --help' for a command's options.", "", exitCodes]
    return lines.joined(separator: "\n")
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data(("mvad: " + message + "\n").utf8))
}

@MainActor func runMVAD() -> Int32 {
    var arguments = Array(CommandLine.arguments.dropFirst())
    guard let first = arguments.first else {
        print(topLevelHelp())
        return 2
    }
    if first == "--help" || first == "-h" || first == "help" {
        print(topLevelHelp())
        return 0
    }
    if first == "--version" {
        print("mvad \(MVADVersion.current)")
        return 0
    }
    arguments.removeFirst()
    guard let command = commands.first(where: { $0.name == first }) else {
        let names = commands.map(\.name)
        let closest = names.min { editDistance($0, first) < editDistance($1, first) }
        var message = "unknown command '\(first)'"
        if let closest, editDistance(closest, first) <= 3 { message += "; did you mean '\(closest)'?" }
        printError(message + " (see mvad --help)")
        return 2
    }
    if arguments.contains("--help") || arguments.contains("-h") {
        print(command.help + "\n\n" + exitCodes)
        return 0
    }
    do {
        try command.run(arguments)
        // Results go to standard output; failing to write them (a full disk, a closed pipe)
        // must not look like success.
        guard mvad_flush_stdout() == 0 else {
            printError("could not write the results to standard output")
            return 1
        }
        return 0
    } catch let error as UsageError {
        printError(error.description)
        return 2
    } catch {
        printError("\(error)")
        return 1
    }
}

// Every operator allocates its output; keep freed memory for reuse rather than faulting in
// and zeroing fresh pages on each evaluation.
mvad_retain_freed_memory()
exit(runMVAD())
