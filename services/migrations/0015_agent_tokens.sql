-- Agent tokens can be revoked (DELETE /v1/agents/{id}/token): a revoked agent has no token hash, and
-- token_issued_at says when the current one was issued.
ALTER TABLE agents ALTER COLUMN token_hash DROP NOT NULL;
ALTER TABLE agents ADD COLUMN token_issued_at timestamptz NOT NULL DEFAULT now();
