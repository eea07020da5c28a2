import LightlyCore
import HTTPKit
import LightlyStorage
import LightlyWire

/// The most e-mails one dataset can be shared with.
let maxSharedUsers = 1000

extension LightlyApplication {
    /// Team datasets (the collaboration API of lightly 1.4+: `share_dataset_only_with`,
    /// `get_shared_users`). Only the owner manages sharing; a user the dataset is shared with
    /// gets 403, anyone else 404 `DATASET_UNKNOWN`.
    ///
    /// - `POST …/collaboration/access` `{"accessType": "WRITE", "users": [e-mails]}` → 201 `{"id"}`:
    ///   replaces the list (an empty list revokes every share).
    /// - `GET  …/collaboration/access` → `[SharedAccessConfigData]` (empty when never shared).
    /// - `DELETE …/collaboration/access/{accessConfigId}` → `{}`: revokes every share.
    func registerCollaborationRoutes(_ r: inout Router) {
        r.post("/v1/datasets/:datasetId/collaboration/access") { ctx in
            let ds = try ctx.params.require("datasetId")
            let req = try ctx.decode(SharedAccessConfigCreateRequest.self)
            guard req.accessType == "WRITE" else {
                throw APIError.badRequest("accessType must be WRITE, got \"\(req.accessType)\"")
            }
            guard (req.teams ?? []).isEmpty else {
                throw APIError.badRequest("sharing with teams is not supported; share with users by e-mail")
            }
            var emails: [String] = []
            for raw in req.users ?? [] {
                let e: String
                do { e = try UserStore.normalize(email: raw) } catch let err as StorageError {
                    throw APIError.badRequest(err.message)
                }
                if !emails.contains(e) { emails.append(e) }
            }
            guard emails.count <= maxSharedUsers else {
                throw APIError.badRequest("a dataset can be shared with at most \(maxSharedUsers) users")
            }
            let id = try ctx.writeOwnedDataset { conn, _ -> String in
                return try ShareStore.replace(datasetId: ds, emails: emails, newId: ctx.app.newID, now: Timestamp.now(), conn)
            }
            ctx.logger.info("dataset sharing changed", metadata: ["dataset.id": "\(ds)", "share.users": "\(emails.count)"])
            return try .json(CreateEntityResponse(id: id), status: .created)
        }

        r.get("/v1/datasets/:datasetId/collaboration/access") { ctx in
            let ds = try ctx.params.require("datasetId")
            // 1.2.29–1.4.4 require `organizations`; the strict releases reject it.
            let organizations: [String]? = ClientRelease.isStrict(userAgent: ctx.request.headers["User-Agent"]) ? nil : []
            let configs = try ctx.readOwnedDataset { conn, d -> [SharedAccessConfigData] in
                guard let share = try ShareStore.get(datasetId: ds, conn) else { return [] }
                return [SharedAccessConfigData(id: share.id, owner: d.userId, users: share.users,
                                               organizations: organizations,
                                               createdAt: share.createdAt, lastModifiedAt: share.lastModifiedAt)]
            }
            return try .json(configs)
        }

        r.delete("/v1/datasets/:datasetId/collaboration/access/:accessConfigId") { ctx in
            let ds = try ctx.params.require("datasetId")
            let configId = try ctx.params.require("accessConfigId")
            try ctx.writeOwnedDataset { conn, _ in
                guard try ShareStore.delete(id: configId, datasetId: ds, conn) else {
                    throw APIError.notFound(.notFound, "access config \(configId) not found on dataset \(ds)")
                }
            }
            return .emptyObject()
        }
    }
}
