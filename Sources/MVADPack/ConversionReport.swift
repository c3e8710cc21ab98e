// What `PackConverter` is asked to do (ConversionOptions), what it did (ConversionReport), and
// why it refuses a model folder (ConversionError).

import Foundation
import MVADEngine

/// How the converter stores the weights.
public struct ConversionOptions: Sendable {
    public enum Weights: String, Sendable, CaseIterable {
        /// Every tensor as f32: lossless.
        case float32 = "f32"
        /// Every weight as f16 (round to nearest even).
        case float16 = "f16"
        /// Linear [O, I] and conv [O, I, kh, kw] weights as int8 with an f32 scale per output
        /// channel; everything else (see `KeptFloatReason`) as f16.
        case int8PerChannel = "int8"
        /// As `int8PerChannel`, but linear weights whose input count is a multiple of 32 take
        /// one f32 scale per block of 32 inputs (smaller error; the runtime widens them to f32,
        /// so they run as float layers). Convolution weights stay per channel.
        case int8Blocks32 = "int8-block32"
    }

    /// How a controllora/ folder is stored.
    public enum ControlLoRAStorage: String, Sendable, CaseIterable {
        /// Its own tensors and LoRA factors under `controllora.`; loaders merge them over the
        /// pack's UNet encoder.
        case separate
        /// A full ControlNet under `controlnet.`, the LoRA merged into a copy of the encoder.
        case merged
    }

    public var weights: Weights
    public var controlLoRA: ControlLoRAStorage
    /// Fold the prompt's cross-attention keys and values and the time embedding at the
    /// settings' timesteps into f32 tables (`FoldedConstants`), dropping the weights they
    /// replace; false stores every weight as the source has it.
    public var fold: Bool
    /// The timesteps to fold when settings.json names none (the method's default timesteps);
    /// nil then makes a folding conversion fail with a message.
    public var defaultTimesteps: [Int]?
    /// Relative L2 error of a weight's int8 form (||restored - w|| / ||w||) above which the
    /// layer is measured as sensitive and kept f16 (`KeptFloatReason.sensitive`). At SD v1.4
    /// size the worst layer measures 8e-3 (the ControlNet's zero convolutions), well inside.
    public static let defaultSensitiveLayerLimit = 2e-2
    public var sensitiveLayerLimit = ConversionOptions.defaultSensitiveLayerLimit
    /// Extra tensors and metadata stored with the model (its memory banks).
    public var attachments: [PackAttachment] = []
    /// The prompt's encoder_hidden_states [1, L, D] when the caller computed it (from the
    /// prompt text and a CLIP text encoder); nil reads the folder's prompt_embedding.safetensors.
    public var prompt: (hiddenStates: Tensor, text: String)?

    public init(weights: Weights = .float32, controlLoRA: ControlLoRAStorage = .separate,
                fold: Bool = true, defaultTimesteps: [Int]? = nil) {
        self.weights = weights
        self.controlLoRA = controlLoRA
        self.fold = fold
        self.defaultTimesteps = defaultTimesteps
    }
}

/// Why a tensor stayed floating point in an int8 pack.
public enum KeptFloatReason: String, Sendable, CaseIterable {
    case vector = "1-D tensor (bias or norm scale)"
    case notAWeight = "not a .weight of a linear or conv layer"
    case small = "fewer than 1024 elements"
    case edgeLayer = "conv_in / conv_out / quant_conv: the model's first and last layers"
    case loraFactor = "LoRA factor (lora_A/B, lora_down/up): small, and rank-limited already"
    case conditioning = "prompt embedding: an input, not a weight"
    case sensitive = "int8 error above the sensitive-layer limit: measured, kept f16"
    case folded = "folded constant (prompt keys/values, time table): computed in f32"
}

