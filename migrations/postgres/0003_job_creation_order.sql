-- 0003_job_creation_order: PostgreSQL's translation of migrations/0003_job_creation_order.sql.
-- jobs get an explicit creation-order number, `seq`, so "oldest first" is (created_at, seq).
-- Existing jobs are numbered in (created_at, id) order (PostgreSQL keeps no insertion order).
ALTER TABLE jobs ADD COLUMN seq bigint NOT NULL DEFAULT 0;
UPDATE jobs SET seq = numbered.n
  FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM jobs) AS numbered
 WHERE jobs.id = numbered.id;
CREATE INDEX jobs_by_seq ON jobs (seq);
