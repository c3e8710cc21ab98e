// PhotometricStereo: surface normals from the five directional views by least squares per
// pixel (Lambertian: intensity = albedo * (l . n) above the ambient), dropping shadowed samples
// and the brightest (specular) one when enough remain.

import MVADInspect

/// How the ambient (light-independent) part of each pixel is removed.
public enum AmbientEstimate: String, Codable, Sendable {
    /// None: the directional views hold only their own light.
    case none
    /// From the all-lights view: with additive light, the five single-light views hold the
    /// ambient five times and the all-lights view once, so ambient = (sum - all) / 4.
    case allLightsView = "all_lights_view"
}

/// Photometric stereo with calibrated light directions.
public struct PhotometricStereo: Sendable {
    /// Unit light directions (towards the lights), in the normal field's camera frame.
    public let directions: [SIMD3<Float>]
    /// Samples at or below this level above the ambient (0...255) count as shadowed.
    public let shadowLevel: Float
    public let ambient: AmbientEstimate
    /// Drop each pixel's brightest sample (a specular highlight) when 4 or more remain.
    public let dropsBrightest: Bool

    public init(directions: [[Double]], shadowLevel: Double = 4,
                ambient: AmbientEstimate = .allLightsView, dropsBrightest: Bool = true) {
        self.dropsBrightest = dropsBrightest
        precondition(directions.count >= 3, "photometric stereo needs 3 or more lights")
        self.directions = directions.map { d in
            precondition(d.count == 3, "a light direction has 3 components, got \(d.count)")
            let v = SIMD3<Float>(Float(d[0]), Float(d[1]), Float(d[2]))
            let length = (v * v).sum().squareRoot()
            precondition(length > 0, "a light direction must not be zero")
            return v / length
        }
        self.shadowLevel = Float(shadowLevel)
        self.ambient = ambient
    }

    /// Normals from one image per light (same size, any channels, 8 or 16 bit) and, for the
    /// all-lights ambient estimate, the all-lights view.
    public func normals(views: [Image], allLights: Image? = nil) -> NormalField {
        precondition(views.count == directions.count,
                     "\(views.count) views for \(directions.count) light directions")
        let (width, height) = (views[0].width, views[0].height)
        precondition(views.allSatisfy { $0.width == width && $0.height == height },
                     "views differ in size")
        precondition(ambient == .none || allLights != nil,
                     "the all-lights ambient estimate needs the all-lights view")
        let levels = views.map(PixelLevels.grey)
        let all = allLights.map(PixelLevels.grey)
        var field = NormalField(width: width, height: height)
        var samples = [Float](repeating: 0, count: views.count)
        for p in 0..<(width * height) {
            for k in views.indices { samples[k] = levels[k][p] }
            var offset: Float = 0
            if let all {
                offset = max(0, (samples.reduce(0, +) - all[p]) / Float(views.count - 1))
            }
            if let n = solve(samples.map { $0 - offset }) { field.set(p, n) }
        }
        return field
    }

    /// The normal direction from one pixel's ambient-free samples, or nil when fewer than
    /// three usable samples remain or they do not fix a direction.
    func solve(_ samples: [Float]) -> SIMD3<Float>? {
        var kept = samples.indices.filter { samples[$0] > shadowLevel }
        if dropsBrightest, kept.count > 3, let brightest = kept.max(by: { samples[$0] < samples[$1] }) {
            kept.removeAll { $0 == brightest }
        }
        guard kept.count >= 3 else { return nil }
        // Normal equations (L^T L) b = L^T i for b = albedo * n.
        var a = [[Float]](repeating: [0, 0, 0], count: 3)
        var r = SIMD3<Float>(0, 0, 0)
        for k in kept {
            let l = directions[k]
            for i in 0..<3 { for j in 0..<3 { a[i][j] += l[i] * l[j] } }
            r += l * samples[k]
        }
        guard let b = PhotometricStereo.solve3(a, r), (b * b).sum() > 1e-12 else { return nil }
        return b
    }

    /// Solves a 3x3 system by Cramer's rule; nil if it is (nearly) singular.
    static func solve3(_ a: [[Float]], _ r: SIMD3<Float>) -> SIMD3<Float>? {
        func det(_ m: [[Float]]) -> Float {
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        }
        let d = det(a)
        guard abs(d) > 1e-6 else { return nil }
        var out = SIMD3<Float>(0, 0, 0)
        for column in 0..<3 {
            var m = a
            for row in 0..<3 { m[row][column] = r[row] }
            out[column] = det(m) / d
        }
        return out
    }
}
