// Decimal text → Float32 with Python's semantics: `np.float32(float(text))`, i.e. the decimal
// is rounded correctly to a Double first, and that Double is then rounded to Float. (This is
// *double rounding*; it differs from a direct `strtof` only for decimals within half a Double
// ulp of a Float midpoint, and Python is what wrote and will re-read these files.)

/// Outcome of scanning one number.
@usableFromInline
enum DecimalScanStatus: UInt8 {
    /// A complete decimal was read and converted; `value` is finite.
    case ok
    /// The bytes at the cursor are not a decimal number in the accepted grammar.
    case invalid
    /// A well-formed decimal whose Float value is ±infinity (e.g. `1e39`).
    case nonFinite
}

/// A fast, correctly rounding decimal→Float32 scanner for CSV fields.
///
/// Grammar (Python `float()` minus whitespace, underscores, `inf`/`nan` and hex):
/// `[+-]? (digits [. digits?]? | . digits) ([eE] [+-]? digits)?`.
///
/// Up to 19 significant digits are accumulated in a `UInt64` (further digits only mark the
/// value inexact). With at most 2^53 and |e| ≤ 22 the Double is exact by Clinger's fast path
/// (Clinger 1990, "How to read floating point numbers accurately"). Otherwise the Double
/// computed from `w × 10^e` has a relative error below 4 Double ulps, which cannot change the
/// Float rounding unless the approximation lies within a few Double ulps of a Float midpoint
/// (low 29 mantissa bits ≈ 2^28); only then, and for Float subnormals and exponents beyond
/// ±64, does it fall back to the correctly rounded `Double(String)`.
@usableFromInline
enum DecimalFloat {
    /// 10^k for k in -64…64 at index `64 + k`, correctly rounded (exact for 0 ≤ k ≤ 22).
    static let powersOfTen: [Double] = {
        var t = [Double](repeating: 0, count: 129)
        for k in -64...64 { t[64 + k] = Double("1e\(k)") ?? .infinity }
        return t
    }()

    /// Scans a number starting at `p` (not beyond `end`).
    ///
    /// - Returns: the status, the value (when `.ok`), and the position after the last byte
    ///   that belongs to the number grammar. The caller checks that a delimiter follows.
    @inline(__always)
    static func scan(_ start: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>,
                     pow10: UnsafePointer<Double>) -> (DecimalScanStatus, Float, UnsafePointer<UInt8>) {
        var i = start
        var negative = false
        if i < end, i.pointee == UInt8(ascii: "-") || i.pointee == UInt8(ascii: "+") {
            negative = i.pointee == UInt8(ascii: "-")
            i += 1
        }
        var w: UInt64 = 0
        var sig = 0              // significant digits held in w
        var e10 = 0              // value = w × 10^e10 (before the explicit exponent)
        var truncated = false    // a nonzero digit was dropped beyond 19 significant digits
        var anyDigit = false
        while i < end && i.pointee == UInt8(ascii: "0") { i += 1; anyDigit = true }
        eightDigitRuns(&i, end, &w, &sig, &e10, &anyDigit, fraction: false, pow10: pow10)
        while i < end {
            let d = i.pointee &- 48
            if d >= 10 { break }
            if sig < 19 {
                if w != 0 || d != 0 { w = w &* 10 &+ UInt64(d); sig += 1 }
            } else {
                e10 += 1
                if d != 0 { truncated = true }
            }
            anyDigit = true
            i += 1
        }
        if i < end, i.pointee == UInt8(ascii: ".") {
            i += 1
            if w == 0 {
                while i < end && i.pointee == UInt8(ascii: "0") { e10 -= 1; i += 1; anyDigit = true }
            }
            eightDigitRuns(&i, end, &w, &sig, &e10, &anyDigit, fraction: true, pow10: pow10)
            while i < end {
                let d = i.pointee &- 48
                if d >= 10 { break }
                if sig < 19 {
                    if w != 0 || d != 0 { w = w &* 10 &+ UInt64(d); sig += 1 }
                    e10 -= 1
                } else if d != 0 {
                    truncated = true
                }
                anyDigit = true
                i += 1
            }
        }
        if !anyDigit { return (.invalid, 0, i) }
        if i < end, i.pointee | 0x20 == UInt8(ascii: "e") {
            i += 1
            var expNegative = false
            if i < end, i.pointee == UInt8(ascii: "-") || i.pointee == UInt8(ascii: "+") {
                expNegative = i.pointee == UInt8(ascii: "-")
                i += 1
            }
            var exp = 0
            var expDigits = false
            while i < end {
                let d = i.pointee &- 48
                if d >= 10 { break }
                if exp < 100_000 { exp = exp &* 10 &+ Int(d) }
                expDigits = true
                i += 1
            }
            if !expDigits { return (.invalid, 0, i) }
            e10 += expNegative ? -exp : exp
        }
        if w == 0 { return (.ok, negative ? -0.0 : 0.0, i) }
        if e10 > 64 { return (.nonFinite, 0, i) }           // ≥ 1e65
        if e10 < -64 { return (.ok, negative ? -0.0 : 0.0, i) } // < 1e-45: rounds to zero
        // For 10^e10 ≥ 1 this is Clinger's exact product when w ≤ 2^53 and e10 ≤ 22. Otherwise
        // (notably every fraction: a multiply by the rounded 10^-k instead of a divide, which
        // was the parser's hottest instruction) it is within 4 Double ulps, and the
        // midpoint guard below decides whether the Float rounding can still be trusted.
        let a = Double(w) * pow10[64 + e10]
        if !truncated && w <= (1 << 53) && e10 >= 0 && e10 <= 22 {
            // Clinger: `a` is the correctly rounded Double.
            let f = Float(a)
            if !f.isFinite { return (.nonFinite, 0, i) }
            return (.ok, negative ? -f : f, i)
        }
        let low = a.bitPattern & 0x1FFF_FFFF
        let nearMidpoint = low &- 0x0FFF_FFF0 < 0x20   // within ±16 ulps of 2^28
        if a < 1.1754943508222875e-38 || nearMidpoint {
            return slow(start, i, negative: negative)
        }
        let f = Float(a)
        if !f.isFinite { return (.nonFinite, 0, i) }
        return (.ok, negative ? -f : f, i)
    }

