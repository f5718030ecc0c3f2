//! Cases on SQLite: what the case sweep reads (index-backed, never a scan of `payments`),
//! its writes with their events in one `BEGIN IMMEDIATE` transaction, a person's decision,
//! the listings and the gauges. Which case a payment needs is `payment::case`'s.

use super::events::EventInsert;
use super::mistyped::LenientRow;
use super::{Store, StoreError};
use crate::payment::case::need::Need;
use crate::store::model::*;
use crate::store::read::cases::{
    CASE_COLUMNS, CASE_FROM, CASE_STATUSES, candidate_columns, case_candidate, case_row,
};
use crate::time::Millis;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

/// The payments a sweep looks at, each through its own index (see `SweepWindow`), named
/// so that SQLite never falls back on another (without `ANALYZE` it may pick the status
/// index for a time range, or scan `payments` for the join: the `CROSS JOIN` keeps the
/// few ids outside).
pub fn candidates_sql() -> String {
    format!(
        "WITH ids(id) AS (\
         SELECT id FROM payments INDEXED BY payments_status \
         WHERE status IN {CASE_STATUSES} AND updated_at > ?1 \
         UNION SELECT payment_id FROM callbacks INDEXED BY callbacks_received \
         WHERE received_at > ?1 AND payment_id IS NOT NULL \
         UNION SELECT c.payment_id FROM cases c INDEXED BY cases_open WHERE c.closed_at IS NULL \
         AND (SELECT updated_at FROM payments WHERE id = c.payment_id) > ?1 \
         UNION SELECT id FROM payments INDEXED BY payments_payouts_pending \
         WHERE status = 'pending' AND kind != 'invoice' AND overdue_at > ?2 \
         UNION SELECT id FROM payments INDEXED BY payments_pending_age \
         WHERE status = 'pending' AND created_at > ?3 AND created_at <= ?4 \
         UNION SELECT id FROM payments INDEXED BY payments_requeued_pending \
         WHERE status = 'pending' AND requeued_at > ?3 AND requeued_at <= ?4) \
         SELECT {} FROM ids CROSS JOIN payments p ON p.id = ids.id \
         LEFT JOIN cases o ON o.payment_id = p.id AND o.closed_at IS NULL ORDER BY p.id",
        candidate_columns()
    )
}

