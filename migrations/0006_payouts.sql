-- Payouts (schema version 6): each payment has a kind; payouts can be marked overdue.
-- ADD COLUMN with a constant default rewrites no row: every existing row reads as
-- 'invoice', as every shop INSERT without a kind will. SQLite checks the CHECK against the
-- existing rows (a read, which they all pass).
ALTER TABLE payments ADD COLUMN kind TEXT NOT NULL DEFAULT 'invoice' CHECK (kind = 'invoice' OR kind = 'withdrawal' OR kind = 'payout');
ALTER TABLE payments ADD COLUMN overdue_at INTEGER;

CREATE INDEX IF NOT EXISTS payments_payouts_pending ON payments (overdue_at)
    WHERE status = 'pending' AND kind != 'invoice';

-- A view cannot be altered: it is made again with the new columns.
DROP VIEW IF EXISTS payments_view;
CREATE VIEW IF NOT EXISTS payments_view AS
SELECT id, token, kind, transaction_id, expected_amount, status, status_reason, attempts,
       amount, operator_id, operator_name, customer, request_id, external_id, oreference,
       provider_date, last_error,
       strftime('%Y-%m-%dT%H:%M:%fZ', created_at / 1000.0, 'unixepoch') AS created_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', updated_at / 1000.0, 'unixepoch') AS updated_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', resolved_at / 1000.0, 'unixepoch') AS resolved_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', next_poll_at / 1000.0, 'unixepoch') AS next_poll_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', overdue_at / 1000.0, 'unixepoch') AS overdue_at
FROM payments;