    /// Consumes runs of up to eight digits at a time (SWAR, as in fast_float's
    /// `parse_eight_digits_unrolled`, Lemire 2021) while they fit in 19 significant digits;
    /// the byte loop after it handles the rest. Requires leading zeros to be skipped already
    /// when `w == 0`, so every digit consumed here is significant.
    @inline(__always)
    static func eightDigitRuns(_ i: inout UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>,
                               _ w: inout UInt64, _ sig: inout Int, _ e10: inout Int, _ anyDigit: inout Bool,
                               fraction: Bool, pow10: UnsafePointer<Double>) {
        while end - i >= 8 {
            let v = UInt64(littleEndian: UnsafeRawPointer(i).loadUnaligned(as: UInt64.self))
            // A byte is a digit iff its high nibble is 3 and adding 6 keeps it 3.
            let a = (v & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030
            let b = (((v & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030
            let nonDigit = a | b
            let nd = nonDigit == 0 ? 8 : nonDigit.trailingZeroBitCount >> 3
            if nd == 0 || sig + nd > 19 { return }
            // Left-align the nd digits and pad with '0's in front: an 8-digit number.
            let shift = UInt64(8 * (8 - nd))
            var x = (v << shift) | (0x3030_3030_3030_3030 >> UInt64(8 * nd))
            x &-= 0x3030_3030_3030_3030
            x = (x &* 10) &+ (x >> 8)
            x = (((x & 0x0000_00FF_0000_00FF) &* 0x000F_4240_0000_0064)
                 &+ (((x >> 16) & 0x0000_00FF_0000_00FF) &* 0x0000_2710_0000_0001)) >> 32
            w = w &* UInt64(pow10[64 + nd]) &+ (x & 0xFFFF_FFFF)
            sig += nd
            if fraction { e10 -= nd }
            anyDigit = true
            i += nd
            if nd < 8 { return }
        }
    }

    /// Correctly rounded fallback through `Double(String)` (the grammar is already checked).
    @inline(never)
    static func slow(_ start: UnsafePointer<UInt8>, _ stop: UnsafePointer<UInt8>,
                     negative: Bool) -> (DecimalScanStatus, Float, UnsafePointer<UInt8>) {
        let text = String(decoding: UnsafeBufferPointer(start: start, count: stop - start), as: UTF8.self)
        guard let d = Double(text) else { return (.invalid, 0, stop) }
        let f = Float(d)
        if !f.isFinite { return (.nonFinite, 0, stop) }
        return (.ok, f, stop)
    }

    /// Parses a whole byte string as one number (used for quoted fields and in tests).
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> (DecimalScanStatus, Float) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return (.invalid, 0) }
        return powersOfTen.withUnsafeBufferPointer { p10 in
            guard let table = p10.baseAddress else { return (.invalid, 0) }
            let (status, value, next) = scan(base, base + bytes.count, pow10: table)
            if next != base + bytes.count { return (.invalid, 0) }
            return (status, value)
        }
    }

    /// Parses a string as one number; `nil` unless it is a finite decimal in the grammar.
    static func parse(_ text: String) -> Float? {
        var copy = text
        return copy.withUTF8 { buf in
            let (status, value) = parse(buf)
            return status == .ok ? value : nil
        }
    }
}
