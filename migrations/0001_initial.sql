-- 0001_initial: the whole first schema.
-- Timestamps are Unix epoch milliseconds (docs/protocol.md §3). Ids are 24-char lowercase hex (docs/protocol.md §3).
-- JSON columns hold the client's objects verbatim.

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

-- Tokens are stored as SHA-256 digests only; the plaintext is printed once at creation.
CREATE TABLE tokens (
    id            INTEGER PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL UNIQUE,
    token_hash    BLOB NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);

CREATE TABLE datasets (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    type               TEXT NOT NULL DEFAULT 'Images',
    img_type           TEXT,
    n_samples          INTEGER NOT NULL DEFAULT 0,
    size_in_bytes      INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    last_modified_at   INTEGER NOT NULL,
    UNIQUE (user_id, name)
);

-- idx is the stable, append-only mapping order of docs/protocol.md §5 (0-based, dense per dataset).
CREATE TABLE samples (
    id                 TEXT PRIMARY KEY,
    dataset_id         TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    idx                INTEGER NOT NULL,
    file_name          TEXT NOT NULL,
    thumb_name         TEXT,
    meta_data          TEXT,          -- JSON object, verbatim
    exif               TEXT,          -- JSON object, verbatim
    custom_meta_data   TEXT,          -- any JSON, verbatim
    size_in_bytes      INTEGER NOT NULL DEFAULT 0,
    full_blob_id       TEXT REFERENCES blobs(id) ON DELETE SET NULL,
    thumb_blob_id      TEXT REFERENCES blobs(id) ON DELETE SET NULL,
    created_at         INTEGER NOT NULL,
    last_modified_at   INTEGER NOT NULL,
    UNIQUE (dataset_id, idx),
    UNIQUE (dataset_id, file_name)
);

-- Bitmask as little-endian 64-bit words (BitMask.words), tot_size = bitmask width.
CREATE TABLE tags (
    id                   TEXT PRIMARY KEY,
    dataset_id           TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    seq                  INTEGER NOT NULL,    -- creation order within the dataset
    name                 TEXT NOT NULL,
    prev_tag_id          TEXT,
    query_tag_id         TEXT,
    preselected_tag_id   TEXT,
    bitmask              BLOB NOT NULL,
    tot_size             INTEGER NOT NULL,
    creator              TEXT,
    changes              TEXT,                -- JSON, verbatim
    created_at           INTEGER NOT NULL,
    last_modified_at     INTEGER NOT NULL,
    UNIQUE (dataset_id, name),
    UNIQUE (dataset_id, seq)
);

-- Files on disk under <data>/blobs/; rows here are the index. Names are ids, never user input.
CREATE TABLE blobs (
    id           TEXT PRIMARY KEY,
    dataset_id   TEXT REFERENCES datasets(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,            -- 'full' | 'thumbnail' | 'csv'
    size         INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE embeddings (
    id             TEXT PRIMARY KEY,
    dataset_id     TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,       -- creation order (the client takes the last one)
    name           TEXT NOT NULL,
    is_processed   INTEGER NOT NULL DEFAULT 0,
    row_count      INTEGER,
    dim            INTEGER,
    csv_blob_id    TEXT REFERENCES blobs(id) ON DELETE SET NULL,
    created_at     INTEGER NOT NULL,
    UNIQUE (dataset_id, seq)
);
CREATE INDEX embeddings_by_name ON embeddings (dataset_id, name);

-- The float32 matrix in mapping order, row-major, split into chunks of whole rows.
CREATE TABLE embedding_chunks (
    embedding_id   TEXT NOT NULL REFERENCES embeddings(id) ON DELETE CASCADE,
    chunk          INTEGER NOT NULL,
    first_row      INTEGER NOT NULL,
    row_count      INTEGER NOT NULL,
    data           BLOB NOT NULL,          -- row_count * dim little-endian float32
    PRIMARY KEY (embedding_id, chunk)
) WITHOUT ROWID;

-- 2-D projections (trigger2dEmbeddingsJob): N x 2 float32, mapping order.
CREATE TABLE embeddings_2d (
    embedding_id   TEXT NOT NULL REFERENCES embeddings(id) ON DELETE CASCADE,
    method         TEXT NOT NULL,          -- 'PCA' | 'TSNE' | 'UMAP'
    data           BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (embedding_id, method)
) WITHOUT ROWID;

-- Active-learning scores per (tag, score type); a later upload replaces the row.
CREATE TABLE scores (
    id           TEXT PRIMARY KEY,
    dataset_id   TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    tag_id       TEXT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    score_type   TEXT NOT NULL,
    count        INTEGER NOT NULL,
    data         BLOB NOT NULL,            -- count little-endian float64
    created_at   INTEGER NOT NULL,
    UNIQUE (tag_id, score_type)
);

-- Asynchronous jobs (sampling, 2-D embeddings). WAITING/RUNNING rows are re-run after a restart.
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    dataset_id    TEXT REFERENCES datasets(id) ON DELETE CASCADE,
    type          TEXT NOT NULL,           -- JobResultType: 'SAMPLING' | 'EMBEDDINGS2D' | ...
    status        TEXT NOT NULL,           -- 'WAITING' | 'RUNNING' | 'FAILED' | 'FINISHED'
    request       TEXT NOT NULL,           -- JSON of what to run
    result        TEXT,                    -- JSON of JobStatusDataResult.data
    error         TEXT,
    processed     INTEGER,
    total         INTEGER,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER
);
CREATE INDEX jobs_by_status ON jobs (status, created_at);

-- registerDatasetUpload bodies (docs/protocol.md §7), kept for inspection.
CREATE TABLE dataset_uploads (
    id            INTEGER PRIMARY KEY,
    dataset_id    TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    meta          TEXT NOT NULL,           -- JobStatusMeta JSON, verbatim
    created_at    INTEGER NOT NULL
);
