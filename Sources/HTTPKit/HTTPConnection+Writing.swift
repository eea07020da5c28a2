// HTTPConnection: writing the response, then keeping the connection alive or closing it.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Dispatch
import Logging
import Synchronization

extension HTTPConnection {
    // MARK: - Responding

    func respond(_ ready: ReadyResponse) {
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
        logAnnotations = response.annotations
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
    func sendError(_ status: HTTPStatus, code: String, message: String) {
        guard phase != .closed, phase != .lingering else { return }
        discardRequestBody()
        let response = context.configuration.errorResponse(status, code: code, message: message)
        ResponseEncoder.encodeHead(response, contentLength: response.body.count, close: true, http10KeepAlive: false,
                                   serverName: context.serverName, date: context.date, into: &out)
        if case .bytes(let d) = response.body { outBody = d }
        logStatus = status.code
        logBytes = response.body.count
        logAnnotations = [:]
        if head != nil { logAccess() }
        head = nil
        afterFlush = .closeGracefully
        phase = .writing
        startRateWindow()
        setDeadline(after: context.bodyTimeoutNs)
        flush()
    }

    /// Writes pending output until done or EAGAIN; one `sendmsg` carries head and body.
    func flush() {
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

    func waitUntilWritable() {
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

    func drainForLinger() {
        withUnsafeTemporaryAllocation(byteCount: Self.readChunk, alignment: 16) { buf in
            guard let base = buf.baseAddress else { return }
            while true {
                let n = fd.receive(buf)
                if n > 0 { continue }
                if n < 0 && lastCallWasInterrupted { continue }
                if n < 0 && lastCallWouldBlock { return }
                close()
                return
            }
        }
    }

    func logAccess() {
        guard let h = head else { return }
        let status = logStatus
        let bytes = logBytes
        let elapsed = ServerContext.now() &- requestStart
        let target = context.redaction.redact(h.target)
        context.handler.requestCompleted(HTTPRequestRecord(
            method: h.method, target: target, status: status, bytes: bytes < 0 ? nil : bytes,
            durationNanoseconds: elapsed, annotations: logAnnotations))
        logAnnotations = [:]
        guard let accessLog = context.accessLog else {
            context.logger.info("request", metadata: [
                "http.method": "\(h.method.rawValue)",
                "http.target": "\(target)",
                "http.status": "\(status)",
                "http.bytes": "\(bytes < 0 ? "aborted" : String(bytes))",
                "http.ms": "\(Self.milliseconds(elapsed))",
                "connection.peer": "\(peer)",
            ])
            return
        }
        // The metadata in the order swift-log prints it (sorted by key).
        logLine.removeAll(keepingCapacity: logLine.capacity <= 4096)
        logLine.append(contentsOf: " connection.peer=".utf8)
        logLine.append(contentsOf: peer.utf8)
        logLine.append(contentsOf: " http.bytes=".utf8)
        if bytes < 0 { logLine.append(contentsOf: "aborted".utf8) } else { ResponseEncoder.appendDecimal(bytes, to: &logLine) }
        logLine.append(contentsOf: " http.method=".utf8)
        logLine.append(contentsOf: h.method.rawValue.utf8)
        logLine.append(contentsOf: " http.ms=".utf8)
        Self.appendMilliseconds(elapsed, to: &logLine)
        logLine.append(contentsOf: " http.status=".utf8)
        ResponseEncoder.appendDecimal(status, to: &logLine)
        logLine.append(contentsOf: " http.target=".utf8)
        logLine.append(contentsOf: target.utf8)
        logLine.withUnsafeBytes { accessLog.append(fields: $0) }
    }

    /// ``milliseconds(_:)`` appended as bytes.
    static func appendMilliseconds(_ ns: UInt64, to out: inout [UInt8]) {
        let us = ns / 1000
        let frac = Int(us % 1000)
        ResponseEncoder.appendDecimal(Int(us / 1000), to: &out)
        out.append(UInt8(ascii: "."))
        if frac < 100 { out.append(UInt8(ascii: "0")) }
        if frac < 10 { out.append(UInt8(ascii: "0")) }
        ResponseEncoder.appendDecimal(frac, to: &out)
    }

    /// Nanoseconds as milliseconds with three decimals, without Foundation formatting.
    static func milliseconds(_ ns: UInt64) -> String {
        let us = ns / 1000
        let frac = us % 1000
        let pad = frac < 10 ? "00" : frac < 100 ? "0" : ""
        return "\(us / 1000).\(pad)\(frac)"
    }
}
