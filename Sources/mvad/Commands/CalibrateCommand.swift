// `mvad calibrate`: a verdict threshold from sample good (and bad) parts, stored with the
// banks together with how it was chosen.

import Foundation
import MVADCapture
import MVADEngine
import MVADInspect
import MVADPack
import MVADStation

enum CalibrateCommand: Command {
    static let name = "calibrate"
    static let summary = "choose the verdict threshold from good (and bad) sample parts"

    static let specs = [
        InspectSupport.modelOption,
        InspectSupport.bankOption,
        OptionSpec(name: "--good", value: "DIR", help: "good sample parts (a folder of parts)"),
        OptionSpec(name: "--bad", value: "DIR", help: "known bad parts (optional)"),
        OptionSpec(name: "--strategy", value: "S",
                   help: CalibrationStrategy.allCases.map(\.rawValue).joined(separator: " | ")
                       + " (default automatic)"),
        OptionSpec(name: "--margin", value: "M",
                   help: "relative margin over the highest good score, 0...1 (default 0.05)"),
        OptionSpec(name: "--target-false-reject", value: "R",
                   help: "false-reject rate for the quantile strategy (default 0.01)"),
        OptionSpec(name: "-o", value: "BANK",
                   help: "bank file to write (default: --bank, replaced; needed with a pack's banks)"),
        OptionSpec(name: "--csv", value: "FILE", help: "write one line per part: id,label,score,verdict"),
        OptionSpec(name: "--plot", value: "FILE.png",
                   help: "write the score histogram (good green, bad red, threshold white, margin "
                       + "band shaded) and, with bad parts, the ROC curve"),
        OptionSpec(name: "--profile", value: "P",
                   help: "live: take the sample parts through this station profile's camera and "
                       + "lights (or replay folder), one per prompt on the terminal"),
        OptionSpec(name: "--good-count", value: "N", help: "live: good parts to take"),
        OptionSpec(name: "--bad-count", value: "M", help: "live: bad parts to take (default 0)"),
        OptionSpec(name: "--write-profile", value: nil,
                   help: "live: write the threshold into the profile's model.threshold"),
        InspectSupport.modalityOption,
        InspectSupport.threadsOption,
    ]

    static let help = helpText(
        usage: "mvad calibrate --model M [--bank BANK] --good DIR [--bad DIR] [-o BANK]\n"
            + "       mvad calibrate --profile P --good-count N [--bad-count M] "
            + "[--write-profile] [-o BANK]",
        summary: summary, specs: specs, details: """
        Scores every sample part with the model and bank, then chooses the threshold (a part
        fails when its score is at or above it). automatic: with bad parts that separate from
        the good ones, the midpoint of the gap; when they overlap, Youden's J; with good parts
        only, the highest good score plus the margin. The quantile figures and their
        confidence bound are always reported: with 20 good parts a 1 % false-reject rate
        cannot be shown. Parts whose views fail to load are skipped and listed, never scored.
        The threshold and its provenance (date, counts, strategy, statistics) are written
        into the bank file, so `mvad inspect` uses and reports them.
        Live (--profile): the model and banks are the profile's, and each part is taken the
        way the station takes it, after a prompt on standard error: Enter takes the part, s
        skips it, q stops that label; the end of standard input stops. --write-profile sets
        model.threshold in the profile (every other value kept, the file rewritten with
        sorted keys; the provenance then lives only in the -o bank file, if given); give
        --write-profile, -o BANK, or both. In replay, a part whose mask marks it defective
        but is taken as good (or the reverse) is reported with a warning.
        """)

