-- Callbacks (schema version 5): every LigdiCash callback received, raw, with the payment it
-- matched. Never trusted: a matched pending payment is only confirmed sooner. Kept as long
-- as the attempt log, as evidence.
CREATE TABLE IF NOT EXISTS callbacks (
    id           INTEGER PRIMARY KEY,
    received_at  INTEGER NOT NULL,
    content_type TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    payment_id   INTEGER REFERENCES payments (id) ON DELETE SET NULL,
    matched_by   TEXT,   -- transaction_id, external_id, request_id or token; NULL: unmatched
    said_status  TEXT    -- the status the callback claimed (evidence only)
);

CREATE INDEX IF NOT EXISTS callbacks_received ON callbacks (received_at);
CREATE INDEX IF NOT EXISTS callbacks_payment ON callbacks (payment_id, received_at);
