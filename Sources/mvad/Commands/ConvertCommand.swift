// `mvad convert`: a model folder into one .mvad pack (f32, f16 or int8 per channel), with a
// report of the sizes, the worst per-layer errors and the layers kept in floating point.

import Foundation
import MVADEngine
import MVADInspect
import MVADPack

enum ConvertCommand: Command {
    static let name = "convert"
    static let summary = "convert a model folder into a .mvad pack (f32, f16 or int8 weights)"

    static let specs = [
        OptionSpec(name: "--model", value: "DIR",
                   help: "model folder: unet/, vae/, controlnet/ or controllora/, "
                       + "prompt_embedding.safetensors, settings.json"),
        OptionSpec(name: "-o", value: "PACK", help: "the pack to write (replaced atomically)"),
        OptionSpec(name: "--weights", value: "f32|f16|int8|int8-block32",
                   help: "how weights are stored (default f32, lossless)"),
        OptionSpec(name: "--controllora", value: "separate|merged",
                   help: "a ControlLoRA as its own file over the shared UNet (default), or "
                       + "merged into a full ControlNet"),
        OptionSpec(name: "--no-fold", value: nil,
                   help: "store the prompt's attention weights and the time embedding instead "
                       + "of folding them for the prompt and the settings' timesteps"),
        OptionSpec(name: "--clip", value: "DIR",
                   help: "compute the prompt embedding with this local CLIP text encoder "
                       + "(SD pipeline root or text encoder + tokenizer folder) instead of "
                       + "reading prompt_embedding.safetensors; needs --prompt or --category"),
        OptionSpec(name: "--prompt", value: "TEXT", help: "the prompt for --clip"),
        OptionSpec(name: "--category", value: "C", help: "for --clip: the prompt 'A photo of a <C>'"),
        OptionSpec(name: "--bank", value: "BANK",
                   help: "store these memory banks (mvad bank build) in the pack, int8 per "
                       + "feature vector; they must have been built with the pack's settings "
                       + "and weights"),
        OptionSpec(name: "--bank-weights", value: "f32|f16|int8|int8-block32",
                   help: "the weights the --bank features were computed with, when not the "
                       + "pack's: f32 for banks of the float model (tools/train/build_bank.py); "
                       + "they are stored as the pack's, with their origin in the provenance"),
    ] + gateSpecs

    static let help = helpText(
        usage: "mvad convert --model DIR -o PACK.mvad [--weights f32|f16|int8|int8-block32] "
            + "[--controllora separate|merged] [--no-fold] [--bank BANK [--bank-weights W]]\n"
            + "       [--clip DIR (--prompt TEXT | --category C)]\n"
            + "       [--calibration-parts DIR [--calibration-count N] [--min-cosine C]]",
        summary: summary, specs: specs, details: """
        The pack holds unet.*, controlnet.* or controllora.*, vae.* (encoder and quant_conv
        only) and prompt.encoder_hidden_states, with the three config.json objects,
        settings.json and the CRC-32 of every source file in its metadata. A ControlLoRA is
        stored separate by default: its own file's tensors under controllora.*, merged over
        the unet.* encoder on load, so the encoder is stored once. --controllora merged
        stores a full ControlNet instead; the report gives the size of both forms.
        Pickled checkpoints (.bin, .ckpt, .pt) are refused: convert them to safetensors first.

        Folding (default): for a trained model the prompt and the inversion timesteps are
        constants, so every cross-attention's keys and values (context W_k^T, context W_v^T)
        and every ResNet's time projection at the settings.json timesteps (default
        \(MethodSettings().timesteps)) are computed once, in f32 from the float weights, and
        stored as f32 tables instead of to_k / to_v of attn2, the time embedding and
        time_emb_proj (and a separate ControlLoRA's LoRA factors on them). The pack then runs
        only those timesteps and that prompt; --no-fold keeps the weights.

        int8 stores every linear and conv weight of 1024 or more elements as int8 with one f32
        scale per output channel; biases, norms, smaller tensors, LoRA factors and the conv_in,
        conv_out and quant_conv layers stay f16. The report lists the ten layers with the
        largest relative L2 error ||stored - original|| / ||original|| and the layers kept in
        floating point.

        """ + "\n" + gateDetails)

