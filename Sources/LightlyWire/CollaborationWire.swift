/// Body of `POST /v1/datasets/{datasetId}/collaboration/access` (`share_dataset_only_with`,
/// lightly 1.4+): replaces the list of users the dataset is shared with.
public struct SharedAccessConfigCreateRequest: Codable, Hashable, Sendable {
    /// Only `WRITE` exists.
    public var accessType: String
    /// E-mails of the users who get access; absent or empty revokes every share.
    public var users: [String]?
    /// Teams: not supported here (must be absent or empty).
    public var teams: [String]?
    /// Who sent it (`USER_PIP`, …); ignored.
    public var creator: String?

    public init(accessType: String = "WRITE", users: [String]? = nil, teams: [String]? = nil, creator: String? = nil) {
        self.accessType = accessType
        self.users = users
        self.teams = teams
        self.creator = creator
    }
}

/// One element of `GET /v1/datasets/{datasetId}/collaboration/access` (`get_shared_users`).
public struct SharedAccessConfigData: Codable, Hashable, Sendable {
    public var id: String
    /// The owner's user id.
    public var owner: String
    public var accessType: String
    /// Lowercased e-mails, in the order the owner sent them.
    public var users: [String]
    public var teams: [String]
    /// Sent only to releases that require it (1.2.29–1.4.4 reject an answer without it; the
    /// strict releases 1.4.8+ reject one with it); always `[]`: this server has no organizations.
    public var organizations: [String]?
    public var createdAt: Int64
    public var lastModifiedAt: Int64

    public init(id: String, owner: String, accessType: String = "WRITE", users: [String], teams: [String] = [],
                organizations: [String]? = nil, createdAt: Int64, lastModifiedAt: Int64) {
        self.organizations = organizations
        self.id = id
        self.owner = owner
        self.accessType = accessType
        self.users = users
        self.teams = teams
        self.createdAt = createdAt
        self.lastModifiedAt = lastModifiedAt
    }
}
