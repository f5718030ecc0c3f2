//! Cases on PostgreSQL, as `sqlite::cases` on SQLite: what the case sweep reads (through
//! indexes, never a scan of `payments`), its writes with their events in one transaction,
//! a person's decision, the listings and the gauges. Every node of a cluster may sweep:
//! opening is `INSERT ... ON CONFLICT DO NOTHING` on the one-open-case and one-case-per-need
//! indexes, closing a compare-and-set on `closed_at IS NULL`, and only the node whose write
//! took effect records the event, so two nodes sweeping at once announce each change once.

use super::PgStore;
use super::cached::Cached;
use super::events::insert_event;
use super::read::PgCells;
use crate::payment::case::CaseKind;
use crate::payment::case::need::Need;
use crate::store::StoreError;
use crate::store::model::*;
use crate::store::read::cases::{
    CASE_COLUMNS, CASE_FROM, CASE_STATUSES, candidate_columns, case_candidate, case_row,
};
use crate::time::Millis;
use std::collections::HashMap;
use std::sync::LazyLock;
use tokio_postgres::IsolationLevel;

/// The payments a sweep looks at, each through its own index (see `SweepWindow`).
/// The sweep's statements, built once.
static CANDIDATES: LazyLock<String> = LazyLock::new(candidates_sql);
static CASE_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE c.id = $1"));

fn candidates_sql() -> String {
    format!(
        "WITH ids(id) AS (\
         SELECT id FROM payments WHERE status IN {CASE_STATUSES} AND updated_at > $1 \
         UNION SELECT payment_id FROM callbacks WHERE received_at > $1 AND payment_id IS NOT NULL \
         UNION SELECT c.payment_id FROM cases c JOIN payments q ON q.id = c.payment_id \
         WHERE c.closed_at IS NULL AND q.updated_at > $1 \
         UNION SELECT id FROM payments WHERE status = 'pending' AND kind <> 'invoice' \
         AND overdue_at > $2 \
         UNION SELECT id FROM payments WHERE status = 'pending' AND created_at > $3 \
         AND created_at <= $4 \
         UNION SELECT id FROM payments WHERE status = 'pending' AND requeued_at > $3 \
         AND requeued_at <= $4) \
         SELECT {} FROM ids JOIN payments p ON p.id = ids.id \
         LEFT JOIN cases o ON o.payment_id = p.id AND o.closed_at IS NULL ORDER BY p.id",
        candidate_columns()
    )
}

