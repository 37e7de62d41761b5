-- Issue 10: the bot's last answer is kept on the conversation, so the queue sweep finds the bot conversations
-- whose last message went unanswered from an index of those alone. 0018's index held every `bot`
-- conversation of the day, and its NOT EXISTS over their messages took 600 ms a sweep after a day of load.
ALTER TABLE conversations ADD COLUMN last_bot_reply_at timestamptz;
-- Conversations the bot already answered count as answered; a claim never answered stays NULL.
UPDATE conversations SET last_bot_reply_at = last_inbound_at WHERE status = 'bot' AND bot_turns > 0;
DROP INDEX conversations_bot_last_inbound;
CREATE INDEX conversations_bot_unanswered ON conversations (last_inbound_at)
    WHERE status = 'bot' AND (last_bot_reply_at IS NULL OR last_bot_reply_at < last_inbound_at);
