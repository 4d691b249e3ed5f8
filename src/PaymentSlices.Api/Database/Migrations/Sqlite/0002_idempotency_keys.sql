-- Idempotency keys (contract "Idempotency"): one row per (API key, Idempotency-Key), written in the same
-- transaction as the request's own writes, holding the response to replay byte for byte.
-- The fingerprint covers method, path and body with card numbers masked and CVCs left out.

CREATE TABLE idempotency_keys (
    api_key_id      TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    status_code     INTEGER NULL,
    content_type    TEXT NULL,
    location        TEXT NULL,
    response_body   BLOB NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    PRIMARY KEY (api_key_id, idempotency_key)
);

CREATE INDEX ix_idempotency_keys_expires_at ON idempotency_keys (expires_at);
