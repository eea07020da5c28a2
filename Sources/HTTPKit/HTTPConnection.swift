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
import Dispatch
import Logging
import Synchronization

/// One client connection. Every mutable field is confined to `queue`; the only state read
/// from elsewhere is atomic: `deadline` (by the server's sweeper), `isEvictable` and
/// `isEvicted` (by the accept path at the connection cap).
final class HTTPConnection: @unchecked Sendable {
    private enum Phase {
        /// TLS handshake in progress (TLSTransport.swift).
        case handshaking
        /// Between requests, nothing buffered.
        case idle
        /// Receiving a request head.
        case head
        /// The head of a request with a body arrived; the handler's ``HTTPHandler/inspectHead(_:)``
        /// runs on the worker pool. Reading is paused: no body byte is read or stored yet.
        case inspecting
        /// Receiving a request body.
        case body
        /// The handler is running on the worker pool.
        case handling
        /// Sending a response.
        case writing
        /// Sent FIN after a final response; discarding input until the client closes.
        case lingering
        case closed
    }

    private enum AfterFlush {
        case nothing
        case responseDone(keepAlive: Bool)
        case closeGracefully
    }

    /// Bytes buffered ahead (pipelined requests) while a request is being handled before the
    /// read source is paused.
    private static let readAheadLimit = 128 * 1024
    private static let readChunk = 64 * 1024
    private static let interimContinue = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    let fd: Descriptor
    /// Plain socket or TLS session; all request and response bytes go through it.
    private let transport: ConnectionTransport
    let queue: DispatchQueue
    let peer: String
    /// The peer's address without the port (what the per-address limit counts).
    let address: String
    private let context: ServerContext
    /// Uptime nanoseconds after which `deadlineReached()` acts; 0 = none.
    let deadline = Atomic<UInt64>(0)
    /// Still in the TLS handshake, idle, or receiving a request head or body: may be closed to
    /// make room at the cap.
    let isEvictable = Atomic<Bool>(true)
    /// Chosen to make room at the cap (set once, under the server's registry lock).
    let isEvicted = Atomic<Bool>(false)

    // MARK: Queue-confined state
    private var phase: Phase = .idle {
        didSet {
            if Self.isEvictable(phase) != Self.isEvictable(oldValue) {
                isEvictable.store(Self.isEvictable(phase), ordering: .relaxed)
            }
        }
    }
    /// When the current phase's own timeout (header, body, idle, linger) expires; 0 = none.
    private var timeoutAt: UInt64 = 0
    /// Start of the current transfer-rate window and the bytes moved in it.
    private var windowStart: UInt64 = 0
    private var windowBytes = 0
    private var parser: HTTPRequestParser
    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private var isReadSuspended = false
    private var isWriteSourceActive = false
    private var pendingCancels = 0
    private var peerClosedWrite = false
    private var closeAfterResponse = false

    // Current request
    private var head: HTTPRequestHead?
    private var requestStart: UInt64 = 0
    private var memoryBody = Data()
    private var spill: SpillFile?

    // Output
    private var out: [UInt8] = []
    private var outOffset = 0
    private var outBody = Data()
    private var outBodyOffset = 0
    private var outFile: FileStream?
    private var afterFlush: AfterFlush = .nothing
    private var logStatus = 0
    private var logBytes = 0

    init(fd: Descriptor, peer: String, context: ServerContext, tls: TLSSession? = nil) {
        self.fd = fd
        self.transport = tls.map { .tls(fd, $0) } ?? .plain(fd)
        self.peer = peer
        self.address = peer.lastIndex(of: ":").map { String(peer[..<$0]) } ?? peer
        self.context = context
        self.queue = DispatchQueue(label: "httpkit.connection", target: .global())
        self.parser = HTTPRequestParser(limits: context.limits)
        out.reserveCapacity(512)
    }

    // MARK: - Lifecycle

    func start() {
        queue.async { [self] in
            let source = DispatchSource.makeReadSource(fileDescriptor: fd.raw, queue: queue)
            source.setEventHandler { @Sendable [self] in onReadable() }
            source.setCancelHandler { @Sendable [self] in sourceCancelled() }
            readSource = source
            if case .tls = transport {
                phase = .handshaking
                setDeadline(after: context.handshakeTimeoutNs)
            } else {
                // A fresh connection must send its first request within the header timeout.
                setDeadline(after: context.headerTimeoutNs)
            }
            source.resume()
        }
    }

