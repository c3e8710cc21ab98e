// NormalsFromDepth: surface normals from a depth image by finite differences of the
// back-projected points, with pinhole intrinsics (fx, fy, cx, cy in pixels).

/// Pinhole intrinsics of a depth camera, in pixels.
public struct Intrinsics: Equatable, Sendable {
    public let fx: Double
    public let fy: Double
    public let cx: Double
    public let cy: Double

    public init(fx: Double, fy: Double, cx: Double, cy: Double) {
        precondition(fx > 0 && fy > 0, "focal lengths must be positive, got \(fx), \(fy)")
        self.fx = fx
        self.fy = fy
        self.cx = cx
        self.cy = cy
    }
}

public enum NormalsFromDepth {
    /// Normals of a depth map (`depth[y * width + x]` along the optical axis, any unit; 0 or
    /// non-finite = no measurement). Each pixel's tangents are central differences of the
    /// back-projected neighbours (one-sided where a neighbour is missing); the normal is their
    /// cross product, turned towards the camera and expressed in the normal-map frame (x right,
    /// y up, z towards the camera).
    public static func normals(depth: [Float], width: Int, height: Int,
                               intrinsics: Intrinsics) -> NormalField {
        precondition(depth.count == width * height,
                     "\(depth.count) depth values for \(width)x\(height)")
        // Back-projection in the optical frame (x right, y down, z forward).
        func point(_ x: Int, _ y: Int) -> SIMD3<Double>? {
            guard x >= 0 && x < width && y >= 0 && y < height else { return nil }
            let z = Double(depth[y * width + x])
            guard z.isFinite && z > 0 else { return nil }
            return SIMD3((Double(x) - intrinsics.cx) * z / intrinsics.fx,
                         (Double(y) - intrinsics.cy) * z / intrinsics.fy, z)
        }
        /// The difference across a pixel along one axis, central if both neighbours exist.
        func tangent(_ centre: SIMD3<Double>, _ before: SIMD3<Double>?, _ after: SIMD3<Double>?)
            -> SIMD3<Double>? {
            switch (before, after) {
            case let (b?, a?): return a - b
            case let (nil, a?): return a - centre
            case let (b?, nil): return centre - b
            case (nil, nil): return nil
            }
        }
        var field = NormalField(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                guard let centre = point(x, y),
                      let du = tangent(centre, point(x - 1, y), point(x + 1, y)),
                      let dv = tangent(centre, point(x, y - 1), point(x, y + 1)) else { continue }
                var n = SIMD3(du.y * dv.z - du.z * dv.y, du.z * dv.x - du.x * dv.z,
                              du.x * dv.y - du.y * dv.x)
                let length = (n * n).sum().squareRoot()
                guard length > 0 else { continue }
                if (n * centre).sum() > 0 { n = -n }          // face the camera
                field.set(y * width + x, SIMD3<Float>(Float(n.x), Float(-n.y), Float(-n.z)))
            }
        }
        return field
    }
}
