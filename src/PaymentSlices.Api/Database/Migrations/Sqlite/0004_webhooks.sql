-- Webhooks (contract "Webhooks"): a transactional outbox. A slice writes its events here in the same
-- transaction as the change that causes them, with one delivery row per endpoint that subscribes, so
-- an event exists exactly when its change committed. The dispatcher delivers them afterwards.

CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT, -- creation order, for ordered delivery and listing
    id           TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    subject      TEXT NOT NULL,                     -- the order (or the payment without one) it is about
    payload      TEXT NOT NULL,                     -- the exact body every endpoint receives
    status       TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    created_at   TEXT NOT NULL
);

CREATE INDEX ix_events_status ON events (status, seq);
CREATE INDEX ix_events_subject ON events (subject, seq);

CREATE TABLE event_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL REFERENCES events (id),
    endpoint        TEXT NOT NULL,                  -- the configured URL; its secret stays in configuration
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    generation      INTEGER NOT NULL DEFAULT 1,     -- bumped by redelivery, so a late answer cannot undo it
    attempt_count   INTEGER NOT NULL DEFAULT 0,
    rounds          INTEGER NOT NULL DEFAULT 0,     -- scheduled rounds so far: the backoff's exponent
    next_attempt_at TEXT NULL,
    retry_until     TEXT NOT NULL,
    delivered_at    TEXT NULL,
    UNIQUE (event_id, endpoint)
);

CREATE INDEX ix_event_deliveries_due ON event_deliveries (status, next_attempt_at);

CREATE TABLE event_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL REFERENCES events (id),
    endpoint     TEXT NOT NULL,
    attempted_at TEXT NOT NULL,
    status_code  INTEGER NULL,                      -- null when no HTTP answer came (timeout, refused)
    error        TEXT NULL,
    duration_ms  INTEGER NOT NULL
);

CREATE INDEX ix_event_attempts_event ON event_attempts (event_id, id);