    /// Closes now: cancels the sources; the descriptor is closed once both have finished.
    func close() {
        guard phase != .closed else { return }
        if phase == .writing, head != nil, logStatus != 0 {
            logBytes = -1  // the client went away mid-response
            logAccess()
        }
        phase = .closed
        deadline.store(0, ordering: .relaxed)
        discardRequestBody()
        outFile = nil
        outBody = Data()
        out = []
        pendingCancels = (readSource == nil ? 0 : 1) + (writeSource == nil ? 0 : 1)
        if let r = readSource {
            if isReadSuspended { r.resume(); isReadSuspended = false }
            r.cancel()
        }
        if let w = writeSource {
            if !isWriteSourceActive { w.resume(); isWriteSourceActive = true }
            w.cancel()
        }
        if pendingCancels == 0 { finalize() }
    }

    private func sourceCancelled() {
        pendingCancels -= 1
        if pendingCancels == 0 { finalize() }
    }

    private func finalize() {
        readSource = nil
        writeSource = nil
        transport.close()
        context.connectionClosed(self)
    }

    /// Server shutdown: idle connections close now; busy ones close after their response.
    func beginShutdown() {
        closeAfterResponse = true
        if (phase == .idle && parser.bufferedCount == 0) || phase == .lingering || phase == .handshaking { close() }
    }

    private static func isEvictable(_ phase: Phase) -> Bool {
        phase == .handshaking || phase == .idle || phase == .head || phase == .body
    }

    /// Made room for a connection from another address at the cap: an idle connection (or one
    /// still in the TLS handshake, which has no channel for a response yet) just closes; one
    /// receiving a request gets 503 (through the transport, so encrypted on a TLS port).
    func evict() {
        switch phase {
        case .handshaking, .idle:
            // Mid-handshake: the session is freed without close_notify (`TLSSession.free()`).
            close()
        case .head, .body:
            context.logger.debug("request evicted at the connection cap", metadata: ["connection.peer": "\(peer)"])
            sendError(.serviceUnavailable, code: "SERVICE_UNAVAILABLE", message: "too many connections")
        case .inspecting, .handling, .writing, .lingering, .closed:
            // Became busy meanwhile: it finishes its response and the slot frees up after that.
            closeAfterResponse = true
        }
    }

    // MARK: - Deadlines

    /// Whether the current phase moves bytes whose rate is checked.
    private var isRateChecked: Bool {
        context.rateWindowNs > 0 && (phase == .head || phase == .body || phase == .writing)
    }

    private func setDeadline(after ns: UInt64) {
        timeoutAt = ServerContext.now() &+ ns
        publishDeadline()
    }

    private func clearDeadline() {
        timeoutAt = 0
        publishDeadline()
    }

    /// Starts a fresh transfer-rate window (a request starts arriving, a response starts going out).
    private func startRateWindow() {
        windowStart = ServerContext.now()
        windowBytes = 0
    }

    /// The sweeper's deadline: the phase's timeout or the end of the rate window, whichever is first.
    private func publishDeadline() {
        var d = timeoutAt
        if isRateChecked {
            let windowEnd = windowStart &+ context.rateWindowNs
            if d == 0 || windowEnd < d { d = windowEnd }
        }
        deadline.store(d, ordering: .relaxed)
    }

    func deadlineReached() {
        let now = ServerContext.now()
        let d = deadline.load(ordering: .relaxed)
        guard d != 0, d <= now else { return }
        let timedOut = timeoutAt != 0 && timeoutAt <= now
        switch phase {
        case .handshaking:
            // Only the handshake's own timeout applies here: the transfer rate is checked from
            // the first request byte on (see `isRateChecked`).
            context.logger.debug("TLS handshake timed out", metadata: ["connection.peer": "\(peer)"])
            close()
        case .idle, .lingering:
            close()
        case .writing:
            if timedOut || !rateWindowPassed(now: now) { close() }
        case .head, .body:
            if timedOut {
                // Headers (or body bytes) did not arrive in time: slowloris or a stalled client.
                context.logger.debug("request timed out", metadata: ["connection.peer": "\(peer)"])
                sendError(.requestTimeout, code: HTTPErrorCode.requestTimeout, message: "request not received in time")
            } else if !rateWindowPassed(now: now) {
                context.logger.debug("request too slow", metadata: [
                    "connection.peer": "\(peer)", "http.bytes_in_window": "\(windowBytes)",
                ])
                sendError(.requestTimeout, code: HTTPErrorCode.requestTimeout,
                          message: "request sent too slowly (less than \(context.configuration.minTransferRate) bytes/s)")
            }
        case .inspecting, .handling, .closed:
            break
        }
    }

