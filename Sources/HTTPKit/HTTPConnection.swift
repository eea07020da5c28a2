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
/// from elsewhere is the atomic `deadline` (by the server's sweeper).
final class HTTPConnection: @unchecked Sendable {
    private enum Phase {
        /// Between requests, nothing buffered.
        case idle
        /// Receiving a request head.
        case head
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
    let queue: DispatchQueue
    let peer: String
    private let context: ServerContext
    /// Uptime nanoseconds after which `deadlineReached()` acts; 0 = none.
    let deadline = Atomic<UInt64>(0)

    // MARK: Queue-confined state
    private var phase: Phase = .idle
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

    init(fd: Descriptor, peer: String, context: ServerContext) {
        self.fd = fd
        self.peer = peer
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
            // A fresh connection must send its first request within the header timeout.
            setDeadline(after: context.headerTimeoutNs)
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
        fd.close()
        context.connectionClosed(self)
    }

    /// Server shutdown: idle connections close now; busy ones close after their response.
    func beginShutdown() {
        closeAfterResponse = true
        if (phase == .idle && parser.bufferedCount == 0) || phase == .lingering { close() }
    }

    // MARK: - Deadlines

    private func setDeadline(after ns: UInt64) {
        deadline.store(ServerContext.now() &+ ns, ordering: .relaxed)
    }

    private func clearDeadline() {
        deadline.store(0, ordering: .relaxed)
    }

    func deadlineReached() {
        let d = deadline.load(ordering: .relaxed)
        guard d != 0, d <= ServerContext.now() else { return }
        switch phase {
        case .idle, .writing, .lingering:
            close()
        case .head, .body:
            // Headers (or body bytes) did not arrive in time: slowloris or a stalled client.
            context.logger.debug("request timed out", metadata: ["connection.peer": "\(peer)"])
            sendError(.requestTimeout, code: HTTPErrorCode.requestTimeout, message: "request not received in time")
        case .handling, .closed:
            break
        }
    }

    // MARK: - Reading

    private func onReadable() {
        switch phase {
        case .closed:
            return
        case .lingering:
            drainForLinger()
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
        withUnsafeTemporaryAllocation(byteCount: Self.readChunk, alignment: 16) { buf in
            guard let base = buf.baseAddress else { return }
            for _ in 0..<4 {
                let n = fd.receive(buf)
                if n > 0 {
                    parser.append(UnsafeRawBufferPointer(start: base, count: n))
                    if n < buf.count { break }
                } else if n == 0 {
                    eof = true
                    break
                } else if errno == EINTR {
                    continue
                } else {
                    failed = errno != EAGAIN && errno != EWOULDBLOCK
                    break
                }
            }
        }
        if failed { close(); return }
        if eof {
            // Half-closed by the client: finish what it already sent, then close. The
            // level-triggered source would fire forever on EOF, so stop watching.
            peerClosedWrite = true
            suspendRead()
        }
        switch phase {
        case .body:
            setDeadline(after: context.bodyTimeoutNs)
            drive()
        case .idle, .head:
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
    }

    /// Runs the parser over buffered bytes until a request is complete or more bytes are needed.
    private func drive() {
        if phase == .idle && parser.bufferedCount > 0 {
            phase = .head
            requestStart = ServerContext.now()
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
        phase = .body
        setDeadline(after: context.bodyTimeoutNs)
        if let n = h.contentLength, n > context.configuration.bodyFileThreshold {
            guard startSpill() else { return }
        } else if let n = h.contentLength {
            // Don't let a declared length reserve memory the client never sends.
            memoryBody.reserveCapacity(min(n, 1 << 20))
        }
        // RFC 9110 §10.1.1: the client waits for 100 before sending the body.
        if h.expectsContinue && h.version == "HTTP/1.1" && parser.bufferedCount == 0 {
            out.append(contentsOf: Self.interimContinue)
            flush()
        }
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
            context.logger.error("cannot store request body", metadata: ["error": "\(error)"])
            sendError(.internalServerError, code: HTTPErrorCode.internalError, message: "could not store request body")
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
                context.logger.error("cannot store request body", metadata: ["error": "\(error)"])
                sendError(.internalServerError, code: HTTPErrorCode.internalError, message: "could not store request body")
            }
        } else {
            memoryBody.append(contentsOf: bytes)
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
                                  body: body, version: h.version, remoteAddress: peer)
        let context = self.context
        context.pool.submit { [self] in
            var response: HTTPResponse
            do {
                response = try context.handler.handle(request)
            } catch {
                context.logger.error("handler failed", metadata: [
                    "http.method": "\(request.method)",
                    "http.target": "\(redactQuery(target: request.target, names: context.configuration.redactedQueryParameters))",
                    "error": "\(error)",
                ])
                response = context.configuration.errorResponse(.internalServerError, code: HTTPErrorCode.internalError,
                                                                  message: "internal server error")
            }
            // The handler has returned: the spilled body goes unless it was moved away.
            if let spillPath { _ = unlink(spillPath) }
            var file: FileStream?
            if case .file(let path, let offset, let count) = response.body, request.method != .HEAD {
                do {
                    file = try FileStream(path: path, offset: offset, count: count)
                } catch {
                    context.logger.error("cannot open response file", metadata: ["error": "\(error)"])
                    response = context.configuration.errorResponse(.internalServerError, code: HTTPErrorCode.internalError,
                                                                  message: "internal server error")
                }
            }
            let ready = ReadyResponse(response: response, file: file)
            queue.async { [self] in respond(ready) }
        }
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
                        fd.send(UnsafeRawBufferPointer(rebasing: o[ho...]), UnsafeRawBufferPointer(rebasing: b[bo...]))
                    }
                }
                if sent < 0 { close(); return }
                if sent == 0 { waitUntilWritable(); return }
                let fromHead = min(sent, headLeft)
                outOffset += fromHead
                outBodyOffset += sent - fromHead
                if phase == .writing { setDeadline(after: context.bodyTimeoutNs) }
                continue
            }
            if let file = outFile, !file.isFinished {
                if file.pending.isEmpty, !file.fill() {
                    context.logger.error("response file ended early", metadata: ["connection.peer": "\(peer)"])
                    close()
                    return
                }
                let sent = fd.send(file.pending)
                if sent < 0 { close(); return }
                if sent == 0 { waitUntilWritable(); return }
                file.consume(sent)
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
            if phase != .closed { flush() }
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
        fd.shutdownWrite()
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
