// ConnectedRegions: the 8-connected regions of a binary mask, numbered as
// scipy.ndimage.label(mask, structure=np.ones((3, 3))) numbers them.

/// Connected regions of a binary mask [H, W] under 8-connectivity: two anomalous pixels belong
/// to one region when they touch by an edge or a corner (scipy's full 3 x 3 structure; the
/// MVTec AD / Eyecandies AUPRO code uses the same).
///
/// Labels: 0 for background, 1...count for regions, in raster order of each region's first
/// pixel (as scipy numbers them).
public struct ConnectedRegions: Sendable, Equatable {
    public let height: Int
    public let width: Int
    /// Region label of every pixel, row-major [H, W]; 0 = background.
    public let labels: [Int32]
    /// Pixels in each region: sizes[r - 1] for label r.
    public let sizes: [Int]

    /// Number of regions.
    public var count: Int { sizes.count }

    /// Labels the pixels of `mask` [H * W, row-major] that are true.
    public init(mask: [Bool], height: Int, width: Int) {
        precondition(height >= 0 && width >= 0 && mask.count == height * width,
                     "mask of \(mask.count) pixels is not \(height) x \(width)")
        self.height = height
        self.width = width
        var labels = [Int32](repeating: 0, count: mask.count)
        var sizes: [Int] = []
        var stack: [Int] = []
        for seed in 0..<mask.count where mask[seed] && labels[seed] == 0 {
            let label = Int32(sizes.count + 1)
            labels[seed] = label
            stack.append(seed)
            var size = 0
            while let pixel = stack.popLast() {
                size += 1
                let (y, x) = pixel.quotientAndRemainder(dividingBy: width)
                for ny in max(0, y - 1)...min(height - 1, y + 1) {
                    for nx in max(0, x - 1)...min(width - 1, x + 1) {
                        let neighbour = ny * width + nx
                        if mask[neighbour] && labels[neighbour] == 0 {
                            labels[neighbour] = label
                            stack.append(neighbour)
                        }
                    }
                }
            }
            sizes.append(size)
        }
        self.labels = labels
        self.sizes = sizes
    }
}
