-- Up Migration

-- The digest of the request that created a job under an Idempotency-Key: the same key with another
-- body is refused (422) instead of silently answering with the first job.
ALTER TABLE jobs ADD COLUMN request_digest text;

-- Down Migration

ALTER TABLE jobs DROP COLUMN request_digest;
