// BankFile+Pack: memory banks stored inside a .mvad pack beside the model they were built
// with: each bank int8 with one f32 scale per row (a feature vector), its settings and
// provenance, the threshold and the file provenance in the pack's metadata key "banks".

import Foundation
import MVADEngine
import MVADPack

extension BankFile {
    /// The pack metadata key of the banks' description.
    public static let packMetadataKey = "banks"
    /// The pack tensor of a modality's bank: "bank.rgb", "bank.normals".
    public static func packTensorName(_ modality: MemoryBank.Modality) -> String {
        "bank." + modality.rawValue
    }

    /// The banks as a pack attachment: tensors int8 per row (a feature vector's entries share
    /// its scale, so a distance loses at most 1/254 of each vector's largest entry per entry),
    /// settings, provenance and threshold in the metadata object.
    public func packAttachment() throws -> PackAttachment {
        var object: [String: Any] = ["format": Self.formatTag, "provenance": provenance]
        if let threshold { object["threshold"] = threshold }
        var items: [PackAttachment.Item] = []
        for modality in banks.keys.sorted() {
            guard let bank = banks[modality] else { continue }
            object[modality.rawValue] = ["settings": bank.settings, "provenance": bank.provenance]
            items.append(.init(name: Self.packTensorName(modality), tensor: bank.vectors,
                               int8: true))
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return PackAttachment(metadataKey: Self.packMetadataKey,
                              metadataJSON: String(decoding: data, as: UTF8.self), items: items)
    }

    /// Throws `settingsMismatch`, naming each differing setting, unless every bank was built
    /// with `settings` and weights stored as `weights` ("f32", "f16", "int8"). The feature
    /// source depends on the modality an inspection uses, so `inspect` checks that one.
    public func requireBuilt(with settings: MethodSettings, weights: String) throws {
        for modality in banks.keys.sorted() {
            guard let bank = banks[modality] else { continue }
            var expected = settings.bankDependencies(for: .both)
            expected["feature_source"] = bank.settings["feature_source"]
            expected["weights"] = weights
            try bank.requireSettings(expected)
        }
    }

    /// The same vectors labelled as features of a model whose weights are stored as `weights`,
    /// for banks computed with another precision of the same model (the float model on GPUs,
    /// `tools/train/build_bank.py`) that an int8 pack should hold. Each bank's provenance keeps
    /// the weights its features were really computed with (`features_weights`).
    public func relabelled(weights: String) throws -> BankFile {
        var relabelled: [MemoryBank] = []
        for modality in banks.keys.sorted() {
            guard let bank = banks[modality] else { continue }
            var settings = bank.settings
            var provenance = bank.provenance
            if let built = settings["weights"], built != weights {
                provenance["features_weights"] = built
            }
            settings["weights"] = weights
            relabelled.append(try MemoryBank(modality: modality, vectors: bank.vectors,
                                             settings: settings, provenance: provenance))
        }
        return try BankFile(banks: relabelled, threshold: threshold, provenance: provenance,
                            path: path)
    }

    /// Whether the pack holds banks.
    public static func isStored(in pack: PackFile) -> Bool {
        pack.metadataObject()[packMetadataKey] != nil
    }

    /// The banks stored in `pack` (dequantised to f32).
    public init(pack: PackFile) throws {
        let path = pack.path
        func malformed(_ problem: String) -> ScoringError {
            ScoringError.malformedBankFile(path: path + " (metadata 'banks')", problem: problem)
        }
        guard let object = pack.metadataObject()[Self.packMetadataKey] as? [String: Any] else {
            throw malformed("the pack holds no banks; build them with 'mvad bank build' and "
                            + "pass --bank, or store them with 'mvad convert --bank'")
        }
        guard object["format"] as? String == Self.formatTag else {
            throw malformed("the format is '\(object["format"] ?? "none")'; expected "
                            + "'\(Self.formatTag)'")
        }
        let weights = PackWeights(pack: pack, prefix: "")
        var stored: [MemoryBank] = []
        for modality in MemoryBank.Modality.allCases {
            guard let entry = object[modality.rawValue] as? [String: Any] else { continue }
            let vectors = try weights.tensor(Self.packTensorName(modality))
            guard vectors.rank == 2, vectors.shape[1] > 0 else {
                throw malformed("tensor '\(Self.packTensorName(modality))' has shape "
                                + "\(vectors.shape); expected [M, C] with C > 0")
            }
            stored.append(try MemoryBank(
                modality: modality, vectors: vectors,
                settings: entry["settings"] as? [String: String] ?? [:],
                provenance: entry["provenance"] as? [String: String] ?? [:]))
        }
        guard !stored.isEmpty else { throw malformed("it describes no rgb or normals bank") }
        var threshold: Double?
        if let value = object["threshold"] {
            guard let number = (value as? NSNumber)?.doubleValue, number.isFinite else {
                throw malformed("the threshold is '\(value)'; expected a finite number")
            }
            threshold = number
        }
        try self.init(banks: stored, threshold: threshold,
                      provenance: object["provenance"] as? [String: String] ?? [:],
                      path: path + " (banks)")
    }
}
