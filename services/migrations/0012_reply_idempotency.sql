-- Issue 10: `Idempotency-Key` on POST /v1/conversations/{id}/messages. A key is one agent's (the scope), and
-- answers the reply it first stored; what the request was is kept to refuse the key's reuse for another one.
-- Kept for as long as the reply itself (ON DELETE CASCADE), not expired after a day: a key that expired could
-- let a client's late retry send a reply twice, and a key row is far smaller than the message it points to.
CREATE TABLE reply_idempotency_keys (
    agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    key text NOT NULL,
    conversation_id uuid NOT NULL,
    request_sha256 bytea NOT NULL,       -- of the request body as parsed (router/idempotency.py)
    -- Set in the transaction that inserted the key, so a committed key always has its reply: the key is
    -- inserted first so that a concurrent request with the same key waits on it instead of storing a reply.
    message_id uuid REFERENCES messages (id) ON DELETE CASCADE,
    resolved boolean NOT NULL DEFAULT false,  -- what the first answer said of "resolve"
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, key)
);
CREATE INDEX reply_idempotency_keys_message ON reply_idempotency_keys (message_id);
