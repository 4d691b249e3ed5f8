-- PostgreSQL's schema starts where SQLite's migrations 0001 to 0006 arrive, under the same version number, so that
-- every later migration has one number for both providers (Migrations/Sqlite/0007_* beside Migrations/PostgreSql/0007_*).
-- The types are the ones the slices' shared SQL reads and writes on SQLite: money is BIGINT minor units beside its
-- ISO 4217 currency; timestamps are ISO 8601 UTC text of one fixed width, compared and sorted as text in the "C"
-- collation (byte order, whatever the database's locale); ids are prefixed random strings. Card numbers and CVCs have
-- no column: they are never stored.

CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    status          TEXT NOT NULL CHECK (status IN ('created', 'pending', 'paid', 'partially_refunded', 'refunded')),
    currency        TEXT NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    amount_refunded BIGINT NOT NULL DEFAULT 0,
    customer        TEXT NULL,
    email           TEXT NULL,
    metadata        TEXT NULL,
    payment_id      TEXT NULL,
    created_at      TEXT COLLATE "C" NOT NULL,
    updated_at      TEXT COLLATE "C" NOT NULL,
    paid_at         TEXT COLLATE "C" NULL,
    CHECK (amount_refunded >= 0 AND amount_refunded <= amount)
);

CREATE TABLE order_items (
    order_id    TEXT NOT NULL REFERENCES orders (id),
    position    BIGINT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NULL,
    amount      BIGINT NOT NULL CHECK (amount >= 0),
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, position)
);

CREATE TABLE payment_intents (
    id            TEXT PRIMARY KEY,
    order_id      TEXT NOT NULL REFERENCES orders (id),
    client_secret TEXT NOT NULL,
    amount        BIGINT NOT NULL CHECK (amount > 0),
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('requires_payment_method', 'requires_action', 'succeeded', 'canceled')),
    payment_id    TEXT NULL,
    created_at    TEXT COLLATE "C" NOT NULL,
    updated_at    TEXT COLLATE "C" NOT NULL
);

-- At most one open intent per order: concurrent "create intent" calls converge on one.
CREATE UNIQUE INDEX ux_payment_intents_open_per_order
    ON payment_intents (order_id) WHERE status IN ('requires_payment_method', 'requires_action');

CREATE TABLE payments (
    id                     TEXT PRIMARY KEY,
    order_id               TEXT NULL REFERENCES orders (id),
    payment_intent_id      TEXT NULL REFERENCES payment_intents (id),
    amount                 BIGINT NOT NULL CHECK (amount > 0),
    currency               TEXT NOT NULL,
    status                 TEXT NOT NULL CHECK (status IN ('processing', 'succeeded', 'failed', 'requires_action', 'canceled')),
    source_token           TEXT NULL,
    payment_method         TEXT NULL,
    customer               TEXT NULL,
    card_brand             TEXT NULL,
    card_last4             TEXT NULL,
    card_exp_month         BIGINT NULL,
    card_exp_year          BIGINT NULL,
    card_name              TEXT NULL,
    card_address_country   TEXT NULL,
    card_address_post_code TEXT NULL,
    amount_refunded        BIGINT NOT NULL DEFAULT 0,
    description            TEXT NULL,
    metadata               TEXT NULL,
    failure_code           TEXT NULL,
    failure_message        TEXT NULL,
    decline_code           TEXT NULL,
    receipt_number         TEXT NULL,
    processor_reference    TEXT NULL,
    processor_key          TEXT NULL,
    created_at             TEXT COLLATE "C" NOT NULL,
    paid_at                TEXT COLLATE "C" NULL,
    -- The last line of defence against over-refunding, whatever the code above it does.
    CHECK (amount_refunded >= 0 AND amount_refunded <= amount)
);

-- The last line of defence against a double charge: one live payment per order (a charge under way counts).
CREATE UNIQUE INDEX ux_payments_one_live_per_order
    ON payments (order_id) WHERE status IN ('processing', 'succeeded', 'requires_action');
