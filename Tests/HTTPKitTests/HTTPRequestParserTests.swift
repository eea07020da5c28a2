import Testing
@testable import HTTPKit

/// Feeds `text` (optionally byte by byte) and collects every event until the parser needs more.
private struct Parsed {
    var heads: [HTTPRequestHead] = []
    var bodies: [[UInt8]] = []
    var ends = 0
}

private func parse(_ text: String, limits: HTTPRequestParser.Limits = .init(), byteByByte: Bool = false) throws(HTTPParseError) -> Parsed {
    var parser = HTTPRequestParser(limits: limits)
    var result = Parsed()
    var current: [UInt8] = []
    func drain() throws(HTTPParseError) {
        while let event = try parser.next() {
            switch event {
            case .head(let h): result.heads.append(h); current = []
            case .body(let b): current += b
            case .end: result.bodies.append(current); result.ends += 1
            }
        }
    }
    if byteByByte {
        for b in text.utf8 { parser.append([b]); try drain() }
    } else {
        parser.append(Array(text.utf8))
        try drain()
    }
    return result
}

private func parseError(_ text: String, limits: HTTPRequestParser.Limits = .init()) -> HTTPParseError? {
    do { _ = try parse(text, limits: limits); return nil } catch { return error }
}

@Suite struct HTTPRequestParserTests {
    @Test func simpleGet() throws {
        let p = try parse("GET /v1/health?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n")
        let h = try #require(p.heads.first)
        #expect(h.method == .GET)
        #expect(h.target == "/v1/health?x=1")
        #expect(h.version == "HTTP/1.1")
        #expect(h.headers[.host] == "a")
        #expect(h.headers["user-agent"] == "t")
        #expect(h.isKeepAlive)
        #expect(!h.hasBody)
        #expect(p.ends == 1)
    }

    @Test func byteByByteIsTheSameAsAllAtOnce() throws {
        let text = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
        let a = try parse(text)
        let b = try parse(text, byteByByte: true)
        #expect(a.bodies == [Array("hello".utf8)])
        #expect(b.bodies == a.bodies)
        #expect(b.heads.count == 1)
    }

    @Test(arguments: [
        "GET\r\n\r\n",
        "GET /\r\n\r\n",
        "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n",
        "GET / HTTX/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1\r\nHost: a\r\n\r\n",
    ])
    func malformedRequestLine(_ text: String) {
        let e = parseError(text)
        #expect(e?.kind == .malformedRequestLine)
        #expect(e?.status == .badRequest)
        #expect(e?.code == "MALFORMED_REQUEST")
    }

    @Test(arguments: [
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",        // space before colon (RFC 9112 §5.1)
        "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", // obs-fold
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{01}b\r\n\r\n",
        "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",
    ])
    func badHeaderSyntax(_ text: String) {
        #expect(parseError(text)?.kind == .invalidHeader)
    }

    @Test func unsupportedVersionIs505() {
        let e = parseError("GET / HTTP/2.0\r\nHost: a\r\n\r\n")
        #expect(e?.kind == .versionNotSupported)
        #expect(e?.status == .httpVersionNotSupported)
    }

    @Test func missingHostOnHTTP11() {
        #expect(parseError("GET / HTTP/1.1\r\n\r\n")?.kind == .missingHost)
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")?.kind == .missingHost)
        #expect(parseError("GET / HTTP/1.0\r\n\r\n") == nil)
    }

    @Test func headersTooLargeIs431() {
        let limits = HTTPRequestParser.Limits(maxHeaderBytes: 1024)
        let big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + String(repeating: "a", count: 2000) + "\r\n\r\n"
        let e = parseError(big, limits: limits)
        #expect(e?.kind == .headersTooLarge)
        #expect(e?.status == .requestHeaderFieldsTooLarge)
        // Also while incomplete: a client that never ends its headers is cut off at the limit.
        let e2 = parseError("GET / HTTP/1.1\r\nX: " + String(repeating: "b", count: 2000), limits: limits)
        #expect(e2?.kind == .headersTooLarge)
    }

    @Test func contentLengthAndTransferEncodingIs400() {
        let e = parseError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(e?.kind == .conflictingFraming)
        #expect(e?.status == .badRequest)
    }

