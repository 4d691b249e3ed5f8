-- A claimed Idempotency-Key is leased to the instance running its request (locked_by, until locked_until), so that a
-- repeat arriving at any instance while it runs is 409, and a key whose request ended without an answer to keep (the
-- processor did not answer, the instance died between the phases of a charge) can be continued once the lease is
-- released or has run out. The same on SQLite and PostgreSQL.
ALTER TABLE idempotency_keys ADD COLUMN locked_by TEXT NULL;
ALTER TABLE idempotency_keys ADD COLUMN locked_until TEXT COLLATE "C" NULL;
