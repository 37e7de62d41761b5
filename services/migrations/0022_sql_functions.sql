-- Issue 11: each PL/pgSQL function is defined by one file of services/sql/, applied after the migrations
-- whenever its text changed (services/sql_functions.py). This table keeps the checksum of each file applied.
CREATE TABLE sql_functions (
    name text PRIMARY KEY,               -- the function's name: its file's stem
    checksum text NOT NULL,              -- sha256 of the file's text as applied
    applied_at timestamptz NOT NULL DEFAULT now()
);
