import ArgumentParser
import Dispatch
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import LightlyCore
import LightlyStorage
import Logging
import ServerConfig

/// `lightly-server serve`: open the data folder, migrate, start HTTP, wait for SIGTERM/SIGINT.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the server.",
        discussion: """
            Prints one line `lightly-server listening on http://HOST:PORT` when ready. On an empty data \
            folder it first creates the token `default` and prints it once, with the two `export` lines \
            the lightly client needs. SIGTERM/SIGINT: stop accepting, finish in-flight requests, close \
            the database, exit 0. With --tls-cert/--tls-key it serves HTTPS; SIGHUP reads both files \
            again (new connections get the new certificate, open ones keep theirs). With --ephemeral \
            the data lives in a new folder under $TMPDIR that is removed when the server exits \
            (also on SIGTERM/SIGINT); for test suites, with --port 0.
            """)

    @OptionGroup var data: DataOptions
    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "Port (default 8421; 0 picks a free one).") var port: String?
    @Option(name: .customLong("public-url"), help: "URL clients use to reach the server.") var publicURL: String?
    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain for HTTPS (with --tls-key).") var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key for HTTPS.") var tlsKey: String?
    @Option(name: .customLong("max-body-bytes"), help: "Largest request body in bytes.") var maxBodyBytes: String?
    @Option(name: .customLong("header-timeout"), help: "Seconds to receive a request head.") var headerTimeout: String?
    @Option(name: .customLong("idle-timeout"), help: "Seconds an idle connection stays open.") var idleTimeout: String?
    @Option(name: .customLong("max-connections"), help: "Simultaneous connections.") var maxConnections: String?
    @Option(name: .customLong("max-connections-per-address"), help: "Simultaneous connections from one client address (0 = no limit).") var maxConnectionsPerAddress: String?
    @Option(name: .customLong("min-transfer-rate"), help: "Bytes/s a request must at least arrive with (0 = off).") var minTransferRate: String?
    @Option(name: .customLong("transfer-rate-window"), help: "Seconds over which the transfer rate is measured.") var transferRateWindow: String?
    @Option(name: .customLong("body-file-threshold"), help: "Bodies above this many bytes go to a temp file.") var bodyFileThreshold: String?
    @Option(name: .customLong("workers"), help: "Threads that run requests, with as many database readers (at most 32); 0 = 4 per core, at least 8.") var workers: String?
    @Option(name: .customLong("log-level"), help: "trace|debug|info|notice|warning|error|critical.") var logLevel: String?
    @Option(name: .customLong("signed-url-ttl"), help: "Signed URL lifetime in seconds.") var signedURLTTL: String?
    @Option(name: .customLong("job-poll-wait"), help: "waitTimeTillNextPoll in seconds.") var jobPollWait: String?
    @Option(name: .customLong("job-lease"), help: "Seconds a claimed job stays this server's without renewal (default 30).") var jobLease: String?
    @Option(name: .customLong("max-dataset-samples"), help: "Samples per dataset quota.") var maxDatasetSamples: String?
    @Option(name: .customLong("memory-budget"), help: ArgumentHelp("Bytes of embedding matrices held at once (cache, jobs, uploads), e.g. 8GiB; larger uploads get 413. Default auto: half the memory. Env LIGHTLY_SERVER_MEMORY_BUDGET.", valueName: "size")) var memoryBudget: String?
    @Option(name: .customLong("minimum-client-version"), help: "Oldest lightly client version accepted.") var minimumClientVersion: String?
    @Option(name: .customLong("admin-token"), help: ArgumentHelp("Turn on the admin API (/_admin/..., docs/admin.md) for test suites; requests need `Authorization: Bearer TOKEN`. Off by default (404). Env LIGHTLY_SERVER_ADMIN_TOKEN.", valueName: "token")) var adminToken: String?
    @Option(name: .customLong("deterministic-ids"), help: ArgumentHelp("For reproducible test runs: entity ids from a generator seeded with SEED instead of random ones (docs/admin.md). Env LIGHTLY_SERVER_DETERMINISTIC_IDS.", valueName: "seed")) var deterministicIds: String?
    @Option(name: .customLong("clock"), help: ArgumentHelp("Clock of stored timestamps: system (default), fixed:EPOCH_MS, or step:START_MS:STEP_MS (advances per read). Env LIGHTLY_SERVER_CLOCK.", valueName: "mode")) var clock: String?
    @Option(name: .customLong("shutdown-timeout"), help: "Seconds to let in-flight requests finish on SIGTERM.") var shutdownTimeout: Double = 10
    @Flag(help: "Keep the data in a new temporary folder, removed on exit (not with --data-dir).") var ephemeral = false
    @Flag(help: "Serve GET /metrics (Prometheus; loopback clients only, or with the admin token). Env LIGHTLY_SERVER_METRICS.") var metrics = false

    /// The flags given, keyed by setting (each is validated by `ServerSettings.resolve`).
    var flags: [ServerSettings.Key: String] {
        let pairs: [(ServerSettings.Key, String?)] = [
            (.host, host), (.port, port), (.publicURL, publicURL), (.maxBodyBytes, maxBodyBytes),
            (.headerTimeout, headerTimeout), (.idleTimeout, idleTimeout), (.maxConnections, maxConnections),
            (.maxConnectionsPerAddress, maxConnectionsPerAddress), (.minTransferRate, minTransferRate),
            (.transferRateWindow, transferRateWindow),
            (.bodyFileThreshold, bodyFileThreshold), (.workers, workers), (.logLevel, logLevel), (.signedURLTTL, signedURLTTL),
            (.jobPollWait, jobPollWait), (.jobLease, jobLease), (.maxDatasetSamples, maxDatasetSamples), (.memoryBudget, memoryBudget),
            (.minimumClientVersion, minimumClientVersion), (.tlsCert, tlsCert), (.tlsKey, tlsKey),
            (.adminToken, adminToken), (.deterministicIds, deterministicIds), (.clock, clock),
        ]
        var out: [ServerSettings.Key: String] = [:]
        for (k, v) in pairs { if let v { out[k] = v } }
        if metrics { out[.metrics] = "true" }
        return out
    }

    func validate() throws {
        guard shutdownTimeout >= 0, shutdownTimeout <= 3600 else {
            throw ValidationError("--shutdown-timeout must be between 0 and 3600 seconds")
        }
        if ephemeral && data.dataDir != nil {
            throw ValidationError("--ephemeral makes its own data folder: leave out --data-dir")
        }
    }

    func run() throws {
        // A client that disconnects mid-response must cost one connection, not the process (exit 141).
        signal(SIGPIPE, SIG_IGN)
        // A file-size limit (RLIMIT_FSIZE) must fail the write with EFBIG (answered 507), not
        // kill the server.
        signal(SIGXFSZ, SIG_IGN)
        var flags = self.flags
        let scratch = try ephemeral ? EphemeralFolder() : nil
        defer { scratch?.remove() }
        if let scratch { flags[.dataDir] = scratch.path }
        let settings: ServerSettings
        do { settings = try data.settings(extraFlags: flags) } catch let e as ConfigError {
            throw ValidationError(e.description)
        }
        let logger = Logging.bootstrapStderr(level: settings.logLevel)
        if let scratch { logger.notice("ephemeral data folder, removed on exit", metadata: ["data_dir": "\(scratch.path)"]) }
        var session = ServeSession(settings: settings, shutdownTimeout: shutdownTimeout, logger: logger)
        if let scratch { session.onForcedExit = { scratch.remove() } }
        try session.run()
    }
}

