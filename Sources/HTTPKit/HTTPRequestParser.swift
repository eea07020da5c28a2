// MARK: - Request head

/// The request line and header section of one request, plus the framing the parser derived
/// from them.
public struct HTTPRequestHead: Sendable {
    /// The request method, e.g. `GET`.
    public var method: HTTPMethod
    /// The request target exactly as received.
    public var target: String
    /// `"HTTP/1.1"` or `"HTTP/1.0"`.
    public var version: String
    /// The header fields in the order received.
    public var headers: HTTPHeaders
    /// The body length from `Content-Length`, or `nil` when absent (or chunked).
    public var contentLength: Int?
    /// `Transfer-Encoding: chunked`.
    public var isChunked: Bool
    /// Whether the connection may stay open after the response: HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive` (RFC 9112 §9.3).
    public var isKeepAlive: Bool
    /// `Expect: 100-continue` (RFC 9110 §10.1.1).
    public var expectsContinue: Bool

    /// Whether a body follows the head.
    public var hasBody: Bool { isChunked || (contentLength ?? 0) > 0 }
}

// MARK: - Parser

/// An incremental HTTP/1.1 request parser (RFC 9112): a pure state machine over bytes.
///
/// Feed bytes with ``append(_:)`` as they arrive, then call ``next()`` until it returns `nil`
/// (more bytes needed). Each request yields `.head`, zero or more `.body`, then `.end`;
/// pipelined requests follow one another in the same buffer. After an error the parser stays
/// failed: the connection must answer and close.
///
/// ```swift
/// var parser = HTTPRequestParser(limits: .init())
/// parser.append(Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
/// while let event = try parser.next() { … }
/// ```
///
/// - Complexity: O(n) in the bytes fed; the header scan resumes where it stopped, so a
///   client trickling one byte at a time costs O(n) in total, not O(n²).
public struct HTTPRequestParser: Sendable {
    /// Size limits enforced while parsing.
    public struct Limits: Sendable {
        /// Request line plus header section, in bytes. Over it: 431.
        public var maxHeaderBytes: Int
        /// Body bytes (declared or, for chunked bodies, received). Over it: 413.
        public var maxBodyBytes: Int
        /// Creates limits; the defaults match ``HTTPServerConfiguration``.
        public init(maxHeaderBytes: Int = 64 * 1024, maxBodyBytes: Int = 4 << 30) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxBodyBytes = maxBodyBytes
        }
    }

    /// What the parser produced.
    public enum Event: Sendable {
        /// A complete request head.
        case head(HTTPRequestHead)
        /// Some body bytes (already de-chunked).
        case body([UInt8])
        /// The end of the current request.
        case end
    }

    private enum State: Sendable {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case end
        case failed(HTTPParseError)
    }

    /// The longest chunk-size line (size plus extensions) accepted.
    static let maxChunkLineBytes = 4096

    /// The limits this parser enforces.
    public let limits: Limits
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Where the head/trailer scan resumes.
    private var scanIndex = 0
    /// Start of the line being scanned.
    private var lineStart = 0
    private var trailerBytes = 0
    private var chunkedTotal = 0
    private var state: State = .head

    /// Creates a parser with the given limits.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Bytes received but not yet consumed by ``next()``.
    public var bufferedCount: Int { buffer.count - readIndex }

    /// True between requests with nothing buffered: a clean place to close a connection.
    public var isIdle: Bool {
        if case .head = state { return bufferedCount == 0 }
        return false
    }

    // MARK: Feeding

    /// Appends received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Appends received bytes.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    private mutating func compact() {
        guard readIndex > 0 else { return }
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 256 * 1024)
        } else if readIndex >= 16 * 1024 || readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0..<readIndex)
        } else {
            return
        }
        scanIndex -= readIndex
        lineStart -= readIndex
        readIndex = 0
    }

    // MARK: Parsing

    /// Returns the next event, or `nil` when more bytes are needed.
    /// - Throws: ``HTTPParseError``; the parser then stays failed.
    public mutating func next() throws(HTTPParseError) -> Event? {
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func step() throws(HTTPParseError) -> Event? {
        switch state {
        case .failed(let error):
            throw error
        case .head:
            guard let head = try parseHead() else { return nil }
            if head.isChunked {
                state = .chunkSize
                chunkedTotal = 0
            } else if let n = head.contentLength, n > 0 {
                state = .fixedBody(remaining: n)
            } else {
                state = .end
            }
            return .head(head)
        case .fixedBody(let remaining):
            let n = min(remaining, bufferedCount)
            guard n > 0 else { return nil }
            let bytes = takeBytes(n)
            state = remaining == n ? .end : .fixedBody(remaining: remaining - n)
            return .body(bytes)
        case .chunkSize:
            guard try parseChunkSize() else { return nil }
            return try step()
        case .chunkData(let remaining):
            let n = min(remaining, bufferedCount)
            guard n > 0 else { return nil }
            let bytes = takeBytes(n)
            state = remaining == n ? .chunkDataEnd : .chunkData(remaining: remaining - n)
            return .body(bytes)
        case .chunkDataEnd:
            // RFC 9112 §7.1: chunk-data is followed by CRLF (bare LF tolerated, §2.2).
            guard bufferedCount >= 1 else { return nil }
            if buffer[readIndex] == .lf {
                readIndex += 1
            } else if buffer[readIndex] == .cr {
                guard bufferedCount >= 2 else { return nil }
                guard buffer[readIndex + 1] == .lf else { throw HTTPParseError(.invalidChunk, "chunk data not followed by CRLF") }
                readIndex += 2
            } else {
                throw HTTPParseError(.invalidChunk, "chunk data not followed by CRLF")
            }
            state = .chunkSize
            return try step()
        case .trailers:
            guard try skipTrailers() else { return nil }
            state = .end
            return try step()
        case .end:
            state = .head
            scanIndex = readIndex
            lineStart = readIndex
            return .end
        }
    }

    private mutating func takeBytes(_ n: Int) -> [UInt8] {
        let bytes = Array(buffer[readIndex..<(readIndex + n)])
        readIndex += n
        return bytes
    }

    /// Finds the next line ending at or after `scanIndex`; returns the index of the LF.
    private mutating func scanForLF() -> Int? {
        let end = buffer.count
        var i = max(scanIndex, readIndex)
        let found: Int? = buffer.withUnsafeBufferPointer { p in
            while i < end {
                if p[i] == .lf { return i }
                i += 1
            }
            return nil
        }
        scanIndex = found.map { $0 + 1 } ?? end
        return found
    }

    // MARK: Head

    private mutating func parseHead() throws(HTTPParseError) -> HTTPRequestHead? {
        // RFC 9112 §2.2: ignore at least one empty line before the request line.
        while readIndex < buffer.count, buffer[readIndex] == .cr || buffer[readIndex] == .lf {
            if buffer[readIndex] == .cr {
                guard readIndex + 1 < buffer.count else { return nil }
                guard buffer[readIndex + 1] == .lf else { throw HTTPParseError(.malformedRequestLine, "bare CR") }
                readIndex += 2
            } else {
                readIndex += 1
            }
            scanIndex = readIndex
            lineStart = readIndex
        }
        if lineStart < readIndex { lineStart = readIndex }
        // Find the empty line that ends the header section.
        var headEnd: Int?
        while let lf = scanForLF() {
            let lineLength = lf - lineStart
            if lineLength == 0 || (lineLength == 1 && buffer[lineStart] == .cr) {
                headEnd = lf + 1
                break
            }
            lineStart = lf + 1
        }
        guard let end = headEnd else {
            if bufferedCount > limits.maxHeaderBytes {
                throw HTTPParseError(.headersTooLarge, "request header section too large")
            }
            return nil
        }
        guard end - readIndex <= limits.maxHeaderBytes else {
            throw HTTPParseError(.headersTooLarge, "request header section too large")
        }
        let start = readIndex
        let head = try buffer.withUnsafeBufferPointer { p throws(HTTPParseError) in
            try Self.parseHeadBlock(p, start: start, end: end, limits: limits)
        }
        readIndex = end
        scanIndex = end
        lineStart = end
        return head
    }

    /// Parses the complete head in `p[start..<end]` (which ends with an empty line).
    private static func parseHeadBlock(_ p: UnsafeBufferPointer<UInt8>, start: Int, end: Int,
                                       limits: Limits) throws(HTTPParseError) -> HTTPRequestHead {
        var lineStart = start
        func nextLine() -> Range<Int> {
            var i = lineStart
            while p[i] != .lf { i += 1 }
            var lineEnd = i
            if lineEnd > lineStart, p[lineEnd - 1] == .cr { lineEnd -= 1 }
            let r = lineStart..<lineEnd
            lineStart = i + 1
            return r
        }

        // Request line: method SP request-target SP HTTP-version (RFC 9112 §3).
        let requestLine = nextLine()
        guard let sp1 = p[requestLine].firstIndex(of: .space) else {
            throw HTTPParseError(.malformedRequestLine, "malformed request line")
        }
        guard let sp2 = p[(sp1 + 1)..<requestLine.upperBound].firstIndex(of: .space) else {
            throw HTTPParseError(.malformedRequestLine, "malformed request line")
        }
        let methodRange = requestLine.lowerBound..<sp1
        let targetRange = (sp1 + 1)..<sp2
        let versionRange = (sp2 + 1)..<requestLine.upperBound
        guard !methodRange.isEmpty, p[methodRange].allSatisfy(\.isTokenChar) else {
            throw HTTPParseError(.malformedRequestLine, "invalid method")
        }
        guard !targetRange.isEmpty, p[targetRange].allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw HTTPParseError(.malformedRequestLine, "invalid request target")
        }
        let minor = try parseVersion(p[versionRange])
        let method = HTTPMethod(rawValue: Self.string(p, methodRange))
        let target = Self.string(p, targetRange)
        let version = minor == 0 ? "HTTP/1.0" : "HTTP/1.1"

        // Header fields (RFC 9112 §5).
        var headers = HTTPHeaders()
        var contentLength: Int?
        var transferEncoding: [UInt8]?
        var connectionClose = false
        var connectionKeepAlive = false
        var expectsContinue = false
        var hostCount = 0
        while true {
            let line = nextLine()
            if line.isEmpty { break }
            // obs-fold: RFC 9112 §5.2 lets a server reject it with 400.
            if p[line.lowerBound] == .space || p[line.lowerBound] == .tab {
                throw HTTPParseError(.invalidHeader, "obsolete line folding")
            }
            guard let colon = p[line].firstIndex(of: .colon) else {
                throw HTTPParseError(.invalidHeader, "header line without colon")
            }
            let nameRange = line.lowerBound..<colon
            // RFC 9112 §5.1: no whitespace between field name and colon.
            guard !nameRange.isEmpty, p[nameRange].allSatisfy(\.isTokenChar) else {
                throw HTTPParseError(.invalidHeader, "invalid header name")
            }
            var vs = colon + 1
            var ve = line.upperBound
            while vs < ve, p[vs] == .space || p[vs] == .tab { vs += 1 }
            while ve > vs, p[ve - 1] == .space || p[ve - 1] == .tab { ve -= 1 }
            let valueRange = vs..<ve
            guard p[valueRange].allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == .tab }) else {
                throw HTTPParseError(.invalidHeader, "invalid character in header value")
            }
            let name = p[nameRange]
            if name.asciiCaseInsensitiveEquals("content-length") {
                // RFC 9112 §6.3: a list of identical values is one value; differing values are an error.
                for part in p[valueRange].split(separator: .comma, omittingEmptySubsequences: false) {
                    let digits = part.trimmingOWS()
                    guard let n = parseDecimal(digits) else {
                        throw HTTPParseError(.invalidContentLength, "invalid Content-Length")
                    }
                    if let existing = contentLength, existing != n {
                        throw HTTPParseError(.invalidContentLength, "conflicting Content-Length values")
                    }
                    contentLength = n
                }
            } else if name.asciiCaseInsensitiveEquals("transfer-encoding") {
                transferEncoding = (transferEncoding ?? []) + (transferEncoding == nil ? [] : Array(", ".utf8)) + Array(p[valueRange])
            } else if name.asciiCaseInsensitiveEquals("connection") {
                for token in p[valueRange].split(separator: .comma) {
                    let t = token.trimmingOWS()
                    if t.asciiCaseInsensitiveEquals("close") { connectionClose = true }
                    else if t.asciiCaseInsensitiveEquals("keep-alive") { connectionKeepAlive = true }
                }
            } else if name.asciiCaseInsensitiveEquals("expect") {
                if p[valueRange].asciiCaseInsensitiveEquals("100-continue") { expectsContinue = true }
            } else if name.asciiCaseInsensitiveEquals("host") {
                hostCount += 1
            }
            headers.add(HTTPHeaderName(rawValue: Self.string(p, nameRange)), Self.string(p, valueRange))
        }

        var isChunked = false
        if transferEncoding != nil, minor == 0 {
            // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request means faulty framing.
            throw HTTPParseError(.unsupportedTransferEncoding, "Transfer-Encoding is not allowed in HTTP/1.0")
        }
        if let te = transferEncoding {
            // RFC 9112 §6.1: both present is a smuggling vector; reject.
            guard contentLength == nil else {
                throw HTTPParseError(.conflictingFraming, "both Content-Length and Transfer-Encoding")
            }
            guard te[...].trimmingOWS().asciiCaseInsensitiveEquals("chunked") else {
                throw HTTPParseError(.unsupportedTransferEncoding, "only chunked transfer coding is supported")
            }
            isChunked = true
        }
        if minor >= 1, hostCount != 1 {
            throw HTTPParseError(.missingHost, "HTTP/1.1 requires exactly one Host header")
        }
        if let n = contentLength, n > limits.maxBodyBytes {
            throw HTTPParseError(.contentTooLarge, "request body exceeds \(limits.maxBodyBytes) bytes")
        }
        let keepAlive = minor >= 1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        return HTTPRequestHead(method: method, target: target, version: version, headers: headers,
                               contentLength: contentLength, isChunked: isChunked,
                               isKeepAlive: keepAlive, expectsContinue: expectsContinue)
    }

    /// Returns the minor version for `HTTP/1.x`.
    private static func parseVersion(_ v: Slice<UnsafeBufferPointer<UInt8>>) throws(HTTPParseError) -> Int {
        // HTTP-version = "HTTP" "/" DIGIT "." DIGIT (RFC 9112 §2.3)
        let b = Array(v)
        guard b.count == 8, b[0] == 0x48, b[1] == 0x54, b[2] == 0x54, b[3] == 0x50, b[4] == .slash,
              b[5].isDigit, b[6] == .dot, b[7].isDigit else {
            throw HTTPParseError(.malformedRequestLine, "invalid HTTP version")
        }
        guard b[5] == UInt8(ascii: "1") else {
            throw HTTPParseError(.versionNotSupported, "only HTTP/1.0 and HTTP/1.1 are supported")
        }
        return Int(b[7] - UInt8(ascii: "0"))
    }

    private static func parseDecimal(_ s: Slice<UnsafeBufferPointer<UInt8>>) -> Int? {
        guard !s.isEmpty, s.count <= 18 else { return nil }
        var n = 0
        for c in s {
            guard c.isDigit else { return nil }
            n = n * 10 + Int(c - UInt8(ascii: "0"))
        }
        return n
    }

    private static func string(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: p[r]), as: UTF8.self)
    }

    // MARK: Chunked

    /// Parses `chunk-size [ chunk-ext ] CRLF` (RFC 9112 §7.1). Returns false if incomplete.
    private mutating func parseChunkSize() throws(HTTPParseError) -> Bool {
        scanIndex = max(scanIndex, readIndex)
        guard let lf = scanForLF() else {
            if bufferedCount > Self.maxChunkLineBytes { throw HTTPParseError(.invalidChunk, "chunk size line too long") }
            return false
        }
        guard lf - readIndex <= Self.maxChunkLineBytes else { throw HTTPParseError(.invalidChunk, "chunk size line too long") }
        var i = readIndex
        var size = 0
        var digits = 0
        while i < lf, let h = buffer[i].hexValue {
            guard digits < 15 else { throw HTTPParseError(.invalidChunk, "chunk size too large") }
            size = size << 4 | Int(h)
            digits += 1
            i += 1
        }
        guard digits > 0 else { throw HTTPParseError(.invalidChunk, "invalid chunk size") }
        var lineEnd = lf
        if lineEnd > i, buffer[lineEnd - 1] == .cr { lineEnd -= 1 }
        // Whatever follows must be chunk extensions: BWS ";" …, ignored (RFC 9112 §7.1.1).
        while i < lineEnd, buffer[i] == .space || buffer[i] == .tab { i += 1 }
        if i < lineEnd {
            guard buffer[i] == .semicolon else { throw HTTPParseError(.invalidChunk, "invalid chunk size") }
            for j in i..<lineEnd where buffer[j] < 0x20 && buffer[j] != .tab || buffer[j] == 0x7F {
                throw HTTPParseError(.invalidChunk, "invalid chunk extension")
            }
        }
        readIndex = lf + 1
        scanIndex = readIndex
        lineStart = readIndex
        if size == 0 {
            trailerBytes = 0
            state = .trailers
        } else {
            chunkedTotal += size
            guard chunkedTotal <= limits.maxBodyBytes else {
                throw HTTPParseError(.contentTooLarge, "request body exceeds \(limits.maxBodyBytes) bytes")
            }
            state = .chunkData(remaining: size)
        }
        return true
    }

    /// Skips the trailer section up to and including its empty line (RFC 9112 §7.1.2:
    /// trailers may be discarded). Returns false if incomplete.
    private mutating func skipTrailers() throws(HTTPParseError) -> Bool {
        while true {
            let start = readIndex
            guard let lf = scanForLF() else {
                if trailerBytes + bufferedCount > limits.maxHeaderBytes {
                    throw HTTPParseError(.headersTooLarge, "trailer section too large")
                }
                return false
            }
            let length = lf - start
            trailerBytes += length + 1
            guard trailerBytes <= limits.maxHeaderBytes else {
                throw HTTPParseError(.headersTooLarge, "trailer section too large")
            }
            readIndex = lf + 1
            lineStart = readIndex
            if length == 0 || (length == 1 && buffer[start] == .cr) { return true }
            guard buffer[start..<lf].contains(.colon) else {
                throw HTTPParseError(.invalidChunk, "invalid trailer field")
            }
        }
    }
}

