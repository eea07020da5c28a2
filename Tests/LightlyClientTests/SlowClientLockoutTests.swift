import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Raises the soft `RLIMIT_NOFILE` (inherited by a server process started afterwards) if needed.
/// - Returns: whether at least `wanted` descriptors are now allowed.
func raiseDescriptorLimit(to wanted: rlim_t) -> Bool {
    var l = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &l) == 0 else { return false }
    if l.rlim_cur >= wanted { return true }
    guard l.rlim_max >= wanted else { return false }
    l.rlim_cur = wanted
    return setrlimit(Int32(RLIMIT_NOFILE.rawValue), &l) == 0
}

/// 1,100 clients trickling request bodies (one byte a second) against a real `lightly-server`
/// process must not lock out a normal client from another address, and must be dropped once
/// their transfer rate has been measured over one window.
@Suite(.serialized, .enabled(if: raiseDescriptorLimit(to: 4096),
                           "needs a descriptor limit (ulimit -n) of at least 4096 for 1,100 attackers"))
struct SlowClientLockoutTests {
    static let attackers = 1_100
    /// The rate window the server runs with here (production default: 10 s).
    static let window = 3.0

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// A TCP connection to 127.0.0.1:port from `source`.
    static func connect(port: Int, from source: String, timeout: Int = 2) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, source, &local.sin_addr)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let ok = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0 && withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
        guard ok else { close(fd); return nil }
        return fd
    }

    static func send(_ fd: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) } == bytes.count
    }

    /// One request on a fresh connection from 127.0.0.1: (status, seconds), status 0 on failure.
    static func normalRequest(port: Int, target: String) -> (Int, Double) {
        let start = now()
        guard let fd = connect(port: port, from: "127.0.0.1") else { return (0, now() - start) }
        defer { close(fd) }
        guard send(fd, "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n") else { return (0, now() - start) }
        var buf = [UInt8](repeating: 0, count: 4096)
        var got: [UInt8] = []
        while !got.contains(10) {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            got += buf[0..<n]
        }
        let line = String(decoding: got.prefix { $0 != 13 }, as: UTF8.self)
        let status = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, now() - start)
    }

    @Test(arguments: [nil, "0"] as [String?])
    func tricklingAttackersDoNotLockOutOthers(perAddressLimit: String?) throws {
        var args = ["--transfer-rate-window", String(Self.window), "--min-transfer-rate", "1024", "--log-level", "error"]
        if let perAddressLimit { args += ["--max-connections-per-address", perAddressLimit] }
        let server = try LiveServer(extraArguments: args)
        defer { _ = server.stop() }
        guard let port = Int(server.url.split(separator: ":").last ?? "") else { throw LiveServerError("no port in \(server.url)") }
        let mallory = try server.createToken(name: "mallory")

        // The attackers: an authenticated (so the head check passes) upload announced at
        // 100 kB, then one byte a second.
        var fds: [Int32] = []
        var finishedAt: [Int32: (Double, String)] = [:]
        defer { for fd in fds { close(fd) } }
        let start = Self.now()
        for _ in 0..<Self.attackers {
            guard let fd = Self.connect(port: port, from: "127.0.0.2") else { continue }
            fds.append(fd)
            _ = Self.send(fd, "POST /v1/datasets?token=\(mallory) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          + "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
        }
        #expect(fds.count == Self.attackers)
        let connected = Self.now() - start

        var latencies: [Double] = []
        var failures: [String] = []
        var lastTrickle = Self.now()
        var buf = [UInt8](repeating: 0, count: 512)
        while Self.now() - start < Self.window * 3 + 10 {
            // Normal client: /health and an authenticated call, each on a fresh connection.
            for target in ["/health", "/v1/datasets?token=\(server.token)"] {
                let (status, seconds) = Self.normalRequest(port: port, target: target)
                latencies.append(seconds)
                if status != 200 || seconds >= 1 { failures.append("\(target.prefix(12)): \(status) after \(seconds) s") }
            }
            // Which attackers has the server answered (503 at once, or 408 when too slow)?
            var polls = fds.filter { finishedAt[$0] == nil }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            _ = poll(&polls, nfds_t(polls.count), 0)
            for p in polls where p.revents != 0 {
                let n = buf.withUnsafeMutableBytes { recv(p.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                let status = n > 12 ? String(decoding: buf[9..<12], as: UTF8.self) : "closed"
                finishedAt[p.fd] = (Self.now() - start, status)
            }
            if finishedAt.count == fds.count { break }
            if Self.now() - lastTrickle >= 1 {
                for fd in fds where finishedAt[fd] == nil { _ = Self.send(fd, " ") }
                lastTrickle = Self.now()
            }
            usleep(100_000)
        }

        let statuses = Dictionary(grouping: finishedAt.values, by: \.1).mapValues(\.count)
        let lastDropped = finishedAt.values.filter { $0.1 == "408" }.map(\.0).max() ?? 0
        latencies.sort()
        let p50 = latencies.isEmpty ? 0 : latencies[latencies.count / 2]
        print("""
            slow-client lockout (per-address limit \(perAddressLimit ?? "default")): \(fds.count) attackers connected in \
            \(String(format: "%.2f", connected)) s; answers \(statuses); last 408 at \(String(format: "%.2f", lastDropped)) s \
            (window \(Self.window) s); normal client \(latencies.count) requests, p50 \(String(format: "%.1f", p50 * 1000)) ms, \
            max \(String(format: "%.1f", (latencies.last ?? 0) * 1000)) ms
            """)
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        #expect(finishedAt.count == fds.count, "attackers still connected: \(fds.count - finishedAt.count)")
        #expect((statuses["408"] ?? 0) > 0)
        // Every trickler is dropped within one window after its request started, plus the
        // time to connect them all and the sweeper's and this loop's granularity.
        #expect(lastDropped < connected + Self.window + 2.5)
    }
}
