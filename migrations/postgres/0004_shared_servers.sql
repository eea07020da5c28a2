-- 0004_shared_servers: PostgreSQL's translation of migrations/0004_shared_servers.sql.
-- What several servers on one database share.

-- Secrets every server must agree on. 'signing_key': the 32-byte HMAC key of signed URLs, made
-- once by whichever server starts first (an older data folder's signing.key is imported, so
-- URLs signed before the upgrade keep working).
CREATE TABLE server_secrets (
    name        text PRIMARY KEY,
    value       bytea NOT NULL,
    created_at  bigint NOT NULL
);

-- A RUNNING job belongs to the server named in lease_owner until lease_expires_at (epoch ms);
-- that server renews the lease while it runs the job. A job whose lease expired (its server
-- died) is claimed again by another server.
ALTER TABLE jobs ADD COLUMN lease_owner text;
ALTER TABLE jobs ADD COLUMN lease_expires_at bigint;

-- Bumped whenever the embedding's matrix is stored, so every server can tell that the copy
-- it caches in memory is stale.
ALTER TABLE embeddings ADD COLUMN version bigint NOT NULL DEFAULT 0;
