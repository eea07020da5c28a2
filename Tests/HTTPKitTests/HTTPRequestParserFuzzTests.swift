import Testing
@testable import HTTPKit

/// SplitMix64: a tiny seeded generator so fuzz runs repeat exactly.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Everything observable about one parse, for comparing two feeding strategies.
private struct Trace: Equatable {
    var events: [String] = []
    var error: HTTPParseError.Kind?
}

private func trace(_ bytes: [UInt8], chunkSizes: inout some RandomNumberGenerator, split: Bool) -> Trace {
    var parser = HTTPRequestParser(limits: .init(maxHeaderBytes: 1 << 20, maxBodyBytes: 1 << 20))
    var t = Trace()
    var body: [UInt8] = []
    var i = 0
    while i < bytes.count {
        let n = split ? Int.random(in: 1...7, using: &chunkSizes) : bytes.count
        let end = min(bytes.count, i + n)
        parser.append(bytes[i..<end])
        i = end
        do {
            while let e = try parser.next() {
                switch e {
                case .head(let h): t.events.append("head \(h.method) \(h.target) \(h.version) \(h.headers.fields.count) \(h.isKeepAlive)")
                case .body(let b): body += b
                case .end: t.events.append("end \(body.count) \(body.reduce(0) { $0 &+ Int($1) })"); body = []
                }
            }
        } catch {
            t.error = error.kind
            return t
        }
    }
    return t
}

@Suite struct HTTPRequestParserFuzzTests {
    static let seeds: [String] = [
        "GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
        "PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.1\r\nHost: y\r\n\r\n",
    ]

    /// Mutated requests never trap, and feeding them in random small pieces gives exactly the
    /// same events and errors as feeding them at once (the scan state survives every split).
    @Test func mutatedInputIsHandledTheSameWholeOrSplit() {
        var rng = SplitMix64(state: 0x5EED)
        let alphabet = Array("\r\n: ;0aF9\t-/%,".utf8) + [0, 0x7F, 0xFF]
        for iteration in 0..<3000 {
            var bytes = Array(Self.seeds[iteration % Self.seeds.count].utf8)
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                let pos = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[pos] = alphabet.randomElement(using: &rng) ?? 0
                case 1: bytes.insert(alphabet.randomElement(using: &rng) ?? 0, at: pos)
                default: if bytes.count > 1 { bytes.remove(at: pos) }
                }
            }
            var splits = SplitMix64(state: UInt64(iteration))
            var unused = SplitMix64(state: 0)
            let whole = trace(bytes, chunkSizes: &unused, split: false)
            let pieces = trace(bytes, chunkSizes: &splits, split: true)
            #expect(whole == pieces, "input: \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            if whole != pieces { return }
        }
    }

    /// Random bytes never trap the parser.
    @Test func randomBytesNeverTrap() {
        var rng = SplitMix64(state: 42)
        for _ in 0..<2000 {
            var parser = HTTPRequestParser(limits: .init(maxHeaderBytes: 512, maxBodyBytes: 512))
            let count = Int.random(in: 0..<600, using: &rng)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            parser.append(Array("GET / HTTP/1.1\r\n".utf8) + bytes)
            while (try? parser.next()) != nil {}
        }
    }
}