// MARK: - Byte helpers

extension UInt8 {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let colon = UInt8(ascii: ":")
    static let semicolon = UInt8(ascii: ";")
    static let comma = UInt8(ascii: ",")
    static let slash = UInt8(ascii: "/")
    static let dot = UInt8(ascii: ".")

    var isDigit: Bool { self >= 0x30 && self <= 0x39 }

    var hexValue: UInt8? {
        switch self {
        case 0x30...0x39: self - 0x30
        case 0x41...0x46: self - 0x41 + 10
        case 0x61...0x66: self - 0x61 + 10
        default: nil
        }
    }

    var asciiLowercased: UInt8 { self >= 0x41 && self <= 0x5A ? self | 0x20 : self }

    /// tchar (RFC 9110 §5.6.2).
    var isTokenChar: Bool {
        switch self {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }
}

extension Collection where Element == UInt8 {
    /// Compares with a lowercase ASCII literal, ignoring ASCII case.
    func asciiCaseInsensitiveEquals(_ lowercase: StaticString) -> Bool {
        guard count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { l in
            var i = l.startIndex
            for c in self {
                if c.asciiLowercased != l[i] { return false }
                i += 1
            }
            return true
        }
    }
}

extension BidirectionalCollection where Element == UInt8, SubSequence == Self {
    /// Drops optional whitespace (SP / HTAB) at both ends.
    func trimmingOWS() -> SubSequence {
        var s = self[...]
        while let f = s.first, f == .space || f == .tab { s = s.dropFirst() }
        while let l = s.last, l == .space || l == .tab { s = s.dropLast() }
        return s
    }
}
