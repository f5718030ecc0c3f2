-- Answers (as SQLite's version 9): every confirm call keeps LigdiCash's answer as
-- received, for the evidence file; its first 8 KiB when longer, with a marker; NULL when
-- no answer came, and for calls logged before. A nullable column without a default: no
-- row is rewritten, and older nodes keep working (they leave it NULL).
ALTER TABLE confirm_attempts ADD COLUMN answer text;

INSERT INTO schema_migrations (version) VALUES (4);
