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

/// An HTTP/1.1 server over non-blocking POSIX sockets and Dispatch.
///
/// One `DispatchSourceRead` watches the listener and one watches each connection; each
/// connection's state lives on its own serial queue, so an idle keep-alive connection costs a
/// descriptor, not a thread. Handlers run on a bounded pool of dedicated threads
/// (``HTTPServerConfiguration/workerCount``), never on a connection's read path.
///
/// With ``HTTPServerConfiguration/tls`` set it serves HTTPS through the system OpenSSL: the
/// handshake and the encrypted reads and writes are driven by the same sources, never blocking
/// a thread; ``reloadTLS()`` swaps the certificate for new connections.
///
/// ```swift
/// HTTPServer.ignoreSIGPIPE()
/// let server = HTTPServer(configuration: .init(port: 8080), handler: router, logger: logger)
/// try server.start()
/// print("listening on \(server.port)")
/// // … on SIGTERM:
/// server.shutdown(timeout: .seconds(10))
/// ```
public final class HTTPServer: Sendable {
    /// The configuration the server was created with.
    public let configuration: HTTPServerConfiguration
    let context: ServerContext
    private let state = Mutex(ListenerState())

    private struct ListenerState {
        var listener: Descriptor?
        var source: SourceBox?
        var sweeper: TimerBox?
        var port = 0
        var isStopped = false
    }

    /// Creates a server. Nothing is bound until ``start()``.
    /// - Parameters:
    ///   - configuration: Address, limits and timeouts.
    ///   - handler: Called for every complete request, on the worker pool.
    ///   - logger: Receives one info line per request (the access log), handler errors at
    ///     error level, and connection-level events at debug/trace.
    public init(configuration: HTTPServerConfiguration, handler: any HTTPHandler, logger: Logger) {
        self.configuration = configuration
        self.context = ServerContext(configuration: configuration, handler: handler, logger: logger)
    }

    /// The bound TCP port (useful with port 0); 0 before ``start()``.
    public var port: Int { state.withLock { $0.port } }

    /// The number of open connections.
    public var connectionCount: Int { context.connectionCount }

    /// Binds, listens and starts accepting connections.
    /// - Throws: ``SocketError`` when the address cannot be resolved or bound.
    public func start() throws {
        let c = configuration
        try state.withLock { s throws(SocketError) in
            guard s.listener == nil, !s.isStopped else { throw SocketError(call: "start (already started or stopped)", code: EINVAL) }
        }
        if let tls = c.tls {
            context.tls.withLock { $0 = nil }
            let loaded = try TLSContext(tls)
            context.tls.withLock { $0 = loaded }
            // OpenSSL writes to the socket with write(2), which raises SIGPIPE when the peer
            // has gone; the plain path avoids it with MSG_NOSIGNAL.
            Self.ignoreSIGPIPE()
        }
        let (listener, port) = try Listener.make(host: c.host, port: c.port, backlog: Int32(clamping: c.backlog))
        let source = DispatchSource.makeReadSource(fileDescriptor: listener.raw, queue: context.acceptQueue)
        let ctx = context
        let box = SourceBox(source)
        source.setEventHandler { @Sendable in ctx.acceptAvailable(listener: listener, source: box) }
        source.setCancelHandler { @Sendable in listener.close() }

        let sweeper = DispatchSource.makeTimerSource(queue: context.timerQueue)
        let interval = context.sweepInterval
        sweeper.schedule(deadline: .now() + .nanoseconds(Int(interval)), repeating: .nanoseconds(Int(interval)),
                         leeway: .nanoseconds(Int(interval / 4)))
        sweeper.setEventHandler { @Sendable in ctx.sweep() }

        let sweeperBox = TimerBox(sweeper)
        state.withLock { s in
            s.listener = listener
            s.source = box
            s.sweeper = sweeperBox
            s.port = port
        }
        source.resume()
        sweeper.resume()
        context.logger.info("http server listening", metadata: [
            "http.host": "\(c.host)", "http.port": "\(port)", "http.workers": "\(context.pool.count)",
            "http.tls": "\(c.tls != nil)",
        ])
    }

