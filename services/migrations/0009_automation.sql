-- Issue 6, automation: intent rules per account, the automation kill switch, and the bot's state.
CREATE TABLE intent_rules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_external_id text,            -- NULL: every account
    intent text NOT NULL,
    keywords text[] NOT NULL DEFAULT '{}',
    patterns text[] NOT NULL DEFAULT '{}',
    reply text,                          -- the bot's template for this intent; NULL: no automatic answer
    position integer NOT NULL DEFAULT 0, -- order among one account's rules
    created_at timestamptz NOT NULL DEFAULT now()
);

-- 'global' or an account's external id; a missing row means enabled.
CREATE TABLE automation_switches (
    scope text PRIMARY KEY,
    enabled boolean NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE conversations ADD COLUMN intent text;
ALTER TABLE conversations ADD COLUMN bot_turns integer NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN handed_over_reason text;
ALTER TABLE messages ADD COLUMN intent text;
