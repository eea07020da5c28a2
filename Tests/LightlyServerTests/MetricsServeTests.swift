import Foundation
import Testing

/// `serve --metrics` / `LIGHTLY_SERVER_METRICS`: /metrics answers only when turned on.
@Suite(.enabled(if: CLI.binary != nil, "lightly-server binary not built next to the test bundle"))
struct MetricsServeTests {
    static func probe(_ port: Int) throws -> Int32 {
        try CLI.run(["healthcheck", "--url", "http://127.0.0.1:\(port)/metrics"]).status
    }

    @Test func offByDefaultOnWithTheFlagOrTheEnvironment() throws {
        try withTempDir { tmp in
            var off = try CLI.startServe(["--ephemeral"], environment: ["TMPDIR": tmp])
            #expect(try Self.probe(off.port) != 0)
            #expect(try off.stop() == 0)

            var flag = try CLI.startServe(["--ephemeral", "--metrics"], environment: ["TMPDIR": tmp])
            #expect(try Self.probe(flag.port) == 0)
            #expect(try flag.stop() == 0)

            var env = try CLI.startServe(["--ephemeral"], environment: ["TMPDIR": tmp, "LIGHTLY_SERVER_METRICS": "true"])
            #expect(try Self.probe(env.port) == 0)
            #expect(try env.stop() == 0)

            let bad = try CLI.run(["serve", "--ephemeral", "--port", "0"], environment: ["TMPDIR": tmp, "LIGHTLY_SERVER_METRICS": "maybe"])
            #expect(bad.status != 0 && bad.stderr.contains("metrics"))
        }
    }
}
