-- 0002_user_email_and_sharing: users may have an e-mail, and an owner can share a dataset with
-- users by e-mail (the Lightly collaboration API: one WRITE access config per dataset).

-- Lowercased; several users without an e-mail are fine, two with the same one are not.
ALTER TABLE users ADD COLUMN email TEXT;
CREATE UNIQUE INDEX users_by_email ON users (email) WHERE email IS NOT NULL;

-- The dataset's access config (its id is what the API calls accessConfigId).
CREATE TABLE dataset_shares (
    dataset_id         TEXT PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
    id                 TEXT NOT NULL UNIQUE,
    created_at         INTEGER NOT NULL,
    last_modified_at   INTEGER NOT NULL
);

-- The e-mails (lowercased) the dataset is shared with. An e-mail no user has yet grants access
-- to the user who later gets it.
CREATE TABLE dataset_share_users (
    dataset_id   TEXT NOT NULL REFERENCES dataset_shares(dataset_id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    position     INTEGER NOT NULL,           -- order as sent by the owner
    PRIMARY KEY (dataset_id, email)
) WITHOUT ROWID;
CREATE INDEX dataset_share_users_by_email ON dataset_share_users (email);
