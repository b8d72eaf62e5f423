-- Journal schema v1 (SQLite). Times are microseconds since the Unix epoch,
-- UTC, 0 meaning "not set". Money is in minor units.

CREATE TABLE payments (
    id                     TEXT    NOT NULL PRIMARY KEY,
    client                 TEXT    NOT NULL,
    request_id             TEXT    NOT NULL,
    type                   TEXT    NOT NULL,
    status                 TEXT    NOT NULL,
    amount                 INTEGER NOT NULL,
    currency               TEXT    NOT NULL,
    merchant_id            TEXT    NOT NULL,
    terminal_id            TEXT    NOT NULL,
    mcc                    TEXT    NOT NULL,
    merchant_name          TEXT    NOT NULL,
    merchant_city          TEXT    NOT NULL,
    merchant_country       TEXT    NOT NULL,
    sub_merchant_id        TEXT    NOT NULL,
    order_id               TEXT    NOT NULL,
    description            TEXT    NOT NULL,
    masked_pan             TEXT    NOT NULL,
    brand                  TEXT    NOT NULL,
    pan_hash               TEXT    NOT NULL,
    pan_key_id             INTEGER NOT NULL,
    pan_ciphertext         BLOB    NOT NULL,
    card_source            TEXT    NOT NULL,
    wallet                 TEXT    NOT NULL,
    bank                   TEXT    NOT NULL,
    route                  TEXT    NOT NULL,
    acquirer_id            TEXT    NOT NULL,
    stan                   TEXT    NOT NULL,
    rrn                    TEXT    NOT NULL,
    transmission_us        INTEGER NOT NULL,
    local_us               INTEGER NOT NULL,
    auth_code              TEXT    NOT NULL,
    response_code          TEXT    NOT NULL,
    bank_response_code     TEXT    NOT NULL,
    reason                 TEXT    NOT NULL,
    reason_code            INTEGER NOT NULL,
    stand_in               INTEGER NOT NULL,
    network_transaction_id TEXT    NOT NULL,
    captured_amount        INTEGER NOT NULL,
    voided_amount          INTEGER NOT NULL,
    refunded_amount        INTEGER NOT NULL,
    recon_state            TEXT    NOT NULL,
    created_us             INTEGER NOT NULL,
    updated_us             INTEGER NOT NULL,
    version                INTEGER NOT NULL,
    UNIQUE (client, request_id)
);
CREATE INDEX payments_pan_hash ON payments (pan_hash, created_us);
CREATE INDEX payments_bank_rrn ON payments (bank, rrn);
CREATE INDEX payments_created ON payments (created_us);

CREATE TABLE operations (
    id                 TEXT    NOT NULL PRIMARY KEY,
    payment_id         TEXT    NOT NULL REFERENCES payments (id),
    kind               TEXT    NOT NULL,
    request_id         TEXT    NOT NULL,
    ref_operation_id   TEXT    NOT NULL,
    bank               TEXT    NOT NULL,
    mti                TEXT    NOT NULL,
    stan               TEXT    NOT NULL,
    rrn                TEXT    NOT NULL,
    transmission_us    INTEGER NOT NULL,
    local_us           INTEGER NOT NULL,
    amount             INTEGER NOT NULL,
    currency           TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    auth_code          TEXT    NOT NULL,
    response_code      TEXT    NOT NULL,
    bank_response_code TEXT    NOT NULL,
    reason             TEXT    NOT NULL,
    attempts           INTEGER NOT NULL,
    next_attempt_us    INTEGER NOT NULL,
    last_error         TEXT    NOT NULL,
    latency_ms         INTEGER NOT NULL,
    created_us         INTEGER NOT NULL,
    updated_us         INTEGER NOT NULL,
    version            INTEGER NOT NULL
);
CREATE INDEX operations_payment ON operations (payment_id, created_us);
CREATE INDEX operations_status ON operations (status, created_us);
CREATE INDEX operations_bank_rrn ON operations (bank, rrn);

CREATE TABLE messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id   TEXT    NOT NULL,
    operation_id TEXT    NOT NULL,
    bank         TEXT    NOT NULL,
    direction    TEXT    NOT NULL,
    mti          TEXT    NOT NULL,
    stan         TEXT    NOT NULL,
    fields       TEXT    NOT NULL,
    sanitized    INTEGER NOT NULL,
    at_us        INTEGER NOT NULL
);
CREATE INDEX messages_payment ON messages (payment_id, id);

CREATE TABLE idempotency_keys (
    client      TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    body_hash   TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    http_status INTEGER NOT NULL,
    response    BLOB,
    payment_id  TEXT    NOT NULL,
    created_us  INTEGER NOT NULL,
    updated_us  INTEGER NOT NULL,
    PRIMARY KEY (client, request_id)
);
CREATE INDEX idempotency_state ON idempotency_keys (state, created_us);

CREATE TABLE sequences (
    name  TEXT    NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TABLE saf_queue (
    id              TEXT    NOT NULL PRIMARY KEY,
    bank            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    payment_id      TEXT    NOT NULL REFERENCES payments (id),
    operation_id    TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_us INTEGER NOT NULL,
    lease_owner     TEXT    NOT NULL,
    lease_until_us  INTEGER NOT NULL,
    last_error      TEXT    NOT NULL,
    created_us      INTEGER NOT NULL,
    updated_us      INTEGER NOT NULL
);
CREATE INDEX saf_due ON saf_queue (state, next_attempt_us);
CREATE INDEX saf_payment ON saf_queue (payment_id);
