// Folding in the converter: the timesteps to fold, and storing a UNet or ControlNet with its
// constants folded (FoldedConstants computes them with the engine's own ops, in f32, from the
// float source weights) instead of the weights they replace.

import Foundation
import MVADEngine

/// What a folding conversion folds for: the settings' timesteps and the prompt.
struct FoldPlan {
    let timesteps: [Int]
    /// The prompt embedding [1, L, D].
    let context: Tensor

    /// nil when `options.fold` is off. Timesteps come from settings.json, else the options'
    /// default; they must be distinct, ascending and non-negative.
    init?(folder: String, settings: [String: Any], options: ConversionOptions,
          context: Tensor) throws {
        guard options.fold else { return nil }
        let path = folder + "/settings.json"
        var timesteps = options.defaultTimesteps
        if let value = settings["timesteps"] {
            guard let numbers = value as? [NSNumber],
                  numbers.allSatisfy({ Double($0.intValue) == $0.doubleValue }) else {
                throw ConversionError.invalidJSON(
                    path: path, problem: "'timesteps' is \(value), expected a list of integers")
            }
            timesteps = numbers.map(\.intValue)
        }
        guard let timesteps else { throw ConversionError.noTimestepsToFold(folder: folder) }
        guard let first = timesteps.first, first >= 0,
              zip(timesteps, timesteps.dropFirst()).allSatisfy(<) else {
            throw ConversionError.invalidJSON(
                path: path, problem: "'timesteps' is \(timesteps); folding needs distinct, "
                    + "ascending, non-negative timesteps")
        }
        self.timesteps = timesteps
        self.context = context
    }

    /// The `folding` metadata object.
    var metadata: [String: Any] {
        [
            "folded": true,
            "timesteps": timesteps,
            "prompt_tokens": context.shape[1],
            "scheme": "f32, computed from the float source weights with the runtime's ops: "
                + "<attn2>.folded_key/value = context W^T [Lc, D]; "
                + "time_embedding.folded_timesteps [S]; "
                + "<resnet>.time_emb_proj.folded = time_emb_proj(silu(temb(t))) [S, Cout]",
        ]
    }

    /// True for a source tensor a folded pack does not store: a weight the folded constants
    /// replace, or a LoRA factor (or alpha) on one.
    static func isFoldedAway(_ name: String) -> Bool {
        if FoldedConstants.isReplaced(name) { return true }
        return ControlLoRAWeights.loraTarget(of: name).map(FoldedConstants.isReplaced) ?? false
    }
}

extension PackBuilder {
    /// A UNet or ControlNet from `source` under `component`: as it is without `fold`, else
    /// without the replaced weights and with its folded constants. `name` names the model in
    /// errors.
    mutating func addModel(component: String, from source: any WeightSource, config: UNetConfig,
                           fold: FoldPlan?, name: String) throws {
        guard let fold else { return try add(component: component, from: source) }
        let replaced = source.names.filter(FoldedConstants.isReplaced)
        try add(component: component, from: source, excluding: Set(replaced))
        countRemoved(replaced, of: source)
        let folded = try FoldedConstants.fold(
            source: source, config: config, context: fold.context,
            timesteps: fold.timesteps.map(Float.init), component: name)
        try addFolded(component: component, folded)
    }

    /// A separate ControlLoRA: its own tensors under controllora., less the LoRA factors on
    /// folded-away weights, plus the constants folded from its merged encoder `merged`.
    mutating func addSeparateControlLoRA(own: any WeightSource, merged: ControlLoRAWeights,
                                         config: UNetConfig, fold: FoldPlan?) throws {
        let component = PackModels.controlLoRAPrefix
        guard let fold else { return try add(component: component, from: own) }
        let removed = own.names.filter(FoldPlan.isFoldedAway)
        try add(component: component, from: own, excluding: Set(removed))
        countRemoved(removed, of: own)
        let folded = try FoldedConstants.fold(
            source: merged, config: config, context: fold.context,
            timesteps: fold.timesteps.map(Float.init), component: "ControlLoRA")
        try addFolded(component: component, folded)
    }

    /// The folded tensors, f32 whatever the storage (they are few, and exact).
    private mutating func addFolded(component: String,
                                    _ folded: FoldedConstants.Folded) throws {
        for (name, tensor) in folded.tensors {
            if let index = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
                throw ConversionError.nonFiniteValue(tensor: component + name, index: index,
                                                     value: tensor.scalars[index])
            }
            storeFloat(component + name, tensor, as: .float32)
            if weights != .float32 {
                keptFloat.append(.init(name: component + name, dtype: .float32, reason: .folded))
            }
            foldAdded.tensors += 1
            foldAdded.bytes += Self.aligned(4 * tensor.count)
        }
    }

    private mutating func countRemoved(_ names: [String], of source: any WeightSource) {
        foldRemoved.tensors += names.count
        foldRemoved.bytes += estimatedBytes(of: source, names: names)
    }

    /// The report's account of folding.
    func foldingReport(timesteps: [Int]) -> ConversionReport.Folding {
        ConversionReport.Folding(
            timesteps: timesteps, removedTensors: foldRemoved.tensors,
            removedBytes: foldRemoved.bytes, addedTensors: foldAdded.tensors,
            addedBytes: foldAdded.bytes)
    }

    /// `bytes` rounded up to the pack's data alignment.
    static func aligned(_ bytes: Int) -> Int {
        (bytes + PackFormat.dataAlignment - 1) / PackFormat.dataAlignment
            * PackFormat.dataAlignment
    }
}
