#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LightlyCore
import LightlyStorage
import LightlyWire

/// What a 2-D embedding job row stores in `jobs.request`.
public struct Embedding2DJobInput: Codable, Sendable, Equatable {
    public var datasetId: String
    public var embeddingId: String
    /// The requested method: `PCA`, `TSNE` or `UMAP`.
    public var method: String
    public init(datasetId: String, embeddingId: String, method: String) {
        self.datasetId = datasetId
        self.embeddingId = embeddingId
        self.method = method
    }
}

/// Computes 2-D projections for `trigger2dEmbeddingsJob` (docs/protocol.md §8).
///
/// Every method is answered with a real **PCA** onto the first two principal components
/// (`PCA2D.project`). TSNE and UMAP are not implemented: their rows hold the PCA
/// coordinates too, and `GET …/2d` reports `computedWith: "PCA"`. The three calls the client
/// makes after each upload compute PCA once; the other two reuse it.
public struct Embedding2DJobExecutor: JobExecutor {
    let database: any SQLDatabase
    let cache: EmbeddingCache

    public init(database: any SQLDatabase, cache: EmbeddingCache) {
        self.database = database
        self.cache = cache
    }

    public func run(_ job: JobRecord, progress: JobProgress) throws {
        let input = try job.decodedRequest(Embedding2DJobInput.self, what: "2-D embedding")
        let (embedding, existing) = try database.read { conn in
            (try EmbeddingStore.get(id: input.embeddingId, datasetId: input.datasetId, conn),
             try EmbeddingStore.list2D(embeddingId: input.embeddingId, conn))
        }
        guard let embedding, embedding.isProcessed, let rows = embedding.rowCount, let dim = embedding.dimension else {
            throw JobFailure("embedding \(input.embeddingId) has no uploaded CSV in dataset \(input.datasetId)")
        }
        progress.update(processed: 0, total: 1)
        let points: [Float]
        if let reuse = existing.first(where: { $0.points.count == rows * 2 }) {
            points = reuse.points
        } else {
            points = try withCurrentMatrix(cache, embedding, rows: rows, dimension: dim, database: database, wait: 600) { matrix, _ in
                matrix.withUnsafeMutableFloats { values in
                    PCA2D.project(values: UnsafeBufferPointer(values), rows: rows, dimension: dim)
                }
            }
        }
        guard points.count == rows * 2, points.allSatisfy(\.isFinite) else {
            throw JobFailure("the 2-D projection of embedding \(embedding.id) failed")
        }
        try database.write { conn in
            guard try JobStore.isStillRunning(job, conn) else { return }
            // The embedding may have been re-uploaded meanwhile: only store a projection that
            // still matches its row count.
            guard let now = try EmbeddingStore.get(id: embedding.id, conn), now.rowCount == rows, now.dimension == dim else {
                throw JobFailure("embedding \(embedding.id) changed while projecting; trigger the 2-D job again")
            }
            let t = jobsNowMillis()
            try EmbeddingStore.store2D(embeddingId: embedding.id, method: input.method, points: points, now: t, conn)
            try JobStore.markFinished(id: job.id, result: embedding.id, total: 1, now: t, conn)
        }
    }
}
