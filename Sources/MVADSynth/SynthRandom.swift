// SynthRandom: the generator's own deterministic random numbers (SplitMix64), seed derivation
// for parts and independent streams, and a lattice hash for value noise. No system randomness.

import Foundation

/// SplitMix64 (Steele, Lea and Flood, 2014): a 64-bit state advanced by a Weyl step and
/// scrambled by a fixed mixing function. Same seed, same sequence, on every machine.
public struct SynthRandom: Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SynthRandom.mix(state)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * unit()
    }

    /// Uniform integer in 0..<count (count > 0), by rejection so every value is equally likely.
    public mutating func index(_ count: Int) -> Int {
        precondition(count > 0, "index(count:) needs count > 0, got \(count)")
        let bound = UInt64(count)
        let limit = UInt64.max - UInt64.max % bound
        while true {
            let value = next()
            if value < limit { return Int(value % bound) }
        }
    }

    /// A standard normal sample by the Box-Muller transform (one of the pair is used).
    public mutating func gaussian() -> Double {
        let u1 = 1 - unit()                  // (0, 1]: log stays finite
        let u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Two independent standard normal samples from one Box-Muller transform.
    public mutating func gaussianPair() -> (Double, Double) {
        let u1 = 1 - unit()
        let u2 = unit()
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        return (radius * cos(angle), radius * sin(angle))
    }

    /// SplitMix64's finaliser: a bijective scramble of 64 bits.
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A seed derived from a parent seed and a list of integers, order-sensitive: the parts of
    /// a split and the streams of a part get unrelated seeds, and a new part never shifts the
    /// seeds of the earlier ones.
    public static func derive(_ parent: UInt64, _ path: UInt64...) -> UInt64 {
        var seed = mix(parent ^ 0x6A09_E667_F3BC_C909)
        for value in path {
            seed = mix(seed &+ 0x9E37_79B9_7F4A_7C15 ^ mix(value &+ 0xBB67_AE85_84CA_A73B))
        }
        return seed
    }

    /// FNV-1a 64 of a text's UTF-8 bytes: a stable seed from a name (e.g. the category).
    public static func hash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// A value in [0, 1) fixed by (seed, x, y): the lattice values of value noise.
    static func lattice(_ seed: UInt64, _ x: Int32, _ y: Int32) -> Float {
        let key = UInt64(UInt32(bitPattern: x)) << 32 | UInt64(UInt32(bitPattern: y))
        return Float(mix(seed ^ mix(key)) >> 40) * 0x1p-24
    }
}

/// The independent random streams of one part. Each draws from its own seed, so adding a
/// defect (the `.defect` stream) leaves the shape, colours, lights and noise untouched.
enum PartStream: UInt64 {
    case shape = 1
    case appearance = 2
    case belt = 3
    case lights = 4
    case sensorNoise = 5
    case defect = 6

    func generator(partSeed: UInt64) -> SynthRandom {
        SynthRandom(seed: SynthRandom.derive(partSeed, rawValue))
    }
}
