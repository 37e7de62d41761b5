-- Issue 10: every dead letter kept where an admin can list and re-drive it (router/dead_letters_api.py).
-- The keeper (router/dead_letter_keeper.py) copies the dead-letter topics here; one row per record read.
CREATE TABLE dead_letters (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind text NOT NULL CHECK (kind IN ('inbound', 'outbound')),
    reason text NOT NULL,                -- undecodable, unprocessable, retries_exhausted, rejected, channel_rule, ...
    detail text NOT NULL DEFAULT '',
    attempts integer,
    message_id uuid,                     -- a reply the dispatcher gave up on
    conversation_id uuid,
    target_topic text NOT NULL,          -- where a re-drive publishes `record_key`/`record_value`
    record_key bytea,
    record_value bytea NOT NULL,
    failed_at timestamptz NOT NULL,
    dead_letter_topic text NOT NULL,
    dead_letter_partition integer NOT NULL,
    dead_letter_offset bigint NOT NULL,
    kept_at timestamptz NOT NULL DEFAULT now(),
    redriven_at timestamptz,
    -- A replayed dead-letter record is kept once.
    UNIQUE (dead_letter_topic, dead_letter_partition, dead_letter_offset)
);
CREATE INDEX dead_letters_newest ON dead_letters (kept_at DESC, id);