    /// Reads the certificate chain and key files of ``HTTPServerConfiguration/tls`` again and
    /// uses them for connections accepted from now on; open connections keep the certificate
    /// they started with. Call it on SIGHUP after renewing the certificate.
    /// - Throws: ``TLSError`` when the files cannot be loaded or do not match; the server then
    ///   keeps serving the previous certificate.
    public func reloadTLS() throws {
        guard let tls = configuration.tls else {
            throw TLSError(operation: "reload TLS", reasons: ["the server was not configured for TLS"])
        }
        let loaded = try TLSContext(tls)
        context.tls.withLock { $0 = loaded }
        context.logger.info("TLS certificate reloaded", metadata: ["tls.certificate": "\(tls.certificateChainFile)"])
    }

    /// The connections open right now (for monitoring).
    public var openConnections: Int { context.openConnections }

    /// Stops gracefully: stops accepting, closes idle connections, lets in-flight requests
    /// finish (their responses carry `Connection: close`), then closes what is left after
    /// `timeout` and returns. Blocks the caller; don't call it from a handler.
    /// - Parameter timeout: How long to wait for in-flight requests. Default 10 s.
    public func shutdown(timeout: Duration = .seconds(10)) {
        enum Step { case alreadyStopped, neverStarted, running(SourceBox, TimerBox?) }
        let step = state.withLock { s -> Step in
            guard !s.isStopped else { return .alreadyStopped }
            s.isStopped = true
            guard let source = s.source else { return .neverStarted }
            defer { s.source = nil; s.sweeper = nil; s.listener = nil }
            return .running(source, s.sweeper)
        }
        let source: SourceBox, sweeper: TimerBox?
        switch step {
        case .alreadyStopped:
            return
        case .neverStarted:
            context.pool.stop(timeout: .now() + .seconds(1))
            return
        case .running(let so, let sw):
            (source, sweeper) = (so, sw)
        }
        source.source.cancel()
        context.beginShutdown()
        let deadline = DispatchTime.now() + .nanoseconds(Int(clamping: timeout.nanoseconds))
        if context.group.wait(timeout: deadline) == .timedOut {
            context.logger.info("http shutdown timed out; closing remaining connections",
                                metadata: ["http.connections": "\(context.connectionCount)"])
            context.closeAll()
            _ = context.group.wait(timeout: .now() + .seconds(2))
        }
        sweeper?.timer.cancel()
        context.pool.stop(timeout: .now() + .seconds(1))
        // Every connection has written its access-log line by now.
        context.accessLog?.flush()
        context.logger.info("http server stopped")
    }

    /// Ignores `SIGPIPE` for the whole process. The server already sends with `MSG_NOSIGNAL`;
    /// call this once in `main` anyway so no other write to a closed socket or pipe can kill
    /// the process (exit 141).
    public static func ignoreSIGPIPE() {
        _ = signal(SIGPIPE, SIG_IGN)
    }
}

// MARK: - Shared server state

/// What every connection of one server shares. Immutable apart from the registry.
final class ServerContext: Sendable {
    let configuration: HTTPServerConfiguration
    let handler: any HTTPHandler
    let logger: Logger
    let pool: WorkerPool
    let date = DateCache()
    let serverName: [UInt8]
    /// The 503 answers over ``HTTPServerConfiguration/maxConnections`` and
    /// ``HTTPServerConfiguration/maxConnectionsPerAddress``.
    let serviceUnavailable: [UInt8]
    let tooManyFromAddress: [UInt8]
    let limits: HTTPRequestParser.Limits
    /// ``HTTPServerConfiguration/redactedQueryParameters``, folded once.
    let redaction: RedactionRules
    /// ``HTTPServerConfiguration/accessLog``.
    let accessLog: AccessLogWriter?
    let headerTimeoutNs: UInt64
    let idleTimeoutNs: UInt64
    let bodyTimeoutNs: UInt64
    let lingerNs: UInt64
    /// Length of one transfer-rate window; 0 when the rate check is off.
    let rateWindowNs: UInt64
    /// Bytes a transfer must move per window (``HTTPServerConfiguration/minTransferRate`` × window).
    let rateWindowMinBytes: Int
    /// Time a TLS client has to finish its handshake (not subject to the rate check).
    let handshakeTimeoutNs: UInt64
    /// The TLS context new connections use; replaced by ``HTTPServer/reloadTLS()``.
    let tls = Mutex<TLSContext?>(nil)
    let sweepInterval: UInt64
    let acceptQueue = DispatchQueue(label: "httpkit.accept", target: .global())
    let timerQueue = DispatchQueue(label: "httpkit.timer", target: .global())
    let group = DispatchGroup()
    let isShuttingDown = Atomic<Bool>(false)
    private let registry = Mutex(Registry())