/// What one conversion did.
public struct ConversionReport: Sendable {
    /// One stored tensor and the error its storage introduced.
    public struct Layer: Sendable {
        public let name: String
        public let shape: [Int]
        /// "f32", "f16" or "i8/channel".
        public let storage: String
        /// ||stored - original|| / ||original||, with stored read back as Float32.
        public let relativeL2: Double
    }

    /// A tensor an int8 conversion left in floating point.
    public struct KeptFloat: Sendable {
        public let name: String
        public let dtype: PackDType
        public let reason: KeptFloatReason
    }

    /// A source weight file and its zlib CRC-32.
    public struct SourceFile: Sendable {
        public let path: String          // relative to the model folder
        public let bytes: Int
        public let crc32: UInt32
    }

    /// The control model's tensor bytes in both ControlLoRA forms, at the pack's storage
    /// (data rounded up to the 64-byte alignment; table entries left out).
    public struct ControlLoRASizes: Sendable {
        public let stored: ConversionOptions.ControlLoRAStorage
        /// The ControlLoRA file's own tensors and LoRA factors.
        public let separateBytes: Int
        /// A full ControlNet: the UNet encoder copy with the LoRA merged, plus the own tensors.
        public let mergedBytes: Int
    }

    /// What folding removed and added (nil with `fold` off).
    public struct Folding: Sendable {
        public let timesteps: [Int]
        /// Source tensors not stored (to_k/to_v of attn2, the time embedding, time_emb_proj,
        /// and a separate ControlLoRA's LoRA factors on them), and their bytes at the pack's
        /// storage (data rounded up to the 64-byte alignment, scales included).
        public let removedTensors: Int
        public let removedBytes: Int
        /// Folded tensors stored instead, always f32, and their bytes.
        public let addedTensors: Int
        public let addedBytes: Int
    }

    /// The pack written (a gate that renames it updates this).
    public var output: String
    public let weights: ConversionOptions.Weights
    /// "controlnet", "controllora (LoRA separate)", "controllora (LoRA merged)" or nil without
    /// a control model.
    public let control: String?
    /// Both ControlLoRA forms' sizes, nil without a controllora/ folder.
    public let controlLoRASizes: ControlLoRASizes?
    public let sourceFiles: [SourceFile]
    /// Bytes of the converted tensors at f32 (the VAE decoder excluded).
    public let float32Bytes: Int
    /// Size of the written pack file.
    public let packBytes: Int
    /// Every stored tensor except scales, in pack order.
    public let layers: [Layer]
    public let keptFloat: [KeptFloat]
    public let folding: Folding?

    /// Total bytes of the source weight files.
    public var sourceBytes: Int { sourceFiles.reduce(0) { $0 + $1.bytes } }

    /// The `count` layers with the largest relative L2 error, worst first.
    public func worstLayers(_ count: Int) -> [Layer] {
        Array(layers.sorted { $0.relativeL2 > $1.relativeL2 }.prefix(count))
    }
}

/// A model folder the converter cannot use.
public enum ConversionError: Error, Equatable, CustomStringConvertible {
    case missingComponent(folder: String, problem: String)
    case invalidJSON(path: String, problem: String)
    case badPromptEmbedding(path: String, problem: String)
    case nonFiniteValue(tensor: String, index: Int, value: Float)
    case noTimestepsToFold(folder: String)

    public var description: String {
        switch self {
        case let .missingComponent(folder, problem):
            return "model folder \(folder) \(problem)."
        case let .invalidJSON(path, problem):
            return "\(path): \(problem)."
        case let .badPromptEmbedding(path, problem):
            return "\(path): the prompt embedding \(problem)."
        case let .nonFiniteValue(tensor, index, value):
            return "tensor '\(tensor)' holds \(value) at element \(index); a pack stores only "
                + "finite weights, so the checkpoint is broken or was saved from a diverged run."
        case let .noTimestepsToFold(folder):
            return "model folder \(folder): settings.json names no 'timesteps' and no default "
                + "was given, so the time embedding cannot be folded; add them, or convert "
                + "with --no-fold."
        }
    }
}
