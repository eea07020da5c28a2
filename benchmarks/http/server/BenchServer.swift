#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import HTTPKit
import Logging

/// A tiny HTTPKit server for wrk: `GET /health` and `POST|PUT /echo`.
///
/// Usage: `http-bench-server [port] [--log]` (port 0 picks one; the bound port is printed
/// as `listening on <port>`). `--log` turns the access log on (off by default, since writing
/// a line per request measures the terminal, not the server).
enum BenchServer {
    static func run(arguments: [String]) {
        HTTPServer.ignoreSIGPIPE()
        let port = arguments.dropFirst().first { Int($0) != nil }.flatMap { Int($0) } ?? 8089
        let logAccess = arguments.contains("--log")
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "http-bench")
        logger.logLevel = logAccess ? .info : .warning

        let health = Data(#"{"status":"ok"}"#.utf8)
        let handler = ClosureHandler { @Sendable request in
            switch (request.method, request.pathSegments.first ?? "") {
            case (.GET, "health"), (.HEAD, "health"):
                return HTTPResponse(status: .ok, contentType: "application/json", body: health)
            case (.POST, "echo"), (.PUT, "echo"):
                switch request.body {
                case .empty: return HTTPResponse(status: .ok, contentType: "application/octet-stream", body: Data())
                case .bytes(let d): return HTTPResponse(status: .ok, contentType: "application/octet-stream", body: d)
                case .file(_, let n): return HTTPResponse(status: .ok, contentType: "text/plain", body: Data("\(n)".utf8))
                }
            default:
                return .jsonError(.notFound, code: "NOT_FOUND", message: "no route")
            }
        }
        let server = HTTPServer(configuration: HTTPServerConfiguration(port: port), handler: handler, logger: logger)
        do {
            try server.start()
        } catch {
            let msg = "http-bench-server: \(error)\n"
            _ = msg.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            exit(1)
        }
        let line = "listening on \(server.port)\n"
        _ = line.withCString { write(STDOUT_FILENO, $0, strlen($0)) }

        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let done = DispatchSemaphore(value: 0)
        let signals = [SIGTERM, SIGINT].map { sig in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { @Sendable in done.signal() }
            s.resume()
            return s
        }
        done.wait()
        server.shutdown(timeout: .seconds(5))
        withExtendedLifetime(signals) {}
    }
}