    static func run(_ arguments: [String]) throws {
        let args = try ParsedArguments(arguments, specs: specs, command: name)
        try args.noPositional()
        if args.string("--profile") != nil { return try runLive(args) }
        for live in ["--good-count", "--bad-count", "--write-profile"]
        where args.has(live) || args.string(live) != nil {
            throw UsageError(message: "calibrate: \(live) goes with --profile")
        }
        let modality = try InspectSupport.modality(args)
        let options = try options(args)
        let compute = Compute(threads: try args.int("--threads", range: 1...256))
        let modelPath = try args.required("--model")
        let bankPath = args.string("--bank")
        let goodPath = try args.required("--good")
        guard let output = args.string("-o") ?? bankPath else {
            throw UsageError(message: "calibrate: the banks come from the pack \(modelPath), which "
                             + "is not rewritten; name the bank file to write with -o BANK (then "
                             + "store it with mvad convert --bank, or inspect with --bank)")
        }
        try InspectSupport.checkWritable(output, what: "bank file")
        if let csv = args.string("--csv") { try InspectSupport.checkWritable(csv, what: "CSV file") }
        if let plot = args.string("--plot") {
            guard plot.lowercased().hasSuffix(".png") else {
                throw UsageError(message: "calibrate: --plot writes a PNG; name it *.png, got \(plot)")
            }
            try InspectSupport.checkWritable(plot, what: "plot")
        }

        let goodParts = try InspectSupport.parts(at: goodPath, category: nil, split: .val)
        let badPath = args.string("--bad")
        let badParts = try badPath.map {
            try InspectSupport.parts(at: $0, category: nil, split: .val)
        } ?? []
        if let badPath {
            try checkDisjoint(goodParts, badParts, good: goodPath, bad: badPath)
        }

        var banks = try InspectSupport.banks(args, modelPath: modelPath, command: name)
        let model = try InspectSupport.loadModel(modelPath)
        let inspector = try Inspector(model: model, banks: banks, modality: modality, compute: compute)
        let good = try score(goodParts, from: goodPath, label: "good", inspector: inspector,
                             model: model, modality: modality)
        let bad = try badPath.map {
            try score(badParts, from: $0, label: "bad", inspector: inspector, model: model,
                      modality: modality)
        } ?? []
        let result = try ThresholdCalibration.calibrate(good: good, bad: bad, options: options)

        banks.threshold = result.threshold
        for (key, value) in result.provenance { banks.provenance["calibration." + key] = value }
        banks.provenance["threshold_source"] = "mvad calibrate"
        try banks.write(to: output)
        try writeExtras(args, good: good, bad: bad, result: result)
        print(report(result, output: output))
    }

    static func options(_ args: ParsedArguments) throws -> CalibrationOptions {
        let strategyName = try args.choice("--strategy", from: CalibrationStrategy.allCases.map(\.rawValue),
                                           default: CalibrationStrategy.automatic.rawValue)
        let options = CalibrationOptions(
            strategy: CalibrationStrategy(rawValue: strategyName ?? "") ?? .automatic,
            margin: Double(try args.float("--margin", default: 0.05) ?? 0.05),
            targetFalseRejectRate: Double(try args.float("--target-false-reject", default: 0.01) ?? 0.01))
        do {
            try ThresholdCalibration.check(options)   // before any part is scored
        } catch {
            throw UsageError(message: "calibrate: \(error)")
        }
        return options
    }

    /// `--profile P`: sample parts taken live through the station's part source.
    static func runLive(_ args: ParsedArguments) throws {
        for folderOption in ["--model", "--bank", "--good", "--bad", "--modality"]
        where args.string(folderOption) != nil {
            throw UsageError(message: "calibrate: \(folderOption) is for recorded parts; with "
                             + "--profile the model, banks and views come from the profile")
        }
        guard let goodCount = try args.int("--good-count", range: 1...100_000) else {
            throw UsageError(message: "calibrate: --profile needs --good-count N")
        }
        let badCount = try args.int("--bad-count", range: 0...100_000) ?? 0
        let output = args.string("-o")
        guard output != nil || args.has("--write-profile") else {
            throw UsageError(message: "calibrate: say where the threshold goes: --write-profile, "
                             + "-o BANK, or both")
        }
        if let output { try InspectSupport.checkWritable(output, what: "bank file") }
        let options = try options(args)
        let profilePath = try args.required("--profile")
        let profile: StationProfile
        do {
            profile = try StationProfile.load(path: profilePath)
        } catch {
            throw CommandFailure(ProfileCommand.report(error))
        }
        InspectSupport.log("station '\(profile.station)': loading model \(profile.model.path)")
        let inspection = try PartInspection(profile: profile.model, requireThreshold: false)
        let source = try RunCommand.partSource(profile, system: LinuxSystemCalls())
        var live = LiveCalibration(source: source, inspection: inspection) { prompt in
            FileHandle.standardError.write(Data(("mvad: " + prompt + " ").utf8))
            return readLine()
        }
        let good = live.collect(label: "good", count: goodCount)
        let bad = live.collect(label: "bad", count: badCount)   // at once empty after EOF
        for skipped in good.skipped + bad.skipped {
            InspectSupport.log("not scored: \(skipped.name): \(skipped.reason)")
        }
        for contradiction in good.contradicted + bad.contradicted {
            InspectSupport.log("warning: " + contradiction)
        }
        guard !good.scored.isEmpty else {
            throw CommandFailure("no good part was scored, so no threshold was chosen; nothing "
                                 + "was written")
        }
        let result = try ThresholdCalibration.calibrate(good: good.scored, bad: bad.scored,
                                                        options: options)
        var written: [String] = []
        if let output {
            var banks: BankFile
            if let bank = profile.model.bank {
                banks = try BankFile(path: bank)
            } else {
                banks = try BankFile(pack: try PackFile(path: profile.model.path))
            }
            banks.threshold = result.threshold
            for (key, value) in result.provenance { banks.provenance["calibration." + key] = value }
            banks.provenance["threshold_source"] = "mvad calibrate --profile"
            try banks.write(to: output)
            written.append(output)
        }
        if args.has("--write-profile") {
            try StationProfile.writeThreshold(result.threshold, toProfileAt: profilePath)
            _ = try StationProfile.load(path: profilePath)      // still a valid profile
            written.append(profilePath + " (model.threshold)")
        }
        try writeExtras(args, good: good.scored, bad: bad.scored, result: result)
        print(report(result, output: written.joined(separator: " and ")))
    }

