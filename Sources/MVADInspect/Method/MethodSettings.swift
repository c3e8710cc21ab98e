// The method's settings, stored with every model and bank rather than written as constants:
// image size, DDIM timesteps, feature blocks and grid, scoring (top-k, blur, weights).
// Defaults are the public PyTorch implementation's (PIPELINE.md).

import Foundation

/// Which views a part is inspected with.
public enum Modality: String, Codable, Sendable, CaseIterable {
    /// Six lights and the normal map, each branch conditioned on the other (the method).
    case both
    /// The six lights only, UNet without ControlNet (a station without a 3D sensor).
    case rgb
    /// The normal map only, UNet without ControlNet.
    case normals
}

/// diffusers' DDIMScheduler configuration (the fields the inversion uses).
public struct SchedulerSettings: Codable, Sendable, Equatable {
    public var numTrainTimesteps = 1000
    public var betaStart: Double = 0.00085
    public var betaEnd: Double = 0.012
    public var betaSchedule = "scaled_linear"
    public var setAlphaToOne = false
    public var stepsOffset = 1
    public var predictionType = "epsilon"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case numTrainTimesteps = "num_train_timesteps", betaStart = "beta_start"
        case betaEnd = "beta_end", betaSchedule = "beta_schedule"
        case setAlphaToOne = "set_alpha_to_one", stepsOffset = "steps_offset"
        case predictionType = "prediction_type"
    }

    public init() {}
}

public struct MethodSettings: Codable, Sendable, Equatable {
    /// Views are resized to image_size x image_size.
    public var imageSize = 256
    /// DDIM inversion timesteps, ascending; each step goes from t - stepSize to t.
    public var timesteps = [1, 21, 41, 61, 81]
    /// Distance between DDIM timesteps (1000 / 50 inference steps).
    public var stepSize = 20
    /// Decoder blocks (up_blocks indices) whose outputs form the features.
    public var featureBlocks = [2]
    /// Features are resized (bicubic) to grid x grid before concatenation.
    public var gridSize = 32
    /// Image score = mean of the top_k largest grid distances.
    public var topK = 3
    /// Gaussian blur of the pixel maps, in pixels.
    public var blurSigma: Double = 4
    /// Fused score = rgbWeight * s_rgb + normalsWeight * s_normals.
    public var rgbWeight: Double = 1
    public var normalsWeight: Double = 1
    /// ControlNet conditioning scale.
    public var conditioningScale: Float = 1
    public var scheduler = SchedulerSettings()

    enum CodingKeys: String, CodingKey, CaseIterable {
        case imageSize = "image_size", timesteps, stepSize = "step_size"
        case featureBlocks = "feature_blocks", gridSize = "grid_size", topK = "top_k"
        case blurSigma = "blur_sigma", rgbWeight = "rgb_weight", normalsWeight = "normals_weight"
        case conditioningScale = "conditioning_scale", scheduler
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = MethodSettings()
        imageSize = try c.decodeIfPresent(Int.self, forKey: .imageSize) ?? d.imageSize
        timesteps = try c.decodeIfPresent([Int].self, forKey: .timesteps) ?? d.timesteps
        stepSize = try c.decodeIfPresent(Int.self, forKey: .stepSize) ?? d.stepSize
        featureBlocks = try c.decodeIfPresent([Int].self, forKey: .featureBlocks) ?? d.featureBlocks
        gridSize = try c.decodeIfPresent(Int.self, forKey: .gridSize) ?? d.gridSize
        topK = try c.decodeIfPresent(Int.self, forKey: .topK) ?? d.topK
        blurSigma = try c.decodeIfPresent(Double.self, forKey: .blurSigma) ?? d.blurSigma
        rgbWeight = try c.decodeIfPresent(Double.self, forKey: .rgbWeight) ?? d.rgbWeight
        normalsWeight = try c.decodeIfPresent(Double.self, forKey: .normalsWeight) ?? d.normalsWeight
        conditioningScale = try c.decodeIfPresent(Float.self, forKey: .conditioningScale)
            ?? d.conditioningScale
        scheduler = try c.decodeIfPresent(SchedulerSettings.self, forKey: .scheduler) ?? d.scheduler
    }