    var openConnections: Int { registry.withLock { $0.connections.count } }

    /// The open connections, and how many each client address holds.
    private struct Registry {
        var connections: [ObjectIdentifier: HTTPConnection] = [:]
        var perAddress: [String: Int] = [:]
        /// Connections told to make room at the cap that have not closed yet.
        var evicting = 0

        mutating func add(_ c: HTTPConnection) {
            connections[ObjectIdentifier(c)] = c
            perAddress[c.address, default: 0] += 1
        }

        mutating func remove(_ c: HTTPConnection) -> Bool {
            guard connections.removeValue(forKey: ObjectIdentifier(c)) != nil else { return false }
            if let n = perAddress[c.address], n > 1 { perAddress[c.address] = n - 1 } else { perAddress[c.address] = nil }
            if c.isEvicted.load(ordering: .relaxed) { evicting -= 1 }
            return true
        }
    }

    /// Why a new connection was not admitted.
    private enum Refusal { case capacity, address }

    init(configuration c: HTTPServerConfiguration, handler: any HTTPHandler, logger: Logger) {
        configuration = c
        self.handler = handler
        self.logger = logger
        pool = WorkerPool(count: c.workerCount, name: "http-worker")
        serverName = Array(c.serverName.utf8)
        serviceUnavailable = Self.serviceUnavailable(c, message: "too many connections")
        tooManyFromAddress = Self.serviceUnavailable(c, message: "too many connections from your address")
        limits = .init(maxHeaderBytes: c.maxHeaderBytes, maxBodyBytes: c.maxBodyBytes)
        redaction = RedactionRules(names: c.redactedQueryParameters)
        accessLog = c.accessLog
        headerTimeoutNs = c.headerTimeout.nanoseconds
        idleTimeoutNs = c.idleTimeout.nanoseconds
        bodyTimeoutNs = c.bodyTimeout.nanoseconds
        lingerNs = min(2_000_000_000, headerTimeoutNs)
        rateWindowNs = c.minTransferRate > 0 ? max(c.transferRateWindow.nanoseconds, 1_000_000) : 0
        rateWindowMinBytes = Int((Double(c.minTransferRate) * Double(rateWindowNs) / 1e9).rounded(.up))
        handshakeTimeoutNs = c.tls?.handshakeTimeout.nanoseconds ?? headerTimeoutNs
        // Deadlines are checked by one sweeper, so its period bounds their precision.
        let shortest = min(headerTimeoutNs, idleTimeoutNs, bodyTimeoutNs, handshakeTimeoutNs,
                           rateWindowNs == 0 ? .max : rateWindowNs)
        sweepInterval = min(max(shortest / 8, 20_000_000), 500_000_000)
    }

    var connectionCount: Int { registry.withLock { $0.connections.count } }

    // MARK: Accepting

    func acceptAvailable(listener: Descriptor, source box: SourceBox) {
        for _ in 0..<128 {
            switch Listener.accept(listener) {
            case .wouldBlock:
                return
            case .failed(let error):
                // EMFILE/ENFILE: the pending connection stays queued and the level-triggered
                // source would spin, so pause accepting briefly.
                logger.info("accept failed; pausing accepts for 100 ms", metadata: ["error": "\(error)"])
                box.source.suspend()
                acceptQueue.asyncAfter(deadline: .now() + .milliseconds(100)) { box.source.resume() }
                return
            case .accepted(let fd, let peer):
                fd.setCloseOnExec()
                do {
                    try fd.setNonBlocking()
                    try fd.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
                } catch {
                    fd.close()
                    continue
                }
                if isShuttingDown.load(ordering: .relaxed) {
                    fd.close()
                    continue
                }
                var session: TLSSession?
                if configuration.tls != nil {
                    guard let s = tls.withLock({ $0 })?.makeSession(fd: fd) else {
                        logger.error("cannot create a TLS session", metadata: ["error": "\(openSSLErrors())"])
                        fd.close()
                        continue
                    }
                    session = s
                }
                let connection = HTTPConnection(fd: fd, peer: peer, context: self, tls: session)
                switch admit(connection) {
                case nil:
                    group.enter()
                    connection.start()
                case .capacity?:
                    rejectOverCapacity(fd, peer: peer, response: serviceUnavailable)
                case .address?:
                    rejectOverCapacity(fd, peer: peer, response: tooManyFromAddress)
                }
            }
        }
    }

