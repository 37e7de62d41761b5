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
