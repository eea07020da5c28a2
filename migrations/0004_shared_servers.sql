-- 0004_shared_servers: what several servers on one database share.

-- Secrets every server must agree on. 'signing_key': the 32-byte HMAC key of signed URLs, made
-- once by whichever server starts first (an older data folder's signing.key is imported, so
-- URLs signed before the upgrade keep working).
CREATE TABLE server_secrets (
    name        TEXT PRIMARY KEY,
    value       BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);

-- A RUNNING job belongs to the server named in lease_owner until lease_expires_at (epoch ms);
-- that server renews the lease while it runs the job. A job whose lease expired (its server
-- died) is claimed again by another server.
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_expires_at INTEGER;

-- Bumped whenever the embedding's matrix is stored, so every server can tell that the copy
-- it caches in memory is stale.
ALTER TABLE embeddings ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
