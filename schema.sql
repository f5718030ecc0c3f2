-- ligdicash-reconciler database schema, version 9.
--
-- This file is a public contract: the shop writes pending rows into `payments` and reads
-- final statuses back. The reconciler applies it (and later migrations) at start; a shop
-- may also create the database itself with `sqlite3 reconciler.db < schema.sql`.
--
-- Times are INTEGER milliseconds since the Unix epoch (UTC). The view `payments_view`
-- shows them as RFC 3339 text. The defaults use julianday() rather than unixepoch() so
-- that any SQLite 3 library (an old PHP or Python one included) can insert rows.
--
-- The only thing a shop has to give is the creation token:
--   INSERT INTO payments (token, transaction_id, expected_amount) VALUES (?, ?, ?);
-- A payout (money out) also gives its kind, 'withdrawal' (to a customer's LigdiCash wallet)
-- or 'payout' (a straight payout to a mobile-money number):
--   INSERT INTO payments (token, transaction_id, expected_amount, kind) VALUES (?, ?, ?, 'payout');
--
-- CHECK constraints list allowed values as OR chains, not IN (...): SQLite evaluates an IN
-- list of three or more values through a temporary B-tree on every write (version 4).

PRAGMA user_version = 9;

-- Payouts (schema version 6), the last two columns of `payments`, added by ALTER TABLE so an
-- upgrade rewrites no row:
--   kind        'invoice' (the default: every row without it, old or new, is money in),
--               'withdrawal' or 'payout' (money out, confirmed at their own endpoints,
--               never given up as timeout);
--   overdue_at  when a payout still pending passed [payouts] overdue_after and its one
--               payout.overdue event was emitted; NULL otherwise.
-- Contradictions (schema version 7), the last column, added the same way:
--   recheck_at  when a payment with a final status is confirmed once more because a
--               LigdiCash callback contradicted it (said completed of a notcompleted,
--               timeout or invalid_token payment); NULL otherwise. The status changes only
--               if LigdiCash's confirm now says otherwise (a late completion).

CREATE TABLE IF NOT EXISTS payments (
    id               INTEGER PRIMARY KEY,
    -- The token returned by LigdiCash's create endpoint (never the callback's token).
    token            TEXT    NOT NULL UNIQUE CHECK (length(token) BETWEEN 1 AND 2048),
    -- The shop's own reference, sent in custom_data.transaction_id or invoice.external_id.
    transaction_id   TEXT,
    -- The amount the shop asked for, in XOF. NULL skips the amount check.
    expected_amount  INTEGER CHECK (expected_amount IS NULL OR expected_amount > 0),
    status           TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status = 'pending' OR status = 'completed' OR status = 'notcompleted'
                            OR status = 'timeout' OR status = 'mismatch' OR status = 'invalid_token'),
    -- Why the status is what it is (mismatch details, timeout age, ...).
    status_reason    TEXT,
    -- Confirm calls that reached a verdict or failed transiently (auth failures excluded).
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- Consecutive "invoice not found" (Code02) answers; 3 make the token invalid.
    not_found_streak INTEGER NOT NULL DEFAULT 0,
    -- When to confirm next. NULL: created_at + first_delay (rows the shop inserted).
    next_poll_at     INTEGER,
    last_confirm_at  INTEGER,
    created_at       INTEGER NOT NULL
                     DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    updated_at       INTEGER NOT NULL
                     DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    -- Set by `requeue`: the give_up_after window restarts from here.
    requeued_at      INTEGER,
    resolved_at      INTEGER,
    last_error       TEXT,
    -- What the last confirm said.
    provider_status  TEXT,
    amount           INTEGER,
    operator_id      TEXT,
    operator_name    TEXT,
    customer         TEXT,
    request_id       TEXT,
    external_id      TEXT,
    confirmed_transaction_id TEXT,
    oreference       TEXT,
    provider_date    TEXT,
    raw_response     TEXT,
    kind TEXT NOT NULL DEFAULT 'invoice' CHECK (kind = 'invoice' OR kind = 'withdrawal' OR kind = 'payout'),
    overdue_at INTEGER,
    recheck_at INTEGER
);

-- The scheduler's due query: only pending rows are indexed, so resolved history costs nothing.
CREATE INDEX IF NOT EXISTS payments_due ON payments (next_poll_at) WHERE status = 'pending';
-- Rows the shop inserted without a schedule.
CREATE INDEX IF NOT EXISTS payments_unscheduled ON payments (created_at)
    WHERE status = 'pending' AND next_poll_at IS NULL;
