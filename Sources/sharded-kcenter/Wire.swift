// The coordinator–shard protocol: length-prefixed binary frames over a pair of pipes.
//
// A frame is one type byte, the payload length (u32, little-endian) and the payload. Integers
// and floats are little-endian; rows travel as their stored bytes (d float32 or float16).
//
//   coordinator → shard                         shard → coordinator
//   (at start)                                  H  lo i64, hi i64, load seconds f64
//   G  row i64                                  R  row bytes                     (owner only)
//   P  picked row i64, its row bytes            B  best row i64 (−1: none), squared distance f32,
//                                                  compute ns u64, row bytes (when row ≥ 0)
//   L  local k u32                              C  count u32, rows i64 × count, row bytes × count,
//                                                  compute ns u64
//   E  count u32, row bytes × count             M  max squared distance f32, compute ns u64
//   Q  (empty): exit 0
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a sharded run failed. The coordinator prints the description and exits 1.
enum ShardError: Error, CustomStringConvertible {
    case data(String)
    case spawn(String)
    case died(shard: Int, pid: Int32, how: String, during: String)
    case timeout(shard: Int, pid: Int32, seconds: Double, during: String)
    case protocolError(String)
    case usage(String)

    var description: String {
        switch self {
        case let .data(s): return "data: \(s)"
        case let .spawn(s): return "cannot start a shard: \(s)"
        case let .died(shard, pid, how, during):
            return "shard \(shard) (pid \(pid)) \(how) during \(during); the run is incomplete"
        case let .timeout(shard, pid, seconds, during):
            return "shard \(shard) (pid \(pid)) did not answer within \(seconds) s during \(during); the run is incomplete"
        case let .protocolError(s): return "protocol error: \(s)"
        case let .usage(s): return s
        }
    }
}

/// Frame types (see the file comment).
enum Frame {
    static let hello: UInt8 = 0x48        // H
    static let getRow: UInt8 = 0x47       // G
    static let row: UInt8 = 0x52          // R
    static let pick: UInt8 = 0x50         // P
    static let best: UInt8 = 0x42         // B
    static let localGreedy: UInt8 = 0x4C  // L
    static let centers: UInt8 = 0x43      // C
    static let evaluate: UInt8 = 0x45     // E
    static let maxDistance: UInt8 = 0x4D  // M
    static let quit: UInt8 = 0x51         // Q
    /// Largest payload accepted (the E frame of k = 65 536 centers at d = 1024 float32 is 256 MiB).
    static let maxPayload = 1 << 30
}

/// Little-endian payload builder.
struct Payload {
    var bytes: [UInt8] = []
    mutating func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func put(_ v: Float) { put(v.bitPattern) }
    mutating func put(_ v: Double) { put(v.bitPattern) }
    mutating func put(bytes b: [UInt8]) { bytes.append(contentsOf: b) }
}

/// Little-endian payload reader; every read checks the length.
struct Reader {
    let bytes: [UInt8]
    var at = 0
    init(_ b: [UInt8]) { bytes = b }
    mutating func get<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let size = MemoryLayout<T>.size
        guard at + size <= bytes.count else { throw ShardError.protocolError("short frame") }
        var v: T = 0
        for i in 0 ..< size { v |= T(truncatingIfNeeded: bytes[at + i]) << (8 * i) }
        at += size
        return v
    }
    mutating func float() throws -> Float { Float(bitPattern: try get(UInt32.self)) }
    mutating func double() throws -> Double { Double(bitPattern: try get(UInt64.self)) }
    mutating func take(_ n: Int) throws -> [UInt8] {
        guard n >= 0, at + n <= bytes.count else { throw ShardError.protocolError("short frame") }
        defer { at += n }
        return Array(bytes[at ..< at + n])
    }
}

/// One end of a coordinator–shard link: reads from `inFD`, writes to `outFD`.
final class Channel {
    let inFD: Int32
    let outFD: Int32
    /// Bytes and frames moved so far (for the per-round figures).
    private(set) var bytesSent = 0, bytesReceived = 0, framesSent = 0, framesReceived = 0

    init(inFD: Int32, outFD: Int32) {
        self.inFD = inFD
        self.outFD = outFD
    }

    enum Failure: Error { case closed, timedOut }

    /// Writes one whole frame. Throws `.closed` when the other end is gone (EPIPE).
    func send(_ type: UInt8, _ payload: [UInt8] = []) throws(Failure) {
        var frame = [UInt8](repeating: 0, count: 5)
        frame[0] = type
        let len = UInt32(payload.count)
        for i in 0 ..< 4 { frame[1 + i] = UInt8(truncatingIfNeeded: len >> (8 * i)) }
        try writeAll(frame)
        try writeAll(payload)
        bytesSent += 5 + payload.count
        framesSent += 1
    }

    private func writeAll(_ b: [UInt8]) throws(Failure) {
        var done = 0
        while done < b.count {
            let k = b.withUnsafeBytes { write(outFD, $0.baseAddress.map { $0 + done }, b.count - done) }
            if k < 0 {
                if errno == EINTR { continue }
                throw .closed
            }
            done += k
        }
    }

    /// Reads one whole frame, waiting at most until `deadline` (seconds on the monotonic
    /// clock; nil waits forever). Throws `.closed` at end of file, `.timedOut` at the deadline.
    func receive(deadline: Double?) throws(Failure) -> (type: UInt8, payload: [UInt8]) {
        let head = try readExactly(5, deadline: deadline)
        var len = 0
        for i in 0 ..< 4 { len |= Int(head[1 + i]) << (8 * i) }
        guard len <= Frame.maxPayload else { throw .closed }
        let payload = try readExactly(len, deadline: deadline)
        bytesReceived += 5 + len
        framesReceived += 1
        return (head[0], payload)
    }

    private func readExactly(_ n: Int, deadline: Double?) throws(Failure) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            if let deadline {
                let left = deadline - monotonicSeconds()
                if left <= 0 { throw .timedOut }
                var p = pollfd(fd: inFD, events: Int16(POLLIN), revents: 0)
                let r = poll(&p, 1, Int32(min(left * 1000 + 1, 3_600_000)))
                if r < 0 && errno == EINTR { continue }
                if r == 0 { continue }   // the loop re-checks the deadline
            }
            let k = buf.withUnsafeMutableBytes { read(inFD, $0.baseAddress.map { $0 + got }, n - got) }
            if k < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw .closed
            }
            if k == 0 { throw .closed }
            got += k
        }
        return buf
    }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Writes one line to standard error (unbuffered, so it survives a kill right after).
func printError(_ s: String) {
    let line = Array((s + "\n").utf8)
    line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
}

/// Writes one line to standard output at once (no buffering: progress shows while it runs).
func say(_ s: String) {
    let line = Array((s + "\n").utf8)
    line.withUnsafeBytes { _ = write(1, $0.baseAddress, $0.count) }
}
