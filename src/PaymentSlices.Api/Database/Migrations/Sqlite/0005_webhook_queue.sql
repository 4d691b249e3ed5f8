-- The dispatcher's queue, read without a scan: each delivery carries its event's creation order (seq) and subject,
-- and pending deliveries are indexed per endpoint in that order, so the first due ones are an index walk with a limit
-- (not a sort of every pending row), and "is an earlier event of this subject still pending here" is one index probe.
ALTER TABLE event_deliveries ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE event_deliveries ADD COLUMN subject TEXT NOT NULL DEFAULT '';

UPDATE event_deliveries SET
    seq = (SELECT e.seq FROM events e WHERE e.id = event_deliveries.event_id),
    subject = (SELECT e.subject FROM events e WHERE e.id = event_deliveries.event_id);

CREATE INDEX ix_event_deliveries_queue ON event_deliveries (endpoint, seq, next_attempt_at) WHERE status = 'pending';
CREATE INDEX ix_event_deliveries_subject ON event_deliveries (endpoint, subject, seq) WHERE status = 'pending';
DROP INDEX ix_event_deliveries_due;
