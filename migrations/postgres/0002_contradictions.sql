-- Callbacks bounded and contradictions re-checked (schema version 2; SQLite's version 7):
--   payments.recheck_at  when a payment with a final status is confirmed once more,
--                        because a LigdiCash callback contradicted that status; NULL
--                        otherwise. A nullable column: older nodes keep working.
--   callback_tally       every callback counted by quarter hour, kept raw or not.
ALTER TABLE payments ADD COLUMN recheck_at bigint;

CREATE INDEX payments_recheck ON payments (recheck_at) WHERE recheck_at IS NOT NULL;

CREATE TABLE callback_tally (
    bucket    bigint PRIMARY KEY,           -- received_at / 900000: quarter hours since 1970
    unmatched bigint NOT NULL DEFAULT 0,    -- callbacks that named no payment
    not_kept  bigint NOT NULL DEFAULT 0     -- callbacks that named one, not kept raw
);

-- New columns go last: CREATE OR REPLACE VIEW may only add columns at the end.
CREATE OR REPLACE VIEW payments_view AS
SELECT id, token, kind, transaction_id, expected_amount, status, status_reason, attempts,
       amount, operator_id, operator_name, customer, request_id, external_id, oreference,
       provider_date, last_error,
       to_char(to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
       to_char(to_timestamp(updated_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at,
       to_char(to_timestamp(resolved_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS resolved_at,
       to_char(to_timestamp(next_poll_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS next_poll_at,
       to_char(to_timestamp(overdue_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS overdue_at,
       to_char(to_timestamp(recheck_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS recheck_at
FROM payments;

INSERT INTO schema_migrations (version) VALUES (2);