    @Test func contentLengthRules() throws {
        #expect(parseError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n")?.kind == .invalidContentLength)
        #expect(parseError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n")?.kind == .invalidContentLength)
        #expect(parseError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n")?.kind == .invalidContentLength)
        #expect(parseError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n")?.kind == .invalidContentLength)
        // Identical repeated values are one value (RFC 9112 §6.3).
        let p = try parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok")
        #expect(p.bodies == [Array("ok".utf8)])
    }

    @Test func nonChunkedTransferEncodingIs400() {
        #expect(parseError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n")?.kind == .unsupportedTransferEncoding)
        #expect(parseError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")?.kind == .unsupportedTransferEncoding)
    }

    @Test func transferEncodingInHTTP10Is400() {
        #expect(parseError("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")?.kind == .unsupportedTransferEncoding)
    }

    @Test func contentLengthOverLimitIs413BeforeBody() {
        let e = parseError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n", limits: .init(maxBodyBytes: 1000))
        #expect(e?.kind == .contentTooLarge)
        #expect(e?.status == .contentTooLarge)
    }

    @Test func chunkedWithExtensionsAndTrailers() throws {
        let text = "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"
            + "5;name=value;flag\r\nhello\r\n"
            + "6 ; ext=\"q\"\r\n world\r\n"
            + "0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
        for bytewise in [false, true] {
            let p = try parse(text, byteByByte: bytewise)
            #expect(p.heads.first?.isChunked == true)
            #expect(p.bodies == [Array("hello world".utf8)])
            #expect(p.ends == 1)
        }
    }

    @Test(arguments: [
        "zz\r\nhello\r\n0\r\n\r\n",           // not hex
        "\r\nhello\r\n0\r\n\r\n",             // empty size
        "5\r\nhelloXX0\r\n\r\n",              // no CRLF after data
        "5 x\r\nhello\r\n0\r\n\r\n",          // junk after size
        "fffffffffffffffff\r\n",              // overflow
    ])
    func invalidChunks(_ chunks: String) {
        let e = parseError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
        #expect(e?.kind == .invalidChunk)
    }

