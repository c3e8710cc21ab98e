// PackConverter: turns a model folder (unet/, vae/, controlnet/ or controllora/,
// prompt_embedding.safetensors, settings.json) into one .mvad pack, optionally storing the
// weights as f16 or as int8 with one scale per output channel, and reports what it lost.
//
// Pack layout written here (see docs/FORMAT.md for the container):
//   unet.<key>                      every UNet2DConditionModel tensor
//   controlnet.<key>                the ControlNet, or a ControlLoRA with its LoRA merged
//   controllora.<key>               a ControlLoRA's own file, verbatim: its conditioning
//                                   embedding, zero convs and LoRA factors (the default; the
//                                   encoder it adapts is the unet.* weights, stored once)
//   vae.<key>                       the AutoencoderKL encoder and quant_conv (no decoder)
//   prompt.encoder_hidden_states    [1, L, D], always f32
//   <key>.scales                    f32 [O], for every int8 tensor <key>
// Folded (the default; --no-fold keeps every weight), under each of unet., controlnet. and
// controllora. (the ControlLoRA's own, computed from its merged encoder), always f32:
//   <M>.folded_key, <M>.folded_value       [Lc, D] for each cross-attention M = ...attn2
//   time_embedding.folded_timesteps        [S], the settings' timesteps
//   <R>.time_emb_proj.folded               [S, Cout] for each ResNet R
// replacing <M>.to_k/to_v.weight, time_embedding.linear_1/2.* and <R>.time_emb_proj.* (and a
// separate ControlLoRA's LoRA factors on them); see PackConverter+Folding.swift.

import Foundation
import MVADEngine

public enum PackConverter {
    /// Written into every pack's `converter_version`; bump when the pack contents change.
    public static let version = "mvad \(MVADVersion.current) converter 2"
    /// Tensors with fewer elements than this stay floating point in int8 packs.
    public static let smallestQuantisedCount = 1024
    /// Layers kept f16 in int8 packs: the model's first and last convolutions.
    public static let edgeLayerNames: Set<String> = ["conv_in", "conv_out", "quant_conv"]
    /// VAE key prefixes left out: the decoder is never run by the inspection method.
    public static let skippedVAEPrefixes = ["decoder.", "post_quant_conv."]

