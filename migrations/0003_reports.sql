-- Schema version 2 -> 3: nightly report runs.
-- Reports (schema version 3): one row per local day whose nightly report was written, so
-- each day is reported exactly once and missed days are caught up after downtime.
CREATE TABLE IF NOT EXISTS report_runs (
    day          TEXT    PRIMARY KEY,   -- YYYY-MM-DD in the configured time zone
    generated_at INTEGER NOT NULL,
    files        TEXT    NOT NULL       -- JSON array of the paths written
);
