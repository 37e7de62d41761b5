-- Issue 10: the outbox's writers ring the relay after their commit (router/outbox.py OutboxBell) instead of
-- a trigger notifying inside their transaction. A NOTIFY in a transaction takes PostgreSQL's notification
-- lock at commit and holds it through the WAL flush, so every reply's and bot answer's commit waited for the
-- one before it: under `make loadtest RATE=300` that lock and the flushes behind it were where replies queued.
-- (0011 created that trigger once; a database it ran on loses it here.)
DROP TRIGGER IF EXISTS outbox_written ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
