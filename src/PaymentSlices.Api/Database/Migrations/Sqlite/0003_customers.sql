-- Customers and their saved cards (seed 001: pay by customer or saved card). The processor keeps the card;
-- we keep its vault token and the display fields. No number, no CVC.

CREATE TABLE customers (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NULL,
    email                  TEXT NULL,
    default_payment_method TEXT NULL,
    created_at             TEXT NOT NULL
);

CREATE TABLE payment_methods (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    vault_token TEXT NOT NULL,
    brand       TEXT NOT NULL,
    last4       TEXT NOT NULL,
    exp_month   INTEGER NOT NULL,
    exp_year    INTEGER NOT NULL,
    name        TEXT NULL,
    created_at  TEXT NOT NULL
);

CREATE INDEX ix_payment_methods_customer ON payment_methods (customer_id);
