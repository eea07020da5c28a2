import Foundation
import Testing
@testable import LightlyCore

/// SplitMix64: a tiny deterministic generator for reproducible random tests.
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Python's semantics, `np.float32(float(text))`: correctly rounded Double, then Float.
func pythonFloat32(_ text: String) -> Float? {
    guard let d = Double(text) else { return nil }
    let f = Float(d)
    return f.isFinite ? f : nil
}

/// A random finite Float from random bits (all magnitudes, subnormals included).
func randomFiniteFloat(_ rng: inout TestRNG) -> Float {
    while true {
        let f = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
        if f.isFinite { return f }
    }
}

/// What the tests that compare against CPython (and numpy) need; they are skipped without it.
enum Python {
    /// python3 runs here.
    static let available = runPython("pass", input: "") != nil
    /// python3 runs here and can import numpy.
    static let hasNumpy = runPython("import numpy", input: "") != nil
}

/// Runs python3 with a script and stdin; nil if python3 is unavailable or fails.
func runPython(_ script: String, input: String) -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    let inPipe = Pipe(), outPipe = Pipe()
    process.standardInput = inPipe
    process.standardOutput = outPipe
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return nil }
    let data = Data(input.utf8)
    DispatchQueue.global().async {
        inPipe.fileHandleForWriting.write(data)
        try? inPipe.fileHandleForWriting.close()
    }
    let out = outPipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    return String(decoding: out, as: UTF8.self)
}

@Suite struct EmbeddingCSVFloatParsingTests {
    @Test func pythonReprExamples() {
        let cases: [(String, Float)] = [
            ("-0.4913", -0.4913), ("1e-05", 1e-05), ("1.2e-05", 1.2e-05), ("0", 0), ("-0.0", -0.0),
            ("3.4028235e+38", .greatestFiniteMagnitude), ("1.", 1), (".5", 0.5), ("+2.5", 2.5),
            ("0.10000000149011612", 0.1), ("1E3", 1000), ("1e-50", 0), ("123456789012345678901234567890", 1.2345679e29),
            ("0.000000000000000000000000000000000000000000001401298464324817", .leastNonzeroMagnitude),
        ]
        for (text, expected) in cases {
            let v = DecimalFloat.parse(text)
            #expect(v?.bitPattern == expected.bitPattern, "\(text)")
        }
        #expect(DecimalFloat.parse("-0.0")?.sign == .minus)
    }

    @Test func rejectsNonNumbersAndNonFinite() {
        for text in ["", "-", ".", "e5", "1e", "1e+", "abc", "0x1p3", "1,5", " 1", "1 ", "inf", "nan", "-inf",
                     "Infinity", "1_000", "1..2", "--1", "1e5.5"] {
            #expect(DecimalFloat.parse(text) == nil, "\(text)")
        }
        var copy = "1e39"
        let status = copy.withUTF8 { DecimalFloat.parse($0).0 }
        #expect(status == .nonFinite)
        copy = "-1e400"
        #expect(copy.withUTF8 { DecimalFloat.parse($0).0 } == .nonFinite)
    }

    /// The documented difference from `Float(String)`: Python rounds to Double first.
    @Test func doubleRoundingLikePython() {
        let text = "1.00000005960464477539062501"          // just above the midpoint 1 + 2^-24
        #expect(Float(text) == Float(1).nextUp)            // direct rounding
        #expect(DecimalFloat.parse(text) == 1.0)           // np.float32(float(text))
        #expect(pythonFloat32(text) == 1.0)
    }

    @Test func shortestFloatReprsRoundTripAndMatchFloatString() {
        var rng = TestRNG(seed: 1)
        for _ in 0..<200_000 {
            let f = randomFiniteFloat(&rng)
            let text = f.description                       // shortest float32 repr (numpy's str)
            let parsed = DecimalFloat.parse(text)
            #expect(parsed?.bitPattern == f.bitPattern, "\(text)")
            #expect(parsed?.bitPattern == Float(text)?.bitPattern, "\(text)")
            if parsed?.bitPattern != f.bitPattern { return }
        }
    }

    @Test func doubleReprsMatchPythonSemantics() {
        var rng = TestRNG(seed: 2)
        for i in 0..<200_000 {
            let d: Double
            if i % 2 == 0 {
                d = Double(bitPattern: rng.next() & 0x7FFF_FFFF_FFFF_FFFF) * (rng.next() & 1 == 0 ? 1 : -1)
                if !d.isFinite { continue }
            } else {
                d = Double(randomFiniteFloat(&rng)) * (1 + Double(rng.next() % 1000) * 1e-12)
            }
            let text = d.description
            let expected = pythonFloat32(text)
            let parsed = DecimalFloat.parse(text)
            #expect(parsed?.bitPattern == expected?.bitPattern, "\(text)")
            if parsed?.bitPattern != expected?.bitPattern { return }
        }
    }

