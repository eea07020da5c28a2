// Formatting a Float the way Python prints it after widening: `repr(float(np.float32(x)))`.
// That is the shortest decimal that rounds back to the same *Double* (closest one among the
// shortest), laid out by CPython's `float_repr_style = 'short'` rules: fixed notation when
// the decimal point position `decpt` satisfies -4 < decpt <= 16, otherwise `d.ddde±XX`.

/// Writes Python `repr` text for Float values widened to Double.
///
/// For normal values between about 1e-14 and 2^55 the digits come from exact 128-bit integer
/// arithmetic: the value and its Double rounding interval are scaled by 10^p to 17–19 integer
/// digits, the largest power of ten with a multiple inside the interval gives the shortest
/// length, and the multiple nearest the exact value is chosen (the criteria of Steele & White
/// 1990 / Gay 1990 that CPython's `repr` uses). Other magnitudes use the digits of Swift's
/// `Double.description`, which are also shortest-and-closest, re-laid-out in Python style.
enum PythonFloatRepr {
    /// 5^0 … 5^31.
    static let powersOfFive: [UInt128] = {
        var t = [UInt128](repeating: 1, count: 32)
        for i in 1..<32 { t[i] = t[i - 1] * 5 }
        return t
    }()

    /// Appends the repr of `Double(value)` to `out` (at most 32 bytes).
    /// Non-finite values are written as Python would (`inf`, `-inf`, `nan`); callers that
    /// guarantee finite data never produce them.
    static func append(_ value: Float, to out: inout [UInt8], pow5: UnsafePointer<UInt128>) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 48) { buf in
            guard let b = buf.baseAddress else { return }
            let n = format(value, into: b, pow5: pow5)
            out.append(contentsOf: UnsafeBufferPointer(start: b, count: n))
        }
    }

    /// Convenience for tests: the repr as a String.
    static func string(_ value: Float) -> String {
        var out: [UInt8] = []
        powersOfFive.withUnsafeBufferPointer { p5 in
            if let p = p5.baseAddress { append(value, to: &out, pow5: p) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Writes the repr into `b` (capacity ≥ 40) and returns the byte count.
    @inline(__always)
    static func format(_ value: Float, into b: UnsafeMutablePointer<UInt8>,
                       pow5: UnsafePointer<UInt128>) -> Int {
        if !value.isFinite {
            let s: StaticString = value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf")
            return copy(s, into: b)
        }
        var n = 0
        if value.sign == .minus { b[0] = UInt8(ascii: "-"); n = 1 }
        let a = value.magnitude
        if a == 0 { return n + copy("0.0", into: b + n) }
        if let (digits, exp10) = shortestDigits(a, pow5: pow5) {
            return n + layout(digits: digits, exp10: exp10, into: b + n)
        }
        return n + fallback(a, into: b + n)
    }

    /// Shortest digits `m` and exponent with `Double(a) ≈ m × 10^exp10`; nil outside the fast range.
    @inline(__always)
    static func shortestDigits(_ a: Float, pow5: UnsafePointer<UInt128>) -> (UInt64, Int)? {
        let bits = a.bitPattern
        let expBits = Int((bits >> 23) & 0xFF)
        if expBits == 0 { return nil }                 // subnormal
        let frac = bits & 0x7F_FFFF
        let m = UInt64(frac | 0x80_0000)
        let e = expBits - 150                          // a = m × 2^e
        let s = 31 - e                                 // value = v / 2^s in units of 2^(e-31)
        if s <= 0 { return nil }
        let k2 = e + 23                                // floor(log2 a)
        let est = (k2 * 78913) >> 18                   // floor(k2 · log10 2), exact for |k2| < 1650
        let p = 17 - est                               // a × 10^p ∈ [1e17, 2e18)
        if p < 0 || p > 31 { return nil }
        let v = m << 31
        let hiHalf: UInt64 = 2                         // half a Double ulp above
        let loHalf: UInt64 = frac == 0 ? 1 : 2         // below (half as much at a power of two)
        let f5 = pow5[p]
        let mid = UInt128(v) * f5
        let lo = UInt128(v - loHalf) * f5
        let hi = UInt128(v + hiHalf) * f5
        let sh = s - p
        var lowI: UInt64, highI: UInt64, midI: UInt64
        var midRem: UInt128 = 0, half: UInt128 = 0
        if sh > 0 {
            let mask = (UInt128(1) << sh) - 1
            lowI = UInt64(truncatingIfNeeded: (lo + mask) >> sh)   // ceil; boundaries are inclusive
            highI = UInt64(truncatingIfNeeded: hi >> sh)
            midI = UInt64(truncatingIfNeeded: mid >> sh)
            midRem = mid & mask
            half = UInt128(1) << (sh - 1)
        } else {
            lowI = UInt64(truncatingIfNeeded: lo << -sh)
            highI = UInt64(truncatingIfNeeded: hi << -sh)
            midI = UInt64(truncatingIfNeeded: mid << -sh)
        }
        // Largest power of ten with a multiple inside [lowI, highI].
        var t: UInt64 = 1
        var k = 0
        while k < 19 {
            let next = t &* 10
            if (highI / next) &* next < lowI { break }
            t = next
            k += 1
        }
        // The multiple of t nearest the exact value (midI + midRem/2^sh); ties to even.
        let q = midI / t
        let r = midI - q &* t
        var useLower: Bool
        let twiceR = 2 &* r
        // Lower iff 2(r + f) < t, f = midRem / 2^sh ∈ [0, 1); equality is a tie.
        if twiceR &+ 1 < t { useLower = true }
        else if twiceR &+ 1 == t {
            if midRem < half { useLower = true }
            else if midRem > half { useLower = false }
            else { useLower = q & 1 == 0 }
        } else if twiceR == t && midRem == 0 {
            useLower = q & 1 == 0
        } else { useLower = false }
        var c = useLower ? q : q &+ 1
        if c &* t < lowI { c = q &+ 1 }
        if c &* t > highI { c = q }
        var digits = c
        var exp10 = k - p
        while digits % 10 == 0 && digits != 0 { digits /= 10; exp10 += 1 }
        return (digits, exp10)
    }

    /// Python's layout of `digits × 10^exp10`.
    @inline(__always)
    static func layout(digits: UInt64, exp10: Int, into b: UnsafeMutablePointer<UInt8>) -> Int {
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes of scratch for ≤ 20 digits
        return withUnsafeMutableBytes(of: &tmp) { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            let d = base.assumingMemoryBound(to: UInt8.self)
            var nd = 0
            var x = digits
            repeat { d[23 - nd] = UInt8(truncatingIfNeeded: x % 10) &+ 48; x /= 10; nd += 1 } while x != 0
            let ds = d + 24 - nd
            return layout(digitBytes: ds, count: nd, decpt: nd + exp10, into: b)
        }
    }

    /// Python's layout of `0.d1d2…dn × 10^decpt` (digits as ASCII, no trailing zeros).
    static func layout(digitBytes ds: UnsafePointer<UInt8>, count nd: Int, decpt: Int,
                       into b: UnsafeMutablePointer<UInt8>) -> Int {
        var n = 0
        if decpt > -4 && decpt <= 16 {
            if decpt <= 0 {
                b[0] = UInt8(ascii: "0"); b[1] = UInt8(ascii: ".")
                n = 2
                for _ in 0 ..< -decpt { b[n] = UInt8(ascii: "0"); n += 1 }
                for j in 0..<nd { b[n] = ds[j]; n += 1 }
            } else if decpt >= nd {
                for j in 0..<nd { b[n] = ds[j]; n += 1 }
                for _ in 0 ..< decpt - nd { b[n] = UInt8(ascii: "0"); n += 1 }
                b[n] = UInt8(ascii: "."); b[n + 1] = UInt8(ascii: "0"); n += 2
            } else {
                for j in 0..<decpt { b[n] = ds[j]; n += 1 }
                b[n] = UInt8(ascii: "."); n += 1
                for j in decpt..<nd { b[n] = ds[j]; n += 1 }
            }
            return n
        }
        b[0] = ds[0]; n = 1
        if nd > 1 {
            b[1] = UInt8(ascii: "."); n = 2
            for j in 1..<nd { b[n] = ds[j]; n += 1 }
        }
        b[n] = UInt8(ascii: "e"); n += 1
        var x = decpt - 1
        b[n] = x < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"); n += 1
        if x < 0 { x = -x }
        if x >= 100 { b[n] = UInt8(x / 100) + 48; n += 1 }
        b[n] = UInt8((x / 10) % 10) + 48; b[n + 1] = UInt8(x % 10) + 48
        return n + 2
    }

    /// Rare magnitudes: take the shortest digits from `Double.description` and re-lay them out.
    @inline(never)
    static func fallback(_ a: Float, into b: UnsafeMutablePointer<UInt8>) -> Int {
        let text = Double(a).description               // e.g. "1.401298464324817e-45"
        var digits: [UInt8] = []
        var pointAt: Int? = nil
        var exp = 0
        var inExp = false, expNeg = false
        for c in text.utf8 {
            if inExp {
                if c == UInt8(ascii: "-") { expNeg = true }
                else if c >= 48 && c <= 57 { exp = exp * 10 + Int(c - 48) }
            } else if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                inExp = true
            } else if c == UInt8(ascii: ".") {
                pointAt = digits.count
            } else if c >= 48 && c <= 57 {
                digits.append(c)
            }
        }
        if expNeg { exp = -exp }
        var decpt = (pointAt ?? digits.count) + exp
        while let first = digits.first, first == UInt8(ascii: "0") { digits.removeFirst(); decpt -= 1 }
        while let last = digits.last, last == UInt8(ascii: "0") { digits.removeLast() }
        if digits.isEmpty { return copy("0.0", into: b) }
        return digits.withUnsafeBufferPointer { ds in
            guard let base = ds.baseAddress else { return 0 }
            return layout(digitBytes: base, count: ds.count, decpt: decpt, into: b)
        }
    }

    @inline(__always)
    static func copy(_ s: StaticString, into b: UnsafeMutablePointer<UInt8>) -> Int {
        let n = s.utf8CodeUnitCount
        b.update(from: s.utf8Start, count: n)
        return n
    }
}