/// One run of the server. A plain (nonisolated) type: the signal handlers below run on a dispatch
/// queue, so nothing here may be MainActor-isolated.
struct ServeSession {
    let settings: ServerSettings
    let shutdownTimeout: Double
    let logger: Logger
    /// Runs before a second signal ends the process at once (removes an ephemeral folder).
    var onForcedExit: (@Sendable () -> Void)? = nil

    func run() throws {
        DataFolder.privateFiles()
        // Before anything is stored: ids and timestamps of this run (docs/admin.md).
        IDSource.install(seed: settings.deterministicIds)
        ServerClock.install(ServerClock.Mode(parsing: settings.clock) ?? .system)
        if settings.deterministicIds != nil || settings.clock != "system" {
            logger.notice("reproducible mode", metadata: ["deterministic_ids": "\(settings.deterministicIds.map(String.init) ?? "off")",
                                                          "clock": "\(settings.clock)"])
        }
        let dir = DataDirectory(path: settings.dataDir)
        try dir.prepare()
        let db = try Self.openDatabase(settings, dir)
        defer { db.close() }
        // On PostgreSQL under an advisory lock: servers starting together apply each migration once.
        let applied = try db.migrate()
        if !applied.isEmpty { logger.notice("applied migrations", metadata: ["migrations": "\(applied.joined(separator: ","))"]) }
        if db.dialect != .sqlite { logger.info("database", metadata: ["database": "\(db.displayLocation)"]) }
        let tokens = TokenStore(database: db)
        if !dir.isPrivate {
            logger.warning("data folder is accessible by other users; chmod 700 it", metadata: ["data_dir": "\(dir.path)"])
        }
        let context = ServerContext(settings: settings, dataDirectory: dir, database: db, tokens: tokens,
                                    signingKey: try SigningKeyStore.key(db, importing: dir.signingKeyPath), logger: logger)

        // Install signal handling before listening, so an early SIGTERM still shuts down cleanly.
        let stop = ShutdownSignal(onForcedExit: onForcedExit)
        let sources = stop.install(signals: [SIGTERM, SIGINT])

        let app = try makeApplication(context: context)
        // Jobs left WAITING or RUNNING by a crash or restart run again (results are deterministic).
        app.start()
        let runner = try ServerRunner(options: HTTPServerOptions(settings: settings, temporaryDirectory: dir.tmpPath),
                                      handler: app.handler, logger: logger)
        let port = try runner.start()
        app.metrics.countConnections { runner.openConnections }
        // The first token is created only once the port is bound: had `start()` failed (port in
        // use), a token created earlier would never have been shown, and never would be.
        let firstToken: String?
        do { firstToken = try Self.createFirstToken(tokens) } catch {
            runner.shutdown(timeout: .seconds(1))
            app.stop()
            throw error
        }
        let listenURL = "\(settings.usesTLS ? "https" : "http")://\(ServerSettings.hostForURL(settings.host)):\(port)"
        let reload = settings.usesTLS ? Self.reloadTLSOnSIGHUP(runner, logger: logger) : nil
        if let firstToken {
            // Shown once: only the digest is stored. Flush-left so `grep ^export` finds the lines.
            Output.line("Created the first API token, named \"default\". It is shown only this once; keep it:")
            Output.line("export LIGHTLY_SERVER_LOCATION=\(settings.location(port: port))")
            Output.line("export LIGHTLY_TOKEN=\(firstToken)")
        }
        Output.line("lightly-server listening on \(listenURL)")
        logger.info("serving", metadata: ["data_dir": "\(dir.path)", "url": "\(listenURL)"])

        let signalNumber = stop.wait()
        logger.notice("shutting down", metadata: ["signal": "\(signalNumber)"])
        runner.shutdown(timeout: .milliseconds(Int64(shutdownTimeout * 1000)))
        app.stop()
        for s in sources { s.cancel() }
        reload?.cancel()
        db.close()
        logger.notice("stopped")
    }
}