    @Test func randomDecimalStringsMatchPythonSemantics() {
        var rng = TestRNG(seed: 3)
        for _ in 0..<200_000 {
            var s = rng.next() & 1 == 0 ? "" : "-"
            let digits = 1 + Int(rng.next() % 30)
            let point = Int(rng.next() % UInt64(digits + 1))
            for j in 0..<digits {
                if j == point && j > 0 { s += "." }
                s += String(rng.next() % 10)
            }
            if rng.next() % 3 != 0 { s += "e" + String(Int(rng.next() % 130) - 70) }
            let expected = pythonFloat32(s)
            let parsed = DecimalFloat.parse(s)
            #expect(parsed?.bitPattern == expected?.bitPattern, "\(s)")
            if parsed?.bitPattern != expected?.bitPattern { return }
        }
    }

    /// Decimals on and next to Float midpoints exercise the fallback guard.
    @Test func floatMidpoints() {
        var rng = TestRNG(seed: 4)
        for _ in 0..<50_000 {
            let f = randomFiniteFloat(&rng).magnitude
            guard f.nextUp.isFinite else { continue }
            let mid = (Double(f) + Double(f.nextUp)) / 2
            for d in [mid, mid.nextUp, mid.nextDown] {
                for text in [d.description, String(format: "%.25e", d), String(format: "%.40g", d)] {
                    let expected = pythonFloat32(text)
                    let parsed = DecimalFloat.parse(text)
                    #expect(parsed?.bitPattern == expected?.bitPattern, "\(text)")
                    if parsed?.bitPattern != expected?.bitPattern { return }
                }
            }
        }
    }
}

@Suite struct EmbeddingCSVFloatFormattingTests {
    @Test func pythonLayout() {
        let cases: [(Float, String)] = [
            (0, "0.0"), (-0.0, "-0.0"), (1, "1.0"), (-2.5, "-2.5"), (0.1, "0.10000000149011612"),
            (1e-05, "9.999999747378752e-06"), (0.0001, "9.999999747378752e-05"), (0.5, "0.5"),
            (0.25, "0.25"), (0.001, "0.0010000000474974513"), (1e16, "1.0000000272564224e+16"), (1e15, "999999986991104.0"), (65536 * 65536 * 4096, "17592186044416.0"),
            (123456, "123456.0"), (.greatestFiniteMagnitude, "3.4028234663852886e+38"),
            (.leastNonzeroMagnitude, "1.401298464324817e-45"), (0.0625, "0.0625"), (1e-4 * 2, "0.00019999999494757503"),
            (.infinity, "inf"), (-.infinity, "-inf"),
        ]
        for (value, expected) in cases {
            #expect(PythonFloatRepr.string(value) == expected, "\(value)")
        }
    }

    /// The writer against CPython itself: `repr(float)` of the float32 value.
    @Test(.enabled(if: Python.available, "needs python3"))
    func matchesCPythonRepr() throws {
        var rng = TestRNG(seed: 5)
        var values: [Float] = []
        for _ in 0..<60_000 { values.append(randomFiniteFloat(&rng)) }
        for _ in 0..<60_000 { values.append(Float(Double(rng.next() % 2_000_001) / 1000 - 1000)) }
        for e in -50...40 { values.append(Float("1e\(e)") ?? 0); values.append(Float("3e\(e)") ?? 0) }
        for k in -149...127 { values.append(Float(sign: .plus, exponent: k, significand: 1)) }
        for i in 0..<2000 { values.append(Float(i)); values.append(Float(i) / 64) }
        let input = values.map { String($0.bitPattern, radix: 16) }.joined(separator: "\n") + "\n"
        let script = """
        import struct, sys
        out = []
        for line in sys.stdin:
            out.append(repr(struct.unpack('<f', struct.pack('<I', int(line, 16)))[0]))
        sys.stdout.write("\\n".join(out) + "\\n")
        """
        let output = try #require(runPython(script, input: input), "the python3 script failed")
        let expected = output.split(separator: "\n").map(String.init)
        try #require(expected.count == values.count)
        var mismatches = 0
        for (v, e) in zip(values, expected) where PythonFloatRepr.string(v) != e {
            mismatches += 1
            if mismatches < 10 { Issue.record("\(v.bitPattern): ours \(PythonFloatRepr.string(v)), Python \(e)") }
        }
        #expect(mismatches == 0)
    }

