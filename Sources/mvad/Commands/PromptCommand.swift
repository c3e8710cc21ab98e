// `mvad prompt`: the CLIP text embedding of "A photo of a <Category>" (or of any prompt) for a
// model folder's prompt_embedding.safetensors; the Swift twin of tools/reference/export_prompt.py.

import Foundation
import MVADEngine

enum PromptCommand: Command {
    static let name = "prompt"
    static let summary = "write the CLIP text embedding of a prompt (prompt_embedding.safetensors)"

    static let specs = [
        OptionSpec(name: "--clip", value: "DIR",
                   help: "SD pipeline root (text_encoder/ + tokenizer/) or a folder holding a "
                       + "CLIPTextModel and a CLIPTokenizer"),
        OptionSpec(name: "--category", value: "C",
                   help: "object category; the prompt is 'A photo of a <C>'"),
        OptionSpec(name: "--prompt", value: "TEXT", help: "the prompt text, used as given"),
        OptionSpec(name: "-o", value: "FILE",
                   help: "output file, e.g. prompt_embedding.safetensors (replaced atomically)"),
        OptionSpec(name: "--threads", value: "N", help: "worker threads (default: all cores)"),
    ]

    static let help = helpText(
        usage: "mvad prompt --clip DIR (--category C | --prompt TEXT) -o FILE",
        summary: summary, specs: specs, details: """
        Computes encoder_hidden_states [1, L, D] (77 x 768 for SD v1.4) as diffusers'
        StableDiffusionPipeline.encode_prompt does: the prompt is tokenised with CLIP's BPE,
        padded to the tokenizer's model_max_length and truncated to it, and the text encoder
        runs in float32 without an attention mask; last_hidden_state is kept. The file holds
        that one float32 tensor and the metadata prompt, category (with --category),
        clip_folder (as given), generator and mvad, as tools/reference/export_prompt.py
        writes it. Weights must be safetensors (model.safetensors, sharded, or the fp16
        variant); pickled weights (pytorch_model.bin) are refused.
        """)

    /// The output's folder is missing: the command fails (exit 1) before any work.
    struct OutputFolderMissing: Error, CustomStringConvertible {
        let description: String
    }

    static func run(_ arguments: [String]) throws {
        let args = try ParsedArguments(arguments, specs: specs, command: name)
        try args.noPositional()
        let clip = try args.required("--clip")
        let output = try args.required("-o")
        let prompt = try promptText(args)
        let threads = try args.int("--threads", range: 1...1024)

        let folder = (output as NSString).deletingLastPathComponent
        let outputFolder = folder.isEmpty ? "." : folder
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: outputFolder, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            throw OutputFolderMissing(
                description: "\(output): the folder \(outputFolder) does not exist")
        }

        let embedding = try PromptEmbedding.compute(prompt: prompt, clipFolder: clip,
                                                    compute: Compute(threads: threads))
        if embedding.wasTruncated {
            printError("warning: the prompt has \(embedding.untruncatedTokenCount) tokens; "
                       + "truncated to \(embedding.tokenCount) as diffusers does")
        }
        var metadata = ["prompt": prompt, "clip_folder": clip, "generator": "mvad prompt",
                        "mvad": MVADVersion.current]
        if let category = args.string("--category") { metadata["category"] = category }
        try embedding.write(to: output, metadata: metadata)
        let shape = embedding.hiddenStates.shape.map(String.init).joined(separator: ", ")
        print("wrote \(output): \(PromptEmbedding.tensorName) [\(shape)] float32, prompt "
              + "\(prompt.debugDescription) (\(embedding.tokenCount) tokens with start/end)")
    }

    /// The prompt from exactly one of --category and --prompt, neither empty.
    private static func promptText(_ args: ParsedArguments) throws -> String {
        switch (args.string("--category"), args.string("--prompt")) {
        case let (category?, nil):
            guard !category.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw UsageError(message: "\(name): --category must not be empty")
            }
            return PromptEmbedding.prompt(category: category)
        case let (nil, prompt?):
            guard !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw UsageError(message: "\(name): --prompt must not be empty")
            }
            return prompt
        case (.some, .some):
            throw UsageError(message: "\(name): give --category or --prompt, not both")
        case (nil, nil):
            throw UsageError(message: "\(name): --category or --prompt is required "
                             + "(see mvad \(name) --help)")
        }
    }
}