CREATE INDEX ix_payments_order ON payments (order_id);
CREATE UNIQUE INDEX ux_payments_processor_key ON payments (processor_key) WHERE processor_key IS NOT NULL;
CREATE INDEX ix_payments_processing ON payments (created_at) WHERE status = 'processing';

CREATE TABLE refunds (
    id                  TEXT PRIMARY KEY,
    payment_id          TEXT NOT NULL REFERENCES payments (id),
    order_id            TEXT NULL REFERENCES orders (id),
    amount              BIGINT NOT NULL CHECK (amount > 0),
    currency            TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('processing', 'succeeded', 'failed')),
    reason              TEXT NULL,
    metadata            TEXT NULL,
    processor_reference TEXT NULL,
    processor_key       TEXT NULL,
    created_at          TEXT COLLATE "C" NOT NULL
);

CREATE INDEX ix_refunds_payment ON refunds (payment_id);
CREATE INDEX ix_refunds_order ON refunds (order_id);
CREATE UNIQUE INDEX ux_refunds_processor_key ON refunds (processor_key) WHERE processor_key IS NOT NULL;
CREATE INDEX ix_refunds_processing ON refunds (created_at) WHERE status = 'processing';

-- Idempotency keys (contract "Idempotency"): one row per (API key, Idempotency-Key), holding the response to replay.
CREATE TABLE idempotency_keys (
    api_key_id      TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    status_code     BIGINT NULL,
    content_type    TEXT NULL,
    location        TEXT NULL,
    response_body   BYTEA NULL,
    created_at      TEXT COLLATE "C" NOT NULL,
    expires_at      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (api_key_id, idempotency_key)
);

CREATE INDEX ix_idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- Customers and their saved cards (seed 001). The processor keeps the card; we keep its vault token and display fields.
CREATE TABLE customers (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NULL,
    email                  TEXT NULL,
    default_payment_method TEXT NULL,
    created_at             TEXT COLLATE "C" NOT NULL
);

CREATE TABLE payment_methods (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    vault_token TEXT NOT NULL,
    brand       TEXT NOT NULL,
    last4       TEXT NOT NULL,
    exp_month   BIGINT NOT NULL,
    exp_year    BIGINT NOT NULL,
    name        TEXT NULL,
    created_at  TEXT COLLATE "C" NOT NULL
);

CREATE INDEX ix_payment_methods_customer ON payment_methods (customer_id);

-- Webhooks (contract "Webhooks"): a transactional outbox, written in the same transaction as the change.
CREATE TABLE events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- creation order, for ordered delivery and listing
    id           TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    subject      TEXT NOT NULL,                                    -- the order (or the payment without one) it is about
    payload      TEXT NOT NULL,                                    -- the exact body every endpoint receives
    status       TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    created_at   TEXT COLLATE "C" NOT NULL
);

CREATE INDEX ix_events_status ON events (status, seq);
CREATE INDEX ix_events_subject ON events (subject, seq);

CREATE TABLE event_deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events (id),
    endpoint        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    generation      BIGINT NOT NULL DEFAULT 1,
    attempt_count   BIGINT NOT NULL DEFAULT 0,
    rounds          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT COLLATE "C" NULL,
    retry_until     TEXT COLLATE "C" NOT NULL,
    delivered_at    TEXT COLLATE "C" NULL,
    seq             BIGINT NOT NULL DEFAULT 0,
    subject         TEXT NOT NULL DEFAULT '',
    UNIQUE (event_id, endpoint)
);

CREATE INDEX ix_event_deliveries_queue ON event_deliveries (endpoint, seq, next_attempt_at) WHERE status = 'pending';
CREATE INDEX ix_event_deliveries_subject ON event_deliveries (endpoint, subject, seq) WHERE status = 'pending';

CREATE TABLE event_attempts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     TEXT NOT NULL REFERENCES events (id),
    endpoint     TEXT NOT NULL,
    attempted_at TEXT COLLATE "C" NOT NULL,
    status_code  BIGINT NULL,
    error        TEXT NULL,
    duration_ms  BIGINT NOT NULL
);

CREATE INDEX ix_event_attempts_event ON event_attempts (event_id, id);