    /// Registers a new connection, or says why not. At the cap, a newcomer from an address
    /// holding fewer connections than the busiest one makes that address give one up (an
    /// idle one or one still receiving its request), so one address cannot lock out others.
    private func admit(_ connection: HTTPConnection) -> Refusal? {
        let cap = configuration.maxConnections
        let perAddressCap = configuration.maxConnectionsPerAddress
        var victim: HTTPConnection?
        let refusal = registry.withLock { r -> Refusal? in
            let mine = r.perAddress[connection.address] ?? 0
            if perAddressCap > 0 && mine >= perAddressCap { return .address }
            if r.connections.count - r.evicting < cap {
                // Evicted connections close within the linger time; don't let them pile up.
                guard r.connections.count < 2 * cap else { return .capacity }
                r.add(connection)
                return nil
            }
            guard let (busiest, count) = r.perAddress.max(by: { $0.value < $1.value }), mine + 1 < count,
                  let v = r.connections.values.first(where: {
                      $0.address == busiest && $0.isEvictable.load(ordering: .relaxed) && !$0.isEvicted.load(ordering: .relaxed)
                  }) else { return .capacity }
            v.isEvicted.store(true, ordering: .relaxed)
            r.evicting += 1
            victim = v
            r.add(connection)
            return nil
        }
        if let victim {
            logger.debug("connection evicted to admit another address", metadata: [
                "connection.peer": "\(victim.peer)", "connection.admitted": "\(connection.peer)",
            ])
            victim.queue.async { victim.evict() }
        }
        return refusal
    }

    /// A whole 503 answer from a cap, made once from ``HTTPServerConfiguration/errorBody``.
    static func serviceUnavailable(_ c: HTTPServerConfiguration, message: String) -> [UInt8] {
        let (contentType, body) = c.errorBody(.serviceUnavailable, HTTPErrorCode.serviceUnavailable, message)
        let server = c.serverName.isEmpty ? "" : "Server: \(c.serverName)\r\n"
        return Array(("HTTP/1.1 503 Service Unavailable\r\n\(server)Content-Type: \(contentType)\r\n"
            + "Content-Length: \(body.count)\r\nRetry-After: 1\r\nConnection: close\r\n\r\n").utf8) + body
    }


    /// Above a cap: answer 503 on the fresh (empty) send buffer and close, without creating
    /// connection state.
    private func rejectOverCapacity(_ fd: Descriptor, peer: String, response: [UInt8]) {
        logger.debug("connection rejected: at capacity", metadata: ["connection.peer": "\(peer)"])
        // A TLS client could not read a plain 503; it sees the connection close.
        guard configuration.tls == nil else { fd.close(); return }
        _ = response.withUnsafeBytes { fd.send($0) }
        fd.shutdownWrite()
        // Discard what the client already sent so close() does not turn into an RST that
        // could overtake the 503.
        withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 1) { buf in
            for _ in 0..<16 where fd.receive(buf, flags: Int32(MSG_DONTWAIT)) > 0 {}
        }
        fd.close()
    }

    func connectionClosed(_ connection: HTTPConnection) {
        let removed = registry.withLock { $0.remove(connection) }
        if removed { group.leave() }
    }

    // MARK: Deadlines

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Hands every connection whose deadline has passed to its own queue.
    func sweep() {
        let now = Self.now()
        var expired: [HTTPConnection] = []
        registry.withLock { r in
            for c in r.connections.values {
                let d = c.deadline.load(ordering: .relaxed)
                if d != 0 && d <= now { expired.append(c) }
            }
        }
        for c in expired { c.queue.async { c.deadlineReached() } }
    }

    // MARK: Shutdown

    func beginShutdown() {
        isShuttingDown.store(true, ordering: .relaxed)
        for c in registry.withLock({ Array($0.connections.values) }) { c.queue.async { c.beginShutdown() } }
    }

    func closeAll() {
        for c in registry.withLock({ Array($0.connections.values) }) { c.queue.async { c.close() } }
    }
}

/// Carries the listener's source into its own handler. Dispatch sources are thread-safe;
/// the listener's is only suspended/resumed on the accept queue.
final class SourceBox: @unchecked Sendable {
    let source: DispatchSourceRead
    init(_ source: DispatchSourceRead) { self.source = source }
}

/// The sweeper timer, kept in the server's locked state.
final class TimerBox: @unchecked Sendable {
    let timer: DispatchSourceTimer
    init(_ timer: DispatchSourceTimer) { self.timer = timer }
}
