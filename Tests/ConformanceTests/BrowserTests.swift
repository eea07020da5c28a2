// The web page in headless Chromium against a real lightly-server process, with a dataset made
// by the real `lightly` client: runs Tests/browser/run.py (see there for the steps).
//
// Skipped when LIGHTLY_SKIP_CONFORMANCE=1 (like the conformance suite), or when `chromium`,
// `chromedriver` or `python3` is missing (.ci/run installs Debian's chromium and
// chromium-driver).
import Foundation
import Testing

enum Browser {
    /// The first executable named `name` on PATH.
    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static var python: String { Conformance.environment["LIGHTLY_CONFORMANCE_PYTHON"] ?? "python3" }

    static var available: Bool {
        which("chromium") != nil && which("chromedriver") != nil && (python.hasPrefix("/") || which(python) != nil)
    }
}

@Suite(.serialized)
struct BrowserTests {
    @Test("the web page in headless Chromium: sign in, map, CORESET 10, export, hostile file name",
          .enabled(if: !Conformance.skipped, "LIGHTLY_SKIP_CONFORMANCE=1"),
          .enabled(if: Browser.available, "needs chromium, chromedriver and python3"),
          .timeLimit(.minutes(10)))
    func webPage() async throws {
        let binary = try #require(Conformance.serverBinary(),
                                  "lightly-server executable not found next to the test bundle; set LIGHTLY_SERVER_BINARY")
        let started = Date()
        let result = try await Conformance.run([Browser.python, "Tests/browser/run.py", "--server-binary", binary],
                                         prefix: "[browser]")
        print("[browser] took \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        let tail = result.output.split(separator: "\n", omittingEmptySubsequences: false).suffix(80).joined(separator: "\n")
        #expect(result.status == 0, "the browser test failed:\n\(tail)")
    }
}