extension ServeSession {
    /// PostgreSQL when `settings.database` names it (a connection pool of twice the cores, at
    /// least 8), else the SQLite file in the data folder.
    static func openDatabase(_ settings: ServerSettings, _ dir: DataDirectory) throws -> any SQLDatabase {
        guard let url = settings.database else { return try Database(path: dir.databasePath, readerCount: settings.databaseReaders) }
        return try PostgresDatabase(url: url, maxConnections: settings.databaseReaders)
    }

    /// SIGHUP: read the certificate and key again, for certificate renewal without a restart.
    /// A bad file is logged and the previous certificate stays in use.
    static func reloadTLSOnSIGHUP(_ runner: ServerRunner, logger: Logger) -> DispatchSourceSignal {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "lightly-server.sighup"))
        source.setEventHandler { @Sendable in
            do { try runner.reloadTLS() } catch {
                logger.error("TLS reload failed; still serving the previous certificate", metadata: ["error": "\(error)"])
            }
        }
        source.resume()
        return source
    }

    /// On a brand-new data folder, the token `default`; `nil` otherwise. Two servers starting on
    /// one empty folder at once: the loser sees the unique violation and prints no token.
    static func createFirstToken(_ tokens: TokenStore) throws -> String? {
        guard try tokens.isEmpty() else { return nil }
        do { return try tokens.create(name: "default") } catch let e as StorageError where e.isUniqueViolation {
            return nil
        }
    }
}

