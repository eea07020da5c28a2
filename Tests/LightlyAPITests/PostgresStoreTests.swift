#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
@testable import LightlyAPI
import LightlyStorage
import Logging
import PostgresTestSupport
import Testing

/// The whole in-process API suite once more, on PostgreSQL: this test process's own test bundle
/// runs again in a child process with `LIGHTLY_TEST_STORE=postgres`, so every `TestApp` and
/// `JobsFixture` there gets a fresh PostgreSQL database (see `TestStore`) instead of a SQLite
/// file. The child's output is kept in a file; a failure quotes its failing tests.
@Suite struct PostgresStoreTests {
    /// Most time the child run may take before it is killed and the test fails.
    static let timeLimitSeconds: Double = 20 * 60

    @Test(.enabled(if: !TestStore.isPostgres, "this is the PostgreSQL pass already (it starts that pass, it is not part of it)"),
          .enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
    func apiSuitePassesOnPostgreSQL() throws {
        let bundle = try #require(Self.currentExecutable(), "cannot find this test bundle's executable")
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("lightly-api-on-postgres-\(getpid()).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        var environment = ProcessInfo.processInfo.environment
        environment[TestStore.environmentVariable] = "postgres"
        let started = Date()
        let status = try Self.run(bundle, ["--testing-library", "swift-testing", "--filter", "LightlyAPITests"],
                                  environment: environment, output: log, timeLimit: Self.timeLimitSeconds)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let failed = output.split(separator: "\n").filter { $0.contains("✘") }.prefix(40).joined(separator: "\n")
        #expect(status == 0, "the API suite on PostgreSQL failed (exit status \(status)):\n\(failed)")
        // It really ran the API tests (a filter that matched nothing would also exit 0).
        let summary = output.split(separator: "\n").last { $0.contains("Test run with") }.map(String.init) ?? ""
        let count = summary.split(separator: " ").drop { $0 != "with" }.dropFirst().first.flatMap { Int($0) } ?? 0
        #expect(count > 100, "expected the API suite's tests in the child's summary, got: \(summary)")
        print("API suite on PostgreSQL: \(summary) (wall \(Int(Date().timeIntervalSince(started))) s)")
    }

    /// `/health` tells a load balancer when PostgreSQL is gone: 503 instead of "ok".
    @Test(.enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
    func healthAnswers503WhilePostgreSQLDoesNotAnswer() throws {
        let server = try PostgresTestServer.shared()
        let (url, name) = try server.makeMigratedDatabase()
        let db = try PostgresDatabase(url: url, maxConnections: 2, acquireTimeout: 5)
        defer { db.close() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lightly-health-pg-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let t = TestApp(app: try LightlyApplication(database: db, dataDirectory: dir + "/data", settings: APISettings(), logger: logger),
                        directory: dir)
        #expect(try t.call(.GET, "/health").status == 200)
        server.dropDatabase(name)   // ends its sessions; new ones are refused: the database is gone
        let r = try t.call(.GET, "/health")
        #expect(r.status == 503)
        #expect(r.errorCode == "SERVICE_UNAVAILABLE")
    }

    /// `/proc/self/exe` (Linux), else the first argument.
    static func currentExecutable() -> String? {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return CommandLine.arguments.first
    }

    /// Runs `executable` with its stdout and stderr going to the file `output`; kills it after
    /// `timeLimit` seconds. - Returns: its exit status (-1 when killed).
    static func run(_ executable: String, _ arguments: [String], environment: [String: String],
                    output: String, timeLimit: Double) throws -> Int32 {
        guard FileManager.default.createFile(atPath: output, contents: nil),
              let handle = FileHandle(forWritingAtPath: output) else {
            throw CocoaError(.fileWriteUnknown)
        }
        defer { try? handle.close() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.environment = environment
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = handle
        p.standardError = handle
        let done = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in done.signal() }
        try p.run()
        guard done.wait(timeout: .now() + timeLimit) == .success else {
            kill(p.processIdentifier, SIGKILL)
            done.wait()
            return -1
        }
        return p.terminationStatus
    }
}
