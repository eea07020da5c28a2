-- 0003_job_creation_order: jobs get an explicit creation-order number, `seq`, so "oldest first"
-- is (created_at, seq) on every engine (it was (created_at, rowid), and PostgreSQL has no rowid).
-- New jobs take max(seq) + 1 when inserted; existing ones keep their insertion order.
ALTER TABLE jobs ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET seq = rowid;
CREATE INDEX jobs_by_seq ON jobs (seq);
