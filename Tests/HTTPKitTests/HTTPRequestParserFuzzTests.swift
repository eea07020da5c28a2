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
    /// One entry per head and per end of a request (the end carries the body's size and checksum).
    var events: [String] = []
    /// The error the parse ended with; nil if the input ran out first.
    var error: HTTPParseError.Kind?
    /// Requests completed (`.end` events).
    var requests = 0
}

/// Feeds `bytes` to a parser, whole or in random pieces of 1–7 bytes, drains it after every
/// piece, and checks after every call that the parser's state is consistent:
///
/// - events follow `(head body* end)*`, and a body event is never empty;
/// - a body event consumes its own bytes from the buffer (exactly them when framed by
///   `Content-Length`; chunked framing is consumed with them), and only `append` makes the
///   buffer grow (bytes consumed never exceed bytes fed);
/// - a request framed by `Content-Length` ends after exactly that many body bytes, and no
///   body is longer than `maxBodyBytes`;
/// - `nil` ("need more bytes") is stable: asking again without new input gives `nil` again
///   and consumes nothing more, and the parser then holds no more than its limits allow;
/// - an error is final: asking again, even after more (valid) bytes, throws the same error;
/// - with no error and nothing pending between requests, the parser reports itself idle.
private func checkedTrace(_ bytes: [UInt8], limits: HTTPRequestParser.Limits,
                          pieces: inout SplitMix64?, sourceLocation: SourceLocation = #_sourceLocation) -> Trace {
    var parser = HTTPRequestParser(limits: limits)
    var t = Trace()
    var head: HTTPRequestHead?
    var bodyCount = 0, bodySum = 0
    var fed = 0, i = 0
    let waitBound = max(limits.maxHeaderBytes, HTTPRequestParser.maxChunkLineBytes)
    func check(_ ok: Bool, _ what: String) {
        if !ok { Issue.record("\(what); input \(String(decoding: bytes, as: UTF8.self).debugDescription)", sourceLocation: sourceLocation) }
    }
    while i < bytes.count {
        var n = bytes.count
        if var r = pieces { n = Int.random(in: 1...7, using: &r); pieces = r }
        let end = min(bytes.count, i + n)
        parser.append(bytes[i..<end])
        fed += end - i
        i = end
        check(parser.bufferedCount <= fed, "buffers \(parser.bufferedCount) bytes of \(fed) fed")
        while true {
            let before = parser.bufferedCount
            let event: HTTPRequestParser.Event?
            do {
                event = try parser.next()
            } catch {
                t.error = error.kind
                check(!parser.isIdle, "idle after an error")
                var again: HTTPParseError?
                do { _ = try parser.next() } catch { again = error }
                parser.append(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                var afterMore: HTTPParseError?
                do { _ = try parser.next() } catch { afterMore = error }
                check(again == error && afterMore == error, "error \(error) not final: then \(String(describing: again)), \(String(describing: afterMore))")
                return t
            }
            check(parser.bufferedCount <= before, "next() grew the buffer from \(before) to \(parser.bufferedCount)")
            guard let event else {
                check(parser.bufferedCount <= waitBound, "waits holding \(parser.bufferedCount) bytes")
                let after = parser.bufferedCount
                let again = try? parser.next()
                check(again == nil && parser.bufferedCount == after, "nil was not stable")
                break
            }
            switch event {
            case .head(let h):
                check(head == nil, "head inside a request")
                check(!(h.isChunked && h.contentLength != nil), "both chunked and Content-Length")
                head = h
                bodyCount = 0; bodySum = 0
                t.events.append("head \(h.method) \(h.target) \(h.version) \(h.headers.fields.count) \(h.isKeepAlive)")
            case .body(let b):
                check(head != nil, "body outside a request")
                check(!b.isEmpty, "empty body event")
                // Chunked: the chunk-size line and CRLFs before the data are consumed too.
                let consumed = before - parser.bufferedCount
                check(head?.isChunked == true ? consumed >= b.count : consumed == b.count,
                      "body of \(b.count) bytes consumed \(consumed)")
                bodyCount += b.count
                bodySum = b.reduce(bodySum) { $0 &+ Int($1) }
                check(bodyCount <= limits.maxBodyBytes, "body \(bodyCount) over the limit")
                if let h = head, !h.isChunked { check(bodyCount <= h.contentLength ?? 0, "body longer than Content-Length") }
            case .end:
                check(head != nil, "end outside a request")
                if let h = head, !h.isChunked { check(bodyCount == h.contentLength ?? 0, "body \(bodyCount) ≠ Content-Length") }
                head = nil
                t.requests += 1
                t.events.append("end \(bodyCount) \(bodySum)")
            }
        }
    }
    if head == nil, parser.bufferedCount == 0 { check(parser.isIdle, "not idle between requests") }
    return t
}

@Suite struct HTTPRequestParserFuzzTests {
    static let seeds: [String] = [
        "GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
        "PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.1\r\nHost: y\r\n\r\n",
    ]
    static let alphabet = Array("\r\n: ;0aF9\t-/%,".utf8) + [0, 0x7F, 0xFF]
    static let wide = HTTPRequestParser.Limits(maxHeaderBytes: 1 << 20, maxBodyBytes: 1 << 20)

    /// The seeds themselves parse into the requests they spell, whole and split.
    @Test func seedsParseCompletely() {
        for (k, seed) in Self.seeds.enumerated() {
            var whole: SplitMix64? = nil, split: SplitMix64? = SplitMix64(state: UInt64(k))
            let a = checkedTrace(Array(seed.utf8), limits: Self.wide, pieces: &whole)
            let b = checkedTrace(Array(seed.utf8), limits: Self.wide, pieces: &split)
            #expect(a.error == nil && a.requests == (k == 3 ? 2 : 1), "\(seed.debugDescription): \(a)")
            #expect(a == b)
        }
    }

    /// Mutated requests keep the parser consistent, and feeding them in random small pieces
    /// gives exactly the same events and errors as feeding them at once (the scan state
    /// survives every split).
    @Test func mutatedInputIsHandledTheSameWholeOrSplit() {
        var rng = SplitMix64(state: 0x5EED)
        var errors = 0
        for iteration in 0..<3000 {
            var bytes = Array(Self.seeds[iteration % Self.seeds.count].utf8)
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                let pos = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[pos] = Self.alphabet.randomElement(using: &rng) ?? 0
                case 1: bytes.insert(Self.alphabet.randomElement(using: &rng) ?? 0, at: pos)
                default: if bytes.count > 1 { bytes.remove(at: pos) }
                }
            }
            var whole: SplitMix64? = nil, split: SplitMix64? = SplitMix64(state: UInt64(iteration))
            let a = checkedTrace(bytes, limits: Self.wide, pieces: &whole)
            let b = checkedTrace(bytes, limits: Self.wide, pieces: &split)
            #expect(a == b, "input: \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            if a != b { return }
            if a.error != nil { errors += 1 }
        }
        // The mutations must reach both outcomes, or the comparison above proves little.
        #expect(errors > 300 && errors < 2700, "\(errors) of 3000 mutated inputs were rejected")
    }

    /// Random bytes after a request line keep the parser consistent under tight limits, and
    /// the outcome is definite: the parser never sits on more than `maxHeaderBytes` waiting
    /// for a header section, so 600 random bytes against a 512-byte limit end in an error
    /// unless a whole request was read.
    @Test func randomBytesEndInADefiniteOutcome() {
        var rng = SplitMix64(state: 42)
        let limits = HTTPRequestParser.Limits(maxHeaderBytes: 512, maxBodyBytes: 512)
        for iteration in 0..<2000 {
            let count = Int.random(in: 0..<600, using: &rng)
            let bytes = Array("GET / HTTP/1.1\r\n".utf8) + (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var split: SplitMix64? = SplitMix64(state: UInt64(iteration))
            let t = checkedTrace(bytes, limits: limits, pieces: &split)
            if bytes.count > limits.maxHeaderBytes, t.requests == 0 {
                #expect(t.error != nil, "\(bytes.count) bytes without a header section, no error")
            }
        }
    }

    /// A complete request is parsed the same whatever follows it on the wire: the seeds
    /// followed by random (often invalid) bytes, in random pieces, first give exactly the
    /// seeds' own events.
    @Test func validPrefixParsesTheSameWhateverFollows() {
        var rng = SplitMix64(state: 7)
        var whole: SplitMix64? = nil
        let expected = Self.seeds.map { checkedTrace(Array($0.utf8), limits: Self.wide, pieces: &whole) }
        for iteration in 0..<2000 {
            let k = iteration % Self.seeds.count
            let tail = (0..<Int.random(in: 1..<80, using: &rng)).map { _ in
                Bool.random(using: &rng) ? Self.alphabet.randomElement(using: &rng) ?? 0 : UInt8.random(in: 0...255, using: &rng)
            }
            var split: SplitMix64? = SplitMix64(state: UInt64(iteration))
            let t = checkedTrace(Array(Self.seeds[k].utf8) + tail, limits: Self.wide, pieces: &split)
            #expect(t.requests >= expected[k].requests)
            #expect(Array(t.events.prefix(expected[k].events.count)) == expected[k].events,
                    "seed \(k) + \(tail)")
        }
    }
}
