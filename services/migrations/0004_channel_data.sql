-- Issue 4: what a reply on a channel needs from the message it answers (LINE's reply token, Telegram's
-- chat id, an email's subject and references) is kept with the customer's message.
ALTER TABLE messages ADD COLUMN channel_data jsonb NOT NULL DEFAULT '{}';
