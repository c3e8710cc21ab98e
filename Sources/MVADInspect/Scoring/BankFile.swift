// BankFile: the RGB and/or normal-map memory banks of a model pack, an optional image-score
// threshold and their provenance, kept together in one safetensors file.

import MVADEngine

/// The memory banks of one category, as saved to and loaded from a single safetensors file.
///
/// File layout: tensors `bank.rgb` and/or `bank.normals`, each F32 [M, C]; `__metadata__` keys
/// `format` (= `BankFile.formatTag`), `threshold` (optional, a decimal number), `provenance.<k>`
/// for the file and `<modality>.settings.<k>` / `<modality>.provenance.<k>` for each bank.
/// Unknown metadata keys are ignored on load, so newer writers can add information.
public struct BankFile: Sendable, Equatable {
    /// The value of the `format` metadata key this code writes and reads.
    public static let formatTag = "mvad-memory-bank-1"

    /// The banks, at most one per modality.
    public private(set) var banks: [MemoryBank.Modality: MemoryBank]
    /// Image-score threshold above which a part is called anomalous, when calibrated.
    public var threshold: Double?
    /// Free-form record of how the file was made (tool version, date, data set, ...).
    public var provenance: [String: String]
    /// The file the banks were loaded from, for error messages; nil when built in memory.
    public let path: String?

    /// Banks built in memory; two banks of one modality are refused.
    public init(
        banks: [MemoryBank], threshold: Double? = nil, provenance: [String: String] = [:],
        path: String? = nil
    ) throws {
        var byModality: [MemoryBank.Modality: MemoryBank] = [:]
        for bank in banks {
            guard byModality[bank.modality] == nil else {
                throw ScoringError.invalidParameter(
                    name: "banks", found: "two \(bank.modality.rawValue) banks",
                    expected: "at most one bank per modality")
            }
            byModality[bank.modality] = bank
        }
        self.banks = byModality
        self.threshold = threshold
        self.provenance = provenance
        self.path = path
    }

    /// The RGB bank, if any.
    public var rgb: MemoryBank? { banks[.rgb] }
    /// The normal-map bank, if any.
    public var normals: MemoryBank? { banks[.normals] }

    /// Adds `bank`, replacing any bank of the same modality.
    public mutating func setBank(_ bank: MemoryBank) {
        banks[bank.modality] = bank
    }

    /// The bank of `modality`; throws `missingBank` when the file has none.
    public func bank(_ modality: MemoryBank.Modality) throws -> MemoryBank {
        guard let bank = banks[modality] else {
            throw ScoringError.missingBank(modality: modality.rawValue, path: path)
        }
        return bank
    }

    /// The bank of `modality`, refused unless it was built with exactly `expectedSettings`.
    public func bank(
        _ modality: MemoryBank.Modality, expectedSettings: [String: String]
    ) throws -> MemoryBank {
        let bank = try bank(modality)
        try bank.requireSettings(expectedSettings)
        return bank
    }

    /// Equal banks, threshold and provenance; where the files were loaded from is ignored.
    public static func == (lhs: BankFile, rhs: BankFile) -> Bool {
        lhs.banks == rhs.banks && lhs.threshold == rhs.threshold
            && lhs.provenance == rhs.provenance
    }
}

extension BankFile {
    /// Writes the banks to `path` atomically (a complete temporary file renamed into place).
    public func write(to path: String) throws {
        guard !banks.isEmpty else {
            throw ScoringError.invalidParameter(
                name: "the bank file written to \(path)", found: "no banks",
                expected: "at least one of the rgb and normals banks")
        }
        if let threshold, !threshold.isFinite {
            throw ScoringError.invalidParameter(
                name: "threshold", found: "\(threshold)", expected: "a finite number")
        }

        var metadata = ["format": Self.formatTag]
        if let threshold { metadata["threshold"] = "\(threshold)" }
        for (key, value) in provenance { metadata["provenance." + key] = value }
        var tensors: [(name: String, tensor: Tensor)] = []
        for modality in banks.keys.sorted() {
            guard let bank = banks[modality] else { continue }
            let prefix = modality.rawValue
            for (key, value) in bank.settings { metadata["\(prefix).settings.\(key)"] = value }
            for (key, value) in bank.provenance { metadata["\(prefix).provenance.\(key)"] = value }
            tensors.append((name: "bank.\(prefix)", tensor: bank.vectors))
        }
        try SafeTensorsWriter.write(tensors, metadata: metadata, to: path)
    }

    /// Loads the bank file at `path`, checking its format tag, tensor names and shapes.
    public init(path: String) throws {
        let file = try SafeTensorsFile(path: path)
        let metadata = file.metadata
        func malformed(_ problem: String) -> ScoringError {
            ScoringError.malformedBankFile(path: path, problem: problem)
        }

        guard let format = metadata["format"] else {
            throw malformed("the metadata has no 'format' key; expected '\(Self.formatTag)'")
        }
        guard format == Self.formatTag else {
            throw malformed("the format is '\(format)'; expected '\(Self.formatTag)'")
        }

        var banks: [MemoryBank.Modality: MemoryBank] = [:]
        for name in file.names {
            let modalityName = name.hasPrefix("bank.") ? String(name.dropFirst(5)) : ""
            guard let modality = MemoryBank.Modality(rawValue: modalityName) else {
                throw malformed("unexpected tensor '\(name)'; expected 'bank.rgb' and/or "
                    + "'bank.normals'")
            }
            let vectors = try file.tensor(name)
            guard vectors.rank == 2, vectors.shape[1] > 0 else {
                throw malformed("tensor '\(name)' has shape \(vectors.shape); expected [M, C] "
                    + "with C > 0")
            }
            banks[modality] = try MemoryBank(
                modality: modality, vectors: vectors,
                settings: Self.entries(of: metadata, prefix: "\(modalityName).settings."),
                provenance: Self.entries(of: metadata, prefix: "\(modalityName).provenance."))
        }
        guard !banks.isEmpty else {
            throw malformed("it holds no tensor; expected 'bank.rgb' and/or 'bank.normals'")
        }
        for modality in MemoryBank.Modality.allCases where banks[modality] == nil {
            let prefix = modality.rawValue + "."
            if let key = metadata.keys.sorted().first(where: { $0.hasPrefix(prefix) }) {
                throw malformed("metadata key '\(key)' describes a \(modality.rawValue) bank, "
                    + "but there is no tensor 'bank.\(modality.rawValue)'")
            }
        }

        var threshold: Double?
        if let text = metadata["threshold"] {
            guard let value = Double(text), value.isFinite else {
                throw malformed("the threshold is '\(text)'; expected a finite decimal number")
            }
            threshold = value
        }

        self.banks = banks
        self.threshold = threshold
        self.provenance = Self.entries(of: metadata, prefix: "provenance.")
        self.path = path
    }

    /// The metadata entries whose keys start with `prefix`, with the prefix removed.
    private static func entries(
        of metadata: [String: String], prefix: String
    ) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in metadata where key.hasPrefix(prefix) {
            result[String(key.dropFirst(prefix.count))] = value
        }
        return result
    }
}