impl PgStore {
    /// How far the case sweep has looked.
    pub async fn case_marks(&self) -> Result<SweepMarks, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt_cached(
                "SELECT changes_to, overdue_to, pending_to FROM case_sweep WHERE id = 1",
                &[],
            )
            .await?;
        Ok(match row {
            Some(r) => SweepMarks {
                changes_to: r.try_get(0)?,
                overdue_to: r.try_get(1)?,
                pending_to: r.try_get(2)?,
            },
            None => SweepMarks::default(),
        })
    }

    /// When the oldest pending payment's window started (created, or requeued), from the
    /// two partial indexes' first entries.
    pub async fn oldest_pending_start(&self) -> Result<Option<Millis>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_one_cached(
                "SELECT LEAST((SELECT min(created_at) FROM payments WHERE status = 'pending'), \
                 (SELECT min(requeued_at) FROM payments WHERE status = 'pending' \
                 AND requeued_at IS NOT NULL))",
                &[],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    /// The payments the case sweep looks at in `window`, with their open case and every
    /// case they had, read in one snapshot.
    pub async fn case_candidates(&self, w: SweepWindow) -> Result<Vec<CaseCandidate>, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [
            &w.changes_from,
            &w.overdue_from,
            &w.pending_from,
            &w.pending_until,
        ];
        let rows = tx.query_cached(&CANDIDATES, &params).await?;
        let mut candidates = rows
            .iter()
            .map(|r| case_candidate(&mut PgCells(r)))
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<i64> = candidates.iter().map(|c| c.payment_id).collect();
        let mut had: HashMap<i64, Vec<Need>> = HashMap::new();
        let cased = tx
            .query_cached(
                "SELECT payment_id, kind, since FROM cases WHERE payment_id = ANY($1)",
                &[&ids],
            )
            .await?;
        for r in cased {
            let kind: String = r.try_get(1)?;
            if let Some(kind) = CaseKind::parse(&kind) {
                let need = Need {
                    kind,
                    since: r.try_get(2)?,
                };
                had.entry(r.try_get(0)?).or_default().push(need);
            }
        }
        tx.commit().await?;
        for candidate in &mut candidates {
            candidate.had = had.remove(&candidate.payment_id).unwrap_or_default();
        }
        Ok(candidates)
    }

    /// Carries out the sweep's writes, each a compare-and-set with its event (addressed to
    /// `sinks`), and records how far it looked, in one transaction.
    pub async fn write_cases(
        &self,
        writes: &[CaseWrite],
        marks: SweepMarks,
        now: Millis,
        sinks: &[String],
    ) -> Result<SweepWrites, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let mut done = SweepWrites::default();
        for write in writes {
            match write {
                CaseWrite::Open {
                    payment_id,
                    need,
                    status,
                } => {
                    let opened = tx
                        .query_opt_cached(
                            "INSERT INTO cases (payment_id, kind, payment_status, since, \
                             opened_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING \
                             RETURNING id",
                            &[
                                payment_id,
                                &need.kind.as_str(),
                                &status.as_str(),
                                &need.since,
                                &now,
                            ],
                        )
                        .await?;
                    if let Some(row) = opened {
                        announce(&tx, row.try_get(0)?, CASE_OPENED, sinks, now).await?;
                        done.opened += 1;
                    }
                }
                CaseWrite::Close { case_id, reason } => {
                    if close(&tx, *case_id, None, reason, BY_ITSELF, now).await? {
                        announce(&tx, *case_id, CASE_RESOLVED, sinks, now).await?;
                        done.closed += 1;
                    }
                }
            }
        }
        tx.execute_cached(
            "UPDATE case_sweep SET changes_to = GREATEST(changes_to, $1), \
             overdue_to = GREATEST(overdue_to, $2), pending_to = GREATEST(pending_to, $3) \
             WHERE id = 1",
            &[&marks.changes_to, &marks.overdue_to, &marks.pending_to],
        )
        .await?;
        tx.commit().await?;
        Ok(done)
    }

    /// The open case of the payment `token`.
    pub async fn open_case(&self, token: &str) -> Result<Option<CaseRow>, StoreError> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE p.token = $1 AND c.closed_at IS NULL"
        );
        let row = self.conn().await?.query_opt_cached(&sql, &[&token]).await?;
        row.map(|r| case_row(&mut PgCells(&r))).transpose()
    }

    /// Closes the open case `case_id` with a person's decision and its `case.resolved`
    /// event; `None` when it is closed already.
    pub async fn resolve_case(
        &self,
        case_id: i64,
        resolution: &Resolution,
        now: Millis,
        sinks: &[String],
    ) -> Result<Option<CaseRow>, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let r = resolution;
        let decision = Some(r.decision.as_str());
        if !close(&tx, case_id, decision, &r.note, &r.by, now).await? {
            return Ok(None);
        }
        let case = announce(&tx, case_id, CASE_RESOLVED, sinks, now).await?;
        tx.commit().await?;
        Ok(Some(case))
    }

    /// Open cases, oldest first, or closed ones, newest closed first.
    pub async fn list_cases(
        &self,
        f: &CaseFilter,
        limit: usize,
    ) -> Result<Vec<CaseRow>, StoreError> {
        let sql = match f.closed {
            false => format!(
                "SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE c.closed_at IS NULL \
                 AND $1::bigint IS NULL AND $2::bigint IS NULL ORDER BY c.opened_at, c.id LIMIT $3"
            ),
            true => format!(
                "SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE c.closed_at IS NOT NULL \
                 AND c.closed_at >= coalesce($1::bigint, c.closed_at) \
                 AND ($2::bigint IS NULL OR c.closed_at < $2) \
                 ORDER BY c.closed_at DESC, c.id DESC LIMIT $3"
            ),
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .conn()
            .await?
            .query_cached(&sql, &[&f.closed_from, &f.closed_until, &limit])
            .await?;
        rows.iter().map(|r| case_row(&mut PgCells(r))).collect()
    }

    /// Open cases by kind and when the oldest opened, from the open cases' index alone.
    pub(super) async fn case_gauges(&self) -> Result<CaseGauges, StoreError> {
        let rows = self
            .conn()
            .await?
            .query_cached(
                "SELECT kind, count(*), min(opened_at) FROM cases WHERE closed_at IS NULL \
                 GROUP BY kind",
                &[],
            )
            .await?;
        let mut counts = Vec::with_capacity(rows.len());
        let mut oldest: Option<Millis> = None;
        for r in rows {
            let at: Millis = r.try_get(2)?;
            oldest = Some(oldest.map_or(at, |o| o.min(at)));
            counts.push((r.try_get(0)?, r.try_get(1)?));
        }
        Ok(CaseGauges::from_counts(&counts, oldest))
    }
}

/// Closes a case if it is open, with its record; whether it did.
async fn close(
    tx: &deadpool_postgres::Transaction<'_>,
    case_id: i64,
    decision: Option<&str>,
    note: &str,
    by: &str,
    now: Millis,
) -> Result<bool, StoreError> {
    let closed = tx
        .execute_cached(
            "UPDATE cases SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL",
            &[&case_id, &now],
        )
        .await?;
    if closed == 1 {
        tx.execute_cached(
            "INSERT INTO case_decisions (case_id, at, decision, note, decided_by) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&case_id, &now, &decision, &note, &by],
        )
        .await?;
    }
    Ok(closed == 1)
}

/// Records the event `kind` of the case `case_id` as it now stands; returns the case.
async fn announce(
    tx: &deadpool_postgres::Transaction<'_>,
    case_id: i64,
    kind: &str,
    sinks: &[String],
    now: Millis,
) -> Result<CaseRow, StoreError> {
    let row = tx.query_one_cached(&CASE_BY_ID, &[&case_id]).await?;
    let case = case_row(&mut PgCells(&row))?;
    insert_event(tx, &NewEvent::case(kind, &case, now, sinks)).await?;
    Ok(case)
}
