//! The report's cases (docs/cases.md): what still waits for a person when the report is
//! made, every open case oldest first with its age, and what was decided during the day,
//! with the decision, who and the note. Read by the reporter beside the day's facts
//! (`Db::list_cases`) and laid out here purely.

use super::figures::LocalTime;
use crate::store::CaseRow;
use crate::time::Millis;
use chrono_tz::Tz;
use serde::Serialize;

/// The cases a report lists: each list holds at most this many.
pub const SHOWN: usize = 1_000;

/// The cases of a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DayCases {
    /// Open when the report was made, oldest first.
    pub open: Vec<CaseLine>,
    /// Closed during the day (by a person or by themselves), newest first.
    pub closed: Vec<CaseLine>,
}

/// One case as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseLine {
    pub id: i64,
    pub kind: &'static str,
    pub token: String,
    pub transaction_id: Option<String>,
    /// LigdiCash's status of the payment.
    pub status: &'static str,
    pub opened_at: LocalTime,
    /// How long it has waited (open), or waited (closed), in seconds.
    pub age_seconds: i64,
    pub closed_at: Option<LocalTime>,
    /// `None` while open, or when it closed by itself.
    pub decision: Option<&'static str>,
    pub decided_by: Option<String>,
    pub note: Option<String>,
}

/// The report's cases from the open ones and those closed during the day, ages at `now`.
pub fn summarise(open: &[CaseRow], closed: &[CaseRow], now: Millis, tz: Tz) -> DayCases {
    let line = |c: &CaseRow| {
        let record = c.closing.as_ref();
        CaseLine {
            id: c.id,
            kind: c.kind.as_str(),
            token: c.token.clone(),
            transaction_id: c.transaction_id.clone(),
            status: c.status.as_str(),
            opened_at: LocalTime {
                at: c.opened_at,
                tz,
            },
            age_seconds: c.age_seconds(now),
            closed_at: c.closed_at.map(|at| LocalTime { at, tz }),
            decision: record.and_then(|r| r.decision).map(|d| d.as_str()),
            decided_by: record.map(|r| r.by.clone()),
            note: record.map(|r| r.note.clone()),
        }
    };
    DayCases {
        open: open.iter().map(line).collect(),
        closed: closed.iter().map(line).collect(),
    }
}