    @Test func formatThenParseIsBitExact() {
        var rng = TestRNG(seed: 6)
        for _ in 0..<200_000 {
            let f = randomFiniteFloat(&rng)
            let text = PythonFloatRepr.string(f)
            #expect(DecimalFloat.parse(text)?.bitPattern == f.bitPattern, "\(text)")
        }
    }
}

/// The scanner's fast paths (Clinger's exact product, the approximate product guarded by the
/// Float-midpoint test) against its own exact fallback (`DecimalFloat.slow`: the correctly
/// rounded Double, then Float) on random decimals of many shapes, bit for bit.
@Suite struct DecimalFloatFastPathTests {
    /// Writes a random decimal of a random shape into `out` (ASCII bytes).
    static func randomDecimal(_ rng: inout TestRNG, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        let r = rng.next()
        if r & 1 == 1 { out.append(UInt8(ascii: "-")) } else if r & 6 == 0 { out.append(UInt8(ascii: "+")) }
        let digits = 1 + Int((r >> 3) % 20)
        let point = Int((r >> 8) % UInt64(digits + 2))  // digits + 1: no point
        for j in 0..<digits {
            if j == point { out.append(UInt8(ascii: ".")) }
            out.append(UInt8(ascii: "0") + UInt8(rng.next() % 10))
        }
        if (r >> 16) % 4 != 0 {
            out.append((r >> 18) & 1 == 0 ? UInt8(ascii: "e") : UInt8(ascii: "E"))
            // Mostly the Clinger range, also far beyond Float's range both ways.
            let e = (r >> 20) % 3 == 0 ? Int((r >> 24) % 110) - 60 : Int((r >> 24) % 45) - 22
            out.append(contentsOf: Array(String(e).utf8))
        }
    }

    /// Fast path and exact fallback on one input: both statuses and bit patterns.
    static func check(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return false }
            let end = base + buf.count
            let (fast, value, next) = DecimalFloat.powersOfTen.withUnsafeBufferPointer {
                DecimalFloat.scan(base, end, pow10: $0.baseAddress!)
            }
            let negative = base.pointee == UInt8(ascii: "-")
            let (exact, exactValue, _) = DecimalFloat.slow(base, next, negative: negative)
            if next != end { return false }
            return fast == exact && (fast != .ok || value.bitPattern == exactValue.bitPattern)
        }
    }

    @Test func randomShapesAgreeWithExactParser() {
        var rng = TestRNG(seed: 16)
        var bytes: [UInt8] = []; bytes.reserveCapacity(48)
        var failures = 0
        for _ in 0..<1_500_000 {
            Self.randomDecimal(&rng, into: &bytes)
            if !Self.check(bytes) {
                failures += 1
                Issue.record("fast path differs from the exact parser on \(String(decoding: bytes, as: UTF8.self))")
                if failures > 5 { return }
            }
        }
    }

    /// Decimals within a few Double ulps of a Float rounding midpoint (where rounding to
    /// Double first matters), Float subnormals, and the neighbourhood of Float's maximum.
    @Test func constructedHardCasesAgreeWithExactParser() {
        var rng = TestRNG(seed: 17)
        var failures = 0
        func expectSame(_ d: Double, _ format: String) {
            let bytes = Array(String(format: format, d).utf8)
            if !Self.check(bytes) {
                failures += 1
                Issue.record("fast path differs from the exact parser on \(String(decoding: bytes, as: UTF8.self))")
            }
        }
        var candidates: [Double] = [Double(Float.greatestFiniteMagnitude), Double(Float.leastNonzeroMagnitude),
                                    Double(Float.leastNormalMagnitude), 0x1.ffffffp127, 0x1.fffffefffffffp127, 1e-46, 7e-46]
        for _ in 0..<60_000 {
            let f = randomFiniteFloat(&rng).magnitude
            guard f.nextUp.isFinite, f > 0 else { continue }
            let mid = (Double(f) + Double(f.nextUp)) / 2
            let k = Int(rng.next() % 9) - 4
            var d = mid
            for _ in 0..<abs(k) { d = k > 0 ? d.nextUp : d.nextDown }
            candidates.append(d)
        }
        for d in candidates {
            for format in ["%.17g", "%.16g", "%.19e", "%.9e", "%.21g"] {
                expectSame(d, format)
                expectSame(-d, format)
                if failures > 5 { return }
            }
        }
    }
}
