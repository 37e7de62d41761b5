-- Switchboard's initial schema: agents, contacts, conversations, messages.
-- The cap "pending <= max_pending" is a table constraint, so no code path can exceed it.

CREATE TABLE accounts (
    id uuid PRIMARY KEY,
    channel text NOT NULL,
    external_id text NOT NULL,
    name text NOT NULL,
    UNIQUE (channel, external_id)
);

CREATE TABLE agents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    status text NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'away', 'offline')),
    max_pending integer NOT NULL DEFAULT 5 CHECK (max_pending >= 0),
    pending integer NOT NULL DEFAULT 0,
    skills text[] NOT NULL DEFAULT '{}',
    languages text[] NOT NULL DEFAULT '{}',
    last_assigned_at timestamptz,
    status_changed_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pending_within_cap CHECK (pending >= 0 AND pending <= max_pending)
);
-- The queue reads the free agents on every drain; without this it scans every agent ever created.
CREATE INDEX agents_online ON agents (id) WHERE status = 'online';

CREATE TABLE contacts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    display_name text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contact_identities (
    channel text NOT NULL,
    external_id text NOT NULL,
    contact_id uuid NOT NULL REFERENCES contacts (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, external_id)
);
CREATE INDEX contact_identities_contact ON contact_identities (contact_id);

CREATE TABLE conversations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    contact_id uuid NOT NULL REFERENCES contacts (id),
    account_id uuid NOT NULL REFERENCES accounts (id),
    channel text NOT NULL,
    status text NOT NULL CHECK (status IN ('bot', 'queued', 'assigned', 'resolved')),
    assignee_id uuid REFERENCES agents (id),
    priority integer NOT NULL DEFAULT 0,
    received_at timestamptz NOT NULL,   -- webhook time of the message that opened it
    waiting_since timestamptz NOT NULL, -- the queue's order: oldest first
    last_inbound_at timestamptz,
    first_assigned_at timestamptz,
    assigned_at timestamptz,
    resolved_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- A resolved conversation keeps the agent who had it; a queued or bot one has nobody.
    CONSTRAINT assignee_matches_status CHECK (
        CASE status WHEN 'assigned' THEN assignee_id IS NOT NULL
                    WHEN 'resolved' THEN true
                    ELSE assignee_id IS NULL END)
);
-- At most one open conversation per contact, whichever router opens it.
CREATE UNIQUE INDEX conversations_one_open_per_contact ON conversations (contact_id) WHERE status <> 'resolved';
CREATE INDEX conversations_queue ON conversations (priority DESC, waiting_since) WHERE status = 'queued';
CREATE INDEX conversations_assignee ON conversations (assignee_id) WHERE status = 'assigned';

CREATE TABLE messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid NOT NULL REFERENCES conversations (id),
    direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    channel text NOT NULL,
    account_id uuid NOT NULL REFERENCES accounts (id),
    external_id text NOT NULL,          -- the customer's id on the channel: sender or recipient
    provider_message_id text,
    author_agent_id uuid REFERENCES agents (id),
    content_type text NOT NULL,
    text text,
    attachments jsonb NOT NULL DEFAULT '[]',
    reply_to_provider_message_id text,
    sent_at timestamptz,                -- inbound: the provider's timestamp
    received_at timestamptz,            -- inbound: when ingest accepted the webhook
    created_at timestamptz NOT NULL DEFAULT now(),
    delivery_status text CHECK (delivery_status IN ('pending', 'sending', 'sent', 'delivered', 'read', 'failed')),
    delivery_error jsonb,
    delivery_updated_at timestamptz
);
-- A redelivered webhook or a replayed Kafka record finds its message here and changes nothing.
CREATE UNIQUE INDEX messages_provider_id ON messages (channel, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
CREATE INDEX messages_conversation ON messages (conversation_id, created_at);

-- Receipts are kept apart from messages: a "sent" receipt can arrive before the dispatcher has
-- recorded the provider's id for the message, and must not be lost.
CREATE TABLE delivery_receipts (
    channel text NOT NULL,
    provider_message_id text NOT NULL,
    status text NOT NULL,
    occurred_at timestamptz NOT NULL,
    errors jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (channel, provider_message_id, status)
);
