-- Store a partition's batch of inbound messages in one round trip (issue 3: at 500 msg/s the router's
-- per-message round trips were its bottleneck). Messages are taken in the order of their sender locks,
-- so two routers' batches always lock in the same order and cannot deadlock; one sender's messages keep
-- their relative order (the sort is stable on the array index).
CREATE FUNCTION store_inbound_messages(p_messages jsonb)
RETURNS TABLE (item integer, outcome text, conversation_id uuid, conversation_status text)
LANGUAGE plpgsql AS $$
DECLARE
    m record;
BEGIN
    FOR m IN
        SELECT (x.ordinality - 1)::integer AS item, x.value AS message
          FROM jsonb_array_elements(p_messages) WITH ORDINALITY AS x
         ORDER BY hashtextextended((x.value ->> 'channel') || ':' || (x.value ->> 'sender'), 0), x.ordinality
    LOOP
        RETURN QUERY
        SELECT m.item, s.outcome, s.conversation_id, s.conversation_status
          FROM store_inbound_message(
                   m.message ->> 'channel', m.message ->> 'sender', m.message ->> 'sender_name',
                   (m.message ->> 'account_id')::uuid, m.message ->> 'provider_message_id',
                   m.message ->> 'content_type', m.message ->> 'text', m.message -> 'attachments',
                   m.message ->> 'reply_to', (m.message ->> 'sent_at')::timestamptz,
                   (m.message ->> 'received_at')::timestamptz) AS s;
    END LOOP;
END
$$;
