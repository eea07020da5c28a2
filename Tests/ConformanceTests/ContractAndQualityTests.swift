// The OpenAPI document and the samplers' active-learning quality, checked from `swift test`.
//
//   docs/openapi.yaml   → Tests/conformance/validate_openapi.py (openapi-spec-validator)
//   quality gate        → benchmarks/al_quality/run.py --ci: digits, 3 seeds, the real lightly
//                         client against the server built with the tests; fails on a quality
//                         regression or on any selection that differs from the numpy oracle.
// Both create their venvs under .build/ on first use (PyPI access needed).
// LIGHTLY_SKIP_CONFORMANCE=1 skips them too.
import Foundation
import Testing

@Suite(.serialized)
struct ContractAndQualityTests {
    static var python: String { Conformance.environment["LIGHTLY_CONFORMANCE_PYTHON"] ?? "python3" }

    @Test("docs/openapi.yaml is valid OpenAPI 3", .enabled(if: !Conformance.skipped, "LIGHTLY_SKIP_CONFORMANCE=1"))
    func openAPIDocumentIsValid() async throws {
        let result = try await Conformance.run([Self.python, "Tests/conformance/validate_openapi.py"], prefix: "[openapi]")
        #expect(result.status == 0, "docs/openapi.yaml is not valid:\n\(result.output)")
        #expect(result.output.contains("openapi: 1 passed, 0 failed"))
    }

    @Test("active-learning quality gate (digits, 3 seeds, real client)",
          .enabled(if: !Conformance.skipped, "LIGHTLY_SKIP_CONFORMANCE=1"),
          .timeLimit(.minutes(20)))
    func qualityGate() async throws {
        let binary = try #require(Conformance.serverBinary(), "lightly-server executable not found next to the test bundle")
        let result = try await Conformance.run([Self.python, "benchmarks/al_quality/run.py", "--ci", "--server-bin", binary],
                                         prefix: "[al_quality]")
        let tail = result.output.split(separator: "\n", omittingEmptySubsequences: false).suffix(80).joined(separator: "\n")
        #expect(result.status == 0, "the active-learning quality gate failed:\n\(tail)")
    }
}
