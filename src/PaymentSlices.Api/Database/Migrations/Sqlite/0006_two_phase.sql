-- Two-phase charges and refunds: a payment or refund is first recorded as 'processing' with the idempotency key it
-- was sent to the processor with (processor_key), committed before the processor is called, and settled afterwards
-- (by the request itself, by a retry with the same Idempotency-Key, or by the reconciler after a crash).
-- SQLite cannot change a CHECK constraint in place, so both tables are rebuilt (SQLite's documented procedure);
-- foreign keys are checked at commit, when the new tables stand under the old names.

PRAGMA defer_foreign_keys = ON;

CREATE TABLE payments_new (
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
    processor_key          TEXT NULL,
    created_at             TEXT NOT NULL,
    paid_at                TEXT NULL,
    CHECK (amount_refunded >= 0 AND amount_refunded <= amount)
);

INSERT INTO payments_new (id, order_id, payment_intent_id, amount, currency, status, source_token, payment_method, customer,
    card_brand, card_last4, card_exp_month, card_exp_year, card_name, card_address_country, card_address_post_code,
    amount_refunded, description, metadata, failure_code, failure_message, decline_code, receipt_number,
    processor_reference, created_at, paid_at)
SELECT id, order_id, payment_intent_id, amount, currency, status, source_token, payment_method, customer,
    card_brand, card_last4, card_exp_month, card_exp_year, card_name, card_address_country, card_address_post_code,
    amount_refunded, description, metadata, failure_code, failure_message, decline_code, receipt_number,
    processor_reference, created_at, paid_at
FROM payments;

CREATE TABLE refunds_new (
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
    created_at          TEXT NOT NULL
);

INSERT INTO refunds_new (id, payment_id, order_id, amount, currency, status, reason, metadata, processor_reference, created_at)
SELECT id, payment_id, order_id, amount, currency, status, reason, metadata, processor_reference, created_at FROM refunds;

DROP TABLE refunds;
DROP TABLE payments;
ALTER TABLE payments_new RENAME TO payments;
ALTER TABLE refunds_new RENAME TO refunds;

-- The last line of defence against a double charge: one live payment per order (a charge under way counts).
CREATE UNIQUE INDEX ux_payments_one_live_per_order
    ON payments (order_id) WHERE status IN ('processing', 'succeeded', 'requires_action');
CREATE INDEX ix_payments_order ON payments (order_id);
CREATE UNIQUE INDEX ux_payments_processor_key ON payments (processor_key) WHERE processor_key IS NOT NULL;
CREATE INDEX ix_payments_processing ON payments (created_at) WHERE status = 'processing';

CREATE INDEX ix_refunds_payment ON refunds (payment_id);
CREATE INDEX ix_refunds_order ON refunds (order_id);
CREATE UNIQUE INDEX ux_refunds_processor_key ON refunds (processor_key) WHERE processor_key IS NOT NULL;
CREATE INDEX ix_refunds_processing ON refunds (created_at) WHERE status = 'processing';
