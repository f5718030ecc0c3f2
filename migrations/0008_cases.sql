-- Cases (schema version 8): what needs a person, what a person decided about it, and the
-- evidence of a payment kept whole (see the end).
--   cases           one row per case: a payment that needs a person, of a `kind`, since a
--                   time (`since`: its final status, its overdue mark, the start of its
--                   pending window), with its status then (`payment_status`). Opened by the
--                   reconciler's case sweep; `closed_at` is set once, when a person decides
--                   or the payment no longer needs one. One open case per payment
--                   (cases_open), one case per payment, kind and start (cases_episode): a
--                   case a person closed never opens again by itself.
--   case_decisions  append-only: how each case closed, when, by whom (`decided_by`:
--                   cli:<user>, api:<token name>, or reconciler when it closed by itself)
--                   and why (`note`); `decision` is NULL when it closed by itself. Triggers
--                   refuse UPDATE and DELETE. LigdiCash's verdict in `payments` never changes.
--   case_sweep      how far the sweep has looked, so a restart goes on from there. Changes
--                   are looked at from the upgrade on: what needed a person before it opens
--                   no case, but payouts still overdue and invoices still pending too long do.
--   payments_requeued_pending  requeued pending payments, whose pending window restarts.
CREATE TABLE IF NOT EXISTS cases (
    id             INTEGER PRIMARY KEY,
    payment_id     INTEGER NOT NULL REFERENCES payments (id),
    kind           TEXT    NOT NULL
                   CHECK (kind = 'mismatch' OR kind = 'timeout' OR kind = 'invalid_token'
                          OR kind = 'overdue_payout' OR kind = 'contradicted'
                          OR kind = 'pending_too_long'),
    payment_status TEXT    NOT NULL,
    since          INTEGER NOT NULL,
    opened_at      INTEGER NOT NULL,
    closed_at      INTEGER
);

CREATE UNIQUE INDEX IF NOT EXISTS cases_episode ON cases (payment_id, kind, since);
CREATE UNIQUE INDEX IF NOT EXISTS cases_open ON cases (payment_id) WHERE closed_at IS NULL;
CREATE INDEX IF NOT EXISTS cases_closed ON cases (closed_at) WHERE closed_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS case_decisions (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES cases (id),
    at         INTEGER NOT NULL,
    decision   TEXT
               CHECK (decision IS NULL OR decision = 'accepted' OR decision = 'refunded'
                      OR decision = 'paid_elsewhere' OR decision = 'not_paid'
                      OR decision = 'written_off' OR decision = 'sent_again'),
    note       TEXT    NOT NULL,
    decided_by TEXT    NOT NULL
);

CREATE INDEX IF NOT EXISTS case_decisions_case ON case_decisions (case_id, id);
CREATE INDEX IF NOT EXISTS case_decisions_at ON case_decisions (at);

CREATE TRIGGER IF NOT EXISTS case_decisions_no_update BEFORE UPDATE ON case_decisions
BEGIN SELECT RAISE(ABORT, 'case_decisions is append-only'); END;
CREATE TRIGGER IF NOT EXISTS case_decisions_no_delete BEFORE DELETE ON case_decisions
BEGIN SELECT RAISE(ABORT, 'case_decisions is append-only'); END;

CREATE TABLE IF NOT EXISTS case_sweep (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    changes_to INTEGER NOT NULL,   -- payments changed and callbacks received until then
    overdue_to INTEGER NOT NULL,   -- payouts marked overdue until then
    pending_to INTEGER NOT NULL    -- pending windows started until then
);

INSERT OR IGNORE INTO case_sweep (id, changes_to, overdue_to, pending_to)
SELECT 1, CASE WHEN EXISTS (SELECT 1 FROM payments)
            THEN CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) ELSE 0 END, 0, 0;

CREATE INDEX IF NOT EXISTS payments_requeued_pending ON payments (requeued_at)
    WHERE status = 'pending' AND requeued_at IS NOT NULL;

-- Evidence (schema version 8): where each callback came from, and every delivery try.
--   callbacks.source   the address a callback came from (NULL before version 8).
--   delivery_attempts  one row per try of an event to a sink: when, and how it ended
--                      (delivered, retry or dead, with the error); kept as long as the
--                      attempt log (`attempt_retention`).
ALTER TABLE callbacks ADD COLUMN source TEXT;

CREATE TABLE IF NOT EXISTS delivery_attempts (
    event_seq INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    sink      TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    result    TEXT    NOT NULL CHECK (result = 'delivered' OR result = 'retry' OR result = 'dead'),
    error     TEXT
);

CREATE INDEX IF NOT EXISTS delivery_attempts_event ON delivery_attempts (event_seq, at);
CREATE INDEX IF NOT EXISTS delivery_attempts_at ON delivery_attempts (at);
