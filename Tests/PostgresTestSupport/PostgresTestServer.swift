import Foundation
import LightlyStorage
import Testing

/// A throwaway PostgreSQL server for the tests, started from the installed binaries.
///
/// One server per test process, started on first use: `initdb` into a fresh temporary folder,
/// then `postgres` listening on 127.0.0.1 at a free port (its Unix socket inside that folder,
/// durability switched off: the data is thrown away). The superuser `postgres` logs in with a
/// random password (SCRAM). Each test takes its own database from `makeDatabase()`. At process
/// exit the server gets SIGINT (fast shutdown) and the folder is removed; a watchdog shell does
/// the same if the test process dies without exiting normally.
///
/// PostgreSQL refuses to run as root. When the tests run as root, `initdb` and `postgres` run as
/// the system's `nobody` user through `setpriv` (no user is created); otherwise as the current
/// user. Needs `initdb` and `postgres` (Debian: the `postgresql` package), found through
/// `pg_config --bindir`, then `/usr/lib/postgresql/*/bin`, then `PATH`.
public final class PostgresTestServer: @unchecked Sendable {
    /// The folder holding `initdb` and `postgres`, or nil when PostgreSQL is not installed.
    public static let binDir: String? = findBinDir()

    /// True when a server can be started here (for `.enabled(if:)`).
    public static var isAvailable: Bool { binDir != nil && (getuid() != 0 || (setpriv != nil && nobody != nil)) }

    /// Why the PostgreSQL tests are skipped when `isAvailable` is false.
    public static let skipReason: Comment =
        "PostgreSQL's server binaries (initdb, postgres) are not installed (Debian: apt-get install postgresql); as root also needs setpriv and the user nobody"

    /// The process's server, started on first use.
    public static func shared() throws -> PostgresTestServer { try sharedResult.get() }

    private static let sharedResult: Result<PostgresTestServer, any Error> = Result {
        let server = try PostgresTestServer()
        running.withLock { $0 = server }
        atexit { PostgresTestServer.running.withLock { $0?.stop(); $0 = nil } }
        return server
    }
    private static let running = Locked<PostgresTestServer?>(nil)
    private static let databaseCounter = Locked(0)

    /// The temporary folder (data in `data/`, socket and `server.log` at its top).
    public let folder: String
    /// The TCP port on 127.0.0.1.
    public let port: Int
    /// The superuser's password.
    private let password: String
    private let process: Process
    /// Stops the server and removes the folder if this test process dies without `stop()`.
    private let watchdog: Process?

    /// Seconds `postgres` gets to accept connections before the start counts as failed.
    static let startTimeout: TimeInterval = 60

