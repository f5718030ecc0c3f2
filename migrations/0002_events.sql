-- Schema version 1 -> 2: the events outbox.

-- Events (schema version 2): the transactional outbox. One row per final transition,
-- inserted in the same transaction as the status change, so an event exists exactly when
-- its transition does. `id` is the webhook-id receivers deduplicate on.
CREATE TABLE IF NOT EXISTS events (
    seq             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    type            TEXT    NOT NULL,
    payment_token   TEXT,
    -- The exact JSON body every sink receives.
    payload         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    -- pending until every sink has it; dead when a sink gave up (see event_deliveries).
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error      TEXT,
    delivered_at    INTEGER
);

CREATE INDEX IF NOT EXISTS events_state ON events (state, seq);
CREATE INDEX IF NOT EXISTS events_payment ON events (payment_token, seq);

-- One row per event and sink (a webhook URL, the JSON-lines file, the exec command).
CREATE TABLE IF NOT EXISTS event_deliveries (
    event_seq       INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    sink            TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    delivered_at    INTEGER,
    PRIMARY KEY (event_seq, sink)
);

CREATE INDEX IF NOT EXISTS event_deliveries_due ON event_deliveries (next_attempt_at)
    WHERE state = 'pending';
