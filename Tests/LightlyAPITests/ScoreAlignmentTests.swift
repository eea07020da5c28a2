@testable import LightlyAPI
import LightlyStorage
import Testing

/// docs/selection.md §7: the four alignment rules.
@Suite struct ScoreAlignmentTests {
    func score(_ tag: String, _ type: String, _ values: [Double], at t: Int) -> StoredScore {
        StoredScore(id: "s-\(tag)-\(type)", tagId: tag, scoreType: type, values: values, createdAt: t)
    }

    // N = 6, Q = {0, 1, 2, 4, 5}, P = {1, 4}  →  Q \ P = {0, 2, 5}
    let n = 6, q = [0, 1, 2, 4, 5], p = [1, 4]

    @Test func rule1QueryTagWithLengthQ() {
        let r = ScoreAlignment.align(n: n, query: q, preselected: p,
                                     queryTag: ("Q", [score("Q", "uncertainty_margin", [0.1, 0.2, 0.3, 0.4, 0.5], at: 1)]),
                                     preselectedTag: ("P", []), preferredTypes: ScoreAlignment.defaultTypes)
        guard case .weights(let w, let rule, _) = r else { Issue.record("\(r)"); return }
        #expect(rule == 1)
        #expect(w == [0.1, 0.2, 0.3, 0, 0.4, 0.5])
    }

    @Test func rule2PreselectedTagWithLengthQMinusP() {
        let r = ScoreAlignment.align(n: n, query: q, preselected: p,
                                     queryTag: ("Q", [score("Q", "uncertainty_margin", [1, 2], at: 1)]),  // wrong length: ignored
                                     preselectedTag: ("P", [score("P", "prediction-margin", [0.7, 0.8, 0.9], at: 2)]),
                                     preferredTypes: ScoreAlignment.defaultTypes)
        guard case .weights(let w, let rule, let s) = r else { Issue.record("\(r)"); return }
        #expect(rule == 2 && s.scoreType == "prediction-margin")
        #expect(w == [0.7, 0, 0.8, 0, 0, 0.9])
    }

    @Test func rule3NothingUsable() {
        let r = ScoreAlignment.align(n: n, query: q, preselected: p,
                                     queryTag: ("Q", [score("Q", "uncertainty_entropy", [1, 1, 1, 1, 1], at: 1)]),
                                     preselectedTag: ("P", [score("P", "prediction-margin", [1, 1], at: 2)]),
                                     preferredTypes: ScoreAlignment.defaultTypes)
        guard case .none(let reason) = r else { Issue.record("\(r)"); return }
        #expect(reason.contains("|Q| = 5") && reason.contains("tag Q") && reason.contains("|Q\\P| = 3") && reason.contains("tag P"))
    }

    @Test func rule4MostRecentWins() {
        let older1 = score("Q", "uncertainty_margin", [0.1, 0.2, 0.3, 0.4, 0.5], at: 10)
        let newer2 = score("P", "prediction-margin", [0.7, 0.8, 0.9], at: 20)
        let r = ScoreAlignment.align(n: n, query: q, preselected: p, queryTag: ("Q", [older1]), preselectedTag: ("P", [newer2]),
                                     preferredTypes: ScoreAlignment.defaultTypes)
        guard case .weights(_, let rule, _) = r else { Issue.record("\(r)"); return }
        #expect(rule == 2)
        let newer1 = score("Q", "uncertainty_margin", [0.1, 0.2, 0.3, 0.4, 0.5], at: 30)
        let r2 = ScoreAlignment.align(n: n, query: q, preselected: p, queryTag: ("Q", [newer1]), preselectedTag: ("P", [newer2]),
                                      preferredTypes: ScoreAlignment.defaultTypes)
        guard case .weights(_, let rule2, _) = r2 else { Issue.record("\(r2)"); return }
        #expect(rule2 == 1)
    }

    @Test func requestedScoreTypeIsTheOnlyOneTried() {
        let tags = [score("Q", "uncertainty_margin", [1, 1, 1, 1, 1], at: 1), score("Q", "uncertainty_entropy", [0, 1, 0, 1, 0], at: 2)]
        let r = ScoreAlignment.align(n: n, query: q, preselected: p, queryTag: ("Q", tags), preselectedTag: nil,
                                     preferredTypes: ScoreAlignment.preferredTypes(requested: "uncertainty_entropy"))
        guard case .weights(let w, _, _) = r else { Issue.record("\(r)"); return }
        #expect(w == [0, 1, 0, 0, 1, 0])
        #expect(ScoreAlignment.preferredTypes(requested: nil) == ["uncertainty_margin", "prediction-margin"])
    }

    @Test func uploadValidation() {
        #expect(ScoreStore.validationError(scores: [], n: 3) != nil)
        #expect(ScoreStore.validationError(scores: [0, 1, 0.5, 0.2], n: 3)?.contains("only 3") == true)
        #expect(ScoreStore.validationError(scores: [0, .nan], n: 3)?.contains("scores[1]") == true)
        #expect(ScoreStore.validationError(scores: [0, .infinity], n: 3) != nil)
        #expect(ScoreStore.validationError(scores: [-0.1], n: 3)?.contains("negative") == true)
        #expect(ScoreStore.validationError(scores: [0, 1, 2], n: 3) == nil)
    }
}
