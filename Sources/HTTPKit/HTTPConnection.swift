#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Dispatch
import Logging
import Synchronization

/// One client connection. Every mutable field is confined to `queue`; the only state read
/// from elsewhere is atomic: `deadline` (by the server's sweeper), `isEvictable` and
/// `isEvicted` (by the accept path at the connection cap).
///
/// This file holds the state machine (lifecycle, deadlines, TLS handshake);
/// HTTPConnection+Reading.swift reads and parses requests, HTTPConnection+Writing.swift writes
/// responses, BodyFiles.swift holds the spill and response files.
final class HTTPConnection: @unchecked Sendable {
    enum Phase {
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

    enum AfterFlush {
        case nothing
        case responseDone(keepAlive: Bool)
        case closeGracefully
    }

    /// Bytes buffered ahead (pipelined requests) while a request is being handled before the
    /// read source is paused.
    static let readAheadLimit = 128 * 1024
    static let readChunk = 64 * 1024
    static let interimContinue = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    let fd: Descriptor
    /// Plain socket or TLS session; all request and response bytes go through it.
    let transport: ConnectionTransport
    let queue: DispatchQueue
    let peer: String
    /// The peer's address without the port (what the per-address limit counts).
    let address: String
    let context: ServerContext
    /// Uptime nanoseconds after which `deadlineReached()` acts; 0 = none.
    let deadline = Atomic<UInt64>(0)
    /// Still in the TLS handshake, idle, or receiving a request head or body: may be closed to
    /// make room at the cap.
    let isEvictable = Atomic<Bool>(true)
    /// Chosen to make room at the cap (set once, under the server's registry lock).
    let isEvicted = Atomic<Bool>(false)

    // MARK: Queue-confined state
    // Internal rather than private only because the reading and writing halves live in
    // HTTPConnection+Reading.swift and HTTPConnection+Writing.swift; nothing outside this type
    // touches them.
    var phase: Phase = .idle {
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
    var windowBytes = 0
    var parser: HTTPRequestParser
    var readSource: DispatchSourceRead?
    var writeSource: DispatchSourceWrite?
    var isReadSuspended = false
    var isWriteSourceActive = false
    private var pendingCancels = 0
    var peerClosedWrite = false
    var closeAfterResponse = false

    // Current request
    var head: HTTPRequestHead?
    var requestStart: UInt64 = 0
    var memoryBody = Data()
    var spill: SpillFile?

    // Output
    var out: [UInt8] = []
    var outOffset = 0
    var outBody = Data()
    var outBodyOffset = 0
    var outFile: FileStream?
    var afterFlush: AfterFlush = .nothing
    var logStatus = 0
    var logBytes = 0
    var logAnnotations: [String: String] = [:]
    /// The fields of the access-log line being written (reused: no allocation per request).
    var logLine: [UInt8] = []

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

    func sourceCancelled() {
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

    func setDeadline(after ns: UInt64) {
        timeoutAt = ServerContext.now() &+ ns
        publishDeadline()
    }

    func clearDeadline() {
        timeoutAt = 0
        publishDeadline()
    }

    /// Starts a fresh transfer-rate window (a request starts arriving, a response starts going out).
    func startRateWindow() {
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
    func continueHandshake() {
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
}
