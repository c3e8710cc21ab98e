// The one table of checkpoint-key renames: old diffusers spellings mapped to the current
// ones. Loaders and the converter read keys through it instead of patching strings.

public enum KeyRenames {
    /// (old key segment, current key segment). Old VAE checkpoints named the mid-block
    /// attention's projections query/key/value/proj_attn.
    public static let attentionSegments: [(old: String, new: String)] = [
        (".query.", ".to_q."),
        (".key.", ".to_k."),
        (".value.", ".to_v."),
        (".proj_attn.", ".to_out.0."),
    ]

    /// The current spelling of `key`.
    public static func modernised(_ key: String) -> String {
        var result = key
        for (old, new) in attentionSegments where result.contains(old) {
            result = result.replacingOccurrences(of: old, with: new)
        }
        return result
    }
}

/// A view of a weight source under current key spellings.
public struct RenamedWeights: WeightSource {
    let base: any WeightSource
    let storedName: [String: String]     // current spelling -> stored key

    public init(_ base: any WeightSource) {
        self.base = base
        var map: [String: String] = [:]
        for name in base.names { map[KeyRenames.modernised(name)] = name }
        storedName = map
    }

    public var names: [String] { storedName.keys.sorted() }

    public func tensor(_ name: String) throws -> Tensor {
        try base.tensor(storedName[name] ?? name)
    }

    public func shape(_ name: String) -> [Int]? {
        base.shape(storedName[name] ?? name)
    }

    public func quantized(_ name: String) throws -> (values: [Int8], scales: [Float])? {
        try base.quantized(storedName[name] ?? name)
    }
}

import Foundation
