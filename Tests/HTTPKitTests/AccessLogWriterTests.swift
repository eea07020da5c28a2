#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import HTTPKit

/// `AccessLogWriter`: the access log formatted straight into bytes and written in batches,
/// with the same text, the same redaction, and nothing lost when the server stops.
@Suite struct AccessLogWriterTests {
    /// A file the writer appends to, read back by the test.
    final class LogFile {
        let path: String
        let fd: Int32
        init() {
            path = makeTemporaryDirectory() + "/access.log"
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        }
        deinit {
            close(fd)
            unlink(path)
            rmdir(String(path.dropLast("/access.log".count)))
        }
        var lines: [String] {
            guard let data = FileManager.default.contents(atPath: path) else { return [] }
            return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        }
    }

    /// Matches one line as swift-log's `StreamLogHandler` prints `logger.info("request", metadata:)`.
    static var linePattern: Regex<(Substring, Substring, Substring, Substring, Substring)> { #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} info test: connection\.peer=127\.0\.0\.1:\d+ http\.bytes=(\d+|aborted) http\.method=([A-Z]+) http\.ms=\d+\.\d{3} http\.status=(\d{3}) http\.target=(\S+) \[HTTPKit\] request$/# }

    @Test func linesLookLikeTheLoggerLineAndHideSecrets() throws {
        let file = LogFile()
        let writer = AccessLogWriter(fileDescriptor: file.fd, label: "test", flushInterval: .seconds(3600))
        let log = CapturedLog()
        try withServer(testConfiguration { $0.accessLog = writer }, log: log, handler: { r in
            r.rawPath == "/missing" ? text("no", status: .notFound) : text("ok")
        }) { server in
            let c = try TestClient(port: server.port)
            _ = try c.get("/v1/x?token=abc&sig=def&keep=1")
            _ = try c.get("/missing?TO%6BEN=lt_abc")
            _ = try c.get("/v1/\(String(repeating: "ab", count: 32))/y")
        }
        // shutdown() flushed: the hour-long interval never came into play.
        let lines = file.lines
        try #require(lines.count == 3, "\(lines)")
        let fields = try lines.map { line in
            let m = try #require(try Self.linePattern.wholeMatch(in: line), "\(line)")
            return (bytes: String(m.1), method: String(m.2), status: String(m.3), target: String(m.4))
        }
        #expect(fields[0] == ("2", "GET", "200", "/v1/x?token=REDACTED&sig=REDACTED&keep=1"))
        #expect(fields[1] == ("2", "GET", "404", "/missing?TO%6BEN=REDACTED"))
        #expect(fields[2] == ("2", "GET", "200", "/v1/REDACTED/y"))
        // The lines went to the writer, not (also) to the logger.
        #expect(!log.entries.withLock { $0.contains { $0.message == "request" } })
    }

    @Test func aFullBufferIsWrittenAtOnce() throws {
        let file = LogFile()
        // Every line fills the buffer: written by the request's own thread, no timer needed.
        let writer = AccessLogWriter(fileDescriptor: file.fd, label: "test", flushInterval: .seconds(3600), bufferLimit: 1)
        defer { writer.close() }
        try withServer(testConfiguration { $0.accessLog = writer }, handler: { _ in text("ok") }) { server in
            let c = try TestClient(port: server.port)
            _ = try c.get("/a")
            #expect(eventually { file.lines.count == 1 })
            _ = try c.get("/b")
            #expect(eventually { file.lines.count == 2 })
        }
    }

    @Test func theTimerWritesWithoutShutdown() throws {
        let file = LogFile()
        let writer = AccessLogWriter(fileDescriptor: file.fd, label: "test", flushInterval: .milliseconds(20))
        defer { writer.close() }
        try withServer(testConfiguration { $0.accessLog = writer }, handler: { _ in text("ok") }) { server in
            let c = try TestClient(port: server.port)
            _ = try c.get("/a?token=x")
            #expect(eventually { file.lines.count == 1 })
            #expect(file.lines.first?.contains("http.target=/a?token=REDACTED ") == true)
        }
    }

    @Test func closeWritesTheRestAndLaterLinesGoOutAtOnce() throws {
        let file = LogFile()
        let writer = AccessLogWriter(fileDescriptor: file.fd, label: "", flushInterval: .seconds(3600))
        let fields = Array(" k=v".utf8)
        fields.withUnsafeBytes { writer.append(fields: $0) }
        #expect(file.lines.isEmpty)          // buffered: no interval passed, far from the limit
        writer.close()
        #expect(file.lines.count == 1)
        #expect(file.lines.first?.hasSuffix(" info: k=v [HTTPKit] request") == true)
        fields.withUnsafeBytes { writer.append(fields: $0) }
        #expect(file.lines.count == 2)
        writer.close()                       // idempotent
        #expect(file.lines.count == 2)
    }

    @Test func millisecondsAsBytesMatchTheStringForm() {
        for ns: UInt64 in [0, 999, 1_000, 9_999, 10_000, 123_456_789, 5_000_000_000, 1_002_003_000] {
            var out: [UInt8] = []
            HTTPConnection.appendMilliseconds(ns, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == HTTPConnection.milliseconds(ns))
        }
    }
}

/// The precomputed `RedactionRules` give exactly what the straightforward implementation this
/// project started with gives (kept below as the reference), on many random targets.
@Suite struct RedactionEquivalenceTests {
    @Test func sameResultAsTheReference() {
        var rng = SystemRandomNumberGenerator()
        let pieces = ["token", "TOKEN", "to%6Ben", "%74oken", "sig", "SIG", "tokens", "=", "&", "?", "??", "/", ";", "#",
                      "%", "%2", "%41", "%6C%74_", "lt_", "LT_", "lt", "_", "abc", "0123456789abcdef", "ABCDEF", "x",
                      "+", "[]", "%00", "%zz", "é", "9", "ff", "%66"]
        let names: [Set<String>] = [["token", "sig"], [], ["to-ken"], ["", "x"]]
        for _ in 0..<20_000 {
            var target = "/"
            for _ in 0..<Int.random(in: 0...14, using: &rng) { target += pieces.randomElement(using: &rng)! }
            let n = names.randomElement(using: &rng)!
            #expect(redactQuery(target: target, names: n) == referenceRedact(target: target, names: n), "\(target) \(n)")
        }
    }

