import Foundation
import Testing

/// `serve --ephemeral`: a fresh data folder under $TMPDIR for the life of the process, gone
/// afterwards however the server is stopped (test suites start one per run and must leave
/// nothing behind).
@Suite(.enabled(if: CLI.binary != nil, "lightly-server binary not built next to the test bundle"))
struct EphemeralServeTests {
    /// The `lightly-server-*` folders in `dir`.
    static func scratchFolders(in dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("lightly-server-") }.map { dir + "/" + $0 }
    }

    /// Starts an ephemeral server with TMPDIR = `tmp`, checks it works, stops it with `signal`,
    /// and checks the folder is gone.
    static func runOnce(tmp: String, signal: Int32) throws {
        var server = try CLI.startServe(["--ephemeral"], environment: ["TMPDIR": tmp])
        defer { if server.process.isRunning { server.process.terminate(); server.process.waitUntilExit() } }
        // A fresh folder: the first-start token and exports are printed.
        let token = try #require(server.token)
        #expect(server.output.contains("export LIGHTLY_SERVER_LOCATION=http://127.0.0.1:\(server.port)\n"))
        let folders = try scratchFolders(in: tmp)
        try #require(folders.count == 1)
        let folder = folders[0]
        #expect(FileManager.default.fileExists(atPath: folder + "/lightly.sqlite3"))
        let mode = try FileManager.default.attributesOfItem(atPath: folder)[.posixPermissions] as? Int
        #expect(mode == 0o700)
        // The printed token is a working one.
        let base = "http://127.0.0.1:\(server.port)"
        #expect(try CLI.run(["healthcheck", "--url", "\(base)/v1/datasets?token=\(token)"]).status == 0)
        #expect(try CLI.run(["healthcheck", "--url", "\(base)/v1/datasets?token=lt_wrong"]).status != 0)

        kill(server.process.processIdentifier, signal)
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: folder))
        #expect(try scratchFolders(in: tmp).isEmpty)
    }

    @Test func sigtermRemovesTheFolder() throws {
        try withTempDir { tmp in try Self.runOnce(tmp: tmp, signal: SIGTERM) }
    }

    @Test func sigintRemovesTheFolder() throws {
        try withTempDir { tmp in try Self.runOnce(tmp: tmp, signal: SIGINT) }
    }

    @Test func eachRunGetsItsOwnFolder() throws {
        try withTempDir { tmp in
            var a = try CLI.startServe(["--ephemeral"], environment: ["TMPDIR": tmp])
            var b = try CLI.startServe(["--ephemeral"], environment: ["TMPDIR": tmp])
            #expect(a.port != b.port)
            #expect(try Self.scratchFolders(in: tmp).count == 2)
            #expect(try a.stop() == 0)
            #expect(try b.stop() == 0)
            #expect(try Self.scratchFolders(in: tmp).isEmpty)
        }
    }

    @Test func ephemeralRefusesADataDir() throws {
        try withTempDir { tmp in
            let r = try CLI.run(["serve", "--ephemeral", "--data-dir", tmp + "/d", "--port", "0"], environment: ["TMPDIR": tmp])
            #expect(r.status != 0)
            #expect(r.stderr.contains("--ephemeral"))
            #expect(try Self.scratchFolders(in: tmp).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: tmp + "/d"))
        }
    }

    /// docs/examples/with-lightly-server.sh: starts an ephemeral server, hands the command the
    /// two variables, passes its exit status through, leaves nothing behind.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/bin/sh"), "needs /bin/sh"))
    func theShellExampleRunsACommandAgainstAThrowawayServer() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/examples/with-lightly-server.sh").path
        let binary = try #require(CLI.binary)
        try withTempDir { tmp in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            // The command proves the token works, then exits 7: the script must pass that on.
            p.arguments = [script, "/bin/sh", "-c",
                           "\"$LIGHTLY_SERVER_BIN\" healthcheck --url \"$LIGHTLY_SERVER_LOCATION/v1/datasets?token=$LIGHTLY_TOKEN\" && exit 7"]
            p.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LIGHTLY_") }
                .merging(["LIGHTLY_SERVER_BIN": binary, "TMPDIR": tmp]) { $1 }
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 7)
            #expect(try Self.scratchFolders(in: tmp).isEmpty)
        }
    }
}
