// The pytest plugin of clients/python (lightly_server_testing) with the real `lightly` client:
// clients/python/tests/run.py builds a venv per client release under
// .build/conformance/plugin-venvs (the conformance suite's recipe: torch stubbed), installs the
// plugin into it with pip, and runs its pytest suite against the lightly-server built next to
// this test bundle. LIGHTLY_SKIP_CONFORMANCE=1 skips it with the conformance suite;
// LIGHTLY_PLUGIN_TEST_VERSIONS="1.5.26" narrows the releases (default: 1.5.26 and 1.2.14).
import Foundation
import Testing

extension Conformance {
    /// The interpreter the Python suites run with, if it can be found.
    static var python: String? {
        let name = environment["LIGHTLY_CONFORMANCE_PYTHON"] ?? "python3"
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for dir in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

@Suite(.serialized)
struct PluginTests {
    @Test("pytest plugin's own tests with the real lightly client",
          .enabled(if: !Conformance.skipped, "LIGHTLY_SKIP_CONFORMANCE=1"),
          .enabled(if: Conformance.python != nil, "python3 not found"),
          .timeLimit(.minutes(30)))
    func pytestPlugin() async throws {
        let binary = try #require(Conformance.serverBinary(),
                                  "lightly-server executable not found next to the test bundle; set LIGHTLY_SERVER_BINARY")
        let python = try #require(Conformance.python)
        var arguments = [python, "clients/python/tests/run.py", "--server-binary", binary]
        if let versions = Conformance.list("LIGHTLY_PLUGIN_TEST_VERSIONS") { arguments += ["--versions"] + versions }
        let started = ContinuousClock.now
        let result = try await Conformance.run(arguments, prefix: "[plugin]")
        print("[plugin] run time \(ContinuousClock.now - started)")
        let tail = result.output.split(separator: "\n", omittingEmptySubsequences: false).suffix(200)
            .joined(separator: "\n")
        #expect(result.status == 0, "the pytest plugin's tests failed:\n\(tail)")
        #expect(result.output.contains("plugin tests: ") && result.output.contains(" passed, 0 failed"))
    }
}
