// HTTPConnection: reading request bytes, parsing heads, storing bodies and handing the request
// to the handler.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Dispatch
import Logging
import Synchronization

extension HTTPConnection {
    // MARK: - Reading

    func onReadable() {
        switch phase {
        case .closed:
            return
        case .lingering:
            drainForLinger()
            return
        case .inspecting:
            // Also reached through `kickRead()` when a TLS session holds decrypted body bytes:
            // they stay there until the head is accepted (`resumeRead()` comes back for them).
            suspendRead()
            return
        case .handshaking:
            continueHandshake()
            return
        case .handling, .writing:
            if parser.bufferedCount >= Self.readAheadLimit {
                suspendRead()
                return
            }
        case .idle, .head, .body:
            break
        }
        var eof = false
        var failed = false
        var received = 0
        withUnsafeTemporaryAllocation(byteCount: Self.readChunk, alignment: 16) { buf in
            guard let base = buf.baseAddress else { return }
            reading: for _ in 0..<4 {
                switch transport.receive(buf) {
                case .bytes(let n):
                    parser.append(UnsafeRawBufferPointer(start: base, count: n))
                    // The transfer rate counts the bytes the transport hands over: for TLS the
                    // decrypted application data, not the records on the wire (writes count the
                    // same way, see `flush()`), so the minimum means the same on both ports.
                    received += n
                    // A TLS read returns at most one record, so a short read says nothing there.
                    if n < buf.count, case .plain = transport { break reading }
                case .endOfStream:
                    eof = true
                    break reading
                case .wouldBlock:
                    break reading
                case .failed:
                    failed = true
                    break reading
                }
            }
        }
        if failed { close(); return }
        if !eof, transport.hasBufferedInput { kickRead() }
        if eof {
            // Half-closed by the client: finish what it already sent, then close. The
            // level-triggered source would fire forever on EOF, so stop watching.
            peerClosedWrite = true
            suspendRead()
        }
        switch phase {
        case .body:
            windowBytes += received
            setDeadline(after: context.bodyTimeoutNs)
            drive()
        case .head:
            windowBytes += received
            drive()
        case .idle:
            drive()
        default:
            break
        }
    }

    func suspendRead() {
        guard !isReadSuspended, let r = readSource else { return }
        r.suspend()
        isReadSuspended = true
    }

    func resumeRead() {
        guard isReadSuspended, !peerClosedWrite, let r = readSource else { return }
        r.resume()
        isReadSuspended = false
        if transport.hasBufferedInput { kickRead() }
    }

    /// Reads again soon: decrypted bytes wait inside the TLS session, where the socket's read
    /// source cannot see them.
    private func kickRead() {
        queue.async { [self] in
            if !isReadSuspended, phase != .closed { onReadable() }
        }
    }

    /// Runs the parser over buffered bytes until a request is complete or more bytes are needed.
    func drive() {
        if phase == .idle && parser.bufferedCount > 0 {
            phase = .head
            requestStart = ServerContext.now()
            startRateWindow()
            windowBytes = parser.bufferedCount
            setDeadline(after: context.headerTimeoutNs)
        }
        while phase == .head || phase == .body {
            let event: HTTPRequestParser.Event?
            do {
                event = try parser.next()
            } catch {
                context.logger.debug("rejected request", metadata: ["connection.peer": "\(peer)", "error": "\(error)"])
                sendError(error.status, code: error.code, message: error.message)
                return
            }
            guard let event else { break }
            switch event {
            case .head(let h):
                beginRequest(h)
            case .body(let bytes):
                appendBody(bytes)
            case .end:
                dispatchRequest()
                return
            }
        }
        if peerClosedWrite && (phase == .idle || phase == .head || phase == .body) {
            close()
        } else if phase == .idle {
            setDeadline(after: context.idleTimeoutNs)
        }
    }

    // MARK: - Request

    private func beginRequest(_ h: HTTPRequestHead) {
        head = h
        guard h.hasBody else { return }
        // Nothing of the body is read, stored or invited (100 Continue) before the handler
        // has seen the head: an unauthenticated upload is refused without touching the disk.
        phase = .inspecting
        clearDeadline()
        suspendRead()
        let request = HTTPRequest(method: h.method, target: Self.originForm(h.target), headers: h.headers,
                                  body: .empty, version: h.version, remoteAddress: peer, isSecure: transport.isTLS)
        let context = self.context
        context.pool.submit { [self] in
            let decision = context.handler.inspectHead(request)
            switch decision {
            case .proceed:
                queue.async { [self] in headAccepted() }
            case .reject(let response):
                let ready = Self.prepare(response, method: request.method, context: context)
                queue.async { [self] in headRejected(ready) }
            }
        }
    }

    /// The handler refused the request from its head: answer and close; the body is never read.
    private func headRejected(_ ready: ReadyResponse) {
        guard phase == .inspecting else { return }
        phase = .handling
        closeAfterResponse = true
        respond(ready)
    }