    /// At the end of a rate window: false if too few bytes moved in it; otherwise starts the
    /// next window. Before the window's end it just republishes the deadline.
    private func rateWindowPassed(now: UInt64) -> Bool {
        guard isRateChecked, now >= windowStart &+ context.rateWindowNs else {
            publishDeadline()
            return true
        }
        guard windowBytes >= context.rateWindowMinBytes else { return false }
        windowStart = now
        windowBytes = 0
        publishDeadline()
        return true
    }

    // MARK: - TLS handshake

    /// Advances the handshake whenever the socket is readable (or writable, if OpenSSL asked);
    /// never blocks. Once done, the connection waits for its first request like a plain one.
    private func continueHandshake() {
        guard phase == .handshaking, case .tls(_, let session) = transport else { return }
        let step = session.handshake()
        if case .wantWrite = step {
            suspendRead()
            waitUntilWritable()
            return
        }
        if isWriteSourceActive, let w = writeSource {
            w.suspend()
            isWriteSourceActive = false
        }
        switch step {
        case .done:
            phase = .idle
            setDeadline(after: context.headerTimeoutNs)
            if isReadSuspended, let r = readSource { r.resume(); isReadSuspended = false }
            onReadable()
        case .wantRead, .wantWrite:
            if isReadSuspended, let r = readSource { r.resume(); isReadSuspended = false }
        case .plainHTTP:
            context.logger.debug("plain HTTP on the TLS port", metadata: ["connection.peer": "\(peer)"])
            answerPlainHTTP()
        case .failed(let reason):
            context.logger.debug("TLS handshake failed", metadata: ["connection.peer": "\(peer)", "error": "\(reason)"])
            close()
        }
    }

    /// A plain HTTP request reached the TLS port: say so in plain HTTP (400), then close as
    /// after any final response, so the client sees an answer rather than a reset or a hang.
    private func answerPlainHTTP() {
        let response = context.configuration.errorResponse(.badRequest, code: HTTPErrorCode.plainHTTPToTLSPort,
                                                           message: "this port speaks HTTPS; use an https:// URL")
        var bytes: [UInt8] = []
        ResponseEncoder.encodeHead(response, contentLength: response.body.count, close: true, http10KeepAlive: false,
                                   serverName: context.serverName, date: context.date, into: &bytes)
        if case .bytes(let d) = response.body { bytes.append(contentsOf: d) }
        // The send buffer of a fresh connection takes this whole; a short write just truncates it.
        _ = bytes.withUnsafeBytes { fd.send($0) }
        phase = .lingering
        fd.shutdownWrite()
        setDeadline(after: context.lingerNs)
        if isReadSuspended, let r = readSource { r.resume(); isReadSuspended = false }
    }

    // MARK: - Reading

