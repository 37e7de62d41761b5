-- One round trip per assignment even when concurrent drains contend: the drain's candidates, in its
-- order, each with the agents who may take it (decided in Python, router/queueing.py). The first
-- candidate still queued and not held by another drain (SKIP LOCKED) goes to the first of its agents with
-- a slot. Measured under load: one call per candidate made ~10 calls per assignment, most finding their
-- conversation taken by a concurrent drain.
-- No row: every candidate was taken or held. A row without agent_id: that candidate's agents had no room
-- (the caller's view of the agents is stale).
--
-- A repeatable step (services/sql_functions.py): this file is the function's only definition.
CREATE FUNCTION assign_first_available(p_conversations uuid[], p_agents jsonb, p_widened boolean[])
RETURNS TABLE (conversation_id uuid, agent_id uuid, assigned_at timestamptz, received_at timestamptz,
               first_time boolean, widened boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    i integer;
    v_conversation record;
    v_agent uuid;
    v_at timestamptz;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_conversations, 1), 0) LOOP
        SELECT c.id, c.received_at, c.first_assigned_at INTO v_conversation FROM conversations c
         WHERE c.id = p_conversations[i] AND c.status = 'queued'
           FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        FOR v_agent IN SELECT x::uuid FROM jsonb_array_elements_text(p_agents -> (i - 1)) AS x LOOP
            PERFORM 1 FROM agents a WHERE a.id = v_agent FOR UPDATE SKIP LOCKED;
            CONTINUE WHEN NOT FOUND;
            UPDATE agents a SET pending = a.pending + 1, last_assigned_at = clock_timestamp()
             WHERE a.id = v_agent AND a.status = 'online' AND a.pending < a.max_pending
            RETURNING a.last_assigned_at INTO v_at;
            IF FOUND THEN
                UPDATE conversations c
                   SET status = 'assigned', assignee_id = v_agent, assigned_at = v_at,
                       first_assigned_at = coalesce(c.first_assigned_at, v_at),
                       widened_at = CASE WHEN p_widened[i] THEN coalesce(c.widened_at, v_at) ELSE c.widened_at END
                 WHERE c.id = v_conversation.id;
                RETURN QUERY SELECT v_conversation.id, v_agent, v_at, v_conversation.received_at,
                                    v_conversation.first_assigned_at IS NULL, p_widened[i];
                RETURN;
            END IF;
        END LOOP;
        RETURN QUERY SELECT v_conversation.id, NULL::uuid, NULL::timestamptz, v_conversation.received_at, false,
                            p_widened[i];
        RETURN;
    END LOOP;
END
$$;