    /// The handler accepted the head: now read (and spool) the body.
    private func headAccepted() {
        guard phase == .inspecting, let h = head else { return }
        phase = .body
        startRateWindow()
        setDeadline(after: context.bodyTimeoutNs)
        resumeRead()
        if let n = h.contentLength, n > context.configuration.bodyFileThreshold {
            guard startSpill() else { return }
        } else if let n = h.contentLength {
            // Don't let a declared length reserve memory the client never sends.
            memoryBody.reserveCapacity(min(n, 1 << 20))
        }
        // The client waits for 100 before sending the body (RFC 9110, section 10.1.1).
        if h.expectsContinue && h.version == "HTTP/1.1" && parser.bufferedCount == 0 {
            out.append(contentsOf: Self.interimContinue)
            flush()
        }
        drive()
    }

    private func startSpill() -> Bool {
        do {
            let s = try SpillFile(directory: context.configuration.temporaryDirectory)
            spill = s
            if !memoryBody.isEmpty {
                try memoryBody.withUnsafeBytes { try s.write($0) }
                memoryBody = Data()
            }
            return true
        } catch {
            bodyStorageFailed(error)
            return false
        }
    }

    private func appendBody(_ bytes: [UInt8]) {
        if spill == nil && memoryBody.count + bytes.count > context.configuration.bodyFileThreshold {
            guard startSpill() else { return }
        }
        if let s = spill {
            do {
                try bytes.withUnsafeBytes { try s.write($0) }
            } catch {
                bodyStorageFailed(error)
            }
        } else {
            memoryBody.append(contentsOf: bytes)
        }
    }

    /// A spilled body could not be written: 507 when the disk, the quota or the file-size limit
    /// is reached, else 500. The
    /// partial file is removed by `sendError`.
    private func bodyStorageFailed(_ error: any Error) {
        context.logger.error("cannot store request body", metadata: ["error": "\(error)"])
        if let e = error as? SocketError, e.isOutOfSpace {
            sendError(.insufficientStorage, code: HTTPErrorCode.insufficientStorage,
                      message: "the server's storage is full; the request body could not be stored")
        } else {
            sendError(.internalServerError, code: HTTPErrorCode.internalError, message: "could not store request body")
        }
    }

    func discardRequestBody() {
        spill?.remove()
        spill = nil
        memoryBody = Data()
    }

    private func dispatchRequest() {
        guard let h = head else { return }
        phase = .handling
        clearDeadline()
        let body: HTTPRequestBody
        let spillPath = spill?.path
        if let s = spill {
            s.closeDescriptor()
            body = .file(path: s.path, count: s.count)
            spill = nil
        } else if memoryBody.isEmpty {
            body = .empty
        } else {
            body = .bytes(memoryBody)
            memoryBody = Data()
        }
        let request = HTTPRequest(method: h.method, target: Self.originForm(h.target), headers: h.headers,
                                  body: body, version: h.version, remoteAddress: peer, isSecure: transport.isTLS)
        let context = self.context
        context.pool.submit { [self] in
            var response: HTTPResponse
            do {
                response = try context.handler.handle(request)
            } catch {
                context.logger.error("handler failed", metadata: [
                    "http.method": "\(request.method)",
                    "http.target": "\(redactQuery(target: request.target, names: context.configuration.redactedQueryParameters))",
                    "error": "\(redactQuery(target: "\(error)", names: []))",
                ])
                response = context.configuration.errorResponse(.internalServerError, code: HTTPErrorCode.internalError,
                                                                  message: "internal server error")
            }
            // The handler has returned: the spilled body goes unless it was moved away.
            if let spillPath { removeFile(spillPath) }
            let ready = Self.prepare(response, method: request.method, context: context)
            queue.async { [self] in respond(ready) }
        }
    }

    /// Opens a file response body (on the worker, not the connection queue).
    private static func prepare(_ response: HTTPResponse, method: HTTPMethod, context: ServerContext) -> ReadyResponse {
        var response = response
        var file: FileStream?
        if case .file(let path, let offset, let count) = response.body, method != .HEAD {
            do {
                file = try FileStream(path: path, offset: offset, count: count)
            } catch {
                context.logger.error("cannot open response file", metadata: ["error": "\(error)"])
                response = context.configuration.errorResponse(.internalServerError, code: HTTPErrorCode.internalError,
                                                              message: "internal server error")
            }
        }
        return ReadyResponse(response: response, file: file)
    }

    /// Absolute-form targets (RFC 9112 §3.2.2) are reduced to origin-form.
    static func originForm(_ target: String) -> String {
        let u = target.utf8
        guard u.first != UInt8(ascii: "/") else { return target }
        let lower = target.prefix(8).lowercased()
        let schemeLength = lower.hasPrefix("http://") ? 7 : lower.hasPrefix("https://") ? 8 : 0
        guard schemeLength > 0 else { return target }
        let rest = u.dropFirst(schemeLength)
        guard let i = rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) else { return "/" }
        let tail = String(decoding: u[i...], as: UTF8.self)
        return u[i] == UInt8(ascii: "/") ? tail : "/" + tail
    }
}

/// A handler's response on its way from the worker back to the connection queue.
struct ReadyResponse: @unchecked Sendable {
    // FileStream is handed over once and only touched on the connection queue afterwards.
    var response: HTTPResponse
    var file: FileStream?
}
