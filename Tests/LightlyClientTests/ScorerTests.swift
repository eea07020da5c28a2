import Foundation
import Testing
@testable import LightlyClient

/// The Swift scorers against the real Python client's scorers (lightly 1.1.23), on fixtures
/// made by `Fixtures/make_scorer_fixtures.py` (its docstring says how).
@Suite struct ScorerTests {
    struct Fixtures: Decodable {
        struct Classification: Decodable { var predictions: [[Double]]; var scores: [String: [Double]] }
        struct DetectionOutput: Decodable { var objectProbabilities: [Double]; var classProbabilities: [[Double]] }
        struct Detection: Decodable { var outputs: [DetectionOutput]; var scores: [String: [Double]] }
        struct Segmentation: Decodable { var predictions: [[[Double]]]; var scores: [String: [Double]] }
        var lightly_version: String
        var classification: [Classification]
        var detection: [Detection]
        var segmentation: [Segmentation]
    }

    static func load() throws -> Fixtures {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/scorer_fixtures.json")
        return try JSONDecoder().decode(Fixtures.self, from: Data(contentsOf: url))
    }

    static func expectClose(_ got: [String: [Double]], _ want: [String: [Double]], _ what: String) {
        #expect(Set(got.keys) == Set(want.keys), "\(what): score names")
        for (name, w) in want {
            let g = got[name] ?? []
            #expect(g.count == w.count, "\(what) \(name): count")
            for (a, b) in zip(g, w) {
                #expect(abs(a - b) <= 1e-12 + 1e-9 * abs(b), "\(what) \(name): \(a) vs python \(b)")
            }
        }
    }

    @Test func classificationMatchesPython() throws {
        let f = try Self.load()
        #expect(f.lightly_version == "1.1.23")
        #expect(f.classification.count == 4)
        for (i, c) in f.classification.enumerated() {
            let s = try ScorerClassification(modelOutput: c.predictions).calculateScores()
            Self.expectClose(s, c.scores, "classification case \(i)")
        }
    }

    @Test func specExample() throws {
        // docs/protocol.md §9: [[0.9], [0.2]] → least_confidence [0.2, 0.4], margin [0.2, 0.4], entropy [0.469, 0.722]
        let s = try ScorerClassification(modelOutput: [[0.9], [0.2]]).calculateScores()
        #expect(s["uncertainty_least_confidence"]!.map { ($0 * 1000).rounded() } == [200, 400])
        #expect(s["uncertainty_margin"]!.map { ($0 * 1000).rounded() } == [200, 400])
        #expect(s["uncertainty_entropy"]!.map { ($0 * 1000).rounded() } == [469, 722])
    }

    @Test func emptyAndInvalid() throws {
        let empty = try ScorerClassification(modelOutput: []).calculateScores()
        #expect(empty.values.allSatisfy(\.isEmpty) && empty.count == 3)
        #expect(throws: ScorerError.self) { try ScorerClassification(modelOutput: [[0.5, 0.5], [1]]) }
        #expect(throws: ScorerError.self) { try ScorerClassification(modelOutput: [[]]) }
    }

    @Test func objectDetectionMatchesPython() throws {
        let f = try Self.load()
        for (i, d) in f.detection.enumerated() {
            let outputs = try d.outputs.map {
                try ObjectDetectionOutput(boxes: Array(repeating: BoundingBox(x0: 0.1, y0: 0.1, x1: 0.5, y1: 0.5), count: $0.objectProbabilities.count),
                                          objectProbabilities: $0.objectProbabilities, classProbabilities: $0.classProbabilities)
            }
            let s = try ScorerObjectDetection(modelOutput: outputs).calculateScores()
            Self.expectClose(s, d.scores, "detection case \(i)")
        }
    }

    @Test func semanticSegmentationMatchesPython() throws {
        let f = try Self.load()
        for (i, c) in f.segmentation.enumerated() {
            Self.expectClose(ScorerSemanticSegmentation(modelOutput: c.predictions).calculateScores(), c.scores, "segmentation case \(i)")
        }
    }
}
