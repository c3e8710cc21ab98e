// `mvad info` and `mvad verify`: what a .mvad model pack holds, and whether every checksum in
// it holds (header, metadata, table on open; each tensor's data and the padding on verify).

import Foundation
import MVADInspect
import MVADPack

enum InfoCommand: Command {
    static let name = "info"
    static let summary = "show a .mvad pack's metadata and tensor table"
    static let specs: [OptionSpec] = []

    static let help = helpText(
        usage: "mvad info PACK.mvad", summary: summary, specs: specs, details: """
        Prints the format version, the metadata's top-level keys (objects and arrays as
        counts), then one line per tensor: name, dtype, shape, quantisation scheme, bytes;
        and totals by dtype. Opening checks the header, metadata and table checksums, not the
        tensor data: use 'mvad verify' for that.
        """)

    static func run(_ arguments: [String]) throws {
        let args = try ParsedArguments(arguments, specs: specs, command: name)
        guard args.positional.count == 1 else {
            throw UsageError(message: "\(name): needs one argument, the pack file")
        }
        let pack = try PackFile(path: args.positional[0])
        print("\(pack.path): .mvad format \(pack.majorVersion).\(pack.minorVersion), "
              + "\(pack.entries.count) tensors, metadata \(pack.metadataJSON.count) bytes")
        printMetadata(pack.metadataObject())
        if BankFile.isStored(in: pack) {
            let banks = try BankFile(pack: pack)
            print("\nbanks: " + banks.banks.keys.sorted().map { modality in
                let bank = banks.banks[modality]
                return "\(modality.rawValue) \(bank?.count ?? 0) x \(bank?.channels ?? 0)"
            }.joined(separator: ", "))
            print("threshold: " + InspectSupport.thresholdSummary(banks))
        }
        printTable(pack.entries)
    }

    private static func printMetadata(_ object: [String: Any]) {
        print("\nmetadata:")
        for key in object.keys.sorted() {
            print("  " + key.padding(toLength: 24, withPad: " ", startingAt: 0)
                  + summarize(object[key] ?? NSNull()))
        }
    }

    /// A one-line rendering of a JSON value: scalars as they are, containers as counts.
    private static func summarize(_ value: Any) -> String {
        switch value {
        case let object as [String: Any]:
            let keys = object.keys.sorted().prefix(6).joined(separator: ", ")
            return "{\(object.count) keys: \(keys)" + (object.count > 6 ? ", ...}" : "}")
        case let array as [Any]:
            return "[\(array.count) items]"
        case let text as String:
            return text.count > 64 ? "\"\(text.prefix(61))...\"" : "\"\(text)\""
        case is NSNull:
            return "null"
        default:
            return "\(value)"
        }
    }

    private static func printTable(_ entries: [PackEntry]) {
        var rows = [["name", "dtype", "shape", "scheme", "bytes"]]
        var totals: [PackDType: (count: Int, bytes: Int)] = [:]
        for entry in entries {
            let scheme = entry.quantization == .none
                ? "-" : "\(entry.quantization), scales '\(entry.scalesName)'"
            rows.append([entry.name, entry.dtype.description, "\(entry.shape)", scheme,
                         "\(entry.byteLength)"])
            let total = totals[entry.dtype] ?? (0, 0)
            totals[entry.dtype] = (total.count + 1, total.bytes + entry.byteLength)
        }
        let widths = (0..<4).map { column in rows.map { $0[column].count }.max() ?? 0 }
        print("")
        for row in rows {
            let cells = zip(row, widths).map { $0.padding(toLength: $1 + 2, withPad: " ",
                                                          startingAt: 0) }
            print(cells.joined() + row[4])
        }

        print("\ntotals by dtype:")
        for dtype in PackDType.allCases {
            guard let total = totals[dtype] else { continue }
            print("  \(dtype.description.padding(toLength: 5, withPad: " ", startingAt: 0))"
                  + "tensors \(total.count), bytes \(total.bytes)")
        }
        let bytes = totals.values.reduce(0) { $0 + $1.bytes }
        print("  all  tensors \(entries.count), bytes \(bytes)")
    }
}

enum VerifyCommand: Command {
    static let name = "verify"
    static let summary = "check every checksum of a .mvad pack (exit 1 on the first failure)"
    static let specs: [OptionSpec] = []

    static let help = helpText(
        usage: "mvad verify PACK.mvad", summary: summary, specs: specs, details: """
        Opens the pack (header, metadata and table checksums and layout), then reads all the
        tensor data: every tensor's CRC-32 and every padding byte. Prints OK with counts, or
        the first failure and exits with status 1.
        """)

    static func run(_ arguments: [String]) throws {
        let args = try ParsedArguments(arguments, specs: specs, command: name)
        guard args.positional.count == 1 else {
            throw UsageError(message: "\(name): needs one argument, the pack file")
        }
        let pack = try PackFile(path: args.positional[0])
        let result = try pack.verify()
        print("OK \(pack.path): header, metadata (\(pack.metadataJSON.count) bytes), table and "
              + "\(result.tensorCount) tensors (\(result.tensorBytes) bytes of data, "
              + "\(result.paddingBytes) bytes of padding) check out")
    }
}
