-- Issue 10, the dispatcher's leases and retry schedule.
-- A claim to send (pending -> sending) is a lease until lease_expires_at: a dispatcher that dies mid-send leaves
-- a lease that runs out, and the reaper settles the reply (resent where the provider makes it safe, else
-- 'unknown': the provider may or may not have it, and it is never silently sent again).
-- A retryable failure puts the reply back to 'pending' with next_attempt_at, and the scheduler sends it then.
ALTER TABLE messages DROP CONSTRAINT messages_delivery_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_delivery_status_check
    CHECK (delivery_status IN ('pending', 'sending', 'unknown', 'sent', 'delivered', 'read', 'failed'));

ALTER TABLE messages
    ADD COLUMN lease_expires_at timestamptz,     -- while 'sending': when the claim runs out
    ADD COLUMN send_attempts integer NOT NULL DEFAULT 0,  -- provider calls made for this reply
    ADD COLUMN next_attempt_at timestamptz,      -- while 'pending': a retry scheduled for then
    ADD COLUMN last_error jsonb,                 -- the last retryable failure: {code, detail, at}
    ADD COLUMN outbound_record jsonb;            -- the OutboundMessage as first claimed: what the scheduler resends

-- The reaper's scan: leases that ran out.
CREATE INDEX messages_dispatch_lease ON messages (lease_expires_at) WHERE delivery_status = 'sending';
-- The scheduler's scan: retries that are due.
CREATE INDEX messages_dispatch_due ON messages (next_attempt_at)
    WHERE delivery_status = 'pending' AND next_attempt_at IS NOT NULL;
-- The gauge of replies whose outcome is unknown.
CREATE INDEX messages_delivery_unknown ON messages (delivery_updated_at) WHERE delivery_status = 'unknown';
