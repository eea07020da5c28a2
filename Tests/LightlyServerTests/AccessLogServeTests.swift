import Foundation
import TestSupport
import Testing

/// The real server's access log (batched by HTTPKit's `AccessLogWriter`) and `--workers`: every
/// answered request has its line on stderr once SIGTERM has stopped the server, the lines keep
/// the format log readers parse, no token appears, and the worker count reaches the HTTP server.
@Suite(.enabled(if: CLI.binary != nil, "lightly-server binary not built next to the test bundle"))
struct AccessLogServeTests {
    @Test func sigtermLosesNoAccessLineAndWorkersReachTheServer() throws {
        try withTempDir { dir in
            let stderrPath = dir + "/stderr"
            FileManager.default.createFile(atPath: stderrPath, contents: nil)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLI.binary ?? "/nonexistent")
            p.arguments = ["serve", "--port", "0", "--data-dir", dir + "/data", "--log-level", "info", "--workers", "3"]
            p.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LIGHTLY_SERVER_") }
            let out = Pipe()
            p.standardOutput = out
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
            try p.run()
            defer { if p.isRunning { p.terminate(); p.waitUntilExit() } }
            var text = ""
            let deadline = Date().addingTimeInterval(20)
            while !text.contains("listening on"), Date() < deadline {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            let lines = text.split(separator: "\n")
            let port = try #require(lines.first { $0.contains("listening on http") }.flatMap { Int($0.split(separator: ":").last ?? "") })
            let token = try #require(lines.first { $0.hasPrefix("export LIGHTLY_TOKEN=") }.map { String($0.dropFirst("export LIGHTLY_TOKEN=".count)) })

            let c = try TestClient(port: port)
            let requests = 200
            for i in 0..<requests {
                let r = try c.get(i % 2 == 0 ? "/v1/datasets?token=\(token)" : "/health")
                #expect(r.status == 200)
            }
            // At once: the lines are still in the writer's buffer (flushed every 100 ms).
            p.terminate()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)

            let log = try String(contentsOfFile: stderrPath, encoding: .utf8)
            // Compared as Strings: `hasSuffix` on these Substrings returned false for matching lines.
            let access = log.split(separator: "\n").map(String.init).filter { $0.hasSuffix(" [HTTPKit] request") }
            #expect(access.count == requests)
            #expect(access.filter { $0.contains(" http.method=GET ") && $0.contains(" http.status=200 ") }.count == requests)
            #expect(access.filter { $0.contains(" http.target=/v1/datasets?token=REDACTED ") }.count == requests / 2)
            #expect(!log.contains(String(token.dropFirst(3).prefix(16))), "token in the log")
            #expect(log.contains("http.workers=3"))
        }
    }
}