    /// Converts `modelFolder` into a pack at `output` (replaced atomically).
    public static func convert(modelFolder: String, output: String,
                               options: ConversionOptions = ConversionOptions()) throws
        -> ConversionReport {
        let folder = ModelFolder(path: modelFolder)
        try folder.checkLayout(needsPromptFile: options.prompt == nil)
        var builder = PackBuilder(weights: options.weights,
                                  sensitiveLayerLimit: options.sensitiveLayerLimit)
        var metadata: [String: Any] = [:]

        let settings = folder.exists("settings.json")
            ? try folder.jsonObject("settings.json") : [String: Any]()
        let promptPath = folder.join("prompt_embedding.safetensors")
        let context = try options.prompt.map { try checkedPrompt($0.hiddenStates, source: "the prompt") }
            ?? promptEmbedding(path: promptPath)
        if let text = options.prompt?.text { metadata["prompt"] = text }

        let unet = try WeightStore(folder: folder.join("unet"))
        let fold = try FoldPlan(folder: folder.path, settings: settings, options: options,
                                context: context)
        let unetConfig = try WeightStore.readConfig(UNetConfig.self, folder: folder.join("unet"))
        metadata["unet_config"] = try folder.jsonObject("unet/config.json")
        try builder.addModel(component: PackModels.unetPrefix, from: unet, config: unetConfig,
                             fold: fold, name: "UNet")

        let control = try addControl(folder: folder, unet: unet, storage: options.controlLoRA,
                                     fold: fold, builder: &builder, metadata: &metadata)

        let vae = try WeightStore(folder: folder.join("vae"))
        _ = try WeightStore.readConfig(VAEConfig.self, folder: folder.join("vae"))
        metadata["vae_config"] = try folder.jsonObject("vae/config.json")
        try builder.add(component: "vae.", from: RenamedWeights(vae), skipping: skippedVAEPrefixes)

        builder.addPrompt(context)
        for attachment in options.attachments {
            for item in attachment.items { builder.storeAttached(item) }
            metadata[attachment.metadataKey] = try PackMetadata.decodeObject(
                attachment.metadataJSON, key: attachment.metadataKey, path: output)
        }

        metadata["settings"] = settings
        metadata["folding"] = fold?.metadata ?? ["folded": false]
        let sources = try checksums(folder: folder,
                                    paths: unet.filePaths + control.files + vae.filePaths
                                        + (options.prompt == nil ? [promptPath] : []))
        metadata["source_checksums"] = Dictionary(
            uniqueKeysWithValues: sources.map { ($0.path, String(format: "crc32:%08x", $0.crc32)) })
        metadata["converter_version"] = version
        metadata["quantisation"] = builder.summary()

        builder.writer.metadataJSON = try PackMetadata.encode(metadata, path: output)
        try builder.writer.write(to: output)
        let packBytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int)
            ?? 0
        return ConversionReport(
            output: output, weights: options.weights, control: control.kind,
            controlLoRASizes: control.sizes,
            sourceFiles: sources, float32Bytes: builder.float32Bytes,
            packBytes: packBytes, layers: builder.layers, keptFloat: builder.keptFloat,
            folding: fold.map { builder.foldingReport(timesteps: $0.timesteps) })
    }

    /// Adds controlnet/ as it is, or controllora/ separate or merged over the UNet encoder.
    private static func addControl(
        folder: ModelFolder, unet: WeightStore, storage: ConversionOptions.ControlLoRAStorage,
        fold: FoldPlan?, builder: inout PackBuilder, metadata: inout [String: Any]
    ) throws -> (kind: String?, files: [String], sizes: ConversionReport.ControlLoRASizes?) {
        for name in ["controlnet", "controllora"] where folder.exists(name) {
            let path = folder.join(name)
            let store = try WeightStore(folder: path)
            let controlConfig = try WeightStore.readConfig(UNetConfig.self, folder: path)
            let config = try folder.jsonObject(name + "/config.json")
            metadata["controlnet_config"] = config
            if name == "controlnet" {
                metadata["controlnet_source"] = ["folder": name]
                try builder.addModel(component: PackModels.controlNetPrefix, from: store,
                                     config: controlConfig, fold: fold, name: "ControlNet")
                return ("controlnet", store.filePaths, nil)
            }
            // The merged source also checks every LoRA tensor against the UNet encoder, so a
            // separate pack holds only factors a loader can merge.
            let alpha = (config["lora_alpha"] as? NSNumber)?.floatValue
            let merged = try ControlLoRAWeights(unet: unet, lora: store, alpha: alpha)
            let kept = { (name: String) in fold == nil || !FoldPlan.isFoldedAway(name) }
            let sizes = ConversionReport.ControlLoRASizes(
                stored: storage,
                separateBytes: builder.estimatedBytes(of: store, names: store.names.filter(kept)),
                mergedBytes: builder.estimatedBytes(of: merged, names: merged.names.filter(kept)))
            var source: [String: Any] = ["folder": name, "lora": storage.rawValue]
            switch storage {
            case .separate:
                source["lora_alpha"] = alpha.map { NSNumber(value: $0) }
                source["lora_rank"] = (config["lora_rank"] as? NSNumber)?.intValue
                    ?? loraRank(store)
                try builder.addSeparateControlLoRA(own: store, merged: merged,
                                                   config: controlConfig, fold: fold)
            case .merged:
                try builder.addModel(component: PackModels.controlNetPrefix, from: merged,
                                     config: controlConfig, fold: fold, name: "ControlLoRA")
            }
            metadata["controlnet_source"] = source
            return ("controllora (LoRA \(storage.rawValue))", store.filePaths, sizes)
        }
        return (nil, [], nil)
    }

    /// The rank of the first LoRA down factor (lora_A or lora_down [r, in]) of `lora`.
    private static func loraRank(_ lora: any WeightSource) -> Int? {
        let down = lora.names.sorted().first {
            $0.hasSuffix(".lora_A.weight") || $0.hasSuffix(".lora_down.weight")
        }
        return down.flatMap { lora.shape($0)?.first }
    }

    /// The `encoder_hidden_states` [1, L, D] of prompt_embedding.safetensors.
    private static func promptEmbedding(path: String) throws -> Tensor {
        try checkedPrompt(try SafeTensorsFile(path: path).tensor("encoder_hidden_states"),
                          source: path)
    }

    private static func checkedPrompt(_ context: Tensor, source: String) throws -> Tensor {
        guard context.rank == 3, context.shape[0] == 1 else {
            throw ConversionError.badPromptEmbedding(
                path: source, problem: "has shape \(context.shape), expected [1, L, D]")
        }
        return context
    }

    /// Size and CRC-32 of each source file, named relative to the model folder.
    private static func checksums(folder: ModelFolder, paths: [String]) throws
        -> [ConversionReport.SourceFile] {
        try paths.map { path in
            let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
            let crc = data.withUnsafeBytes { Checksum.crc32($0) }
            let relative = path.hasPrefix(folder.path + "/")
                ? String(path.dropFirst(folder.path.count + 1)) : path
            return ConversionReport.SourceFile(path: relative, bytes: data.count, crc32: crc)
        }
    }
}

