/// Entity ids in the form of the real service: 24 lowercase hex characters (a MongoDB
/// ObjectId shape, docs/protocol.md §3): 4 bytes of seconds since the epoch, then 8 random bytes.
public enum ObjectID {
    /// A fresh id. `seconds` is the creation time (Unix seconds).
    public static func generate<R: RandomNumberGenerator>(seconds: UInt32, using rng: inout R) -> String {
        let r = rng.next()
        return hex(UInt64(seconds), digits: 8) + hex(r, digits: 16)
    }

    /// A fresh entity id: random, or the next id of the seeded ``IDSource`` (then with a fixed
    /// time part unless a fixed or stepping ``ServerClock`` makes `seconds` reproducible).
    public static func generate(seconds: UInt32) -> String {
        var rng = SystemRandomNumberGenerator()
        let (time, bits) = draw(seconds: seconds, using: &rng)
        return hex(UInt64(time), digits: 8) + hex(bits, digits: 16)
    }

    /// The one rule for a fresh id's parts: the seeded ``IDSource`` when one is installed (its next
    /// value, and a fixed time part unless a fixed or stepping ``ServerClock`` makes `seconds`
    /// reproducible), else `seconds` and a value of `rng`.
    static func draw(seconds: UInt32, using rng: inout SystemRandomNumberGenerator) -> (time: UInt32, bits: UInt64) {
        if let seeded = IDSource.nextSeeded() {
            return (ServerClock.isSystemClock ? seededSeconds : seconds, seeded)
        }
        return (seconds, rng.next())
    }

    /// `count` fresh ids (drawn like ``generate(seconds:)``, seeded or random) handed out in
    /// ascending order, for a bulk insert: ascending keys append to the primary-key index instead
    /// of landing on random pages of it. 8 bytes a pending id.
    public static func ascending(count: Int, seconds: UInt32) -> AscendingIDs {
        var rng = SystemRandomNumberGenerator()
        var time = seconds
        var bits = [UInt64]()
        bits.reserveCapacity(max(0, count))
        for _ in 0 ..< max(0, count) {
            let part = draw(seconds: seconds, using: &rng)
            time = part.time
            bits.append(part.bits)
        }
        bits.sort()
        return AscendingIDs(prefix: hex(UInt64(time), digits: 8), bits: bits)
    }

    /// Ids from ``ObjectID/ascending(count:seconds:)``, smallest first.
    public struct AscendingIDs: Sendable {
        let prefix: String
        let bits: [UInt64]
        var position = 0

        /// The next id, or nil when all `count` were handed out.
        public mutating func next() -> String? {
            guard position < bits.count else { return nil }
            defer { position += 1 }
            return prefix + ObjectID.hex(bits[position], digits: 16)
        }
    }

    /// The time part of seeded ids under the system clock (2023-11-14T22:13:20Z).
    static let seededSeconds: UInt32 = 1_700_000_000

    /// True for exactly 24 lowercase hex characters.
    public static func isValid(_ s: String) -> Bool {
        s.utf8.count == 24 && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    fileprivate static func hex(_ v: UInt64, digits: Int) -> String {
        let chars = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: digits)
        var v = v
        for i in stride(from: digits - 1, through: 0, by: -1) { out[i] = chars[Int(v & 0xf)]; v >>= 4 }
        return String(decoding: out, as: UTF8.self)
    }
}