    private func onReadable() {
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

    private func suspendRead() {
        guard !isReadSuspended, let r = readSource else { return }
        r.suspend()
        isReadSuspended = true
    }

    private func resumeRead() {
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
    private func drive() {
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
        if let e = error as? SocketError, e.code == ENOSPC || e.code == EDQUOT || e.code == EFBIG {
            sendError(.insufficientStorage, code: HTTPErrorCode.insufficientStorage,
                      message: "the server's storage is full; the request body could not be stored")
        } else {
            sendError(.internalServerError, code: HTTPErrorCode.internalError, message: "could not store request body")
        }
    }

    private func discardRequestBody() {
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
            if let spillPath { _ = unlink(spillPath) }
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

    // MARK: - Responding

    private func respond(_ ready: ReadyResponse) {
        guard phase == .handling, let h = head else { return }
        let response = ready.response
        // A handler may ask to close with `Connection: close`; the header itself is ours to write.
        let handlerCloses = response.headers[.connection].map { Self.containsCloseToken($0) } ?? false
        let keepAlive = h.isKeepAlive && !handlerCloses && !closeAfterResponse
            && !context.isShuttingDown.load(ordering: .relaxed)
        let code = response.status.code
        let bodyAllowed = h.method != .HEAD && code >= 200 && code != 204 && code != 304
        ResponseEncoder.encodeHead(response, contentLength: response.body.count, close: !keepAlive,
                                   http10KeepAlive: keepAlive && h.version == "HTTP/1.0",
                                   serverName: context.serverName, date: context.date, into: &out)
        if bodyAllowed {
            switch response.body {
            case .bytes(let d): outBody = d
            case .file: outFile = ready.file
            }
        }
        logStatus = code
        logBytes = bodyAllowed ? response.body.count : 0
        afterFlush = .responseDone(keepAlive: keepAlive)
        phase = .writing
        startRateWindow()
        setDeadline(after: context.bodyTimeoutNs)
        flush()
    }

    static func containsCloseToken(_ value: String) -> Bool {
        value.utf8.split(separator: .comma).contains { $0[...].trimmingOWS().asciiCaseInsensitiveEquals("close") }
    }

    /// Answers with a JSON error and closes (the request framing can no longer be trusted).
    private func sendError(_ status: HTTPStatus, code: String, message: String) {
        guard phase != .closed, phase != .lingering else { return }
        discardRequestBody()
        let response = context.configuration.errorResponse(status, code: code, message: message)
        ResponseEncoder.encodeHead(response, contentLength: response.body.count, close: true, http10KeepAlive: false,
                                   serverName: context.serverName, date: context.date, into: &out)
        if case .bytes(let d) = response.body { outBody = d }
        logStatus = status.code
        logBytes = response.body.count
        if head != nil { logAccess() }
        head = nil
        afterFlush = .closeGracefully
        phase = .writing
        startRateWindow()
        setDeadline(after: context.bodyTimeoutNs)
        flush()
    }

    /// Writes pending output until done or EAGAIN; one `sendmsg` carries head and body.
    private func flush() {
        while true {
            let headLeft = out.count - outOffset
            let bodyLeft = outBody.count - outBodyOffset
            if headLeft > 0 || bodyLeft > 0 {
                let (ho, bo) = (outOffset, outBodyOffset)
                let sent = out.withUnsafeBytes { o in
                    outBody.withUnsafeBytes { b in
                        transport.send(UnsafeRawBufferPointer(rebasing: o[ho...]), UnsafeRawBufferPointer(rebasing: b[bo...]))
                    }
                }
                if sent < 0 { close(); return }
                if sent == 0 { waitUntilWritable(); return }
                let fromHead = min(sent, headLeft)
                outOffset += fromHead
                outBodyOffset += sent - fromHead
                if phase == .writing {
                    windowBytes += sent
                    setDeadline(after: context.bodyTimeoutNs)
                }
                continue
            }
            if let file = outFile, !file.isFinished {
                if file.pending.isEmpty, !file.fill() {
                    context.logger.error("response file ended early", metadata: ["connection.peer": "\(peer)"])
                    close()
                    return
                }
                let sent = transport.send(file.pending)
                if sent < 0 { close(); return }
                if sent == 0 { waitUntilWritable(); return }
                file.consume(sent)
                windowBytes += sent
                setDeadline(after: context.bodyTimeoutNs)
                continue
            }
            break
        }
        // Everything is out.
        if out.capacity > 64 * 1024 { out = [] } else { out.removeAll(keepingCapacity: true) }
        outOffset = 0
        outBody = Data()
        outBodyOffset = 0
        outFile = nil
        if isWriteSourceActive, let w = writeSource {
            w.suspend()
            isWriteSourceActive = false
        }
        let action = afterFlush
        afterFlush = .nothing
        switch action {
        case .nothing: break
        case .responseDone(let keepAlive): finishResponse(keepAlive: keepAlive)
        case .closeGracefully: lingerClose()
        }
    }

    private func waitUntilWritable() {
        if let w = writeSource {
            if !isWriteSourceActive { w.resume(); isWriteSourceActive = true }
            return
        }
        let w = DispatchSource.makeWriteSource(fileDescriptor: fd.raw, queue: queue)
        w.setEventHandler { @Sendable [self] in
            if phase == .handshaking { continueHandshake() } else if phase != .closed { flush() }
        }
        w.setCancelHandler { @Sendable [self] in sourceCancelled() }
        writeSource = w
        isWriteSourceActive = true
        w.resume()
    }

    private func finishResponse(keepAlive: Bool) {
        logAccess()
        head = nil
        logStatus = 0
        guard keepAlive else { lingerClose(); return }
        phase = .idle
        setDeadline(after: context.idleTimeoutNs)
        resumeRead()
        drive()
    }

    /// Half-close, then discard input until the client closes (or a short deadline), so an
    /// unread request body does not make close() send an RST that destroys our response.
    private func lingerClose() {
        guard phase != .closed else { return }
        phase = .lingering
        head = nil
        transport.shutdownWrite()
        if peerClosedWrite { close(); return }
        // During shutdown don't hold the server up for clients that never close.
        setDeadline(after: context.isShuttingDown.load(ordering: .relaxed) ? min(context.lingerNs, 100_000_000) : context.lingerNs)
        if isReadSuspended, let r = readSource { r.resume(); isReadSuspended = false }
    }

    private func drainForLinger() {
        withUnsafeTemporaryAllocation(byteCount: Self.readChunk, alignment: 16) { buf in
            guard let base = buf.baseAddress else { return }
            while true {
                let n = fd.receive(buf)
                if n > 0 { continue }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
                close()
                return
            }
        }
    }

    private func logAccess() {
        guard let h = head else { return }
        let status = logStatus
        let bytes = logBytes
        let elapsed = ServerContext.now() &- requestStart
        let names = context.configuration.redactedQueryParameters
        let peer = self.peer
        context.logger.info("request", metadata: [
            "http.method": "\(h.method.rawValue)",
            "http.target": "\(redactQuery(target: h.target, names: names))",
            "http.status": "\(status)",
            "http.bytes": "\(bytes < 0 ? "aborted" : String(bytes))",
            "http.ms": "\(Self.milliseconds(elapsed))",
            "connection.peer": "\(peer)",
        ])
    }

    /// Nanoseconds as milliseconds with three decimals, without Foundation formatting.
    static func milliseconds(_ ns: UInt64) -> String {
        let us = ns / 1000
        let frac = us % 1000
        let pad = frac < 10 ? "00" : frac < 100 ? "0" : ""
        return "\(us / 1000).\(pad)\(frac)"
    }
}

// MARK: - Helpers

/// A handler's response on its way from the worker back to the connection queue.
private struct ReadyResponse: @unchecked Sendable {
    // FileStream is handed over once and only touched on the connection queue afterwards.
    var response: HTTPResponse
    var file: FileStream?
}

/// A request body being spilled to a temporary file.
final class SpillFile {
    let path: String
    private var fd: Int32
    private(set) var count = 0

    init(directory: String) throws(SocketError) {
        var template = Array("\(directory)/httpkit-body-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { p -> Int32 in
            guard let base = p.baseAddress else { return -1 }
            return mkstemp(base)
        }
        guard fd >= 0 else { throw .last("mkstemp") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        self.fd = fd
        self.path = template.withUnsafeBufferPointer { p in
            p.baseAddress.map { String(cString: $0) } ?? ""
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(SocketError) {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = systemWrite(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw .last("write")
            }
            p += n
            left -= n
            count += n
        }
    }

    func closeDescriptor() {
        if fd >= 0 { _ = systemCloseFile(fd); fd = -1 }
    }

    /// Closes and deletes the file (request abandoned).
    func remove() {
        closeDescriptor()
        _ = unlink(path)
    }

    deinit { closeDescriptor() }
}

/// A response body streamed from disk through one 256 KiB buffer.
final class FileStream {
    static let chunkSize = 256 * 1024
    private let fd: Int32
    private var offset: Int
    private var remaining: Int
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0

    init(path: String, offset: Int, count: Int) throws(SocketError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .last("open") }
        var st = stat()
        guard fstat(fd, &st) == 0, offset >= 0, count >= 0, Int(st.st_size) >= offset + count else {
            _ = systemCloseFile(fd)
            throw SocketError(call: "open (file shorter than response count)", code: EINVAL)
        }
        self.fd = fd
        self.offset = offset
        self.remaining = count
        self.buffer = .allocate(byteCount: min(Self.chunkSize, max(count, 1)), alignment: 16)
    }

    var isFinished: Bool { remaining == 0 && start == end }
    var pending: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[start..<end]) }

    /// Reads the next chunk; false if the file ended early or could not be read.
    func fill() -> Bool {
        guard let base = buffer.baseAddress else { return false }
        let want = min(buffer.count, remaining)
        while true {
            let n = pread(fd, base, want, off_t(offset))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
            remaining -= n
            start = 0
            end = n
            return true
        }
    }

    func consume(_ n: Int) { start += n }

    deinit {
        buffer.deallocate()
        _ = systemCloseFile(fd)
    }
}

@inline(__always) private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, p, n)
    #elseif canImport(Musl)
    Musl.write(fd, p, n)
    #else
    Darwin.write(fd, p, n)
    #endif
}

@inline(__always) private func systemCloseFile(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.close(fd)
    #elseif canImport(Musl)
    Musl.close(fd)
    #else
    Darwin.close(fd)
    #endif
}
