// PartRenderer: a recipe to its seven views (five single-light images, the all-on image, the
// normal map), depth and defect mask, following the image formation stated in lights.json.

import Foundation

/// A rendered part in floating point, before quantisation to files.
public struct RenderedPart: Sendable {
    public let recipe: PartRecipe
    public let surface: Surface
    /// Unit normals (camera frame: x right, y up, z to the camera), 3 per pixel, row-major.
    public let normals: [Float]
    /// Distance from the camera plane in pixels (camera height - surface height), per pixel.
    public let depth: [Float]
    /// Six views (image_0 ... image_5) of linear intensity, RGB interleaved, noise included,
    /// not yet clamped.
    public let views: [[Float]]
    /// True where the defective part's height, normal or albedo differs from its defect-free
    /// twin (all false for a good part).
    public let mask: [Bool]

    public var size: Int { surface.size }
}

public struct PartRenderer: Sendable {
    public let settings: SynthSettings
    public let rig: LightRig

    public init(settings: SynthSettings) {
        self.settings = settings
        rig = LightRig(settings: settings)
    }

    /// The orthographic camera's height above the belt, in pixels.
    static func cameraHeight(size: Int) -> Float { Float(size) / 2 }

    /// Depth PNG units per pixel of distance: the camera height maps to 65535.
    static func depthScale(size: Int) -> Float { 65535 / cameraHeight(size: size) }

    public func render(_ recipe: PartRecipe) -> RenderedPart {
        let size = settings.size
        let surface = Surface(recipe: recipe, size: size)
        let normals = PartRenderer.normals(of: surface.height, size: size)
        let camera = PartRenderer.cameraHeight(size: size)
        var mask = [Bool](repeating: false, count: size * size)
        if !recipe.defects.isEmpty {
            let twin = Surface(recipe: recipe.withoutDefects, size: size)
            let twinNormals = PartRenderer.normals(of: twin.height, size: size)
            for pixel in 0..<(size * size) {
                let base = pixel * 3
                mask[pixel] = surface.height[pixel] != twin.height[pixel]
                    || (0..<3).contains { c in
                        surface.albedo[base + c] != twin.albedo[base + c]
                            || normals[base + c] != twinNormals[base + c]
                    }
            }
        }
        return RenderedPart(recipe: recipe, surface: surface, normals: normals,
                            depth: surface.height.map { camera - $0 },
                            views: shade(surface, normals: normals, recipe: recipe), mask: mask)
    }

    /// Normals of a height field by central differences (one-sided at the image border):
    /// n = normalize(-dh/dx, +dh/drow, 1), since y points up and rows run down.
    static func normals(of height: [Float], size: Int) -> [Float] {
        var normals = [Float](repeating: 0, count: size * size * 3)
        for row in 0..<size {
            let up = max(0, row - 1), down = min(size - 1, row + 1)
            for column in 0..<size {
                let left = max(0, column - 1), right = min(size - 1, column + 1)
                let dx = (height[row * size + right] - height[row * size + left])
                    / Float(right - left)
                let drow = (height[down * size + column] - height[up * size + column])
                    / Float(down - up)
                let length = (dx * dx + drow * drow + 1).squareRoot()
                let base = (row * size + column) * 3
                normals[base] = -dx / length
                normals[base + 1] = drow / length
                normals[base + 2] = 1 / length
            }
        }
        return normals
    }

    /// The six views: ambient + Lambertian + Blinn-Phong per light (lights.json "formula"),
    /// the all-on view as their mean, then Gaussian sensor noise from the part's noise seed
    /// (drawn for every sample whatever the content, so a defect never shifts the noise).
    func shade(_ surface: Surface, normals: [Float], recipe: PartRecipe) -> [[Float]] {
        let count = surface.size * surface.size
        let ambient = Float(settings.ambient)
        let specular = Float(settings.specular)
        let shininess = Float(settings.shininess)
        let lights = (0..<LightRig.lightCount).map { i in
            ShadingLight(direction: rig.directions[i],
                         power: Float(rig.intensities[i] * recipe.lightGains[i]))
        }
        var views = [[Float]](repeating: [Float](repeating: 0, count: count * 3),
                              count: LightRig.lightCount + 1)
        for pixel in 0..<count {
            let n = (normals[pixel * 3], normals[pixel * 3 + 1], normals[pixel * 3 + 2])
            var sum: (Float, Float, Float) = (0, 0, 0)
            for (i, light) in lights.enumerated() {
                let cosine = n.0 * light.l.0 + n.1 * light.l.1 + n.2 * light.l.2
                let diffuse = max(0, cosine)
                var highlight: Float = 0
                if cosine > 0 && specular > 0 {
                    let half = max(0, n.0 * light.h.0 + n.1 * light.h.1 + n.2 * light.h.2)
                    highlight = specular * powf(half, shininess)
                }
                for c in 0..<3 {
                    let albedo = surface.albedo[pixel * 3 + c]
                    let value = ambient * albedo + light.power * (albedo * diffuse + highlight)
                    views[i][pixel * 3 + c] = value
                }
                sum.0 += views[i][pixel * 3]
                sum.1 += views[i][pixel * 3 + 1]
                sum.2 += views[i][pixel * 3 + 2]
            }
            let fifth = 1 / Float(LightRig.lightCount)
            views[LightRig.lightCount][pixel * 3] = sum.0 * fifth
            views[LightRig.lightCount][pixel * 3 + 1] = sum.1 * fifth
            views[LightRig.lightCount][pixel * 3 + 2] = sum.2 * fifth
        }
        addNoise(&views, seed: recipe.noiseSeed)
        return views
    }

    /// Adds sigma * N(0, 1) to every sample; view k draws from derive(seed, k), samples in
    /// order, two per Box-Muller transform.
    private func addNoise(_ views: inout [[Float]], seed: UInt64) {
        guard settings.sensorNoise > 0 else { return }
        let sigma = settings.sensorNoise
        for view in views.indices {
            var random = SynthRandom(seed: SynthRandom.derive(seed, UInt64(view)))
            views[view].withUnsafeMutableBufferPointer { samples in
                var index = 0
                while index < samples.count {
                    let (first, second) = random.gaussianPair()
                    samples[index] += Float(sigma * first)
                    if index + 1 < samples.count { samples[index + 1] += Float(sigma * second) }
                    index += 2
                }
            }
        }
    }
}

/// One light as the shading loop uses it: direction l, Blinn-Phong half vector h with the view
/// direction (0, 0, 1), and power (intensity times the part's gain).
private struct ShadingLight {
    let l: (Float, Float, Float)
    let h: (Float, Float, Float)
    let power: Float

    init(direction: [Double], power: Float) {
        precondition(direction.count == 3, "a light direction has 3 components")
        l = (Float(direction[0]), Float(direction[1]), Float(direction[2]))
        let hz = direction[2] + 1
        let length = (direction[0] * direction[0] + direction[1] * direction[1] + hz * hz)
            .squareRoot()
        h = (Float(direction[0] / length), Float(direction[1] / length), Float(hz / length))
        self.power = power
    }
}