    @Test func chunkedBodyGrowingPastLimitIs413() {
        let e = parseError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n",
                           limits: .init(maxBodyBytes: 10))
        #expect(e?.kind == .contentTooLarge)
    }

    @Test func pipelinedRequestsInOneBuffer() throws {
        let text = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
            + "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
            + "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
            + "GET /d HTTP/1.1\r\nHost: a\r\n\r\n"
        let p = try parse(text)
        #expect(p.heads.map(\.target) == ["/a", "/b", "/c", "/d"])
        #expect(p.bodies == [[], Array("xyz".utf8), Array("ok".utf8), []])
        #expect(p.ends == 4)
    }

    @Test func keepAliveSemantics() throws {
        #expect(try parse("GET / HTTP/1.0\r\n\r\n").heads[0].isKeepAlive == false)
        #expect(try parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").heads[0].isKeepAlive == true)
        #expect(try parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").heads[0].isKeepAlive == false)
        #expect(try parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n").heads[0].isKeepAlive == false)
        #expect(try parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n").heads[0].isKeepAlive == true)
        #expect(try parse("GET / HTTP/1.0\r\n\r\n").heads[0].version == "HTTP/1.0")
    }

    @Test func expectContinue() throws {
        let h = try parse("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n").heads[0]
        #expect(h.expectsContinue)
    }

    @Test func toleratesLeadingEmptyLineAndBareLF() throws {
        let p = try parse("\r\nGET / HTTP/1.1\nHost: a\n\n")
        #expect(p.heads.count == 1)
        #expect(p.ends == 1)
    }

    @Test func errorIsSticky() {
        var parser = HTTPRequestParser()
        parser.append(Array("BAD\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        #expect(throws: HTTPParseError.self) { try parser.next() }
        #expect(throws: HTTPParseError.self) { try parser.next() }
    }

    // MARK: - Through HTTPRequest

    @Test func plusAndPercentDecoding() throws {
        let h = try parse("GET /v1/files/a%2Fb/c+d?q=a+b%2Bc&name=x%20y&flag HTTP/1.1\r\nHost: a\r\n\r\n").heads[0]
        let r = HTTPRequest(method: h.method, target: h.target, headers: h.headers)
        #expect(r.rawPath == "/v1/files/a%2Fb/c+d")
        #expect(r.pathSegments == ["v1", "files", "a/b", "c+d"])   // `+` is literal in a path
        #expect(r.query("q") == "a b+c")                           // `+` is a space in a query
        #expect(r.query("name") == "x y")
        #expect(r.query("flag") == "")
    }

    @Test func doubleSlashCollapses() throws {
        let h = try parse("GET //v1///datasets//abc/ HTTP/1.1\r\nHost: a\r\n\r\n").heads[0]
        let r = HTTPRequest(method: h.method, target: h.target)
        #expect(r.pathSegments == ["v1", "datasets", "abc"])
    }

    @Test func absoluteFormBecomesOriginForm() {
        #expect(HTTPConnection.originForm("http://example.com/a/b?x=1") == "/a/b?x=1")
        #expect(HTTPConnection.originForm("HTTPS://example.com") == "/")
        #expect(HTTPConnection.originForm("http://example.com?x=1") == "/?x=1")
        #expect(HTTPConnection.originForm("/plain") == "/plain")
    }

    @Test func headerNamesIgnoreCase() {
        let a: HTTPHeaderName = "Content-Type"
        let b: HTTPHeaderName = "content-TYPE"
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(HTTPHeaderName("X-A") != HTTPHeaderName("X-B"))
        #expect(HTTPHeaderName("X-A") != HTTPHeaderName("X-AB"))
    }
}

@Suite struct RedactionTests {
    @Test(arguments: [
        ("/v1/x?token=abc&a=1", "/v1/x?token=REDACTED&a=1"),
        ("/v1/x?a=1&sig=s3cr3t", "/v1/x?a=1&sig=REDACTED"),
        ("/v1/x?to%6Ben=abc", "/v1/x?to%6Ben=REDACTED"),
        ("/v1/x?token", "/v1/x?token"),
        ("/v1/x", "/v1/x"),
        ("/v1/x?tokens=1&token=&b", "/v1/x?tokens=1&token=REDACTED&b"),
        ("/v1/x?token=a&token=b", "/v1/x?token=REDACTED&token=REDACTED"),
    ])
    func redactsNamedParameters(_ pair: (String, String)) {
        #expect(redactQuery(target: pair.0, names: ["token", "sig"]) == pair.1)
    }

    @Test func emptyNamesChangeNothing() {
        #expect(redactQuery(target: "/x?token=1", names: []) == "/x?token=1")
    }
}

@Suite struct ResponseEncoderTests {
    @Test func headHasLengthDateServerAndNoInjectedLines() {
        var out: [UInt8] = []
        var headers = HTTPHeaders()
        headers.add("X-Evil", "a\r\nSet-Cookie: x")
        headers.add("Content-Length", "999")
        let r = HTTPResponse(status: .ok, headers: headers, body: .bytes(.init()))
        ResponseEncoder.encodeHead(r, contentLength: 12, close: true, http10KeepAlive: false,
                                   serverName: Array("srv".utf8), date: DateCache(), into: &out)
        let text = String(decoding: out, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(text.contains("Content-Length: 12\r\n"))
        #expect(!text.contains("999"))
        #expect(text.contains("Server: srv\r\n"))
        #expect(text.contains("Date: "))
        #expect(text.contains("Connection: close\r\n"))
        #expect(text.contains("X-Evil: a  Set-Cookie: x\r\n"))
        #expect(text.hasSuffix("\r\n\r\n"))
    }

    @Test func imfFixdate() {
        #expect(String(decoding: DateCache.format(784111777), as: UTF8.self) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }

    @Test func jsonErrorEscapes() {
        let r = HTTPResponse.jsonError(.badRequest, code: "BAD_REQUEST", message: "a \"b\"\n")
        guard case .bytes(let d) = r.body else { Issue.record("not bytes"); return }
        #expect(String(decoding: d, as: UTF8.self) == #"{"code":"BAD_REQUEST","message":"a \"b\"\u000a"}"#)
    }
}
