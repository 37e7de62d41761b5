-- Issue 5: heartbeats and presence timeout, transfers, internal notes.

-- When the agent's client last said it is there (a heartbeat or a presence change), and why an offline
-- agent is offline: logged off (conversations released at once) or silent past the heartbeat timeout
-- (conversations kept for a grace period in case they come back). NULL: not offline, or never online.
ALTER TABLE agents
    ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN offline_reason text CHECK (offline_reason IN ('logged_off', 'heartbeat_timeout')),
    ADD CONSTRAINT offline_reason_only_when_offline CHECK (offline_reason IS NULL OR status = 'offline');

-- The sweep looks for silent agents every second among those not offline, not among every agent ever
-- created. On `id`, not `last_seen_at`: a heartbeat then changes no indexed column and stays a HOT update.
CREATE INDEX agents_present ON agents (id) WHERE status <> 'offline';

-- An internal note is kept in the conversation's history beside the customer's messages and the replies,
-- written by an agent (author_agent_id) or an admin (NULL), and never sent.
-- NOT VALID: every existing row passed the narrower check this replaces, and validating would scan the
-- largest table while holding its lock. New rows are checked all the same.
ALTER TABLE messages
    DROP CONSTRAINT messages_direction_check,
    ADD CONSTRAINT messages_direction_check CHECK (direction IN ('inbound', 'outbound', 'note')) NOT VALID;