    static func run(_ arguments: [String]) throws {
        let args = try ParsedArguments(arguments, specs: specs, command: name)
        try args.noPositional()
        let model = try args.required("--model")
        let output = try args.required("-o")
        let choices = ConversionOptions.Weights.allCases.map(\.rawValue)
        let choice = try args.choice("--weights", from: choices, default: "f32") ?? "f32"
        let weights = ConversionOptions.Weights(rawValue: choice) ?? .float32
        let forms = ConversionOptions.ControlLoRAStorage.allCases.map(\.rawValue)
        let form = try args.choice("--controllora", from: forms, default: "separate")
        let storage = form.flatMap(ConversionOptions.ControlLoRAStorage.init) ?? .separate

        var options = ConversionOptions(weights: weights, controlLoRA: storage,
                                        fold: !args.has("--no-fold"),
                                        defaultTimesteps: MethodSettings().timesteps)
        if let clip = args.string("--clip") {
            let text: String
            switch (args.string("--prompt"), args.string("--category")) {
            case let (prompt?, nil): text = prompt
            case let (nil, category?): text = PromptEmbedding.prompt(category: category)
            default:
                throw UsageError(message: "convert: --clip needs exactly one of --prompt and --category")
            }
            let embedding = try PromptEmbedding.compute(prompt: text, clipFolder: clip)
            options.prompt = (embedding.hiddenStates, text)
            print("prompt: '\(text)', \(embedding.tokenCount) tokens, encoded with \(clip)")
        } else if args.string("--prompt") != nil || args.string("--category") != nil {
            throw UsageError(message: "convert: --prompt and --category need --clip DIR")
        }
        let bankWeights = try args.string("--bank-weights").map { name in
            guard let parsed = ConversionOptions.Weights(rawValue: name) else {
                throw UsageError(message: "convert: --bank-weights must be f32, f16, int8 or "
                                     + "int8-block32, got '\(name)'")
            }
            return parsed
        }
        let banks = try args.string("--bank").map { try BankFile(path: $0) }
        if let banks {
            options.attachments = [try bankAttachment(banks, modelFolder: model, weights: weights,
                                                      builtWith: bankWeights)]
        } else if bankWeights != nil {
            throw UsageError(message: "convert: --bank-weights needs --bank")
        }
        try InspectSupport.checkWritable(output, what: "pack")
        let gate = try qualityGate(args, modelFolder: model)
        let report: ConversionReport
        if let gate {
            let checked = try runGate(gate.gate, minimum: gate.minimum, modelFolder: model,
                                      output: output, options: options)
            report = checked.report
        } else {
            report = try PackConverter.convert(modelFolder: model, output: output,
                                               options: options)
        }
        printSizes(report)
        printFolding(report)
        printWorstLayers(report)
        printKeptFloat(report)
        if let banks {
            print("")
            printBanks(banks)
        }
    }

    /// The banks as a pack attachment, refused unless each was built with the model
    /// folder's settings and with weights stored as this conversion stores them, or as
    /// `builtWith` says (then they are relabelled as the pack's).
    static func bankAttachment(_ banks: BankFile, modelFolder: String,
                               weights: ConversionOptions.Weights,
                               builtWith: ConversionOptions.Weights? = nil) throws -> PackAttachment {
        let path = banks.path ?? "the bank file"
        let settingsPath = modelFolder + "/settings.json"
        var settings = MethodSettings()
        if FileManager.default.fileExists(atPath: settingsPath) {
            settings = try MethodSettings.read(
                json: try Data(contentsOf: URL(fileURLWithPath: settingsPath)), path: settingsPath)
        }
        // The two mistakes the weights check meets most: a float-built bank (GPU builder)
        // without --bank-weights, and --bank-weights again on a bank that already fits.
        let found = Set(banks.banks.values.compactMap { $0.settings["weights"] })
        if found.count == 1, let built = found.first, built != (builtWith ?? weights).rawValue {
            if let builtWith {
                throw CommandFailure("convert: the banks in \(path) hold features of \(built) "
                                     + "weights, not \(builtWith.rawValue) as --bank-weights says"
                                     + (built == weights.rawValue
                                        ? "; they already fit this pack: drop --bank-weights" : ""))
            }
            throw CommandFailure("convert: the banks in \(path) hold features of \(built) "
                                 + "weights, but this pack stores \(weights.rawValue): add "
                                 + "--bank-weights \(built) to store them anyway (their origin "
                                 + "stays in their provenance), or build them with the pack "
                                 + "(mvad bank build --model PACK)")
        }
        try banks.requireBuilt(with: settings, weights: (builtWith ?? weights).rawValue)
        let stored = builtWith == nil ? banks : try banks.relabelled(weights: weights.rawValue)
        return try stored.packAttachment()
    }

    /// One line per stored bank: size, and the weights its features were computed with.
    private static func printBanks(_ banks: BankFile) {
        for modality in banks.banks.keys.sorted() {
            guard let bank = banks.banks[modality] else { continue }
            let origin = bank.settings["weights"].map { " (features of \($0) weights)" } ?? ""
            print("banks stored: \(modality.rawValue) \(bank.count) x \(bank.channels), "
                  + "int8 per vector" + origin)
        }
        print("threshold: " + (banks.threshold.map { String($0) } ?? "none (mvad calibrate)"))
    }

