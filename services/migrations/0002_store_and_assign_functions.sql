-- One round trip for the two hot paths of the router (issue 3: the per-message cost was in round trips).
-- The decisions stay in Python: these functions store, and apply a ranking they are given.

-- Store a customer's message once, in their open conversation, opening one if there is none.
-- Returns the outcome ('stored' or 'duplicate'), the conversation and its status.
CREATE FUNCTION store_inbound_message(
    p_channel text, p_sender text, p_sender_name text, p_account_id uuid, p_provider_message_id text,
    p_content_type text, p_text text, p_attachments jsonb, p_reply_to text,
    p_sent_at timestamptz, p_received_at timestamptz)
RETURNS TABLE (outcome text, conversation_id uuid, conversation_status text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_contact uuid;
    v_conversation uuid;
    v_status text;
BEGIN
    -- Serialise work on one sender across routers: a burst from one customer opens one conversation.
    PERFORM pg_advisory_xact_lock(hashtextextended(p_channel || ':' || p_sender, 0));
    IF EXISTS (SELECT 1 FROM messages m
                WHERE m.channel = p_channel AND m.provider_message_id = p_provider_message_id) THEN
        RETURN QUERY SELECT 'duplicate'::text, NULL::uuid, NULL::text;
        RETURN;
    END IF;
    SELECT i.contact_id INTO v_contact FROM contact_identities i
     WHERE i.channel = p_channel AND i.external_id = p_sender;
    IF v_contact IS NULL THEN
        INSERT INTO contacts (display_name) VALUES (p_sender_name) RETURNING id INTO v_contact;
        INSERT INTO contact_identities (channel, external_id, contact_id) VALUES (p_channel, p_sender, v_contact);
    END IF;
    SELECT c.id, c.status INTO v_conversation, v_status FROM conversations c
     WHERE c.contact_id = v_contact AND c.status <> 'resolved';
    IF v_conversation IS NULL THEN
        INSERT INTO conversations (contact_id, account_id, channel, status, received_at, waiting_since,
                                   last_inbound_at)
        VALUES (v_contact, p_account_id, p_channel, 'queued', p_received_at, p_received_at, p_received_at)
        RETURNING id, status INTO v_conversation, v_status;
    ELSE
        UPDATE conversations c SET last_inbound_at = greatest(c.last_inbound_at, p_received_at)
         WHERE c.id = v_conversation;
    END IF;
    INSERT INTO messages (conversation_id, direction, channel, account_id, external_id, provider_message_id,
                          content_type, text, attachments, reply_to_provider_message_id, sent_at, received_at)
    VALUES (v_conversation, 'inbound', p_channel, p_account_id, p_sender, p_provider_message_id,
            p_content_type, p_text, p_attachments, p_reply_to, p_sent_at, p_received_at);
    RETURN QUERY SELECT 'stored'::text, v_conversation, v_status;
END
$$;

-- Give the queue's first conversation (SKIP LOCKED: routers never wait on each other's) to the first agent
-- of `p_ranked_agents` who still has a slot. The slot is taken by an UPDATE that re-checks status and cap.
-- An agent another drain is filling is skipped, not waited on: every drain ranks agents alike, and waiting
-- made them all queue on the best agent's row lock (3.3 ms per slot UPDATE at 500 msg/s); that drain runs
-- the queue again after it commits, so skipping loses nothing.
-- No row: the queue is empty. A row without agent_id: a conversation waits but none of the agents had room.
CREATE FUNCTION assign_next_queued(p_ranked_agents uuid[])
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
     WHERE c.status = 'queued' ORDER BY c.priority DESC, c.waiting_since, c.id
     LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    FOREACH v_agent IN ARRAY p_ranked_agents LOOP
        PERFORM 1 FROM agents a WHERE a.id = v_agent FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        UPDATE agents a SET pending = a.pending + 1, last_assigned_at = clock_timestamp()
         WHERE a.id = v_agent AND a.status = 'online' AND a.pending < a.max_pending
        RETURNING a.last_assigned_at INTO v_at;
        IF FOUND THEN
            UPDATE conversations c
               SET status = 'assigned', assignee_id = v_agent, assigned_at = v_at,
                   first_assigned_at = coalesce(c.first_assigned_at, v_at)
             WHERE c.id = v_conversation.id;
            RETURN QUERY SELECT v_conversation.id, v_agent, v_at, v_conversation.received_at,
                                v_conversation.first_assigned_at IS NULL;
            RETURN;
        END IF;
    END LOOP;
    RETURN QUERY SELECT v_conversation.id, NULL::uuid, NULL::timestamptz, v_conversation.received_at, false;
END
$$;