/// Turns SIGTERM/SIGINT into a semaphore the main thread waits on. A second signal while shutting
/// down exits at once (status 1), for a stuck shutdown.
final class ShutdownSignal: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let received = Synchronization.Atomic<Int32>(0)
    private let queue = DispatchQueue(label: "lightly-server.signals")
    private let onForcedExit: (@Sendable () -> Void)?

    /// - Parameter onForcedExit: runs just before a second signal exits the process.
    init(onForcedExit: (@Sendable () -> Void)? = nil) { self.onForcedExit = onForcedExit }

    func install(signals: [Int32]) -> [DispatchSourceSignal] {
        // Block the signals (in this thread and the threads it starts from now on) rather than
        // ignore them: Dispatch registers a source asynchronously, and a signal that arrived
        // before that while ignored was discarded, so a test harness that sent SIGTERM right
        // after the start-up line could leave the server running. Blocked, it stays pending
        // until the source reads it. (Dispatch's own threads block them already.)
        var set = sigset_t()
        sigemptyset(&set)
        for sig in signals { sigaddset(&set, sig) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        return signals.map { sig in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { @Sendable [self] in self.fire(sig) }
            source.resume()
            return source
        }
    }

    private func fire(_ sig: Int32) {
        let (exchanged, _) = received.compareExchange(expected: 0, desired: sig, ordering: .acquiringAndReleasing)
        if exchanged {
            semaphore.signal()
        } else {
            Output.error("lightly-server: second signal, exiting now")
            onForcedExit?()
            _exit(1)
        }
    }

    /// Blocks until a signal arrives. - Returns: its number.
    func wait() -> Int32 {
        semaphore.wait()
        return received.load(ordering: .acquiring)
    }
}

import Synchronization

/// `serve --ephemeral`: a new private folder (`mkdtemp`, mode 0700) under `$TMPDIR` (or
/// `/tmp`), removed with everything in it when the server exits.
final class EphemeralFolder: Sendable {
    let path: String

    init() throws {
        var base = ProcessInfo.processInfo.environment["TMPDIR"] ?? ""
        if base.isEmpty { base = "/tmp" }
        while base.count > 1, base.hasSuffix("/") { base.removeLast() }
        var template = Array((base + "/lightly-server-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw CLIError("cannot create a temporary data folder under \(base): \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }

    /// Deletes the folder and its contents; errors are reported, not thrown (we are exiting).
    func remove() {
        do { try FileManager.default.removeItem(atPath: path) } catch {
            if FileManager.default.fileExists(atPath: path) {
                Output.error("lightly-server: could not remove the ephemeral data folder \(path): \(error)")
            }
        }
    }
}

enum Logging {
    /// swift-log to stderr at `level`. Tokens are never passed to a logger.
    static func bootstrapStderr(level: String) -> Logger {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = Logger.Level(rawValue: level) ?? .info
            return h
        }
        var logger = Logger(label: "lightly-server")
        logger.logLevel = Logger.Level(rawValue: level) ?? .info
        return logger
    }
}
