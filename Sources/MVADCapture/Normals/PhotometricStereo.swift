// PhotometricStereo: surface normals from the five directional views by least squares per
// pixel (Lambertian: intensity = albedo * (l . n) above the ambient), dropping shadowed samples
// and the brightest (specular) one when enough remain.

import MVADInspect

/// How the ambient (light-independent) part of each pixel is removed.
public enum AmbientEstimate: String, ProfileChoice, Sendable {
    /// None: the directional views hold only their own light.
    case none
    /// From the all-lights view: with additive light, the five single-light views hold the
    /// ambient five times and the all-lights view once, so ambient = (sum - all) / 4.
    case allLightsView = "all_lights_view"
    /// Proportional to the albedo: ambient = ratio * albedo * (one light's intensity), i.e.
    /// ratio * |b| with b = albedo * intensity * n; solved by alternating with b. The ratio is
    /// calibrated (a flat target) or known (mvad synth: ambient / intensity in lights.json).
    case proportional
}

/// Photometric stereo with calibrated light directions.
// FIXME: the lights are taken to be equally bright (as mvad synth's are); unequal lights need
// their directions scaled by their intensities, and the profile has no key for that yet.
public struct PhotometricStereo: Sendable {
    /// Unit light directions (towards the lights), in the normal field's camera frame.
    public let directions: [SIMD3<Float>]
    /// Samples at or below this level above the ambient (0...255) count as shadowed.
    public let shadowLevel: Float
    public let ambient: AmbientEstimate
    /// Ambient / light intensity, for the proportional estimate.
    public let ambientRatio: Float
    /// Drop each pixel's brightest sample (a specular highlight) when 4 or more remain.
    public let dropsBrightest: Bool

    public init(directions: [[Double]], shadowLevel: Double = 4,
                ambient: AmbientEstimate = .allLightsView, ambientRatio: Double = 0,
                dropsBrightest: Bool = true) {
        precondition(ambientRatio >= 0, "the ambient ratio must be >= 0, got \(ambientRatio)")
        self.ambientRatio = Float(ambientRatio)
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
        precondition(ambient != .allLightsView || allLights != nil,
                     "the all-lights ambient estimate needs the all-lights view")
        let levels = views.map(PixelLevels.grey)
        let all = allLights.map(PixelLevels.grey)
        var field = NormalField(width: width, height: height)
        var samples = [Float](repeating: 0, count: views.count)
        for p in 0..<(width * height) {
            for k in views.indices { samples[k] = levels[k][p] }
            if let n = normal(samples, allLights: ambient == .allLightsView ? all?[p] : nil) {
                field.set(p, n)
            }
        }
        return field
    }

    /// One pixel's normal direction (albedo-scaled) after removing the ambient; nil if none.
    func normal(_ samples: [Float], allLights: Float?) -> SIMD3<Float>? {
        switch ambient {
        case .none:
            return solve(samples)
        case .allLightsView:
            let total = samples.reduce(0, +)
            let offset = allLights.map { max(0, (total - $0) / Float(samples.count - 1)) } ?? 0
            return solve(samples.map { $0 - offset })
        case .proportional:
            // b and the ambient fix each other; the ratio is small, so a few rounds settle.
            var b = solve(samples)
            for _ in 0..<4 {
                guard let current = b else { return nil }
                let offset = ambientRatio * (current * current).sum().squareRoot()
                b = solve(samples.map { $0 - offset })
            }
            return b
        }
    }

    /// The normal direction from one pixel's ambient-free samples, or nil if they do not fix
    /// a direction. Samples at or below the shadow level are left out and, when more than three
    /// remain, so is the brightest (a specular highlight). A pixel with fewer than three lit
    /// samples (a rim facing away from most lights) is solved from its three brightest: a
    /// rough direction is better than none there.
    func solve(_ samples: [Float]) -> SIMD3<Float>? {
        precondition(samples.count <= 64, "at most 64 lights")
        var kept: UInt64 = 0
        var count = 0
        for k in samples.indices where samples[k] > shadowLevel {
            kept |= 1 << UInt64(k)
            count += 1
        }
        if count < 3 {
            let order = samples.indices.sorted { samples[$0] > samples[$1] }.prefix(3)
            guard order.count == 3 else { return nil }
            kept = order.reduce(0) { $0 | 1 << UInt64($1) }
            count = 3
        } else if dropsBrightest && count > 3 {
            var brightest = -1
            for k in samples.indices where kept & (1 << UInt64(k)) != 0 {
                if brightest < 0 || samples[k] > samples[brightest] { brightest = k }
            }
            kept &= ~(1 << UInt64(brightest))
        }
        // Normal equations (L^T L) b = L^T i for b = albedo * n; L^T L is symmetric.
        var xx: Float = 0, xy: Float = 0, xz: Float = 0, yy: Float = 0, yz: Float = 0, zz: Float = 0
        var r = SIMD3<Float>(0, 0, 0)
        for k in samples.indices where kept & (1 << UInt64(k)) != 0 {
            let l = directions[k]
            xx += l.x * l.x; xy += l.x * l.y; xz += l.x * l.z
            yy += l.y * l.y; yz += l.y * l.z; zz += l.z * l.z
            r += l * samples[k]
        }
        // Inverse by cofactors.
        let c00 = yy * zz - yz * yz, c01 = xz * yz - xy * zz, c02 = xy * yz - xz * yy
        let det = xx * c00 + xy * c01 + xz * c02
        guard abs(det) > 1e-6 else { return nil }
        let c11 = xx * zz - xz * xz, c12 = xy * xz - xx * yz, c22 = xx * yy - xy * xy
        let b = SIMD3(c00 * r.x + c01 * r.y + c02 * r.z,
                      c01 * r.x + c11 * r.y + c12 * r.z,
                      c02 * r.x + c12 * r.y + c22 * r.z) / det
        return (b * b).sum() > 1e-12 ? b : nil
    }
}
