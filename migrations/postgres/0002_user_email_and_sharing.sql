-- 0002_user_email_and_sharing: PostgreSQL's translation of migrations/0002_user_email_and_sharing.sql.
-- Users may have an e-mail, and an owner can share a dataset with users by e-mail (the Lightly
-- collaboration API: one WRITE access config per dataset).

-- Lowercased; several users without an e-mail are fine, two with the same one are not.
ALTER TABLE users ADD COLUMN email text;
CREATE UNIQUE INDEX users_by_email ON users (email) WHERE email IS NOT NULL;

-- The dataset's access config (its id is what the API calls accessConfigId).
CREATE TABLE dataset_shares (
    dataset_id         text PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
    id                 text NOT NULL UNIQUE,
    created_at         bigint NOT NULL,
    last_modified_at   bigint NOT NULL
);

-- The e-mails (lowercased) the dataset is shared with. An e-mail no user has yet grants access
-- to the user who later gets it.
CREATE TABLE dataset_share_users (
    dataset_id   text NOT NULL REFERENCES dataset_shares(dataset_id) ON DELETE CASCADE,
    email        text NOT NULL,
    position     bigint NOT NULL,            -- order as sent by the owner
    PRIMARY KEY (dataset_id, email)
);
CREATE INDEX dataset_share_users_by_email ON dataset_share_users (email);
