-- Money is integer minor units beside its ISO 4217 currency; timestamps are ISO 8601 UTC text.
-- Ids are prefixed random strings. Card numbers and CVCs have no column: they are never stored.

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
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    paid_at         TEXT NULL,
    CHECK (amount_refunded >= 0 AND amount_refunded <= amount)
);

CREATE TABLE order_items (
    order_id    TEXT NOT NULL REFERENCES orders (id),
    position    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NULL,
    amount      BIGINT NOT NULL CHECK (amount >= 0),
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
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
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
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
    status                 TEXT NOT NULL CHECK (status IN ('succeeded', 'failed', 'requires_action', 'canceled')),
    source_token           TEXT NULL,
    payment_method         TEXT NULL,
    customer               TEXT NULL,
    card_brand             TEXT NULL,
    card_last4             TEXT NULL,
    card_exp_month         INTEGER NULL,
    card_exp_year          INTEGER NULL,
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
    created_at             TEXT NOT NULL,
    paid_at                TEXT NULL,
    -- The last line of defence against over-refunding, whatever the code above it does.
    CHECK (amount_refunded >= 0 AND amount_refunded <= amount)
);

-- The last line of defence against a double charge: one live payment per order.
CREATE UNIQUE INDEX ux_payments_one_live_per_order
    ON payments (order_id) WHERE status IN ('succeeded', 'requires_action');

CREATE INDEX ix_payments_order ON payments (order_id);

CREATE TABLE refunds (
    id                  TEXT PRIMARY KEY,
    payment_id          TEXT NOT NULL REFERENCES payments (id),
    order_id            TEXT NULL REFERENCES orders (id),
    amount              BIGINT NOT NULL CHECK (amount > 0),
    currency            TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('succeeded')),
    reason              TEXT NULL,
    metadata            TEXT NULL,
    processor_reference TEXT NULL,
    created_at          TEXT NOT NULL
);

CREATE INDEX ix_refunds_payment ON refunds (payment_id);
CREATE INDEX ix_refunds_order ON refunds (order_id);
