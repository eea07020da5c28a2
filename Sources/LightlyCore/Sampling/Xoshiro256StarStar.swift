/// SplitMix64 (Steele, Lea & Flood 2014), used only to expand a 64-bit seed into the
/// 256-bit state of ``Xoshiro256StarStar`` as its authors recommend.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** 1.0 (Blackman & Vigna 2018): the sampler's specified PRNG (docs/selection.md §3).
///
/// The output sequence is part of the API contract: the same seed gives the same RANDOM
/// selection on every platform and release.
/// ```swift
/// var rng = Xoshiro256StarStar(seed: 42)
/// let j = rng.uniformBelow(10)     // Lemire's unbiased bounded integer
/// ```
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    public private(set) var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// Seeds the state with four consecutive SplitMix64 outputs of `seed`.
    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
    }

    @inline(__always) static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    /// A uniform integer in `0 ..< bound` by Lemire's multiply-shift method with rejection
    /// (Lemire 2019, "Fast Random Integer Generation in an Interval"). Unbiased.
    /// - Precondition: `bound > 0`.
    public mutating func uniformBelow(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "uniformBelow: bound must be positive")
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return m.high
    }
}
