-- Issue 10/11: 0001's conversations_queue (priority DESC, waiting_since) WHERE status = 'queued' was superseded by
-- 0007's conversations_queued (priority, waiting_since) over the same rows: a btree reads both ways, the planner
-- never chose the old one (pg_stat_user_indexes.idx_scan 0 after load runs), yet every conversation entering
-- the queue wrote an entry into each.
DROP INDEX IF EXISTS conversations_queue;
