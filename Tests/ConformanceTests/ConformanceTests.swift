// The real `lightly` pip client (any release 1.1.0–1.5.26) against a real lightly-server process.
//
// Each client version is one test case. It runs Tests/conformance/run.py, which creates (or
// reuses) a venv per version under .build/conformance/venvs, starts the server built next to
// this test bundle, and drives the scenarios of Tests/conformance/scenarios with the real
// client. A scenario fails on a wrong result, on a server that does not exit 0 on SIGTERM, and
// on any 4xx/5xx in the server's access log that the scenario did not declare.
// See Tests/conformance/README.md.
//
// Environment:
//   LIGHTLY_SKIP_CONFORMANCE=1          skip these tests (default: run them)
//   LIGHTLY_CONFORMANCE_VERSIONS="1.1.2 1.1.23"   client versions (space or comma separated)
//   LIGHTLY_CONFORMANCE_SCENARIOS="seed upload"   only these scenarios (default: all)
//   LIGHTLY_CONFORMANCE_PYTHON=/path/python3      interpreter for run.py and the venvs
//   LIGHTLY_SERVER_BINARY=/path/lightly-server    server to test (default: the one built with the tests)
//   LIGHTLY_CONFORMANCE_POSTGRES_VERSIONS="1.5.26"  client versions run again with the server on
//                                        PostgreSQL (default 1.2.14 1.5.26; needs the PostgreSQL binaries)
import Foundation
import PostgresTestSupport
import Testing

enum Conformance {
    /// Same list as DEFAULT_VERSIONS in Tests/conformance/run.py (see the reasons there).
    static let defaultVersions = ["1.1.0", "1.1.2", "1.1.6", "1.1.8", "1.1.16", "1.1.23", "1.2.10", "1.2.13",
                                  "1.2.14", "1.2.26", "1.2.36", "1.3.3", "1.4.6", "1.4.7", "1.4.8", "1.4.13",
                                  "1.4.26", "1.5.26"]
    static let environment = ProcessInfo.processInfo.environment

    static var skipped: Bool { environment["LIGHTLY_SKIP_CONFORMANCE"] == "1" }

    static func list(_ name: String) -> [String]? {
        let items = (environment[name] ?? "")
            .split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        return items.isEmpty ? nil : items
    }

    static var versions: [String] { list("LIGHTLY_CONFORMANCE_VERSIONS") ?? defaultVersions }

    /// Releases also run against `serve --database postgresql://…`: one of the 1.2 line (the
    /// oldest API shapes still in use) and the newest.
    static var postgresVersions: [String] { list("LIGHTLY_CONFORMANCE_POSTGRES_VERSIONS") ?? ["1.2.14", "1.5.26"] }

    /// The package root: this file is <root>/Tests/ConformanceTests/ConformanceTests.swift.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `swift test` builds the `lightly-server` executable into the same directory as the
    /// test bundle (the test target depends on it).
    static func serverBinary() -> String? {
        if let path = environment["LIGHTLY_SERVER_BINARY"] { return path }
        var dirs: [URL] = []
        if let exe = Bundle.main.executableURL { dirs.append(exe.deletingLastPathComponent()) }
        dirs.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        dirs.append(Bundle.main.bundleURL.deletingLastPathComponent())
        dirs.append(packageRoot.appendingPathComponent(".build/debug"))
        for dir in dirs {
            // A .xctest bundle directory sits next to the executable on macOS; walk up a little.
            var d = dir
            for _ in 0..<4 {
                let candidate = d.appendingPathComponent("lightly-server").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                d = d.deletingLastPathComponent()
            }
        }
        return nil
    }

    /// Runs a command, echoing its output line by line (so long runs show progress) and
    /// returning the exit status and everything it printed.
    ///
    /// The blocking reads and the wait happen on a thread of their own, not on the test
    /// runner's cooperative pool: that pool has one thread per core (two here), and a suite
    /// holding one for the minutes a real-client run takes starves every other test of the run
    /// (they then exceed their time limits without being slow themselves).
    static func run(_ arguments: [String], prefix: String) async throws -> (status: Int32, output: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do { continuation.resume(returning: try runBlocking(arguments, prefix: prefix)) }
                catch { continuation.resume(throwing: error) }
            }
        }
    }

    private static func runBlocking(_ arguments: [String], prefix: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var collected = Data()
        var pending = Data()
        let handle = pipe.fileHandleForReading
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            collected.append(chunk)
            pending.append(chunk)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                print("\(prefix) \(line)")
                pending.removeSubrange(pending.startIndex...newline)
            }
        }
        if !pending.isEmpty { print("\(prefix) \(String(decoding: pending, as: UTF8.self))") }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: collected, as: UTF8.self))
    }
}

/// Two cores are shared by everything `swift test` runs: one client version at a time.
@Suite(.serialized)
struct ConformanceTests {
    @Test("real lightly client against lightly-server",
          .enabled(if: !Conformance.skipped, "LIGHTLY_SKIP_CONFORMANCE=1"),
          .timeLimit(.minutes(30)),
          arguments: Conformance.versions)
    func realClient(version: String) async throws {
        let binary = try #require(Conformance.serverBinary(),
                                  "lightly-server executable not found next to the test bundle; set LIGHTLY_SERVER_BINARY")
        let python = Conformance.environment["LIGHTLY_CONFORMANCE_PYTHON"] ?? "python3"
        var arguments = [python, "Tests/conformance/run.py", "--server-binary", binary, "--versions", version]
        for scenario in Conformance.list("LIGHTLY_CONFORMANCE_SCENARIOS") ?? [] {
            arguments += ["--scenario", scenario]
        }
        let result = try await Conformance.run(arguments, prefix: "[conformance \(version)]")
        let tail = result.output.split(separator: "\n", omittingEmptySubsequences: false).suffix(200)
            .joined(separator: "\n")
        #expect(result.status == 0, "lightly \(version) against lightly-server failed:\n\(tail)")
    }

    /// The same scenarios with every server on PostgreSQL: run.py makes a fresh database per
    /// scenario on this process's throwaway PostgreSQL server and sets LIGHTLY_SERVER_DATABASE.
    @Test("real lightly client against lightly-server on PostgreSQL",
          .enabled(if: !Conformance.skipped, "LIGHTLY_SKIP_CONFORMANCE=1"),
          .enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason),
          .timeLimit(.minutes(30)),
          arguments: Conformance.postgresVersions)
    func realClientOnPostgres(version: String) async throws {
        let binary = try #require(Conformance.serverBinary(),
                                  "lightly-server executable not found next to the test bundle; set LIGHTLY_SERVER_BINARY")
        let postgres = try PostgresTestServer.shared()
        let python = Conformance.environment["LIGHTLY_CONFORMANCE_PYTHON"] ?? "python3"
        var arguments = [python, "Tests/conformance/run.py", "--server-binary", binary, "--versions", version,
                         "--postgres", postgres.adminURL]
        for scenario in Conformance.list("LIGHTLY_CONFORMANCE_SCENARIOS") ?? [] {
            arguments += ["--scenario", scenario]
        }
        let result = try await Conformance.run(arguments, prefix: "[conformance \(version) postgres]")
        let tail = result.output.split(separator: "\n", omittingEmptySubsequences: false).suffix(200)
            .joined(separator: "\n")
        #expect(result.status == 0, "lightly \(version) against lightly-server on PostgreSQL failed:\n\(tail)")
    }
}
