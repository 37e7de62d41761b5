-- The queue reads the free agents on every drain; without an index that scans every agent ever created.
CREATE INDEX agents_online ON agents (id) WHERE status = 'online';
