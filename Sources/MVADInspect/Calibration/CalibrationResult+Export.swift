// What a calibration hands on: a per-part CSV with verdicts, and the provenance keys stored
// with a bank.

import Foundation

extension ThresholdCalibration {
    /// A CSV with the header `id,label,score,verdict`, good parts first, then bad parts, each
    /// in input order. The verdict is `fail` when score >= threshold, else `pass`. Ids holding
    /// a comma, quote or line break are quoted, with inner quotes doubled (RFC 4180).
    public static func partsCSV(good: [PartScore], bad: [PartScore], threshold: Double) -> String {
        var lines = ["id,label,score,verdict"]
        for (parts, label) in [(good, "good"), (bad, "bad")] {
            for part in parts {
                let verdict = part.score >= threshold ? "fail" : "pass"
                lines.append("\(csvField(part.id)),\(label),\(part.score),\(verdict)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Plain facts to store with a bank: date (ISO-8601, UTC), counts, strategy, options,
    /// threshold, band, verdict errors and score statistics. Numbers use Swift's shortest
    /// round-trip form, so they read back bit for bit.
    static func provenance(of result: CalibrationResult, options: CalibrationOptions,
                           date: Date) -> [String: String] {
        var facts: [String: String] = [
            "calibration_date": iso8601(date),
            "strategy": result.strategy.rawValue,
            "requested_strategy": options.strategy.rawValue,
            "threshold": "\(result.threshold)",
            "band_lower": "\(result.band.lower)",
            "band_upper": "\(result.band.upper)",
            "margin": "\(options.margin)",
            "target_false_reject_rate": "\(options.targetFalseRejectRate)",
            "confidence": "\(options.confidence)",
            "good_count": "\(result.goodCount)",
            "bad_count": "\(result.badCount)",
            "false_rejects": "\(result.rates.falseRejects)",
            "false_accepts": "\(result.rates.falseAccepts)",
            "false_reject_rate": "\(result.rates.falseRejectRate)",
            "false_reject_upper_bound": "\(result.rates.falseRejectUpperBound)",
            "quantile_threshold": "\(result.quantile.threshold)",
            "quantile_false_reject_upper_bound": "\(result.quantile.falseRejectUpperBound)",
            "warning_count": "\(result.warnings.count)",
        ]
        if let rate = result.rates.falseAcceptRate { facts["false_accept_rate"] = "\(rate)" }
        add(result.goodStatistics, prefix: "good", to: &facts)
        if let bad = result.badStatistics { add(bad, prefix: "bad", to: &facts) }
        return facts
    }

    private static func add(_ statistics: ScoreStatistics, prefix: String,
                            to facts: inout [String: String]) {
        facts["\(prefix)_min"] = "\(statistics.min)"
        facts["\(prefix)_max"] = "\(statistics.max)"
        facts["\(prefix)_mean"] = "\(statistics.mean)"
        facts["\(prefix)_std"] = "\(statistics.standardDeviation)"
        facts["\(prefix)_median"] = "\(statistics.median)"
    }

    private static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}
