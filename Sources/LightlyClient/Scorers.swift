import Foundation

/// Computes active-learning scores from a model's predictions: one array per score name,
/// one value per sample, in the order of the agent's query set.
///
/// The formulas are those of the `lightly` Python client's scorers (1.1.7 and later), so
/// the numbers a Swift pipeline uploads equal the ones a Python pipeline would.
public protocol Scorer: Sendable {
    /// Score name → one score per sample.
    func calculateScores() -> [String: [Double]]
}

/// Scores for a classification model: `uncertainty_least_confidence`, `uncertainty_margin`
/// and `uncertainty_entropy`, each mapped linearly so that a one-hot prediction scores 0 and
/// a uniform prediction scores 1, clamped to [0, 1], NaN replaced by 0 (docs/protocol.md §9).
///
/// ```swift
/// let scorer = try ScorerClassification(modelOutput: [[0.9, 0.1], [0.5, 0.5]])
/// scorer.calculateScores()["uncertainty_margin"]   // [0.2, 1.0]
/// ```
/// A single-column matrix is read as binary predictions `[p, 1 − p]`, as the Python client does.
public struct ScorerClassification: Scorer {
    public static let scoreNames = ["uncertainty_least_confidence", "uncertainty_margin", "uncertainty_entropy"]

    /// Row-major predictions, `count × classes`.
    public let probabilities: [[Double]]

    /// - Parameter modelOutput: one row of class probabilities per sample (rows sum to 1).
    /// - Throws: `ScorerError` if rows have different lengths or a row is empty.
    public init(modelOutput: [[Double]]) throws {
        guard let first = modelOutput.first else { probabilities = []; return }
        guard !first.isEmpty else { throw ScorerError.invalidShape("a prediction row is empty") }
        guard modelOutput.allSatisfy({ $0.count == first.count }) else {
            throw ScorerError.invalidShape("all prediction rows must have the same number of classes")
        }
        probabilities = first.count == 1 ? modelOutput.map { [$0[0], 1 - $0[0]] } : modelOutput
    }

    public func calculateScores() -> [String: [Double]] {
        guard let classes = probabilities.first?.count else {
            return Dictionary(uniqueKeysWithValues: Self.scoreNames.map { ($0, []) })
        }
        var lc = [Double](), margin = [Double](), entropy = [Double]()
        lc.reserveCapacity(probabilities.count); margin.reserveCapacity(probabilities.count)
        entropy.reserveCapacity(probabilities.count)
        let c = Double(classes)
        // Normalisation bounds: raw score of a one-hot row (0 for all three) and of a uniform row.
        let lcMax = 1 - 1 / c
        let marginMax = classes >= 2 ? 1.0 : 0.0
        let entropyMax = log2(c)
        for row in probabilities {
            var top1 = -Double.infinity, top2 = -Double.infinity, h = 0.0
            for p in row {
                if p > top1 { top2 = top1; top1 = p } else if p > top2 { top2 = p }
                if p > 0 { h -= p * log2(p) }
            }
            lc.append(Self.interpolate(1 - top1, max: lcMax))
            margin.append(Self.interpolate(1 - (top1 - top2), max: marginMax))
            entropy.append(Self.interpolate(h, max: entropyMax))
        }
        return ["uncertainty_least_confidence": lc, "uncertainty_margin": margin, "uncertainty_entropy": entropy]
    }

    /// numpy's `interp(x, [0, max], [0, 1])` after `nan_to_num`: clamps to [0, 1].
    static func interpolate(_ raw: Double, max: Double) -> Double {
        let x = raw.isNaN ? 0 : raw
        guard max > 0 else { return x >= max ? 1 : 0 }
        if x <= 0 { return 0 }
        if x >= max { return 1 }
        return x / max
    }

    /// Unnormalised least confidence and entropy of one set of rows (used by the other scorers).
    static func scores(of rows: [[Double]]) -> [String: [Double]] {
        (try? ScorerClassification(modelOutput: rows))?.calculateScores()
            ?? Dictionary(uniqueKeysWithValues: scoreNames.map { ($0, []) })
    }
}

/// The prediction of an object detector for one image.
public struct ObjectDetectionOutput: Sendable, Equatable {
    public var boxes: [BoundingBox]
    public var objectProbabilities: [Double]
    public var classProbabilities: [[Double]]
    /// `objectProbability × max(classProbabilities)` per box.
    public var scores: [Double]
    /// The arg-max class per box (first on ties).
    public var labels: [Int]

