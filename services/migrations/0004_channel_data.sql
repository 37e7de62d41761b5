-- Issue 4: what a reply on a channel needs from the message it answers (LINE's reply token, Telegram's
-- chat id, an email's subject and references) is kept with the customer's message.
ALTER TABLE messages ADD COLUMN channel_data jsonb NOT NULL DEFAULT '{}';

CREATE OR REPLACE FUNCTION store_inbound_messages(p_messages jsonb)
RETURNS TABLE (item integer, outcome text, conversation_id uuid, conversation_status text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    m record;
    s record;
BEGIN
    FOR m IN
        SELECT (x.ordinality - 1)::integer AS item, x.value AS message
          FROM jsonb_array_elements(p_messages) WITH ORDINALITY AS x
         ORDER BY hashtextextended((x.value ->> 'channel') || ':' || (x.value ->> 'sender'), 0), x.ordinality
    LOOP
        FOR s IN
            SELECT * FROM store_inbound_message(
                   m.message ->> 'channel', m.message ->> 'sender', m.message ->> 'sender_name',
                   (m.message ->> 'account_id')::uuid, m.message ->> 'provider_message_id',
                   m.message ->> 'content_type', m.message ->> 'text', m.message -> 'attachments',
                   m.message ->> 'reply_to', (m.message ->> 'sent_at')::timestamptz,
                   (m.message ->> 'received_at')::timestamptz)
        LOOP
            -- Only channels that carry reply context pay for this second write (WhatsApp does not).
            IF s.outcome = 'stored' AND coalesce(m.message -> 'channel_data', '{}'::jsonb) <> '{}'::jsonb THEN
                UPDATE messages SET channel_data = m.message -> 'channel_data'
                 WHERE channel = m.message ->> 'channel'
                   AND provider_message_id = m.message ->> 'provider_message_id';
            END IF;
            item := m.item;
            outcome := s.outcome;
            conversation_id := s.conversation_id;
            conversation_status := s.conversation_status;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$$;
