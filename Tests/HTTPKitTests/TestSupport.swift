#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import Synchronization
import Testing
@testable import HTTPKit
@_exported import TestSupport   // TestClient, TestResponse, ResponseReading for every file of this target

// MARK: - Server fixture

/// Records log entries so tests can check the access log.
final class CapturedLog: Sendable {
    let entries = Mutex<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])

    func logger() -> Logger {
        var l = Logger(label: "test") { _ in CapturingHandler(log: self) }
        l.logLevel = .info
        return l
    }

    struct CapturingHandler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            log.entries.withLock { $0.append((event.level, "\(event.message)", event.metadata ?? [:])) }
        }
    }
}

func testConfiguration(_ tweak: (inout HTTPServerConfiguration) -> Void = { _ in }) -> HTTPServerConfiguration {
    var c = HTTPServerConfiguration(port: 0, headerTimeout: .seconds(1), idleTimeout: .seconds(5),
                                    bodyTimeout: .seconds(1), workerCount: 4, serverName: "test-server")
    tweak(&c)
    return c
}

/// Starts a server on port 0, runs `body`, and always shuts it down.
func withServer(_ configuration: HTTPServerConfiguration = testConfiguration(),
                log: CapturedLog = CapturedLog(),
                handler: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse,
                _ body: (HTTPServer) throws -> Void) throws {
    let server = HTTPServer(configuration: configuration, handler: ClosureHandler(handler), logger: log.logger())
    try server.start()
    defer { server.shutdown(timeout: .seconds(2)) }
    try body(server)
}

func text(_ s: String, status: HTTPStatus = .ok) -> HTTPResponse {
    HTTPResponse(status: status, contentType: "text/plain", body: Data(s.utf8))
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Double = 3, _ condition: () -> Bool) -> Bool {
    let end = DispatchTime.now().uptimeNanoseconds + UInt64(timeout * 1e9)
    while DispatchTime.now().uptimeNanoseconds < end {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

func makeTemporaryDirectory() -> String {
    var template = Array("/tmp/httpkit-test-XXXXXX".utf8CString)
    _ = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    return cString(template)
}

func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

func directoryEntries(_ dir: String) -> [String] {
    guard let d = opendir(dir) else { return [] }
    defer { closedir(d) }
    var names: [String] = []
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}
