import Foundation
import Testing
@testable import LightlyClient
import LightlyCore

/// Local behaviour of the client that needs no server.
@Suite struct SelectionConfigTests {
    @Test func defaultNameIsThePythonClients() throws {
        var c = DateComponents()
        c.year = 2026; c.month = 3; c.day = 4; c.hour = 5; c.minute = 6; c.second = 7
        let date = try #require(Calendar.current.date(from: c))
        #expect(SelectionConfig.defaultName(method: .coreset, nSamples: 32, minDistance: -1, date: date) == "CORESET_32_-1_03_04_2026__05_06_07")
        #expect(SelectionConfig.defaultName(method: .coral, nSamples: 0.5, minDistance: 0.1, date: date) == "CORAL_0.5_0.1_03_04_2026__05_06_07")
        let config = SelectionConfig()
        #expect(config.name.hasPrefix("CORESET_32_-1_"))
        #expect(config.method == .coreset && config.nSamples == 32 && config.minDistance == -1)
    }

    @Test func samplerConfigIsTheOldName() {
        let old: SamplerConfig = SamplerConfig(method: .random, nSamples: 3, name: "x")
        let new: SelectionConfig = old
        #expect(new == SelectionConfig(method: .random, nSamples: 3, name: "x"))
    }

    @Test func booleansAreWrittenAsThePythonClientDoes() {
        #expect(Transport.pythonBool(true) == "True")
        #expect(Transport.pythonBool(false) == "False")
    }

    /// Non-finite scores are refused before anything is sent: the client points at a closed
    /// port, so a request would surface as a transport error instead.
    @Test func nonFiniteScoresAreRefusedLocally() async throws {
        let client = try ApiWorkflowClient(token: "t", datasetId: "000000000000000000000000",
                                           serverLocation: "http://127.0.0.1:1", retry: .none)
        for bad in [Double.nan, .infinity] {
            let e = await #expect(throws: LightlyClientError.self) {
                try await client.uploadScores(["uncertainty_margin": [0.5, bad]], queryTagId: "000000000000000000000001")
            }
            guard case .invalidArgument(let m)? = e else { Issue.record("expected invalidArgument, got \(String(describing: e))"); continue }
            #expect(m.contains("index 1"))
        }
        let e = await #expect(throws: LightlyClientError.self) {
            try await client.uploadScores(["uncertainty_margin": [0.5]], queryTagId: "000000000000000000000001")
        }
        guard case .transport? = e else { Issue.record("expected a transport error, got \(String(describing: e))"); return }
    }
}