impl Store {
    /// How far the case sweep has looked.
    pub fn case_marks(&self) -> Result<SweepMarks, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT changes_to, overdue_to, pending_to FROM case_sweep WHERE id = 1",
                [],
                |r| {
                    Ok(SweepMarks {
                        changes_to: r.get(0)?,
                        overdue_to: r.get(1)?,
                        pending_to: r.get(2)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// When the oldest pending payment's window started (created, or requeued), from the
    /// two partial indexes' first entries. A value of the wrong type the shop wrote
    /// (text sorts after numbers) counts as none.
    pub fn oldest_pending_start(&self) -> Result<Option<Millis>, StoreError> {
        let oldest: rusqlite::types::Value = self
            .conn
            .prepare_cached(
                "SELECT min(s) FROM (SELECT min(created_at) AS s FROM payments \
                 INDEXED BY payments_pending_age WHERE status = 'pending' UNION ALL \
                 SELECT min(requeued_at) FROM payments INDEXED BY payments_requeued_pending \
                 WHERE status = 'pending' AND requeued_at IS NOT NULL)",
            )?
            .query_row([], |r| r.get(0))?;
        Ok(match oldest {
            rusqlite::types::Value::Integer(at) => Some(at),
            _ => None,
        })
    }

    /// The payments the case sweep looks at in `window`, with their open case and every
    /// case they had.
    pub fn case_candidates(&self, w: SweepWindow) -> Result<Vec<CaseCandidate>, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut stmt = tx.prepare_cached(&candidates_sql())?;
        let params = params![
            w.changes_from,
            w.overdue_from,
            w.pending_from,
            w.pending_until
        ];
        let mut candidates: Vec<CaseCandidate> = stmt
            .query_map(params, |r| case_candidate(&mut LenientRow::new(r)))?
            .collect::<Result<_, _>>()?;
        drop(stmt);
        let mut had = tx.prepare_cached("SELECT kind, since FROM cases WHERE payment_id = ?1")?;
        for candidate in &mut candidates {
            let cases = had
                .query_map([candidate.payment_id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            candidate.had = cases
                .into_iter()
                .filter_map(|(kind, since)| {
                    let kind = crate::payment::case::CaseKind::parse(&kind)?;
                    Some(Need { kind, since })
                })
                .collect();
        }
        drop(had);
        tx.commit()?;
        Ok(candidates)
    }

    /// Carries out the sweep's writes, each a compare-and-set with its event (addressed to
    /// `sinks`), and records how far it looked, in one transaction.
    pub fn write_cases(
        &mut self,
        writes: &[CaseWrite],
        marks: SweepMarks,
        now: Millis,
        sinks: &[String],
    ) -> Result<SweepWrites, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut done = SweepWrites::default();
        for write in writes {
            match write {
                CaseWrite::Open {
                    payment_id,
                    need,
                    status,
                } => {
                    let n = tx
                        .prepare_cached(
                            "INSERT INTO cases (payment_id, kind, payment_status, since, \
                             opened_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                        )?
                        .execute(params![
                            payment_id,
                            need.kind.as_str(),
                            status.as_str(),
                            need.since,
                            now
                        ])?;
                    if n == 1 {
                        announce(&tx, tx.last_insert_rowid(), CASE_OPENED, sinks, now)?;
                        done.opened += 1;
                    }
                }
                CaseWrite::Close { case_id, reason } => {
                    if close(&tx, *case_id, None, reason, BY_ITSELF, now)? {
                        announce(&tx, *case_id, CASE_RESOLVED, sinks, now)?;
                        done.closed += 1;
                    }
                }
            }
        }
        tx.prepare_cached(
            "UPDATE case_sweep SET changes_to = max(changes_to, ?1), \
             overdue_to = max(overdue_to, ?2), pending_to = max(pending_to, ?3) WHERE id = 1",
        )?
        .execute(params![
            marks.changes_to,
            marks.overdue_to,
            marks.pending_to
        ])?;
        tx.commit()?;
        Ok(done)
    }

    /// The open case of the payment `token`.
    pub fn open_case(&self, token: &str) -> Result<Option<CaseRow>, StoreError> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE p.token = ?1 AND c.closed_at IS NULL"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([token], |r| case_row(&mut LenientRow::new(r)))
            .optional()?)
    }

    /// Closes the open case `case_id` with a person's decision and its `case.resolved`
    /// event; `None` when it is closed already.
    pub fn resolve_case(
        &mut self,
        case_id: i64,
        resolution: &Resolution,
        now: Millis,
        sinks: &[String],
    ) -> Result<Option<CaseRow>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let r = resolution;
        if !close(&tx, case_id, Some(r.decision.as_str()), &r.note, &r.by, now)? {
            return Ok(None);
        }
        let case = announce(&tx, case_id, CASE_RESOLVED, sinks, now)?;
        tx.commit()?;
        Ok(Some(case))
    }

    /// Open cases, oldest first, or closed ones, newest closed first.
    pub fn list_cases(&self, f: &CaseFilter, limit: usize) -> Result<Vec<CaseRow>, StoreError> {
        let sql = match f.closed {
            false => format!(
                "SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE c.closed_at IS NULL \
                 AND ?1 IS NULL AND ?2 IS NULL ORDER BY c.opened_at, c.id LIMIT ?3"
            ),
            true => format!(
                "SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE c.closed_at IS NOT NULL \
                 AND c.closed_at >= coalesce(?1, c.closed_at) \
                 AND (?2 IS NULL OR c.closed_at < ?2) ORDER BY c.closed_at DESC, c.id DESC LIMIT ?3"
            ),
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![f.closed_from, f.closed_until, limit], |r| {
            case_row(&mut LenientRow::new(r))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Open cases by kind and when the oldest opened, from the open cases' index alone.
    pub(super) fn case_gauges(&self) -> Result<CaseGauges, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT kind, count(*), min(opened_at) FROM cases WHERE closed_at IS NULL \
             GROUP BY kind",
        )?;
        let rows: Vec<(String, i64, Millis)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let oldest = rows.iter().map(|(_, _, at)| *at).min();
        let counts: Vec<_> = rows.into_iter().map(|(k, n, _)| (k, n)).collect();
        Ok(CaseGauges::from_counts(&counts, oldest))
    }
}

/// Closes a case if it is open, with its record; whether it did.
fn close(
    tx: &Transaction<'_>,
    case_id: i64,
    decision: Option<&str>,
    note: &str,
    by: &str,
    now: Millis,
) -> Result<bool, StoreError> {
    let closed = tx
        .prepare_cached("UPDATE cases SET closed_at = ?2 WHERE id = ?1 AND closed_at IS NULL")?
        .execute(params![case_id, now])?;
    if closed == 1 {
        tx.prepare_cached(
            "INSERT INTO case_decisions (case_id, at, decision, note, decided_by) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![case_id, now, decision, note, by])?;
    }
    Ok(closed == 1)
}

/// Records the event `kind` of the case `case_id` as it now stands; returns the case.
fn announce(
    tx: &Transaction<'_>,
    case_id: i64,
    kind: &str,
    sinks: &[String],
    now: Millis,
) -> Result<CaseRow, StoreError> {
    let case = tx
        .prepare_cached(&format!(
            "SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE c.id = ?1"
        ))?
        .query_row([case_id], |r| case_row(&mut LenientRow::new(r)))?;
    EventInsert::new(tx)?.insert(&NewEvent::case(kind, &case, now, sinks))?;
    Ok(case)
}
