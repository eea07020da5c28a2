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
        ])
    }

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
    let limits: HTTPRequestParser.Limits
    let headerTimeoutNs: UInt64
    let idleTimeoutNs: UInt64
    let bodyTimeoutNs: UInt64
    let lingerNs: UInt64
    let sweepInterval: UInt64
    let acceptQueue = DispatchQueue(label: "httpkit.accept", target: .global())
    let timerQueue = DispatchQueue(label: "httpkit.timer", target: .global())
    let group = DispatchGroup()
    let isShuttingDown = Atomic<Bool>(false)
    private let registry = Mutex<[ObjectIdentifier: HTTPConnection]>([:])

    init(configuration c: HTTPServerConfiguration, handler: any HTTPHandler, logger: Logger) {
        configuration = c
        self.handler = handler
        self.logger = logger
        pool = WorkerPool(count: c.workerCount, name: "http-worker")
        serverName = Array(c.serverName.utf8)
        limits = .init(maxHeaderBytes: c.maxHeaderBytes, maxBodyBytes: c.maxBodyBytes)
        headerTimeoutNs = c.headerTimeout.nanoseconds
        idleTimeoutNs = c.idleTimeout.nanoseconds
        bodyTimeoutNs = c.bodyTimeout.nanoseconds
        lingerNs = min(2_000_000_000, headerTimeoutNs)
        // Deadlines are checked by one sweeper, so its period bounds their precision.
        let shortest = min(headerTimeoutNs, idleTimeoutNs, bodyTimeoutNs)
        sweepInterval = min(max(shortest / 8, 20_000_000), 500_000_000)
    }

    var connectionCount: Int { registry.withLock { $0.count } }

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
                let connection = HTTPConnection(fd: fd, peer: peer, context: self)
                let admitted = registry.withLock { r -> Bool in
                    guard r.count < configuration.maxConnections else { return false }
                    r[ObjectIdentifier(connection)] = connection
                    return true
                }
                if admitted {
                    group.enter()
                    connection.start()
                } else {
                    rejectOverCapacity(fd, peer: peer)
                }
            }
        }
    }

    private static let serviceUnavailable: [UInt8] = {
        let body = #"{"code":"SERVICE_UNAVAILABLE","message":"too many connections"}"#
        return Array(("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + body).utf8)
    }()

    /// Above the cap: answer 503 on the fresh (empty) send buffer and close, without creating
    /// connection state.
    private func rejectOverCapacity(_ fd: Descriptor, peer: String) {
        logger.debug("connection rejected: at capacity", metadata: ["connection.peer": "\(peer)"])
        _ = Self.serviceUnavailable.withUnsafeBytes { fd.send($0) }
        fd.shutdownWrite()
        // Discard what the client already sent so close() does not turn into an RST that
        // could overtake the 503.
        withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 1) { buf in
            for _ in 0..<16 where recv(fd.raw, buf.baseAddress, buf.count, Int32(MSG_DONTWAIT)) > 0 {}
        }
        fd.close()
    }

    func connectionClosed(_ connection: HTTPConnection) {
        let removed = registry.withLock { $0.removeValue(forKey: ObjectIdentifier(connection)) }
        if removed != nil { group.leave() }
    }

    // MARK: Deadlines

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Hands every connection whose deadline has passed to its own queue.
    func sweep() {
        let now = Self.now()
        var expired: [HTTPConnection] = []
        registry.withLock { r in
            for c in r.values {
                let d = c.deadline.load(ordering: .relaxed)
                if d != 0 && d <= now { expired.append(c) }
            }
        }
        for c in expired { c.queue.async { c.deadlineReached() } }
    }

    // MARK: Shutdown

    func beginShutdown() {
        isShuttingDown.store(true, ordering: .relaxed)
        for c in registry.withLock({ Array($0.values) }) { c.queue.async { c.beginShutdown() } }
    }

    func closeAll() {
        for c in registry.withLock({ Array($0.values) }) { c.queue.async { c.close() } }
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
