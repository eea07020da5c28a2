import Foundation
import Testing

/// `Examples/SeedWorkflow` is a separate package that depends on this repository and uses the
/// `LightlyClient` product, as another project would. This builds it with SwiftPM and runs it
/// against a real `lightly-server` process.
///
/// The example has its own `.build` (under Examples/SeedWorkflow), so the first run compiles
/// LightlyClient, LightlyWire and LightlyShared once more (about a minute on an idle 2-core
/// machine); later runs are incremental.
@Suite(.serialized) struct ExamplePackageTests {
    static let examplePath = LiveServer.packageRoot.appendingPathComponent("Examples/SeedWorkflow")

    /// Runs `executable` with `arguments`, killing it after `timeout` seconds.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                    timeout: TimeInterval) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment { p.environment = environment }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("lightly-example-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if p.isRunning { p.terminate(); p.waitUntilExit() }
        try handle.close()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return (p.isRunning ? -1 : p.terminationStatus, output)
    }

    @Test(.enabled(if: PackageManifestTests.swift != nil, "no swift executable to build the example"),
          .timeLimit(.minutes(15)))
    func seedWorkflowExampleBuildsAndRuns() throws {
        let swift = try #require(PackageManifestTests.swift)
        let started = Date()
        let build = try Self.run(swift, ["build", "--package-path", Self.examplePath.path], timeout: 600)
        let buildSeconds = Date().timeIntervalSince(started)
        #expect(build.status == 0, "swift build of the example failed:\n\(build.output.suffix(4000))")
        guard build.status == 0 else { return }
        print("ExamplePackageTests: example built in \(String(format: "%.1f", buildSeconds)) s")

        let server = try LiveServer()
        defer { #expect(server.stop() == 0) }
        var env = ProcessInfo.processInfo.environment
        env["LIGHTLY_SERVER_LOCATION"] = server.url
        env["LIGHTLY_TOKEN"] = server.token
        let exe = Self.examplePath.appendingPathComponent(".build/debug/SeedWorkflow").path
        let result = try Self.run(exe, [], environment: env, timeout: 120)
        #expect(result.status == 0, "example failed:\n\(result.output)")
        #expect(result.output.contains("seed workflow ok"), "output:\n\(result.output)")
    }
}
