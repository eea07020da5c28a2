#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

// MARK: - Error responses

extension HTTPResponse {
    /// A JSON error response `{"code":"…","message":"…"}`, for handlers that want one. The
    /// server's own error answers use ``HTTPServerConfiguration/errorBody`` instead.
    ///
    /// - Parameters:
    ///   - status: The response status.
    ///   - code: A machine-readable code, e.g. `"BAD_REQUEST"`.
    ///   - message: Text for humans; it is JSON-escaped here.
    public static func jsonError(_ status: HTTPStatus, code: String, message: String) -> HTTPResponse {
        var out = [UInt8]()
        out.reserveCapacity(32 + code.utf8.count + message.utf8.count)
        out.append(contentsOf: #"{"code":""#.utf8)
        appendJSONEscaped(code, to: &out)
        out.append(contentsOf: #"","message":""#.utf8)
        appendJSONEscaped(message, to: &out)
        out.append(contentsOf: #""}"#.utf8)
        return HTTPResponse(status: status, contentType: "application/json", body: Data(out))
    }

    private static func appendJSONEscaped(_ s: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0..<0x20:
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 0xF)])
            default: out.append(c)
            }
        }
    }
}

extension HTTPServerConfiguration {
    /// An answer the server gives on its own, its body from ``errorBody``.
    func errorResponse(_ status: HTTPStatus, code: String, message: String) -> HTTPResponse {
        let (contentType, body) = errorBody(status, code, message)
        return HTTPResponse(status: status, contentType: contentType, body: Data(body))
    }
}

// MARK: - Head serialization

enum ResponseEncoder {
    /// Appends the status line and header section to `out`.
    ///
    /// `Content-Length` is always ours (RFC 9110 §8.6); it is left out for 1xx/204/304 where
    /// no content is allowed. `Date` and `Server` are added unless the handler set them.
    /// CR and LF in handler-supplied header values are replaced by spaces so a value can
    /// never split the response.
    static func encodeHead(_ response: HTTPResponse, contentLength: Int, close: Bool, http10KeepAlive: Bool,
                           serverName: [UInt8], date: DateCache, into out: inout [UInt8]) {
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        appendDecimal(response.status.code, to: &out)
        out.append(.space)
        appendSanitized(response.status.reasonPhrase.utf8, to: &out)
        out.append(contentsOf: "\r\n".utf8)
        var hasDate = false
        var hasServer = false
        for field in response.headers.fields {
            let name = field.name.rawValue.utf8
            if name.asciiCaseInsensitiveEquals("content-length") || name.asciiCaseInsensitiveEquals("connection")
                || name.asciiCaseInsensitiveEquals("transfer-encoding") {
                continue
            }
            if name.asciiCaseInsensitiveEquals("date") { hasDate = true }
            if name.asciiCaseInsensitiveEquals("server") { hasServer = true }
            appendSanitized(name, to: &out)
            out.append(contentsOf: ": ".utf8)
            appendSanitized(field.value.utf8, to: &out)
            out.append(contentsOf: "\r\n".utf8)
        }
        if !hasServer, !serverName.isEmpty {
            out.append(contentsOf: "Server: ".utf8)
            out.append(contentsOf: serverName)
            out.append(contentsOf: "\r\n".utf8)
        }
        if !hasDate {
            out.append(contentsOf: "Date: ".utf8)
            date.append(to: &out)
            out.append(contentsOf: "\r\n".utf8)
        }
        let code = response.status.code
        if code >= 200 && code != 204 && code != 304 {
            out.append(contentsOf: "Content-Length: ".utf8)
            appendDecimal(contentLength, to: &out)
            out.append(contentsOf: "\r\n".utf8)
        }
        if close {
            out.append(contentsOf: "Connection: close\r\n".utf8)
        } else if http10KeepAlive {
            out.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
    }

    static func appendSanitized(_ s: String.UTF8View, to out: inout [UInt8]) {
        for c in s { out.append(c == .cr || c == .lf || c == 0 ? .space : c) }
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        guard value > 0 else { out.append(UInt8(ascii: "0")); return }
        var v = value
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 {
                d[19 - n] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                n += 1
            }
            out.append(contentsOf: d[(20 - n)...])
        }
    }
}

// MARK: - Date header

/// The IMF-fixdate for the `Date` header (RFC 9110 §5.6.7), formatted at most once a second.
final class DateCache: Sendable {
    private let cached = Mutex<(second: Int, text: [UInt8])>((-1, []))

    func append(to out: inout [UInt8]) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let second = Int(now.tv_sec)
        let text = cached.withLock { c -> [UInt8] in
            if c.second != second {
                c = (second, Self.format(second))
            }
            return c.text
        }
        out.append(contentsOf: text)
    }

    static func format(_ second: Int) -> [UInt8] {
        var t = time_t(second)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let s = "\(days[Int(tmv.tm_wday) % 7]), \(two(tmv.tm_mday)) \(months[Int(tmv.tm_mon) % 12]) \(tmv.tm_year + 1900) "
            + "\(two(tmv.tm_hour)):\(two(tmv.tm_min)):\(two(tmv.tm_sec)) GMT"
        return Array(s.utf8)
    }
}