    /// Checks every value, naming the first bad one.
    public func validate() throws {
        func bad(_ key: String, _ problem: String) -> SettingsError {
            SettingsError(key: key, problem: problem)
        }
        guard imageSize >= 8 else { throw bad("image_size", "must be at least 8, got \(imageSize)") }
        guard !timesteps.isEmpty else { throw bad("timesteps", "must not be empty") }
        guard zip(timesteps, timesteps.dropFirst()).allSatisfy({ $0 < $1 }),
              let first = timesteps.first, let last = timesteps.last, first >= 0,
              last < scheduler.numTrainTimesteps else {
            throw bad("timesteps", "must ascend within 0..<\(scheduler.numTrainTimesteps), "
                      + "got \(timesteps)")
        }
        guard stepSize > 0 else { throw bad("step_size", "must be positive, got \(stepSize)") }
        guard !featureBlocks.isEmpty, featureBlocks.allSatisfy({ $0 >= 0 }) else {
            throw bad("feature_blocks", "must list decoder block indices >= 0, got \(featureBlocks)")
        }
        guard gridSize >= 1 else { throw bad("grid_size", "must be positive, got \(gridSize)") }
        guard topK >= 1, topK <= gridSize * gridSize else {
            throw bad("top_k", "must be in 1...\(gridSize * gridSize), got \(topK)")
        }
        guard blurSigma >= 0 else { throw bad("blur_sigma", "must be >= 0, got \(blurSigma)") }
        guard rgbWeight >= 0, normalsWeight >= 0 else {
            throw bad("rgb_weight/normals_weight", "must be >= 0")
        }
        guard scheduler.betaSchedule == "scaled_linear" || scheduler.betaSchedule == "linear" else {
            throw bad("scheduler.beta_schedule", "must be scaled_linear or linear, got "
                      + scheduler.betaSchedule)
        }
        guard scheduler.predictionType == "epsilon" else {
            throw bad("scheduler.prediction_type", "must be epsilon, got \(scheduler.predictionType)")
        }
    }

    /// The settings a memory bank depends on, as strings, to refuse a bank built otherwise.
    /// The features of `.both` come from UNet + ControlNet, those of `.rgb` / `.normals` from
    /// the UNet alone, so the feature source is one of them.
    public func bankDependencies(for modality: Modality) -> [String: String] {
        ["image_size": "\(imageSize)", "timesteps": "\(timesteps)", "step_size": "\(stepSize)",
         "feature_blocks": "\(featureBlocks)", "grid_size": "\(gridSize)",
         "conditioning_scale": "\(conditioningScale)",
         "feature_source": modality == .both ? "unet+controlnet" : "unet"]
    }

    /// The scoring options these settings imply.
    public var scoringOptions: ScoringOptions {
        var options = ScoringOptions()
        options.topK = topK
        options.rgbWeight = rgbWeight
        options.normalsWeight = normalsWeight
        options.imageSize = imageSize
        options.blurSigma = blurSigma
        return options
    }
}

extension MethodSettings {
    /// Reads a settings.json strictly: unknown keys (with the closest known one), wrong types
    /// and out-of-range values are errors naming the file and the key. Absent keys keep their
    /// defaults.
    public static func read(json data: Data, path: String) throws -> MethodSettings {
        func fail(_ key: String, _ problem: String) -> SettingsError {
            SettingsError(key: key, problem: problem + " (in \(path))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw fail("(file)", "is not a JSON object")
        }
        try checkKeys(object.keys, known: CodingKeys.allCases.map(\.rawValue), prefix: "", fail)
        if let scheduler = object["scheduler"] as? [String: Any] {
            try checkKeys(scheduler.keys, known: SchedulerSettings.CodingKeys.allCases.map(\.rawValue),
                          prefix: "scheduler.", fail)
        }
        // Foundation reports a fractional number for an integer field as invalid JSON without
        // naming the key, so whole-number fields are checked here first.
        for key in ["image_size", "step_size", "grid_size", "top_k", "timesteps", "feature_blocks"] {
            guard let value = object[key] else { continue }
            let numbers = (value as? [Any]) ?? [value]
            for number in numbers {
                guard number as? Int != nil else {
                    throw fail(key, "must be a whole number" + (value is [Any] ? " list" : "")
                               + ", got \(number)")
                }
            }
        }
        let settings: MethodSettings
        do {
            settings = try JSONDecoder().decode(MethodSettings.self, from: data)
        } catch let DecodingError.typeMismatch(type, context) {
            throw fail(keyPath(context), "must be a \(typeName(type))")
        } catch let DecodingError.dataCorrupted(context) {
            throw fail(keyPath(context), "has a value of the wrong kind (\(context.debugDescription))")
        } catch let DecodingError.valueNotFound(type, context) {
            throw fail(keyPath(context), "must be a \(typeName(type)), not null")
        }
        do {
            try settings.validate()
        } catch let error as SettingsError {
            throw fail(error.key, error.problem)
        }
        return settings
    }

    private static func checkKeys(_ keys: Dictionary<String, Any>.Keys, known: [String],
                                  prefix: String, _ fail: (String, String) -> SettingsError) throws {
        for key in keys.sorted() where !known.contains(key) {
            let closest = known.min { distance($0, key) < distance($1, key) } ?? ""
            throw fail(prefix + key, "is not a setting; did you mean '\(prefix + closest)'? "
                       + "Known: \(known.joined(separator: ", "))")
        }
    }

    private static func keyPath(_ context: DecodingError.Context) -> String {
        context.codingPath.map(\.stringValue).joined(separator: ".")
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "whole number"
        case is Double.Type, is Float.Type: return "number"
        case is [Int].Type: return "list of whole numbers"
        case is String.Type: return "string"
        case is Bool.Type: return "true or false"
        default: return "\(type)"
        }
    }

    /// Levenshtein distance, for "did you mean".
    private static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1,
                                 previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// A setting with a value the method cannot use.
public struct SettingsError: Error, CustomStringConvertible, Equatable {
    public let key: String
    public let problem: String
    public var description: String { "setting '\(key)' \(problem)" }
}
