-- Issue 5, the routing engine: one contact across channels, priority, skills and language.

-- Contacts carry attributes (from the admin API or a CRM: monthly_spend, tags...) that decide priority,
-- and a contact merged into another points at it.
ALTER TABLE contacts ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE contacts ADD COLUMN merged_into uuid REFERENCES contacts (id);

-- What routing needs to know about a conversation: the skill it requires (its account's inbox), the
-- language it is written in, and when it was widened to any agent because no matching one had room.
ALTER TABLE conversations ADD COLUMN required_skill text;
ALTER TABLE conversations ADD COLUMN language text;
ALTER TABLE conversations ADD COLUMN widened_at timestamptz;
ALTER TABLE messages ADD COLUMN language text;
CREATE INDEX conversations_queued ON conversations (waiting_since) WHERE status = 'queued';
CREATE INDEX conversations_contact_created ON conversations (contact_id, created_at);

-- Store a customer's message once, in their contact's open conversation, opening one if there is none.
-- p_phone: the sender's number in E.164 when the channel is a phone number (WhatsApp, SMS): an identity
-- ('phone', E.164) joins every channel that writes from that number into one contact.
CREATE FUNCTION store_inbound_message(
    p_channel text, p_sender text, p_sender_name text, p_account_id uuid, p_provider_message_id text,
    p_content_type text, p_text text, p_attachments jsonb, p_reply_to text,
    p_sent_at timestamptz, p_received_at timestamptz,
    p_phone text, p_language text, p_required_skill text)
RETURNS TABLE (outcome text, conversation_id uuid, conversation_status text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_contact uuid;
    v_conversation uuid;
    v_status text;
BEGIN
    -- Serialise work on one sender across routers: a burst from one customer opens one conversation. A
    -- phone number is the lock for every channel that writes from it, so WhatsApp and SMS cannot both
    -- create the contact.
    PERFORM pg_advisory_xact_lock(hashtextextended(coalesce('phone:' || p_phone, p_channel || ':' || p_sender), 0));
    IF EXISTS (SELECT 1 FROM messages m
                WHERE m.channel = p_channel AND m.provider_message_id = p_provider_message_id) THEN
        RETURN QUERY SELECT 'duplicate'::text, NULL::uuid, NULL::text;
        RETURN;
    END IF;
    SELECT i.contact_id INTO v_contact FROM contact_identities i
     WHERE i.channel = p_channel AND i.external_id = p_sender;
    IF v_contact IS NULL AND p_phone IS NOT NULL THEN
        SELECT i.contact_id INTO v_contact FROM contact_identities i
         WHERE i.channel = 'phone' AND i.external_id = p_phone;
    END IF;
    IF v_contact IS NULL THEN
        INSERT INTO contacts (display_name) VALUES (p_sender_name) RETURNING id INTO v_contact;
    END IF;
    -- A contact merged into another is followed to the one that remains.
    SELECT coalesce(c.merged_into, c.id) INTO v_contact FROM contacts c WHERE c.id = v_contact;
    INSERT INTO contact_identities (channel, external_id, contact_id) VALUES (p_channel, p_sender, v_contact)
        ON CONFLICT DO NOTHING;
    IF p_phone IS NOT NULL THEN
        INSERT INTO contact_identities (channel, external_id, contact_id) VALUES ('phone', p_phone, v_contact)
            ON CONFLICT DO NOTHING;
    END IF;
    SELECT c.id, c.status INTO v_conversation, v_status FROM conversations c
     WHERE c.contact_id = v_contact AND c.status <> 'resolved';
    IF v_conversation IS NULL THEN
        -- Another channel of the same contact (its own sender lock) may open one at the same moment: the
        -- one-open-per-contact index lets one win, and the other joins it.
        INSERT INTO conversations (contact_id, account_id, channel, status, received_at, waiting_since,
                                   last_inbound_at, required_skill, language)
        VALUES (v_contact, p_account_id, p_channel, 'queued', p_received_at, p_received_at, p_received_at,
                p_required_skill, p_language)
        ON CONFLICT (contact_id) WHERE status <> 'resolved' DO NOTHING
        RETURNING id, status INTO v_conversation, v_status;
        IF v_conversation IS NULL THEN
            SELECT c.id, c.status INTO v_conversation, v_status FROM conversations c
             WHERE c.contact_id = v_contact AND c.status <> 'resolved';
        END IF;
    ELSE
        UPDATE conversations c SET last_inbound_at = greatest(c.last_inbound_at, p_received_at),
                                   language = coalesce(c.language, p_language)
         WHERE c.id = v_conversation;
    END IF;
    INSERT INTO messages (conversation_id, direction, channel, account_id, external_id, provider_message_id,
                          content_type, text, attachments, reply_to_provider_message_id, sent_at, received_at,
                          language)
    VALUES (v_conversation, 'inbound', p_channel, p_account_id, p_sender, p_provider_message_id,
            p_content_type, p_text, p_attachments, p_reply_to, p_sent_at, p_received_at, p_language);
    RETURN QUERY SELECT 'stored'::text, v_conversation, v_status;
END
$$;

CREATE OR REPLACE FUNCTION store_inbound_messages(p_messages jsonb)
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
                   m.message ->> 'phone', m.message ->> 'language', m.message ->> 'required_skill')
        LOOP
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

-- Give one queued conversation to the first of `p_agents` who still has a slot: the decision of which
-- conversation and which agents (priority, ageing, skills, language, widening) is made in Python
-- (router/queueing.py) and applied here. The conversation is skipped if another drain holds it (SKIP
-- LOCKED) or it is no longer queued; an agent another drain is filling is skipped, not waited on.
-- No row: the conversation was gone. A row without agent_id: none of the agents had room.
CREATE FUNCTION assign_conversation(p_conversation uuid, p_agents uuid[], p_widened boolean)
RETURNS TABLE (conversation_id uuid, agent_id uuid, assigned_at timestamptz, received_at timestamptz,
               first_time boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_conversation record;
    v_agent uuid;
    v_at timestamptz;
BEGIN
    SELECT c.id, c.received_at, c.first_assigned_at INTO v_conversation FROM conversations c
     WHERE c.id = p_conversation AND c.status = 'queued'
       FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    FOREACH v_agent IN ARRAY p_agents LOOP
        PERFORM 1 FROM agents a WHERE a.id = v_agent FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        UPDATE agents a SET pending = a.pending + 1, last_assigned_at = clock_timestamp()
         WHERE a.id = v_agent AND a.status = 'online' AND a.pending < a.max_pending
        RETURNING a.last_assigned_at INTO v_at;
        IF FOUND THEN
            UPDATE conversations c
               SET status = 'assigned', assignee_id = v_agent, assigned_at = v_at,
                   first_assigned_at = coalesce(c.first_assigned_at, v_at),
                   widened_at = CASE WHEN p_widened THEN coalesce(c.widened_at, v_at) ELSE c.widened_at END
             WHERE c.id = v_conversation.id;
            RETURN QUERY SELECT v_conversation.id, v_agent, v_at, v_conversation.received_at,
                                v_conversation.first_assigned_at IS NULL;
            RETURN;
        END IF;
    END LOOP;
    RETURN QUERY SELECT v_conversation.id, NULL::uuid, NULL::timestamptz, v_conversation.received_at, false;
END
$$;
