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
import Synchronization

// TEMPORARY STAND-IN — delete when HTTPKit.HTTPServer is connected (see ServerRunner.swift).
//
// Just enough HTTP/1.1 for `serve`, `healthcheck` and the CLI tests on this branch: one request per
// connection (`Connection: close`), bodies ignored, requests handled one at a time on a serial
// queue with 5 s socket timeouts. Not for production traffic.
final class StandInHTTPServer: HTTPServing, @unchecked Sendable {
    private let options: HTTPServerOptions
    private let handler: any HTTPHandler
    private let logger: Logger
    private let queue = DispatchQueue(label: "lightly-server.stand-in-http")
    private let inFlight = DispatchGroup()
    // Set once in start(), before any other thread sees them; read-only afterwards.
    private var listener: ProbeSocket?
    private var source: DispatchSourceRead?
    private let boundPort = Atomic<Int>(0)

    init(options: HTTPServerOptions, handler: any HTTPHandler, logger: Logger) {
        self.options = options
        self.handler = handler
        self.logger = logger
    }

    var port: Int { boundPort.load(ordering: .acquiring) }

    func start() throws {
        let fd = try ProbeSockets.listen(host: options.host, port: options.port)
        boundPort.store(try ProbeSockets.localPort(fd), ordering: .releasing)
        _ = Glibc.fcntl(fd.raw, F_SETFL, Glibc.fcntl(fd.raw, F_GETFL) | O_NONBLOCK)
        listener = fd
        let src = DispatchSource.makeReadSource(fileDescriptor: fd.raw, queue: queue)
        src.setEventHandler { [weak self] in self?.acceptAll() }
        src.setCancelHandler { fd.close() }
        source = src
        src.resume()
    }

    func shutdown(timeout: Duration) {
        source?.cancel()
        let (seconds, attos) = timeout.components
        _ = inFlight.wait(timeout: .now() + Double(seconds) + Double(attos) / 1e18)
        queue.sync {}                                  // the current request (if any) finishes
    }

    private func acceptAll() {
        guard let listener else { return }
        while true {
            let c = Glibc.accept(listener.raw, nil, nil)
            if c < 0 { return }                        // EAGAIN: drained
            let conn = ProbeSocket(raw: c)
            inFlight.enter()
            serve(conn)
            conn.close()
            inFlight.leave()
        }
    }

    private func serve(_ conn: ProbeSocket) {
        conn.setTimeouts(5)
        var head = [UInt8]()
        let terminator: [UInt8] = [13, 10, 13, 10]
        while head.count < 65_536 {
            guard let chunk = try? conn.receive(), !chunk.isEmpty else { return }
            head += chunk
            if head.count >= 4, (0...(head.count - 4)).contains(where: { Array(head[$0..<$0 + 4]) == terminator }) { break }
        }
        let text = String(decoding: head, as: UTF8.self)
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        let parts = lines.first?.split(separator: " ") ?? []
        guard parts.count == 3 else { return }
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.add(HTTPHeaderName(String(line[..<colon])), String(line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }))
        }
        let request = HTTPRequest(method: HTTPMethod(rawValue: String(parts[0])), target: String(parts[1]),
                                  headers: headers, version: String(parts[2]))
        let response: HTTPResponse
        do { response = try handler.handle(request) } catch {
            logger.error("handler failed", metadata: ["error": "\(error)"])
            response = HTTPResponse(status: .internalServerError, contentType: "application/json",
                                    body: Data(#"{"code":"INTERNAL","message":"internal error"}"#.utf8))
        }
        var body: [UInt8] = []
        if case .bytes(let d) = response.body, request.method != .HEAD { body = [UInt8](d) }
        var out = "HTTP/1.1 \(response.status.code) \(response.status.reasonPhrase)\r\n"
        for (name, value) in response.headers { out += "\(name.rawValue): \(value)\r\n" }
        out += "Content-Length: \(response.body.count)\r\nConnection: close\r\n\r\n"
        try? conn.sendAll(Array(out.utf8) + body)     // one send (STYLE §2.6)
        logger.info("request", metadata: ["method": "\(request.method)", "path": "\(request.rawPath)", "status": "\(response.status.code)"])
    }
}
