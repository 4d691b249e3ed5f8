-- A delivery being sent is leased to the dispatcher sending it (leased_by, until leased_until), taken with a guarded
-- UPDATE before the first attempt: two dispatchers (two instances on one PostgreSQL) never send the same delivery at
-- once, and a dead instance's lease runs out, so that another sends it. The same on SQLite and PostgreSQL.
ALTER TABLE event_deliveries ADD COLUMN leased_by TEXT NULL;
ALTER TABLE event_deliveries ADD COLUMN leased_until TEXT NULL;