    private static func printFolding(_ report: ConversionReport) {
        guard let folding = report.folding else {
            print("\nfolding: off (--no-fold); every weight is stored")
            return
        }
        print("\nfolded for timesteps \(folding.timesteps) and the prompt:")
        print("  removed " + megabytes(folding.removedBytes)
              + "  \(folding.removedTensors) tensors (attn2 to_k/to_v, time embedding, "
              + "time_emb_proj, LoRA factors on them)")
        print("  added   " + megabytes(folding.addedBytes)
              + "  \(folding.addedTensors) folded f32 tensors (keys/values, time tables)")
    }

    private static func printSizes(_ report: ConversionReport) {
        print("wrote \(report.output): \(report.layers.count) tensors, "
              + "weights \(choiceName(report))"
              + (report.control.map { ", control \($0)" } ?? ""))
        print("\nsizes:")
        for file in report.sourceFiles {
            print("  source  " + megabytes(file.bytes) + "  " + file.path
                  + String(format: "  crc32 %08x", file.crc32))
        }
        print("  source  " + megabytes(report.sourceBytes) + "  all source files")
        print("  f32     " + megabytes(report.float32Bytes)
              + "  the converted tensors at f32 (VAE decoder left out)")
        let ratio = Double(report.packBytes) / Double(max(report.float32Bytes, 1))
        print("  pack    " + megabytes(report.packBytes)
              + String(format: "  %.1f%% of f32", 100 * ratio))
        if let sizes = report.controlLoRASizes { printControlLoRASizes(sizes) }
    }

    private static func printControlLoRASizes(_ sizes: ConversionReport.ControlLoRASizes) {
        let difference = megabytes(sizes.mergedBytes - sizes.separateBytes)
            .trimmingCharacters(in: .whitespaces)
        print("  lora    " + megabytes(sizes.separateBytes)
              + "  ControlLoRA separate: its own tensors and LoRA factors"
              + (sizes.stored == .separate ? " (stored)" : ""))
        print("  merged  " + megabytes(sizes.mergedBytes)
              + "  ControlLoRA merged: a full ControlNet"
              + (sizes.stored == .merged ? " (stored)" : ""))
        print(sizes.stored == .separate
              ? "  merged would add \(difference) to the pack"
              : "  separate would save \(difference) (--controllora separate)")
    }

    private static func printWorstLayers(_ report: ConversionReport) {
        let worst = report.worstLayers(10)
        print("\nlargest relative L2 errors (stored vs original):")
        guard let first = worst.first, first.relativeL2 > 0 else {
            print("  none: every tensor is stored exactly")
            return
        }
        let width = worst.map(\.name.count).max() ?? 0
        for layer in worst {
            print("  " + layer.name.padding(toLength: width + 2, withPad: " ", startingAt: 0)
                  + layer.storage.padding(toLength: 12, withPad: " ", startingAt: 0)
                  + String(format: "%.3e  ", layer.relativeL2) + "\(layer.shape)")
        }
    }

    /// Most tensors named per reason in the kept-float list.
    static let listedLimit = 20

    private static func printKeptFloat(_ report: ConversionReport) {
        guard !report.keptFloat.isEmpty else { return }
        print("\nkept in floating point:")
        for reason in KeptFloatReason.allCases {
            let kept = report.keptFloat.filter { $0.reason == reason }
            guard !kept.isEmpty else { continue }
            print("  \(reason.rawValue): \(kept.count) tensor" + (kept.count == 1 ? "" : "s"))
            // Biases, norm scales, LoRA factors and folded tables are many and expected; name
            // only the rest, up to a limit.
            guard reason != .vector, reason != .loraFactor, reason != .folded else { continue }
            for tensor in kept.prefix(listedLimit) {
                print("    \(tensor.name) (\(tensor.dtype))")
            }
            if kept.count > listedLimit { print("    ... and \(kept.count - listedLimit) more") }
        }
    }

    private static func choiceName(_ report: ConversionReport) -> String {
        switch report.weights {
        case .float32: return "f32"
        case .float16: return "f16"
        case .int8PerChannel: return "int8 per output channel (other tensors f16)"
        case .int8Blocks32:
            return "int8, linear weights per block of 32 inputs, convolutions per output channel"
        }
    }

    private static func megabytes(_ bytes: Int) -> String {
        String(format: "%9.3f MB", Double(bytes) / 1_000_000)
    }
}
