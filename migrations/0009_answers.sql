-- Answers (schema version 9): every confirm call keeps LigdiCash's answer as received, for
-- the evidence file (before, only a payment's last answer was kept, in
-- `payments.raw_response`).
--   confirm_attempts.answer  the response body of the call (nothing secret: the API key
--                            and token are request headers), its first 8 KiB when longer,
--                            with a marker; NULL when no answer came, and for calls logged
--                            before. A nullable column added by ALTER TABLE: no row is
--                            rewritten, instant at any size.
ALTER TABLE confirm_attempts ADD COLUMN answer TEXT;
