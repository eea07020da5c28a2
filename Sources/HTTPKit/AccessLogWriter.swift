#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Synchronization

/// A buffered writer for access-log lines: the server formats each line straight into bytes and
/// hands it here, and the lines reach the file descriptor in batches, not one `write(2)` each.
///
/// Lines are written when the buffer holds ``bufferLimit`` bytes, at the latest
/// ``flushInterval`` after they were added (a timer), on ``flush()``, and on ``close()``.
/// ``HTTPServer/shutdown(timeout:)`` flushes once the last response is out, so a graceful stop
/// (SIGTERM) loses no line; a crash (kill -9) may lose the lines of the last interval.
///
/// A line looks exactly like the one swift-log's `StreamLogHandler` writes for the server's
/// `logger.info("request", metadata: …)`, so tools that read the log see no difference:
///
/// ```text
/// 2026-12-07T01:02:03+0000 info lightly-server: connection.peer=127.0.0.1:5432 http.bytes=2 http.method=GET http.ms=0.210 http.status=200 http.target=/v1/x?token=REDACTED [HTTPKit] request
/// ```
///
/// Other log lines go through the logger unbuffered, so in a shared stream an access line can
/// appear up to one interval after a line logged later.
///
/// ```swift
/// let accessLog = AccessLogWriter(fileDescriptor: STDERR_FILENO, label: "my-server")
/// var config = HTTPServerConfiguration(port: 8080)
/// config.accessLog = accessLog
/// // … after server.shutdown(): nothing is left in the buffer; close() stops the timer.
/// accessLog.close()
/// ```
public final class AccessLogWriter: Sendable {
    /// The descriptor lines are written to (not closed by the writer).
    public let fileDescriptor: Int32
    /// The longest a line waits in the buffer.
    public let flushInterval: Duration
    /// Buffered bytes at which the adding thread writes the buffer out itself.
    public let bufferLimit: Int

    private struct State {
        var buffer: [UInt8] = []
        var second = -1
        var timestamp: [UInt8] = []
        var closed = false
    }

    private let state: Mutex<State>
    /// Held while a batch is written, so batches reach the descriptor in order; holds the spare
    /// buffer that is swapped in.
    private let output: Mutex<[UInt8]>
    /// The part of a line between the timestamp and the fields: ` info LABEL:`.
    private let prefix: [UInt8]
    private let timer: TimerBox

    /// Creates a writer and starts its flush timer.
    /// - Parameters:
    ///   - fileDescriptor: Where lines go, e.g. `STDERR_FILENO`; the caller keeps it open.
    ///   - label: The logger label the line carries (as a swift-log line would).
    ///   - flushInterval: The longest a line waits in the buffer. Default 100 ms.
    ///   - bufferLimit: Buffered bytes that trigger a write at once. Default 64 KiB.
    public init(fileDescriptor: Int32, label: String, flushInterval: Duration = .milliseconds(100),
                bufferLimit: Int = 64 * 1024) {
        self.fileDescriptor = fileDescriptor
        self.flushInterval = flushInterval
        let limit = max(1, bufferLimit)
        self.bufferLimit = limit
        self.prefix = Array(" info\(label.isEmpty ? "" : " ")\(label):".utf8)
        var first = State()
        first.buffer.reserveCapacity(min(limit, 1 << 20) + 1024)
        state = Mutex(first)
        var spare: [UInt8] = []
        spare.reserveCapacity(min(limit, 1 << 20) + 1024)
        output = Mutex(spare)
        let t = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "httpkit.access-log"))
        let ns = max(1_000_000, Int(clamping: flushInterval.nanoseconds))
        t.schedule(deadline: .now() + .nanoseconds(ns), repeating: .nanoseconds(ns), leeway: .nanoseconds(ns / 10))
        timer = TimerBox(t)
        t.setEventHandler { @Sendable [weak self] in self?.flush() }
        t.resume()
    }

    deinit { timer.timer.cancel() }

    /// Appends one line: timestamp, level, label, then `fields` (already formatted, starting with
    /// a space) and ` [HTTPKit] request`. Writes the buffer out if it reached ``bufferLimit``.
    func append(fields: UnsafeRawBufferPointer) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let second = Int(now.tv_sec)
        let full = state.withLock { s -> Bool in
            if s.second != second {
                s.second = second
                s.timestamp = Self.localTimestamp(second)
            }
            s.buffer.append(contentsOf: s.timestamp)
            s.buffer.append(contentsOf: prefix)
            s.buffer.append(contentsOf: fields)
            s.buffer.append(contentsOf: Self.suffix)
            return s.closed || s.buffer.count >= bufferLimit
        }
        if full { flush() }
    }

    private static let suffix = Array(" [HTTPKit] request\n".utf8)

    /// Writes every buffered line now.
    public func flush() {
        output.withLock { batch in
            state.withLock { s in swap(&s.buffer, &batch) }
            guard !batch.isEmpty else { return }
            batch.withUnsafeBytes { writeAll(fileDescriptor, $0) }
            batch.removeAll(keepingCapacity: batch.capacity <= 4 * min(bufferLimit, 1 << 20))
        }
    }

    /// Writes what is buffered and stops the timer; lines added later are written at once.
    /// Idempotent.
    public func close() {
        state.withLock { $0.closed = true }
        timer.timer.cancel()
        flush()
    }

    /// `strftime("%Y-%m-%dT%H:%M:%S%z")` in local time, as swift-log's `StreamLogHandler` prints it.
    static func localTimestamp(_ second: Int) -> [UInt8] {
        var t = time_t(second)
        var tmv = tm()
        guard localtime_r(&t, &tmv) != nil else { return Array("<unknown>".utf8) }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &tmv)
        return buffer.prefix(n).map { UInt8(bitPattern: $0) }
    }
}

/// `write(2)` until everything is out; gives up on an error other than EINTR/EAGAIN (a log
/// that cannot be written must not stop the server).
private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
    guard var p = bytes.baseAddress else { return }
    var left = bytes.count
    var stalls = 0
    while left > 0 {
        let n = write(fd, p, left)
        if n > 0 {
            p += n
            left -= n
            stalls = 0
            continue
        }
        if n < 0 && errno == EINTR { continue }
        if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && stalls < 100 {
            stalls += 1
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&pfd, 1, 10)
            continue
        }
        return
    }
}
