-- Store a customer's message once, in their contact's open conversation, opening one if there is none.
-- Returns the outcome ('stored' or 'duplicate'), the conversation and its status.
--
-- p_phone: the sender's number in E.164 when the channel is a phone number (WhatsApp, SMS): an identity
-- ('phone', E.164) joins every channel that writes from that number into one contact. The message is written
-- once: its channel data (LINE's reply token, Telegram's chat id, an email's subject) and its intent (classified
-- by the router before storing) go into the INSERT.
--
-- A repeatable step (services/sql_functions.py): this file is the function's only definition, applied on start
-- whenever its text changed, replacing every version of the name.
CREATE FUNCTION store_inbound_message(
    p_channel text, p_sender text, p_sender_name text, p_account_id uuid, p_provider_message_id text,
    p_content_type text, p_text text, p_attachments jsonb, p_reply_to text,
    p_sent_at timestamptz, p_received_at timestamptz,
    p_phone text, p_language text, p_required_skill text, p_channel_data jsonb, p_intent text)
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
                          language, channel_data, intent)
    VALUES (v_conversation, 'inbound', p_channel, p_account_id, p_sender, p_provider_message_id,
            p_content_type, p_text, p_attachments, p_reply_to, p_sent_at, p_received_at, p_language,
            coalesce(nullif(p_channel_data, 'null'::jsonb), '{}'::jsonb), p_intent);
    RETURN QUERY SELECT 'stored'::text, v_conversation, v_status;
END
$$;