    static func writeExtras(_ args: ParsedArguments, good: [PartScore], bad: [PartScore],
                            result: CalibrationResult) throws {
        if let csv = args.string("--csv") {
            let text = ThresholdCalibration.partsCSV(good: good, bad: bad, threshold: result.threshold)
            try Data(text.utf8).write(to: URL(fileURLWithPath: csv), options: .atomic)
        }
        if let plot = args.string("--plot") {
            let roc = bad.isEmpty ? [] : try ThresholdCalibration.rocCurve(good: good, bad: bad)
            try ImageWriter.writePNG(CalibrationPicture.render(good: good, bad: bad, result: result,
                                                               roc: roc), path: plot)
        }
    }

    /// Image scores of every part under `path`; parts that fail to load are listed and skipped.
    /// A part given as both good and bad would make every threshold wrong for it; refuse,
    /// naming the parts that are the same (shared files, links or complete copies; see
    /// `PartViews.overlapping`).
    static func checkDisjoint(_ good: [PartViews], _ bad: [PartViews], good goodPath: String,
                              bad badPath: String) throws {
        let shared = PartViews.overlapping(good, bad)
        guard shared.isEmpty else {
            throw UsageError(message: "calibrate: \(shared.count) part(s) are in both --good "
                + "\(goodPath) and --bad \(badPath) (the same files, links or copies): "
                + shared.prefix(10).joined(separator: ", ") + (shared.count > 10 ? ", ..." : "")
                + "; a part is either good or bad")
        }
    }

    static func score(_ listed: [PartViews], from path: String, label: String,
                      inspector: Inspector, model: InspectionModel,
                      modality: Modality) throws -> [PartScore] {
        let (parts, bad) = InspectSupport.checkParts(listed, size: model.settings.imageSize,
                                                     modality: modality)
        for skipped in bad {
            InspectSupport.log("skipping \(label) part \(skipped.id): \(skipped.reason)")
        }
        if parts.isEmpty && !listed.isEmpty {
            throw CommandFailure("none of the \(listed.count) \(label) part(s) in \(path) could be "
                                 + "read (reasons above); nothing was written")
        }
        let progress = Progress(title: "calibrate (\(label))", total: parts.count)
        return try parts.enumerated().map { i, views in
            let part = try PartLoader.load(views, size: model.settings.imageSize, modality: modality,
                                           includeMask: false)
            let result = try inspector.inspect(part)
            progress.update(done: i + 1, item: views.id)
            return PartScore(id: views.id, score: result.score)
        }
    }

    static func report(_ r: CalibrationResult, output: String) -> String {
        var lines = [String(format: "threshold %.6g (strategy %@), written to %@", r.threshold,
                            r.strategy.rawValue, output),
                     String(format: "band [%.6g, %.6g]: any threshold there gives the same verdicts",
                            r.band.lower, r.band.upper),
                     String(format: "good parts %d: scores %.4g..%.4g, mean %.4g, sd %.3g; "
                            + "false rejects %d (%.1f %%)", r.goodCount, r.goodStatistics.min,
                            r.goodStatistics.max, r.goodStatistics.mean,
                            r.goodStatistics.standardDeviation, r.rates.falseRejects,
                            r.rates.falseRejectRate * 100)]
        if let bad = r.badStatistics {
            lines.append(String(format: "bad parts %d: scores %.4g..%.4g, mean %.4g; false accepts "
                                + "%d (%.1f %%)", r.badCount, bad.min, bad.max, bad.mean,
                                r.rates.falseAccepts, (r.rates.falseAcceptRate ?? 0) * 100))
        }
        lines.append(String(format: "false-reject rate at this threshold: at most %.1f %% at %.0f %% "
                            + "confidence (%d of %d good parts rejected)",
                            r.rates.falseRejectUpperBound * 100, r.quantile.confidence * 100,
                            r.rates.falseRejects, r.goodCount))
        if r.strategy != .goodQuantile {
            let q = r.quantile
            lines.append(String(format: "quantile rule for a %.3g %% false-reject rate: threshold "
                                + "%.6g, %d of %d rejected, at most %.1f %% at %.0f %% confidence",
                                q.targetFalseRejectRate * 100, q.threshold,
                                q.observedFalseRejects, r.goodCount,
                                q.falseRejectUpperBound * 100, q.confidence * 100))
        }
        lines += r.warnings.map { "warning: " + $0 }
        return lines.joined(separator: "\n")
    }
}
