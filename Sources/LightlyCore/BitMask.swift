/// A set of sample positions as an arbitrarily wide bitmask: bit *i* set means sample *i*
/// (position *i* of the dataset's mapping order) belongs to the set.
///
/// On the wire a bitmask is the integer in hexadecimal with a `0x` prefix, lowercase digits
/// and no leading zeros (`0x0` for the empty set), which is what Python's `hex()` writes
/// (docs/protocol.md §5). Parsing accepts `0x`/`0X` or no prefix, any case, and leading zeros.
///
/// ```swift
/// let m = BitMask(indices: [0, 3, 4, 6])
/// m.hexString            // "0x59"
/// BitMask(hex: "0x59")?.indices  // [0, 3, 4, 6]
/// ```
public struct BitMask: Hashable, Sendable, CustomStringConvertible {
    /// Little-endian 64-bit words; trailing zero words are trimmed so equal sets compare equal.
    public private(set) var words: [UInt64]

    public init() { words = [] }

    public init(words: [UInt64]) {
        self.words = words
        trim()
    }

    /// The set of the given positions. Negative positions are a programmer error.
    public init<S: Sequence>(indices: S) where S.Element == Int {
        words = []
        for i in indices { insert(i) }
    }

    /// All positions `0 ..< count`.
    public static func full(count: Int) -> BitMask {
        precondition(count >= 0, "count must be non-negative")
        var w = [UInt64](repeating: ~0, count: count / 64)
        if count % 64 != 0 { w.append((UInt64(1) << UInt64(count % 64)) - 1) }
        return BitMask(words: w)
    }

    /// Parses `0x…` hex (prefix optional, any case, leading zeros allowed).
    /// Returns nil for an empty string or a non-hex character.
    public init?(hex: String) {
        var digits = Substring(hex)
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
        guard !digits.isEmpty else { return nil }
        var words = [UInt64]()
        words.reserveCapacity(digits.utf8.count / 16 + 1)
        var current: UInt64 = 0
        var shift: UInt64 = 0
        for c in digits.utf8.reversed() {
            let v: UInt64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = UInt64(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = UInt64(c - UInt8(ascii: "A") + 10)
            default: return nil
            }
            current |= v << shift
            shift += 4
            if shift == 64 { words.append(current); current = 0; shift = 0 }
        }
        if shift > 0 { words.append(current) }
        self.init(words: words)
    }

    /// Canonical wire form: `0x` + lowercase hex, no leading zeros.
    public var hexString: String {
        guard let top = words.last else { return "0x0" }
        let digitsChars: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(2 + words.count * 16)
        out.append(UInt8(ascii: "0")); out.append(UInt8(ascii: "x"))
        let topNibbles = (64 - top.leadingZeroBitCount + 3) / 4
        for n in stride(from: topNibbles - 1, through: 0, by: -1) {
            out.append(digitsChars[Int((top >> UInt64(n * 4)) & 0xf)])
        }
        for w in words.dropLast().reversed() {
            for n in stride(from: 15, through: 0, by: -1) {
                out.append(digitsChars[Int((w >> UInt64(n * 4)) & 0xf)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hexString }

    public func contains(_ i: Int) -> Bool {
        guard i >= 0 else { return false }
        let w = i >> 6
        return w < words.count && (words[w] >> UInt64(i & 63)) & 1 == 1
    }

    public mutating func insert(_ i: Int) {
        precondition(i >= 0, "bit position must be non-negative")
        let w = i >> 6
        if w >= words.count { words.append(contentsOf: repeatElement(0, count: w - words.count + 1)) }
        words[w] |= UInt64(1) << UInt64(i & 63)
    }

    public mutating func remove(_ i: Int) {
        guard i >= 0, i >> 6 < words.count else { return }
        words[i >> 6] &= ~(UInt64(1) << UInt64(i & 63))
        trim()
    }

    /// Number of set bits.
    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }
    public var isEmpty: Bool { words.isEmpty }

    /// One past the highest set bit (0 for the empty set).
    public var bitWidth: Int {
        guard let top = words.last else { return 0 }
        return (words.count - 1) * 64 + (64 - top.leadingZeroBitCount)
    }

    /// Ascending positions of the set bits.
    public var indices: [Int] {
        var out = [Int]()
        out.reserveCapacity(count)
        for (wi, var w) in words.enumerated() {
            while w != 0 {
                let b = w.trailingZeroBitCount
                out.append(wi << 6 | b)
                w &= w - 1
            }
        }
        return out
    }

    public func union(_ other: BitMask) -> BitMask {
        let (a, b) = words.count >= other.words.count ? (words, other.words) : (other.words, words)
        var r = a
        for i in b.indices { r[i] |= b[i] }
        return BitMask(words: r)
    }

    public func intersection(_ other: BitMask) -> BitMask {
        let n = min(words.count, other.words.count)
        return BitMask(words: (0..<n).map { words[$0] & other.words[$0] })
    }

    /// Bits of `self` that are not in `other` (`x & ~y`).
    public func subtracting(_ other: BitMask) -> BitMask {
        var r = words
        for i in 0..<min(r.count, other.words.count) { r[i] &= ~other.words[i] }
        return BitMask(words: r)
    }

    /// Complement within `0 ..< total` (`x XOR (2^total − 1)`).
    public func inverted(total: Int) -> BitMask {
        BitMask.full(count: total).subtracting(self)
    }

    private mutating func trim() {
        while let last = words.last, last == 0 { words.removeLast() }
    }
}
