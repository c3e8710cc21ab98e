// Surface+Defects: how each defect kind changes the surface. Albedo kinds touch only `albedo`,
// geometry kinds only `height`; a missing piece sets both to the belt's.

import Foundation

extension Surface {
    /// The dark colour a stain blends towards (linear RGB).
    static let stainColor: [Float] = [0.2, 0.12, 0.06]

    /// Applies one defect. Only pixel centres on the defect-free candy are changed, so a defect
    /// never paints the belt.
    mutating func apply(_ defect: DefectParameters) {
        let cx = Float(defect.centerX), cy = Float(defect.centerY)
        let reach = Float(defect.radius * 1.5 + defect.length / 2) + 2
        let rows = max(0, Int(cy - reach))...min(size - 1, Int(cy + reach))
        let columns = max(0, Int(cx - reach))...min(size - 1, Int(cx + reach))
        guard !rows.isEmpty, !columns.isEmpty else { return }
        for row in rows {
            for column in columns {
                let pixel = row * size + column
                guard onObject[pixel] else { continue }
                let dx = Float(column) + 0.5 - cx, dy = Float(row) + 0.5 - cy
                change(pixel, dx: dx, dy: dy, defect: defect)
            }
        }
    }

    /// The change of one pixel at offset (dx, dy) from the defect's centre.
    private mutating func change(_ pixel: Int, dx: Float, dy: Float, defect: DefectParameters) {
        let distance = (dx * dx + dy * dy).squareRoot()
        let amplitude = Float(defect.amplitude)
        switch defect.kind {
        case .stain, .discolouration:
            let outline = defect.outlineRadius(atan2f(dy, dx))
            guard distance < outline else { return }
            let falloff = 1 - (distance / outline) * (distance / outline)
            let weight = amplitude * (0.7 + 0.3 * falloff)
            recolour(pixel, weight: weight, kind: defect.kind)
        case .dent, .bump:
            let radius = Float(defect.radius)
            guard distance < radius else { return }
            let t = 1 - (distance / radius) * (distance / radius)
            height[pixel] = max(0, height[pixel] + amplitude * t * t)
        case .scratch:
            let across = distanceToSegment(dx: dx, dy: dy, angle: Float(defect.angle),
                                           length: Float(defect.length))
            let halfWidth = Float(defect.radius)
            guard across < halfWidth else { return }
            let t = 1 - (across / halfWidth) * (across / halfWidth)
            height[pixel] = max(0, height[pixel] + amplitude * t * t)
        case .missing:
            guard distance < defect.outlineRadius(atan2f(dy, dx)) else { return }
            height[pixel] = 0
            for c in 0..<3 { albedo[pixel * 3 + c] = beltAlbedo[pixel * 3 + c] }
        }
    }

    /// Stain: blend towards dark brown. Discolouration: blend towards a lighter grey of the
    /// same luminance (a faded patch).
    private mutating func recolour(_ pixel: Int, weight: Float, kind: DefectKind) {
        let r = albedo[pixel * 3], g = albedo[pixel * 3 + 1], b = albedo[pixel * 3 + 2]
        let luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
        let faded = min(0.95, luminance * 1.3 + 0.08)
        for c in 0..<3 {
            let target = kind == .stain ? Surface.stainColor[c] : faded
            let value = albedo[pixel * 3 + c]
            albedo[pixel * 3 + c] = value + (target - value) * weight
        }
    }

    /// Distance from (dx, dy) to the segment of `length` through the origin along `angle`.
    private func distanceToSegment(dx: Float, dy: Float, angle: Float, length: Float) -> Float {
        let ux = cosf(angle), uy = sinf(angle)
        let along = min(length / 2, max(-length / 2, dx * ux + dy * uy))
        let ex = dx - along * ux, ey = dy - along * uy
        return (ex * ex + ey * ey).squareRoot()
    }
}