/// The model folder being converted: paths, presence checks and its JSON files.
private struct ModelFolder {
    let path: String

    init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    func join(_ name: String) -> String { path + "/" + name }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: join(name)) }

    func checkLayout(needsPromptFile: Bool) throws {
        let needed = ["unet", "vae"] + (needsPromptFile ? ["prompt_embedding.safetensors"] : [])
        for name in needed where !exists(name) {
            let hint = name.hasSuffix(".safetensors")
                ? " (the tools/ CLIP export; pickled .pt embeddings are refused)"
                : " (a diffusers folder with safetensors weights)"
            throw ConversionError.missingComponent(folder: path, problem: "has no \(name)" + hint)
        }
    }

    /// The JSON object in `name`, verbatim.
    func jsonObject(_ name: String) throws -> [String: Any] {
        let file = join(name)
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(
                with: try Data(contentsOf: URL(fileURLWithPath: file)))
        } catch {
            throw ConversionError.invalidJSON(path: file, problem: "cannot be read as JSON "
                                              + "(\(error.localizedDescription))")
        }
        guard let object = parsed as? [String: Any] else {
            throw ConversionError.invalidJSON(path: file, problem: "is not a JSON object")
        }
        return object
    }
}

/// Accumulates the pack's tensors with the storage each gets, and what that cost.
struct PackBuilder {
    let weights: ConversionOptions.Weights
    var sensitiveLayerLimit = ConversionOptions.defaultSensitiveLayerLimit
    var writer = PackWriter()
    var layers: [ConversionReport.Layer] = []
    var keptFloat: [ConversionReport.KeptFloat] = []
    var float32Bytes = 0
    var counts: [PackDType: Int] = [:]
    /// Tensors and bytes folding removed and added (PackConverter+Folding.swift).
    var foldRemoved = (tensors: 0, bytes: 0)
    var foldAdded = (tensors: 0, bytes: 0)

    init(weights: ConversionOptions.Weights, sensitiveLayerLimit: Double) {
        self.sensitiveLayerLimit = sensitiveLayerLimit
        self.weights = weights
    }

    /// Every tensor of `source` (in name order) under `component`, minus `skipping` prefixes
    /// and the names in `excluding`.
    mutating func add(component: String, from source: any WeightSource,
                      skipping: [String] = [], excluding: Set<String> = []) throws {
        for name in source.names.sorted()
        where !skipping.contains(where: name.hasPrefix) && !excluding.contains(name) {
            try store(component + name, key: name, try source.tensor(name))
        }
    }

    mutating func addPrompt(_ context: Tensor) {
        let name = "prompt.encoder_hidden_states"
        storeFloat(name, context, as: .float32)
        if weights != .float32 {
            keptFloat.append(.init(name: name, dtype: .float32, reason: .conditioning))
        }
    }

