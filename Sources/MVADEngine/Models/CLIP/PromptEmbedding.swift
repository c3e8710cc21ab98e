// The UNet's text conditioning: the CLIP embedding of the prompt, computed as diffusers'
// StableDiffusionPipeline.encode_prompt does (the Swift twin of tools/reference/export_prompt.py).

/// The prompt embedding [1, L, D] (77 x 768 for SD v1.4) and how it was made.
public struct PromptEmbedding: Sendable {
    /// encoder_hidden_states [1, L, D], float32.
    public let hiddenStates: Tensor
    /// The prompt encoded.
    public let prompt: String
    /// Tokens of the prompt with the start and end tokens, before padding; at most L.
    public let tokenCount: Int
    /// Tokens the prompt had before truncation (more than L when it was truncated).
    public let untruncatedTokenCount: Int
    /// The padded, truncated ids the text encoder ran on.
    public let ids: [Int]

    /// The name of the tensor in a prompt embedding file (what the model folder and pack read).
    public static let tensorName = "encoder_hidden_states"
    /// The method's prompt for an object category.
    public static func prompt(category: String) -> String { "A photo of a \(category)" }

    /// Encodes `prompt` with the CLIP text encoder and tokenizer under `clipFolder` (an SD
    /// pipeline root or a folder holding both):
    ///
    /// - tokenise, padded to the tokenizer's model_max_length with its pad token and
    ///   truncated to it keeping the end token;
    /// - run the text encoder in float32 without an attention mask (SD v1.x text encoders use
    ///   none; the padding tokens take part as in diffusers);
    /// - keep last_hidden_state.
    public static func compute(prompt: String, clipFolder: String,
                               compute: Compute = Compute()) throws -> PromptEmbedding {
        let folder = try CLIPFolder(clipFolder)
        let tokenizer = try folder.tokenizer()
        let model = try folder.textModel()
        return try encode(prompt, tokenizer: tokenizer, model: model,
                          tokenizerFolder: folder.tokenizerFolder, compute: compute)
    }

    /// As `compute(prompt:clipFolder:compute:)` with the halves already loaded.
    public static func encode(_ prompt: String, tokenizer: CLIPTokenizer, model: CLIPTextModel,
                              tokenizerFolder: String = "the tokenizer",
                              compute: Compute = Compute()) throws -> PromptEmbedding {
        let positions = model.config.maxPositionEmbeddings
        guard let length = tokenizer.maxLength else {
            throw CLIPFolderError.noMaxLength(folder: tokenizerFolder, positions: positions)
        }
        guard length <= positions else {
            throw CLIPFolderError.maxLengthExceedsPositions(
                folder: tokenizerFolder, maxLength: length, positions: positions)
        }
        let untruncated = tokenizer.encode(prompt).count
        let ids = tokenizer.encode(prompt, paddedTo: length)
        let states = try model.lastHiddenState(ids: ids, compute: compute)    // [1, L, D]
        return PromptEmbedding(hiddenStates: states, prompt: prompt,
                               tokenCount: min(untruncated, length),
                               untruncatedTokenCount: untruncated, ids: ids)
    }

    /// Whether the prompt was cut to fit (diffusers truncates silently; callers may warn).
    public var wasTruncated: Bool { untruncatedTokenCount > tokenCount }

    /// Writes `encoder_hidden_states` and `metadata` to a safetensors file, atomically, the
    /// layout export_prompt.py writes.
    public func write(to path: String, metadata: [String: String]) throws {
        try SafeTensorsWriter.write([(Self.tensorName, hiddenStates)], metadata: metadata,
                                    to: path)
    }
}
