// STUB owned by the jobs engineer (branch `apijobs`), who replaces this whole file.
// The API layer calls exactly these three entry points:
//   - `JobSystem.init(...)`, `start()`, `stop()` from LightlyApplication's init/start/stop;
//   - `registerJobRoutes(_:)` while the router is built (routes and signed `csv` handler).
import LightlyStorage
import Logging

/// The job runner (sampling, 2-D embeddings). Stub: does nothing.
public final class JobSystem: Sendable {
    public init(database: Database, blobs: BlobStore, settings: APISettings, logger: Logger) {}
    public func start() {}
    public func stop() {}
}

extension LightlyApplication {
    /// Registers embeddings, scores, sampling, `/v1/jobs…` routes and the `csv` signed kind.
    func registerJobRoutes(_ router: inout Router) {}
}
