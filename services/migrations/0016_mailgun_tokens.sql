-- Issue 10: Mailgun's replay ledger, shared by every ingest process. A token of an accepted signature is kept
-- until its timestamp is too old to be accepted anyway (expires_at); a token seen again before then is a replay.
CREATE TABLE mailgun_tokens (
    token text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX mailgun_tokens_expiry ON mailgun_tokens (expires_at);
