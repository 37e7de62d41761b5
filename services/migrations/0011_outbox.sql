-- Issue 10, a transactional outbox: a record is written in the same transaction as the state it announces
-- (a reply and its outbound record, a delivery outcome and its live event), and router/outbox.py relays it to
-- Kafka, so a committed reply is always published and a published one was always committed.
CREATE TABLE outbox (
    id bigserial PRIMARY KEY,            -- the relay publishes in this order: one key's records stay in order
    topic text NOT NULL,                 -- the whole topic name, prefix included
    key bytea NOT NULL,
    value bytea NOT NULL,                -- the record's value exactly as published (schemas/wire.py encode)
    created_at timestamptz NOT NULL DEFAULT now()
);