    private init() throws {
        guard let bin = Self.binDir else { throw TestServerError("PostgreSQL is not installed") }
        folder = try Self.makeFolder()
        password = (0..<4).map { _ in String(UInt64.random(in: 1...UInt64.max), radix: 36) }.joined()
        do {
            let pwfile = folder + "/pwfile"
            try Data((password + "\n").utf8).write(to: URL(fileURLWithPath: pwfile))
            try Self.giveToServerUser(pwfile)
            let initdb = try Self.launch(bin + "/initdb", [
                "-D", folder + "/data", "-U", "postgres", "--pwfile=" + pwfile, "-A", "scram-sha-256",
                "-E", "UTF8", "--locale=C", "--no-sync",
            ], log: folder + "/initdb.log")
            guard Self.wait(initdb, seconds: 120), initdb.terminationStatus == 0 else {
                throw TestServerError("initdb failed: \(Self.tail(folder + "/initdb.log"))")
            }
            try? FileManager.default.removeItem(atPath: pwfile)
            // A port another process grabs between our probe and postgres' bind: try again.
            var lastError: (any Error)?
            for _ in 0..<3 {
                let port = try Self.freePort()
                let process = try Self.launch(bin + "/postgres", [
                    "-D", folder + "/data", "-p", String(port), "-k", folder,
                    "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                    "-c", "full_page_writes=off", "-c", "shared_buffers=16MB", "-c", "max_connections=400",
                ], log: folder + "/server.log")
                do {
                    try Self.waitUntilReady(process, url: Self.url(port: port, password: password, database: "postgres"),
                                            log: folder + "/server.log")
                    self.port = port
                    self.process = process
                    self.watchdog = try? Self.startWatchdog(server: process.processIdentifier, folder: folder)
                    return
                } catch {
                    Self.shutDown(process)
                    lastError = error
                }
            }
            throw lastError ?? TestServerError("postgres did not start")
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
    }

    /// The superuser's URL to the `postgres` database (it may create and drop databases).
    public var adminURL: String { Self.url(port: port, password: password, database: "postgres") }

    /// A new, empty database on this server; returns its `postgresql://` URL.
    public func makeDatabase() throws -> String {
        let n = Self.databaseCounter.withLock { $0 += 1; return $0 }
        let name = "test_\(n)"
        let admin = try PostgresConnection(url: Self.url(port: port, password: password, database: "postgres"))
        defer { admin.close() }
        try admin.execute("CREATE DATABASE \(name)")
        return Self.url(port: port, password: password, database: name)
    }

    /// A new database holding the embedded migrations, copied from a template migrated once
    /// per process (`CREATE DATABASE … TEMPLATE`: a file copy, far cheaper than migrating).
    /// - Returns: its `postgresql://` URL and its name (for `dropDatabase`).
    public func makeMigratedDatabase() throws -> (url: String, name: String) {
        try Self.templateLock.withLock { made in
            if !made {
                let admin = try PostgresConnection(url: Self.url(port: port, password: password, database: "postgres"))
                defer { admin.close() }
                try admin.execute("CREATE DATABASE migrated_template")
                let template = try PostgresConnection(url: Self.url(port: port, password: password, database: "migrated_template"))
                defer { template.close() }
                try template.migrate()
                made = true
            }
        }
        let n = Self.databaseCounter.withLock { $0 += 1; return $0 }
        let name = "test_\(n)"
        let admin = try PostgresConnection(url: Self.url(port: port, password: password, database: "postgres"))
        defer { admin.close() }
        // The template must have no open session while it is copied; only this lock's holder
        // ever opens one, and closes it before anyone copies.
        try Self.templateLock.withLock { _ in try admin.execute("CREATE DATABASE \(name) TEMPLATE migrated_template") }
        return (Self.url(port: port, password: password, database: name), name)
    }

    /// Drops the database `name` (made by `makeDatabase` or `makeMigratedDatabase`), ending its
    /// sessions first. Errors are ignored: the whole server is thrown away at exit anyway.
    public func dropDatabase(_ name: String) {
        guard let admin = try? PostgresConnection(url: Self.url(port: port, password: password, database: "postgres")) else { return }
        defer { admin.close() }
        try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    private static let templateLock = Locked(false)

    /// Stops the server (SIGINT: fast shutdown; SIGKILL after 20 s) and removes the folder.
    public func stop() {
        if let watchdog, watchdog.isRunning {
            watchdog.terminate()
            watchdog.waitUntilExit()
        }
        Self.shutDown(process)
        try? FileManager.default.removeItem(atPath: folder)
    }

    // MARK: Helpers

    private static func url(port: Int, password: String, database: String) -> String {
        "postgresql://postgres:\(password)@127.0.0.1:\(port)/\(database)"
    }

    private static func shutDown(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGINT)
        if !wait(process, seconds: 20) {
            kill(process.processIdentifier, SIGKILL)
            _ = wait(process, seconds: 5)
        }
    }

    /// A shell that waits for this process to end, then stops the server (SIGINT) and removes
    /// the folder: a crashed or SIGKILLed test run leaves nothing behind. `stop()` ends it first.
    private static func startWatchdog(server: pid_t, folder: String) throws -> Process {
        let watchdog = Process()
        watchdog.executableURL = URL(fileURLWithPath: "/bin/sh")
        watchdog.arguments = ["-c", """
            while kill -0 "$0" 2>/dev/null; do sleep 1; done
            kill -INT "$1" 2>/dev/null
            n=0; while kill -0 "$1" 2>/dev/null && [ $n -lt 200 ]; do sleep 0.1; n=$((n+1)); done
            kill -KILL "$1" 2>/dev/null
            rm -rf "$2"
            """, String(getpid()), String(server), folder]
        watchdog.standardInput = FileHandle.nullDevice
        watchdog.standardOutput = FileHandle.nullDevice
        watchdog.standardError = FileHandle.nullDevice
        try watchdog.run()
        return watchdog
    }

    /// Polls `postgres` until it accepts a login, it exits, or `startTimeout` passes.
    private static func waitUntilReady(_ process: Process, url: String, log: String) throws {
        let deadline = Date().addingTimeInterval(startTimeout)
        while Date() < deadline {
            guard process.isRunning else { throw TestServerError("postgres exited: \(tail(log))") }
            if let conn = try? PostgresConnection(url: url, connectTimeout: 2) {
                conn.close()
                return
            }
            usleep(50_000)
        }
        throw TestServerError("postgres did not accept connections within \(Int(startTimeout)) s: \(tail(log))")
    }

    /// True when `process` exited within `seconds`.
    private static func wait(_ process: Process, seconds: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return !process.isRunning
    }

    /// Starts `executable` (as `nobody` when we are root), its output appended to `log`.
    private static func launch(_ executable: String, _ arguments: [String], log: String) throws -> Process {
        guard FileManager.default.createFile(atPath: log, contents: nil) else { throw TestServerError("cannot create \(log)") }
        guard let output = FileHandle(forWritingAtPath: log) else { throw TestServerError("cannot write \(log)") }
        defer { try? output.close() }
        let process = Process()
        if getuid() == 0 {
            guard let setpriv, let (uid, gid) = nobody else { throw TestServerError("as root, needs setpriv and the user nobody") }
            // setpriv replaces itself with the program: the pid is the server's.
            process.executableURL = URL(fileURLWithPath: setpriv)
            process.arguments = ["--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        process.environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        try process.run()
        return process
    }

    /// A fresh 0700 folder under the temporary directory, owned by the user the server runs as.
    private static func makeFolder() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/lightly-pg-test-XXXXXX").utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { buf -> String? in
            guard let base = buf.baseAddress, let p = mkdtemp(base) else { return nil }
            return String(cString: p)
        }
        guard let dir else { throw TestServerError("mkdtemp failed: errno \(errno)") }
        try giveToServerUser(dir)
        return dir
    }

    private static func giveToServerUser(_ path: String) throws {
        guard getuid() == 0 else { return }
        guard let (uid, gid) = nobody, chown(path, uid, gid) == 0 else {
            throw TestServerError("cannot hand \(path) to nobody: errno \(errno)")
        }
    }

    /// A TCP port on 127.0.0.1 that nothing listens on right now.
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestServerError("socket: errno \(errno)") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(fd, p, length) == 0 && getsockname(fd, p, &length) == 0
            }
        }
        guard bound else { throw TestServerError("bind: errno \(errno)") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    private static func tail(_ path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(8).joined(separator: " | ")
    }

    private static let setpriv: String? = ["/usr/bin/setpriv", "/bin/setpriv"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    private static let nobody: (uid_t, gid_t)? = {
        guard let pw = getpwnam("nobody") else { return nil }
        return (pw.pointee.pw_uid, pw.pointee.pw_gid)
    }()

    private static func findBinDir() -> String? {
        func hasServer(_ dir: String) -> Bool {
            ["initdb", "postgres"].allSatisfy { FileManager.default.isExecutableFile(atPath: dir + "/" + $0) }
        }
        var candidates: [String] = []
        if let out = try? run("pg_config", ["--bindir"]) {
            candidates.append(out.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let debian = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: debian)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        candidates += versions.map { "\(debian)/\($0)/bin" }
        candidates += (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        return candidates.first(where: hasServer)
    }

    /// The standard output of a short command found on PATH, or nil when it fails.
    private static func run(_ command: String, _ arguments: [String]) throws -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [command] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(data: data, encoding: .utf8)
    }
}

/// The test server could not be set up.
public struct TestServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A value behind a lock.
public final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    public init(_ value: Value) { self.value = value }
    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