    /// Stores `tensor` under `name`; `key` is its name inside the component.
    mutating func store(_ name: String, key: String, _ tensor: Tensor) throws {
        if let index = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
            throw ConversionError.nonFiniteValue(tensor: name, index: index,
                                                 value: tensor.scalars[index])
        }
        switch weights {
        case .float32:
            storeFloat(name, tensor, as: .float32)
        case .float16:
            storeFloat(name, tensor, as: .float16)
        case .int8PerChannel, .int8Blocks32:
            if let reason = Self.keepFloatReason(key: key, shape: tensor.shape) {
                storeFloat(name, tensor, as: .float16)
                keptFloat.append(.init(name: name, dtype: .float16, reason: reason))
            } else if weights == .int8Blocks32, tensor.rank == 2,
                      tensor.shape[1] % PackFormat.quantizationBlockSize == 0 {
                storeBlocks32(name, tensor)
            } else {
                storePanels(name, tensor)
            }
        }
    }

    /// Bytes the tensors `names` (all by default) of `source` would take in the data section
    /// under this storage, from their shapes alone (nothing is read or stored).
    func estimatedBytes(of source: any WeightSource, names: [String]? = nil) -> Int {
        func aligned(_ bytes: Int) -> Int {
            (bytes + PackFormat.dataAlignment - 1) / PackFormat.dataAlignment
                * PackFormat.dataAlignment
        }
        return (names ?? source.names).reduce(0) { total, name in
            guard let shape = source.shape(name) else { return total }
            let count = Tensor.elementCount(shape)
            switch weights {
            case .float32: return total + aligned(4 * count)
            case .float16: return total + aligned(2 * count)
            case .int8PerChannel, .int8Blocks32:
                guard Self.keepFloatReason(key: name, shape: shape) == nil else {
                    return total + aligned(2 * count)
                }
                let bytes = (try? PackLayout.panelByteCount(shape: shape, tensor: name,
                                                             path: "")) ?? count
                return total + aligned(bytes) + aligned(4 * shape[0])
            }
        }
    }

    /// Why `key` stays floating point in an int8 pack, or nil when it is quantised.
    static func keepFloatReason(key: String, shape: [Int]) -> KeptFloatReason? {
        if key.contains(".lora_") { return .loraFactor }
        if shape.count < 2 { return .vector }
        guard key.hasSuffix(".weight"), shape.count == 2 || shape.count == 4 else {
            return .notAWeight
        }
        let layer = key.dropLast(".weight".count).split(separator: ".").last.map(String.init)
        if let layer, PackConverter.edgeLayerNames.contains(layer) { return .edgeLayer }
        if Tensor.elementCount(shape) < PackConverter.smallestQuantisedCount { return .small }
        return nil
    }

    mutating func storeFloat(_ name: String, _ tensor: Tensor, as dtype: PackDType) {
        writer.add(name, tensor: tensor, as: dtype)
        let restored = dtype == .float16
            ? tensor.scalars.map { Float(Float16($0)) } : tensor.scalars
        record(name, tensor, storage: dtype.description, restored: restored, dtype: dtype)
    }

    /// An attached tensor (a memory bank): int8 per row or f32, whatever the weight mode.
    mutating func storeAttached(_ item: PackAttachment.Item) {
        if item.int8, item.tensor.rank == 2, item.tensor.count > 0 {
            storeInt8(item.name, item.tensor)
        } else {
            storeFloat(item.name, item.tensor, as: .float32)
        }
    }

    /// A linear or conv weight: int8 per output channel, written in the packed panel layout
    /// the int8 kernels read (`PackQuantization.int8Panels`), so that the runtime multiplies
    /// straight from the mapped file.
    private mutating func storePanels(_ name: String, _ tensor: Tensor) {
        let quantised = Int8PerChannel(tensor)
        let restored = quantised.restored()
        guard relativeL2(restored, tensor.scalars) <= sensitiveLayerLimit else {
            storeFloat(name, tensor, as: .float16)
            keptFloat.append(.init(name: name, dtype: .float16, reason: .sensitive))
            return
        }
        // An all-zero channel has scale 0 (the pack's mark); its values are zeros either way.
        let packingScales = quantised.scales.map { $0 > 0 ? $0 : 1 }
        guard let matrix = try? QuantizedMatrix(values: quantised.values, scales: packingScales,
                                                shape: tensor.shape, bias: nil) else {
            preconditionFailure("per-channel int8 values of \(name) do not form a matrix")
        }
        let bytes = matrix.withPackedBytes { Array($0) }
        let scalesName = name + ".scales"
        writer.add(name, dtype: .int8, shape: tensor.shape, bytes: bytes,
                   quantization: .int8Panels, scales: scalesName)
        writer.add(scalesName, tensor: Tensor(shape: [quantised.scales.count],
                                              scalars: quantised.scales))
        counts[.float32, default: 0] += 1
        record(name, tensor, storage: "i8/channel", restored: restored, dtype: .int8)
    }

    /// A linear weight [O, I] with I a multiple of 32: int8 with one f32 scale per block of 32
    /// consecutive inputs (`PackQuantization.int8Blocks32`).
    private mutating func storeBlocks32(_ name: String, _ tensor: Tensor) {
        let block = PackFormat.quantizationBlockSize
        let blocks = tensor.count / block
        var values = [Int8](repeating: 0, count: tensor.count)
        var scales = [Float](repeating: 0, count: blocks)
        var restored = [Float](repeating: 0, count: tensor.count)
        for b in 0..<blocks {
            let run = (b * block)..<((b + 1) * block)
            let largest = tensor.scalars[run].reduce(Float(0)) { max($0, abs($1)) }
            guard largest > 0 else { continue }
            let scale = largest / 127
            scales[b] = scale
            for i in run {
                let q = (tensor.scalars[i] / scale).rounded(.toNearestOrAwayFromZero)
                values[i] = Int8(min(max(q, -127), 127))
                restored[i] = Float(values[i]) * scale
            }
        }
        let scalesName = name + ".scales"
        writer.add(name, dtype: .int8, shape: tensor.shape,
                   bytes: values.map { UInt8(bitPattern: $0) },
                   quantization: .int8Blocks32, scales: scalesName)
        writer.add(scalesName, tensor: Tensor(shape: [tensor.shape[0], tensor.shape[1] / block],
                                              scalars: scales))
        counts[.float32, default: 0] += 1
        record(name, tensor, storage: "i8/block32", restored: restored, dtype: .int8)
    }

    private mutating func storeInt8(_ name: String, _ tensor: Tensor) {
        let quantised = Int8PerChannel(tensor)
        let scalesName = name + ".scales"
        writer.add(name, dtype: .int8, shape: tensor.shape,
                   bytes: quantised.values.map { UInt8(bitPattern: $0) },
                   quantization: .int8PerChannel, scales: scalesName)
        writer.add(scalesName, tensor: Tensor(shape: [quantised.scales.count],
                                              scalars: quantised.scales))
        counts[.float32, default: 0] += 1
        record(name, tensor, storage: "i8/channel", restored: quantised.restored(), dtype: .int8)
    }

    private mutating func record(_ name: String, _ tensor: Tensor, storage: String,
                                 restored: [Float], dtype: PackDType) {
        counts[dtype, default: 0] += 1
        float32Bytes += 4 * tensor.count
        layers.append(.init(name: name, shape: tensor.shape, storage: storage,
                            relativeL2: relativeL2(restored, tensor.scalars)))
    }

    /// The `quantisation` metadata object.
    func summary() -> [String: Any] {
        var object: [String: Any] = [
            "weights": weights.rawValue,
            "tensor_counts": Dictionary(uniqueKeysWithValues: counts.map { ($0.key.description,
                                                                            $0.value) }),
        ]
        if weights != .float32, weights != .float16 {
            object["scheme"] = "symmetric int8, one f32 scale per output channel (dimension 0): "
                + "scale = max|w| / 127, q = clamp(round half away from zero (w / scale), "
                + "-127, 127); scales in <tensor>.scales"
            object["kept_float16"] = "1-D tensors, tensors under "
                + "\(PackConverter.smallestQuantisedCount) elements, LoRA factors, and the "
                + "conv_in, conv_out and quant_conv layers"
        }
        return object
    }
}

