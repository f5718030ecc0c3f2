-- Callbacks bounded and contradictions re-checked (schema version 7).
--   payments.recheck_at  when a payment with a final status is confirmed once more,
--                        because a LigdiCash callback contradicted that status (it said
--                        completed of a notcompleted, timeout or invalid_token payment);
--                        NULL otherwise. Added by ALTER TABLE: no row is rewritten.
--   callback_tally       every callback counted by quarter hour, kept raw or not: a flood
--                        of forged callbacks is counted, but only a bounded sample of it is
--                        kept in `callbacks`.
ALTER TABLE payments ADD COLUMN recheck_at INTEGER;

CREATE INDEX IF NOT EXISTS payments_recheck ON payments (recheck_at) WHERE recheck_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS callback_tally (
    bucket    INTEGER PRIMARY KEY,          -- received_at / 900000: quarter hours since 1970
    unmatched INTEGER NOT NULL DEFAULT 0,   -- callbacks that named no payment
    not_kept  INTEGER NOT NULL DEFAULT 0    -- callbacks that named one, not kept raw
);

-- A view cannot be altered: it is made again with the new column.
DROP VIEW IF EXISTS payments_view;
CREATE VIEW IF NOT EXISTS payments_view AS
SELECT id, token, kind, transaction_id, expected_amount, status, status_reason, attempts,
       amount, operator_id, operator_name, customer, request_id, external_id, oreference,
       provider_date, last_error,
       strftime('%Y-%m-%dT%H:%M:%fZ', created_at / 1000.0, 'unixepoch') AS created_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', updated_at / 1000.0, 'unixepoch') AS updated_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', resolved_at / 1000.0, 'unixepoch') AS resolved_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', next_poll_at / 1000.0, 'unixepoch') AS next_poll_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', overdue_at / 1000.0, 'unixepoch') AS overdue_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', recheck_at / 1000.0, 'unixepoch') AS recheck_at
FROM payments;
