-- Store a partition's batch of inbound messages in one round trip (issue 3: at 500 msg/s the router's
-- per-message round trips were its bottleneck), each by store_inbound_message.
--
-- A repeatable step (services/sql_functions.py): this file is the function's only definition.
CREATE FUNCTION store_inbound_messages(p_messages jsonb)
RETURNS TABLE (item integer, outcome text, conversation_id uuid, conversation_status text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    m record;
    s record;
BEGIN
    -- In the order of the sender locks taken (phone first, as store_inbound_message locks), so two routers'
    -- batches cannot deadlock; one sender's messages keep their relative order.
    FOR m IN
        SELECT (x.ordinality - 1)::integer AS item, x.value AS message
          FROM jsonb_array_elements(p_messages) WITH ORDINALITY AS x
         ORDER BY hashtextextended(coalesce('phone:' || (x.value ->> 'phone'),
                                            (x.value ->> 'channel') || ':' || (x.value ->> 'sender')), 0),
                  x.ordinality
    LOOP
        FOR s IN
            SELECT * FROM store_inbound_message(
                   m.message ->> 'channel', m.message ->> 'sender', m.message ->> 'sender_name',
                   (m.message ->> 'account_id')::uuid, m.message ->> 'provider_message_id',
                   m.message ->> 'content_type', m.message ->> 'text', m.message -> 'attachments',
                   m.message ->> 'reply_to', (m.message ->> 'sent_at')::timestamptz,
                   (m.message ->> 'received_at')::timestamptz,
                   m.message ->> 'phone', m.message ->> 'language', m.message ->> 'required_skill',
                   m.message -> 'channel_data', m.message ->> 'intent')
        LOOP
            item := m.item;
            outcome := s.outcome;
            conversation_id := s.conversation_id;
            conversation_status := s.conversation_status;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$$;
