// BicubicPass: one separable pass of Pillow's bicubic resize along rows or columns, in 8-bit
// fixed point or in float ('F' mode), over any interleaved or planar layout.

/// Where the samples of each 1-D line of a pass start and how far apart they are. A horizontal
/// pass has one line per row and channel; a vertical pass one line per column sample.
struct ResampleLines {
    let inputBases: [Int]
    let inputStride: Int
    let outputBases: [Int]
    let outputStride: Int
    /// Elements of the pass's output.
    let outputCount: Int

    /// Rows of interleaved samples: `rows` rows of `width` pixels with `channels` samples each
    /// (planar data is `channels` 1 and one row per plane row).
    static func horizontal(rows: Int, width: Int, newWidth: Int, channels: Int) -> ResampleLines {
        var inputBases = [Int]()
        var outputBases = [Int]()
        inputBases.reserveCapacity(rows * channels)
        outputBases.reserveCapacity(rows * channels)
        for row in 0..<rows {
            for channel in 0..<channels {
                inputBases.append(row * width * channels + channel)
                outputBases.append(row * newWidth * channels + channel)
            }
        }
        return ResampleLines(inputBases: inputBases, inputStride: channels,
                             outputBases: outputBases, outputStride: channels,
                             outputCount: rows * newWidth * channels)
    }

    /// Columns of `planes` planes of `height` rows holding `rowLength` samples each (for an
    /// interleaved image, rowLength = width * channels).
    static func vertical(planes: Int, height: Int, newHeight: Int, rowLength: Int)
        -> ResampleLines {
        var inputBases = [Int]()
        var outputBases = [Int]()
        inputBases.reserveCapacity(planes * rowLength)
        outputBases.reserveCapacity(planes * rowLength)
        for plane in 0..<planes {
            for column in 0..<rowLength {
                inputBases.append(plane * height * rowLength + column)
                outputBases.append(plane * newHeight * rowLength + column)
            }
        }
        return ResampleLines(inputBases: inputBases, inputStride: rowLength,
                             outputBases: outputBases, outputStride: rowLength,
                             outputCount: planes * newHeight * rowLength)
    }
}

enum BicubicPass {
    /// 8-bit pass: sum of sample * fixed-point weight plus one half, shifted right by 22 bits
    /// (floor) and clipped to 0...255, as Pillow's 8-bit resampling.
    static func fixedPoint(_ input: [UInt8], weights: ResampleWeights, lines: ResampleLines)
        -> [UInt8] {
        let kernel = weights.fixedPoint()
        let half = 1 << (ResampleWeights.precisionBits - 1)
        var output = [UInt8](repeating: 0, count: lines.outputCount)
        input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                for line in lines.inputBases.indices {
                    let inputBase = lines.inputBases[line]
                    let outputBase = lines.outputBases[line]
                    for index in weights.starts.indices {
                        let first = inputBase + weights.starts[index] * lines.inputStride
                        let taps = index * weights.stride
                        var sum = half
                        for tap in 0..<weights.counts[index] {
                            sum += Int(source[first + tap * lines.inputStride])
                                * Int(kernel[taps + tap])
                        }
                        let value = min(max(sum >> ResampleWeights.precisionBits, 0), 255)
                        target[outputBase + index * lines.outputStride] = UInt8(value)
                    }
                }
            }
        }
        return output
    }

    /// Float pass ('F' mode): double sum of Double(sample) * weight, stored as Float.
    static func float(_ input: [Float], weights: ResampleWeights, lines: ResampleLines)
        -> [Float] {
        var output = [Float](repeating: 0, count: lines.outputCount)
        input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                for line in lines.inputBases.indices {
                    let inputBase = lines.inputBases[line]
                    let outputBase = lines.outputBases[line]
                    for index in weights.starts.indices {
                        let first = inputBase + weights.starts[index] * lines.inputStride
                        let taps = index * weights.stride
                        var sum = 0.0
                        for tap in 0..<weights.counts[index] {
                            sum += Double(source[first + tap * lines.inputStride])
                                * weights.weights[taps + tap]
                        }
                        target[outputBase + index * lines.outputStride] = Float(sum)
                    }
                }
            }
        }
        return output
    }
}