/// ||a - b|| / ||b||, 0 when both are zero.
func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
    var difference = 0.0, norm = 0.0
    for (x, y) in zip(a, b) {
        let d = Double(x) - Double(y)
        difference += d * d
        norm += Double(y) * Double(y)
    }
    if difference == 0 { return 0 }
    return (difference / max(norm, .leastNormalMagnitude)).squareRoot()
}

/// A tensor [O, ...] quantised symmetrically with one scale per output channel o:
/// scale[o] = max |w[o, ...]| / 127, q = round half away from zero (w / scale), in [-127, 127].
/// An all-zero channel gets scale 0 and q 0.
struct Int8PerChannel {
    let shape: [Int]
    let values: [Int8]
    let scales: [Float]

    init(_ tensor: Tensor) {
        precondition(tensor.rank >= 1, "per-channel quantisation needs a dimension 0")
        let channels = tensor.shape[0]
        let run = channels == 0 ? 0 : tensor.count / channels
        var values = [Int8](repeating: 0, count: tensor.count)
        var scales = [Float](repeating: 0, count: channels)
        let w = tensor.scalars
        for o in 0..<channels {
            let row = (o * run)..<((o + 1) * run)
            let largest = w[row].reduce(Float(0)) { max($0, abs($1)) }
            precondition(largest.isFinite, "the converter checks every weight is finite first")
            guard largest > 0 else { continue }
            let scale = largest / 127
            scales[o] = scale
            for i in row {
                let q = (w[i] / scale).rounded(.toNearestOrAwayFromZero)
                values[i] = Int8(min(max(q, -127), 127))
            }
        }
        self.shape = tensor.shape
        self.values = values
        self.scales = scales
    }

    /// q * scale, as `PackWeights` reads it back.
    func restored() -> [Float] {
        let run = scales.isEmpty ? 0 : values.count / scales.count
        return values.indices.map { Float(values[$0]) * scales[$0 / run] }
    }
}
