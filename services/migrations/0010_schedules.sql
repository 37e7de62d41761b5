-- Issue 6: business hours per account, the away and greeting messages, and when a conversation last got one.
CREATE TABLE account_schedules (
    account_external_id text PRIMARY KEY,
    schedule jsonb NOT NULL,             -- router/business_hours.py's shape
    greeting text,
    away_template text,
    min_interval_s integer NOT NULL DEFAULT 14400 CHECK (min_interval_s >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE conversations ADD COLUMN last_automated_at timestamptz;