-- The oldest pending payment, for /metrics (version 4).
CREATE INDEX IF NOT EXISTS payments_pending_age ON payments (created_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS payments_status ON payments (status, updated_at);
CREATE INDEX IF NOT EXISTS payments_transaction_id ON payments (transaction_id);
-- Pending payouts, and the overdue ones among them, for /metrics (version 6).
CREATE INDEX IF NOT EXISTS payments_payouts_pending ON payments (overdue_at)
    WHERE status = 'pending' AND kind != 'invoice';
-- Final payments to confirm once more (version 7).
CREATE INDEX IF NOT EXISTS payments_recheck ON payments (recheck_at) WHERE recheck_at IS NOT NULL;

-- One row per confirm call. `answer` (version 9, added last by ALTER TABLE): the response
-- body as received (its first 8 KiB when longer, with a marker), for the evidence file;
-- NULL when no answer came, and for calls logged before.
CREATE TABLE IF NOT EXISTS confirm_attempts (
    id              INTEGER PRIMARY KEY,
    payment_id      INTEGER NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
    at              INTEGER NOT NULL,
    latency_ms      INTEGER NOT NULL,
    http_status     INTEGER,
    response_code   TEXT,
    provider_status TEXT,
    -- completed, notcompleted, pending, unknown_status, auth_failed, not_found, api_error,
    -- rate_limited, http_5xx, http_4xx, timeout, connect, transport, malformed.
    outcome         TEXT    NOT NULL,
    error           TEXT
, answer TEXT);

CREATE INDEX IF NOT EXISTS confirm_attempts_payment ON confirm_attempts (payment_id, at);
CREATE INDEX IF NOT EXISTS confirm_attempts_at ON confirm_attempts (at);

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
                    CHECK (state = 'pending' OR state = 'delivered' OR state = 'dead'),
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
                    CHECK (state = 'pending' OR state = 'delivered' OR state = 'dead'),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    delivered_at    INTEGER,
    PRIMARY KEY (event_seq, sink)
);

CREATE INDEX IF NOT EXISTS event_deliveries_due ON event_deliveries (next_attempt_at)
    WHERE state = 'pending';

-- Every try of an event to a sink (version 8): when, and how it ended; kept as long as the
-- attempt log (`attempt_retention`), as evidence.
CREATE TABLE IF NOT EXISTS delivery_attempts (
    event_seq INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    sink      TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    result    TEXT    NOT NULL CHECK (result = 'delivered' OR result = 'retry' OR result = 'dead'),
    error     TEXT
);

CREATE INDEX IF NOT EXISTS delivery_attempts_event ON delivery_attempts (event_seq, at);
CREATE INDEX IF NOT EXISTS delivery_attempts_at ON delivery_attempts (at);

-- Reports (schema version 3): one row per local day whose nightly report was written, so
-- each day is reported exactly once and missed days are caught up after downtime.
CREATE TABLE IF NOT EXISTS report_runs (
    day          TEXT    PRIMARY KEY,   -- YYYY-MM-DD in the configured time zone
    generated_at INTEGER NOT NULL,
    files        TEXT    NOT NULL       -- JSON array of the paths written
);

-- Callbacks (schema version 5): every LigdiCash callback received, raw, with the payment it
-- matched. Never trusted: a matched pending payment is only confirmed sooner. Kept as long
-- as the attempt log, as evidence. `source` (version 8, added last by ALTER TABLE): the
-- address it came from; NULL for callbacks received before.
CREATE TABLE IF NOT EXISTS callbacks (
    id           INTEGER PRIMARY KEY,
    received_at  INTEGER NOT NULL,
    content_type TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    payment_id   INTEGER REFERENCES payments (id) ON DELETE SET NULL,
    matched_by   TEXT,   -- transaction_id, external_id, request_id or token; NULL: unmatched
    said_status  TEXT    -- the status the callback claimed (evidence only)
, source TEXT);

CREATE INDEX IF NOT EXISTS callbacks_received ON callbacks (received_at);
CREATE INDEX IF NOT EXISTS callbacks_payment ON callbacks (payment_id, received_at);

-- Every callback counted by quarter hour (version 7), kept raw or not: per payment only the
-- first and the last few are kept, and of those matching no payment a sample.
CREATE TABLE IF NOT EXISTS callback_tally (
    bucket    INTEGER PRIMARY KEY,          -- received_at / 900000: quarter hours since 1970
    unmatched INTEGER NOT NULL DEFAULT 0,   -- callbacks that named no payment
    not_kept  INTEGER NOT NULL DEFAULT 0    -- callbacks that named one, not kept raw
);

-- Cases (schema version 8): what needs a person, and what a person decided about it
-- (docs/cases.md). `cases` has one row per case: a payment that needs a person, of a kind,
-- since a time (its final status, its overdue mark, the start of its pending window), with
-- its status then; `closed_at` is set once, when a person decides or the payment no longer
-- needs one. One open case per payment; one case per payment, kind and start, so a case a
-- person closed never opens again by itself. `case_decisions` is append-only (triggers
-- refuse UPDATE and DELETE): how each case closed, when, by whom (cli:<user>, api:<token>,
-- or reconciler when it closed by itself) and why; LigdiCash's verdict in `payments` never
-- changes. `case_sweep` holds how far the reconciler's case sweep has looked.
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
VALUES (1, 0, 0, 0);

CREATE INDEX IF NOT EXISTS payments_requeued_pending ON payments (requeued_at)
    WHERE status = 'pending' AND requeued_at IS NOT NULL;

-- Human-readable times for people and shop code reading statuses.
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
