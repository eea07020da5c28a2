import LightlyCore
import HTTPKit
import LightlyStorage
import LightlyWire

extension LightlyApplication {
    /// Active-learning score routes (docs/protocol.md §9).
    ///
    /// - `POST …/tags/{tagId}/scores` `{"scoreType", "scores"}` → `{"id"}`: creates or
    ///   replaces the array of (tag, scoreType). Rejected with 400 only when no alignment rule
    ///   of docs/selection.md §7 could ever use it: empty, longer than the dataset, non-finite or negative.
    ///   Which samples the values belong to is decided when a sampling job runs.
    /// - `GET …/tags/{tagId}/scores` → `TagActiveLearningScoresData[]` (oldest first).
    /// - `GET …/tags/{tagId}/scores/{scoreId}` → `ActiveLearningScoreData`, or 404 `SCORE_UNKNOWN`.
    func registerScoreRoutes(_ r: inout Router) {
        r.post("/v1/datasets/:datasetId/tags/:tagId/scores") { ctx in
            let datasetId = try ctx.params.require("datasetId")
            let tagId = try ctx.params.require("tagId")
            let body = try ctx.decode(ActiveLearningScoreCreateRequest.self)
            guard !body.scoreType.isEmpty else { throw APIError.badRequest("scoreType must not be empty") }
            let id = try ctx.writeDataset { conn, _ in
                _ = try ctx.app.requireTag(tagId, datasetId: datasetId, conn: conn)
                let n = try SamplingJobExecutor.sampleCount(datasetId: datasetId, conn)
                if let problem = ScoreStore.validationError(scores: body.scores, n: n) {
                    throw APIError.badRequest("scores \(body.scoreType) for tag \(tagId): \(problem)")
                }
                let now = Timestamp.now()
                let id = try ScoreStore.upsert(datasetId: datasetId, tagId: tagId, scoreType: body.scoreType,
                                               scores: body.scores, now: Int(now), conn)
                try ctx.app.touchDataset(datasetId, conn: conn, now: now)
                return id
            }
            return try .json(CreateEntityResponse(id: id), status: .created)
        }

        r.get("/v1/datasets/:datasetId/tags/:tagId/scores") { ctx in
            let datasetId = try ctx.params.require("datasetId")
            let tagId = try ctx.params.require("tagId")
            let scores = try ctx.readDataset { conn, _ in
                _ = try ctx.app.requireTag(tagId, datasetId: datasetId, conn: conn)
                return try ScoreStore.list(tagId: tagId, conn)
            }
            return try .json(scores.map {
                TagActiveLearningScoresData(id: $0.id, tagId: $0.tagId, scoreType: $0.scoreType, createdAt: Int64($0.createdAt))
            })
        }

        r.get("/v1/datasets/:datasetId/tags/:tagId/scores/:scoreId") { ctx in
            let datasetId = try ctx.params.require("datasetId")
            let tagId = try ctx.params.require("tagId")
            let scoreId = try ctx.params.require("scoreId")
            let score = try ctx.readDataset { conn, _ in
                _ = try ctx.app.requireTag(tagId, datasetId: datasetId, conn: conn)
                return try ScoreStore.get(id: scoreId, tagId: tagId, conn)
            }
            guard let score else { throw APIError.notFound(.scoreUnknown, "score \(scoreId) not found on tag \(tagId)") }
            return try .json(ActiveLearningScoreData(id: score.id, tagId: score.tagId, scoreType: score.scoreType,
                                                     scores: score.values, createdAt: Int64(score.createdAt)))
        }
    }
}
