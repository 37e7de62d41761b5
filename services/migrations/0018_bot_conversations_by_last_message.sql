-- Issue 10: the queue sweep hands over bot conversations whose last message went unanswered (a crash between
-- the bot's claim and its answer); it reads `bot` conversations by their last message's time, within a day.
CREATE INDEX conversations_bot_last_inbound ON conversations (last_inbound_at) WHERE status = 'bot';
