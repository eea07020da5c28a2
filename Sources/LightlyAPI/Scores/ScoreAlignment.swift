import LightlyCore
import LightlyStorage
// Which stored score array a sampling job uses, and which sample each element belongs to
// (docs/selection.md §7). The rule works for every client version without knowing it.


/// The outcome of aligning scores with the query set.
public enum ScoreAlignmentResult: Sendable, Equatable {
    /// Per-sample weights of length N, indexed by sample (mapping order). Samples outside the
    /// aligned set weigh 0. `rule` is 1 (query tag, |Q| values) or 2 (preselected tag,
    /// |Q \ P| values); `score` is the array that was used.
    case weights([Double], rule: Int, score: StoredScore)
    /// No array fits; `reason` names what was looked for, for the job's `error`.
    case none(reason: String)
}

/// docs/selection.md §7: align active-learning scores with the samples of a sampling request.
///
/// 1. Scores on the query tag (the `queryTagId` tag, or the initial tag when absent) whose
///    length is |Q|: element *j* belongs to the *j*-th member of Q (ascending index).
/// 2. Otherwise scores on the `preselectedTagId` tag whose length is |Q \ P|: element *j*
///    belongs to the *j*-th member of Q \ P (1.1.0–1.1.6 clients).
/// 3. Otherwise nothing (CORAL falls back to CORESET, ACTIVE_LEARNING fails).
/// 4. When both rule 1 and rule 2 find an array, the most recently uploaded wins.
///
/// Within one tag the score types are tried in `preferredTypes` order (the request's
/// `scoreType`, or `uncertainty_margin` then `prediction-margin`).
///
/// ```swift
/// let r = ScoreAlignment.align(n: 5, query: [0, 1, 2, 3, 4], preselected: [1],
///                              queryTag: ("t0", scoresOnT0), preselectedTag: ("t1", scoresOnT1),
///                              preferredTypes: ScoreAlignment.defaultTypes)
/// ```
/// - Complexity: O(N + total number of stored values inspected).
public enum ScoreAlignment {
    /// The score types used when the request names none (docs/selection.md §7).
    public static let defaultTypes = ["uncertainty_margin", "prediction-margin"]

    /// The types to try for a request: its `scoreType` alone, or `defaultTypes`.
    public static func preferredTypes(requested: String?) -> [String] {
        if let requested, !requested.isEmpty { return [requested] }
        return defaultTypes
    }

    /// - Parameters:
    ///   - n: dataset size N.
    ///   - query: Q, ascending sample indices.
    ///   - preselected: P, ascending sample indices (may include samples outside Q).
    ///   - queryTag: id and stored scores of the query tag (or the initial tag), if any.
    ///   - preselectedTag: id and stored scores of the preselected tag, if any.
    ///   - preferredTypes: score types in order of preference.
    /// - Returns: weights of length `n`, or `.none` with a reason.
    public static func align(n: Int, query: [Int], preselected: [Int],
                             queryTag: (id: String, scores: [StoredScore])?,
                             preselectedTag: (id: String, scores: [StoredScore])?,
                             preferredTypes: [String]) -> ScoreAlignmentResult {
        let pSet = Set(preselected)
        let unlabeled = query.filter { !pSet.contains($0) }

        func pick(_ scores: [StoredScore], length: Int) -> StoredScore? {
            for type in preferredTypes {
                if let s = scores.first(where: { $0.scoreType == type }), s.values.count == length { return s }
            }
            return nil
        }
        let rule1 = queryTag.flatMap { pick($0.scores, length: query.count) }
        let rule2 = preselectedTag.flatMap { pick($0.scores, length: unlabeled.count) }

        let chosen: (StoredScore, Int, [Int])
        switch (rule1, rule2) {
        case let (a?, b?):
            chosen = b.createdAt > a.createdAt ? (b, 2, unlabeled) : (a, 1, query)
        case let (a?, nil): chosen = (a, 1, query)
        case let (nil, b?): chosen = (b, 2, unlabeled)
        case (nil, nil):
            let types = preferredTypes.joined(separator: " or ")
            var reason = "no \(types) score array of length |Q| = \(query.count)"
            reason += queryTag.map { " on tag \($0.id)" } ?? " (no query tag)"
            if let p = preselectedTag {
                reason += " nor of length |Q\\P| = \(unlabeled.count) on tag \(p.id)"
            }
            return .none(reason: reason)
        }
        var weights = [Double](repeating: 0, count: n)
        for (j, sample) in chosen.2.enumerated() where sample < n { weights[sample] = chosen.0.values[j] }
        return .weights(weights, rule: chosen.1, score: chosen.0)
    }
}