    /// - Throws: `ScorerError.invalidShape` if the three lists differ in length.
    public init(boxes: [BoundingBox], objectProbabilities: [Double], classProbabilities: [[Double]]) throws {
        guard boxes.count == objectProbabilities.count, objectProbabilities.count == classProbabilities.count else {
            throw ScorerError.invalidShape("boxes, object and class probabilities must be of same length but are \(boxes.count), \(objectProbabilities.count), and \(classProbabilities.count)")
        }
        self.boxes = boxes
        self.objectProbabilities = objectProbabilities
        self.classProbabilities = classProbabilities
        var scores = [Double](), labels = [Int]()
        for (o, c) in zip(objectProbabilities, classProbabilities) {
            let m = c.max() ?? 0
            scores.append(o * m)
            labels.append(c.firstIndex(of: m) ?? 0)
        }
        self.scores = scores
        self.labels = labels
    }

    /// Builds an output from per-box confidences and labels, as `ObjectDetectionOutput.from_scores`.
    public static func fromScores(boxes: [BoundingBox], scores: [Double], labels: [Int]) throws -> ObjectDetectionOutput {
        guard scores.allSatisfy({ (0...1).contains($0) }) else {
            throw ScorerError.invalidValue("scores must lie in [0, 1]")
        }
        let maxLabel = labels.max() ?? 0
        let classes = Swift.max(maxLabel, 1)
        let classProbabilities = zip(scores, labels).map { s, l -> [Double] in
            var c = [Double](repeating: (1 - s) / Double(classes), count: classes + 1)
            c[l] = s
            return c
        }
        var out = try ObjectDetectionOutput(boxes: boxes, objectProbabilities: scores, classProbabilities: classProbabilities)
        out.scores = scores
        out.labels = labels
        return out
    }
}

/// An axis-aligned box in relative coordinates (0…1).
public struct BoundingBox: Sendable, Equatable {
    public var x0, y0, x1, y1: Double
    public init(x0: Double, y0: Double, x1: Double, y1: Double) { self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1 }
}

/// Scores for object detection (docs/protocol.md §9): `object_frequency`, `objectness_least_confidence`
/// and the three `uncertainty_*` scores computed per box and reduced by max over the boxes
/// (0 for an image without boxes).
public struct ScorerObjectDetection: Scorer {
    public var outputs: [ObjectDetectionOutput]
    /// A repeated label counts this much instead of 1.
    public var frequencyPenalty: Double
    /// `object_frequency` is scaled to [minScore, 1].
    public var minScore: Double

    public init(modelOutput: [ObjectDetectionOutput], frequencyPenalty: Double = 0.25, minScore: Double = 0.9) throws {
        guard (0...1).contains(frequencyPenalty), (0...1).contains(minScore) else {
            throw ScorerError.invalidValue("frequencyPenalty and minScore must lie in [0, 1]")
        }
        outputs = modelOutput
        self.frequencyPenalty = frequencyPenalty
        self.minScore = minScore
    }

    public func calculateScores() -> [String: [Double]] {
        var result: [String: [Double]] = [:]
        // object_frequency
        let counts = outputs.map { output -> Double in
            var seen: [Int: Double] = [:]
            for l in output.labels { seen[l, default: 0] += seen[l] == nil ? 1 : frequencyPenalty }
            return seen.values.reduce(0, +)
        }
        if let lo = counts.min(), let hi = counts.max() {
            result["object_frequency"] = counts.map { x in
                hi == lo ? 1.0 : minScore + (x - lo) / (hi - lo) * (1 - minScore)
            }
        } else {
            result["object_frequency"] = []
        }
        result["objectness_least_confidence"] = outputs.map { o in
            o.scores.isEmpty ? 0 : 1 - o.scores.reduce(0, +) / Double(o.scores.count)
        }
        for name in ScorerClassification.scoreNames { result[name] = [] }
        for output in outputs {
            let perBox = ScorerClassification.scores(of: output.classProbabilities)
            for name in ScorerClassification.scoreNames {
                result[name, default: []].append(perBox[name]?.max() ?? 0)
            }
        }
        return result
    }
}

/// Scores for semantic segmentation (docs/protocol.md §9): the three `uncertainty_*` scores per pixel,
/// reduced by the mean over the pixels of each image.
public struct ScorerSemanticSegmentation: Scorer {
    /// One prediction per image: `pixels × classes` rows (an H×W×C array flattened to rows).
    public var predictions: [[[Double]]]

    public init(modelOutput: [[[Double]]]) { predictions = modelOutput }

    public func calculateScores() -> [String: [Double]] {
        var result = Dictionary(uniqueKeysWithValues: ScorerClassification.scoreNames.map { ($0, [Double]()) })
        for image in predictions {
            let perPixel = ScorerClassification.scores(of: image)
            for name in ScorerClassification.scoreNames {
                let v = perPixel[name] ?? []
                result[name, default: []].append(v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count))
            }
        }
        return result
    }
}

public enum ScorerError: Error, Equatable, CustomStringConvertible {
    case invalidShape(String)
    case invalidValue(String)
    public var description: String {
        switch self {
        case .invalidShape(let m), .invalidValue(let m): m
        }
    }
}
