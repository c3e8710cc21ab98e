// Resizing as Pillow's Image.resize does it: bicubic on 8-bit images in fixed point (bit for bit),
// bicubic on float planes (Pillow mode 'F', bit for bit), and nearest neighbour for masks.

import MVADEngine

extension Image {
    /// Pillow's `resize((width, height), Image.BICUBIC)` on an 8-bit image, bit for bit: two
    /// separable passes (order as in `ResampleWeights.verticalPassFirst`), 22-bit fixed-point
    /// weights, each pass rounded and clipped to 0...255. Every channel, alpha included, is
    /// filtered alike (Pillow premultiplies RGBA first; drop alpha with `rgb()` before).
    /// 16-bit images go through `bicubicTensor` (float) instead.
    public func resizedBicubic(width newWidth: Int, height newHeight: Int) -> Image {
        precondition(newWidth > 0 && newHeight > 0, "resize target must be positive")
        guard case .uint8(var values) = samples else {
            preconditionFailure("resizedBicubic needs 8-bit samples; use bicubicTensor for 16-bit")
        }
        if newWidth == width && newHeight == height { return self }

        let rowWeights = ResampleWeights(inputSize: width, outputSize: newWidth)
        let columnWeights = ResampleWeights(inputSize: height, outputSize: newHeight)
        func horizontal(_ input: [UInt8], rows: Int) -> [UInt8] {
            let lines = ResampleLines.horizontal(rows: rows, width: width, newWidth: newWidth,
                                                 channels: channels)
            return BicubicPass.fixedPoint(input, weights: rowWeights, lines: lines)
        }
        func vertical(_ input: [UInt8], columns: Int) -> [UInt8] {
            let lines = ResampleLines.vertical(planes: 1, height: height, newHeight: newHeight,
                                               rowLength: columns * channels)
            return BicubicPass.fixedPoint(input, weights: columnWeights, lines: lines)
        }

        values = ResampleWeights.inPillowOrder(
            values, width: width, height: height, newWidth: newWidth, newHeight: newHeight,
            horizontal: horizontal, vertical: vertical)
        return Image(width: newWidth, height: newHeight, channels: channels,
                     samples: .uint8(values))
    }

    /// Pillow's `resize((width, height), Image.NEAREST)`, bit for bit, for any bit depth.
    public func resizedNearest(width newWidth: Int, height newHeight: Int) -> Image {
        precondition(newWidth > 0 && newHeight > 0, "resize target must be positive")
        if newWidth == width && newHeight == height { return self }
        let columns = Image.nearestSources(inputSize: width, outputSize: newWidth)
        let rows = Image.nearestSources(inputSize: height, outputSize: newHeight)
        func gather<T>(_ values: [T]) -> [T] {
            var out = [T]()
            out.reserveCapacity(newWidth * newHeight * channels)
            for row in rows {
                for column in columns {
                    let base = (row * width + column) * channels
                    out.append(contentsOf: values[base..<(base + channels)])
                }
            }
            return out
        }
        switch samples {
        case .uint8(let values):
            return Image(width: newWidth, height: newHeight, channels: channels,
                         samples: .uint8(gather(values)))
        case .uint16(let values):
            return Image(width: newWidth, height: newHeight, channels: channels,
                         samples: .uint16(gather(values)))
        }
    }

    /// The input index Pillow's nearest filter reads for each output index: it starts at
    /// scale / 2 and adds scale per step in double precision (accumulated, as Pillow does: a
    /// product (i + 0.5) * scale rounds differently for some sizes), truncating each position.
    static func nearestSources(inputSize: Int, outputSize: Int) -> [Int] {
        let scale = Double(inputSize) / Double(outputSize)
        var position = scale * 0.5
        var sources = [Int]()
        sources.reserveCapacity(outputSize)
        for _ in 0..<outputSize {
            sources.append(min(Int(position), inputSize - 1))
            position += scale
        }
        return sources
    }

    /// The model input of one view: RGB (grey replicated, alpha dropped), bicubic-resized, as a
    /// [1, 3, H, W] tensor in [0, 1]. 8-bit images: Pillow's 8-bit bicubic then value / 255,
    /// exactly as Pillow + torchvision's ToTensor. 16-bit images: value / 65535, Pillow's float
    /// ('F') bicubic, then clamped to [0, 1] (the cubic kernel overshoots near edges).
    public func bicubicTensor(width newWidth: Int, height newHeight: Int) -> Tensor {
        let colour = rgb()
        if bitDepth == 8 {
            return colour.resizedBicubic(width: newWidth, height: newHeight).tensor()
        }
        var planes = colour.tensor().resizedBicubic(width: newWidth, height: newHeight)
        planes.withUnsafeMutableBufferPointer { values in
            for index in values.indices { values[index] = min(max(values[index], 0), 1) }
        }
        return planes
    }

    /// A ground-truth mask at the model size: Pillow's nearest resize, then 1 where any colour
    /// channel is non-zero (any non-zero pixel is anomalous), else 0. Alpha is ignored. [H, W].
    public func maskTensor(width newWidth: Int, height newHeight: Int) -> Tensor {
        let resized = resizedNearest(width: newWidth, height: newHeight)
        let colours = colorChannels
        return Tensor(shape: [newHeight, newWidth]) { out in            // [H, W]
            for pixel in 0..<(newWidth * newHeight) {
                let base = pixel * resized.channels
                let defect = (0..<colours).contains { resized.rawSample(base + $0) > 0 }
                out[pixel] = defect ? 1 : 0
            }
        }
    }
}

extension Tensor {
    /// Pillow's bicubic resize of mode 'F' (32-bit float) images, applied to every [H, W] plane
    /// of a tensor of rank >= 2, bit for bit: double weights and sums, each pass stored as Float,
    /// same pass order as the 8-bit path. Values are not clamped.
    public func resizedBicubic(width newWidth: Int, height newHeight: Int) -> Tensor {
        precondition(rank >= 2, "bicubic resize needs a tensor of rank >= 2, got shape \(shape)")
        precondition(newWidth > 0 && newHeight > 0, "resize target must be positive")
        let height = shape[rank - 2]
        let width = shape[rank - 1]
        if newWidth == width && newHeight == height { return self }
        let planes = height * width == 0 ? 0 : count / (height * width)

        let rowWeights = ResampleWeights(inputSize: width, outputSize: newWidth)
        let columnWeights = ResampleWeights(inputSize: height, outputSize: newHeight)
        func horizontal(_ input: [Float], rows: Int) -> [Float] {
            let lines = ResampleLines.horizontal(rows: planes * rows, width: width,
                                                 newWidth: newWidth, channels: 1)
            return BicubicPass.float(input, weights: rowWeights, lines: lines)
        }
        func vertical(_ input: [Float], columns: Int) -> [Float] {
            let lines = ResampleLines.vertical(planes: planes, height: height,
                                               newHeight: newHeight, rowLength: columns)
            return BicubicPass.float(input, weights: columnWeights, lines: lines)
        }

        let values = ResampleWeights.inPillowOrder(
            scalars, width: width, height: height, newWidth: newWidth, newHeight: newHeight,
            horizontal: horizontal, vertical: vertical)
        return Tensor(shape: Array(shape.dropLast(2)) + [newHeight, newWidth], scalars: values)
    }
}