    /// The first implementation of `redactQuery(target:names:)`.
    func referenceRedact(target: String, names: Set<String>) -> String {
        let bytes = Array(target.utf8)
        var hide: [Range<Int>] = []
        let folded = Set(names.map { foldParameterName(Substring($0)) }.filter { !$0.isEmpty })
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        func alnum(_ c: UInt8) -> Bool {
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
        }
        if !folded.isEmpty {
            var start = 0
            for i in 0...bytes.count where i == bytes.count || "?&;#/".utf8.contains(bytes[i]) {
                if let eq = bytes[start..<i].firstIndex(of: UInt8(ascii: "=")) {
                    let name = String(decoding: bytes[start..<eq], as: UTF8.self)
                    if folded.contains(foldParameterName(Substring(name))) { hide.append((eq + 1)..<i) }
                }
                start = i + 1
            }
        }
        var units: [(value: UInt8, range: Range<Int>)] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count, let h = hex(bytes[i + 1]), let l = hex(bytes[i + 2]) {
                units.append((h << 4 | l, i..<(i + 3)))
                i += 3
            } else {
                units.append((bytes[i], i..<(i + 1)))
                i += 1
            }
        }
        var u = 0
        while u < units.count {
            if hex(units[u].value) != nil {
                var end = u
                while end < units.count, hex(units[end].value) != nil { end += 1 }
                if end - u >= 32 { hide.append(units[u].range.lowerBound..<units[end - 1].range.upperBound) }
                u = end
                continue
            }
            if u + 3 < units.count, units[u].value | 0x20 == UInt8(ascii: "l"), units[u + 1].value | 0x20 == UInt8(ascii: "t"),
               units[u + 2].value == UInt8(ascii: "_"), alnum(units[u + 3].value) {
                var end = u + 3
                while end < units.count, alnum(units[end].value) { end += 1 }
                hide.append(units[u].range.lowerBound..<units[end - 1].range.upperBound)
                u = end
                continue
            }
            u += 1
        }
        guard !hide.isEmpty else { return target }
        hide.sort { $0.lowerBound < $1.lowerBound }
        var out: [UInt8] = []
        var pos = 0
        var lastHiddenEnd = -1
        for r in hide {
            if r.upperBound <= pos { continue }
            let from = max(r.lowerBound, pos)
            if from > pos { out += bytes[pos..<from] }
            if from != lastHiddenEnd { out += "REDACTED".utf8 }
            pos = r.upperBound
            lastHiddenEnd = pos
        }
        out += bytes[pos...]
        return String(decoding: out, as: UTF8.self)
    }
}
