-- The queue is read as the longest waiting of each priority level (router/store/queue.py): an index on
-- (priority, waiting_since) over queued conversations answers each level's window directly.
DROP INDEX IF EXISTS conversations_queued;
CREATE INDEX conversations_queued ON conversations (priority, waiting_since) WHERE status = 'queued';

-- Superseded by assign_first_available.
DROP FUNCTION IF EXISTS assign_conversation(uuid, uuid[], boolean);
DROP FUNCTION IF EXISTS assign_next_queued(uuid[]);
