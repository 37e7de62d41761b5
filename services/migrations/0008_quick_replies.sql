-- Issue 6: quick replies, shortcuts like /price that agents type and customers receive as a prepared text
-- (router/quick_replies.py). One namespace for the whole deployment: no account column.

-- The shape is checked again here so a row written by hand cannot hold a name no agent could type. Names
-- must also differ across quick replies, synonyms included, and not be confusable: that rule is Python's,
-- applied under an advisory lock when one is created (router/store/quick_replies.py); the unique
-- shortcut is the backstop the database can hold by itself.
-- use_count and last_used_at: how often agents use each, so unused ones can be found and pruned.
CREATE TABLE quick_replies (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    shortcut text NOT NULL UNIQUE CHECK (shortcut ~ '^/[a-z0-9_]{2,16}$'),
    synonyms text[] NOT NULL DEFAULT '{}'
        CHECK (array_position(synonyms, NULL) IS NULL AND shortcut <> ALL (synonyms)),
    text text NOT NULL CHECK (text <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    use_count integer NOT NULL DEFAULT 0,
    last_used_at timestamptz
);
