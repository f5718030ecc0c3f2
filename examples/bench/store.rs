//! The write path alone: what recording one confirm outcome costs in SQLite, without HTTP.
//! It isolates the store's share of the drain's CPU (the drain mixes HTTP, SQLite and the
//! sandbox on the same cores).

use ligdicash_reconciler::ligdicash::ConfirmAnswer;
use ligdicash_reconciler::payment::Status;
use ligdicash_reconciler::sandbox::Invoice;
use ligdicash_reconciler::sandbox::responses;
use ligdicash_reconciler::sandbox::scenario::{Fate, Outcome};
use ligdicash_reconciler::store::{Change, ConfirmOutcome, Store};
use std::time::{Duration, Instant};

/// Outcomes per transaction, as the writer batches them in a busy drain.
const BATCH: usize = 256;

pub fn run(payments: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(&dir.path().join("store.db"), Duration::from_secs(5))?;
    let fill = Instant::now();
    store.connection().execute_batch("BEGIN")?;
    for i in 0..payments {
        store.connection().execute(
            "INSERT INTO payments (token, next_poll_at) VALUES (?1, 0)",
            [format!("tok{i:012}")],
        )?;
    }
    store.connection().execute_batch("COMMIT")?;
    let fill = fill.elapsed();

    let due_started = Instant::now();
    let mut due_rows = 0;
    let mut outcomes = Vec::with_capacity(payments);
    loop {
        let due = store.due(i64::MAX, BATCH)?;
        if due.is_empty() || outcomes.len() >= payments {
            break;
        }
        due_rows += due.len();
        // Mark them claimed the cheap way so the next `due` moves on (not measured apart).
        for p in due {
            let body = body(p.id as u64, &p.token);
            let answer = ConfirmAnswer::parse(body.as_bytes())?;
            outcomes.push(ConfirmOutcome {
                payment_id: p.id,
                token: p.token,
                at: 1,
                latency_ms: 1,
                http_status: Some(200),
                outcome: "completed",
                error: None,
                answer: Some(answer),
                raw_body: Some(body),
                change: Change::Finalize {
                    status: Status::Completed,
                    reason: None,
                },
                claimed_reason: p.claimed_reason,
            });
        }
        let ids: Vec<i64> = outcomes[outcomes.len() - BATCH.min(outcomes.len())..]
            .iter()
            .map(|o| o.payment_id)
            .collect();
        store.connection().execute(
            &format!(
                "UPDATE payments SET next_poll_at = 1 WHERE id IN ({})",
                ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            ),
            [],
        )?;
    }
    let due_time = due_started.elapsed();

    let started = Instant::now();
    let cpu_before = crate::common::cpu_time(std::process::id())?;
    for chunk in outcomes.chunks(BATCH) {
        store.apply_outcomes(chunk, 2, &[])?;
    }
    let write = started.elapsed();
    let write_cpu = crate::common::cpu_time(std::process::id())? - cpu_before;
    let completed: i64 = store.connection().query_row(
        "SELECT count(*) FROM payments WHERE status = 'completed'",
        [],
        |r| r.get(0),
    )?;
    anyhow::ensure!(completed as usize == payments, "{completed} completed");
    println!(
        "| payments | fill (s) | due+parse µs/row ({due_rows} rows) | write µs/payment (batches of {BATCH}) | write CPU µs/payment |"
    );
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {payments} | {:.1} | {:.1} | {:.1} | {:.1} |",
        fill.as_secs_f64(),
        due_time.as_secs_f64() * 1e6 / due_rows.max(1) as f64,
        write.as_secs_f64() * 1e6 / payments as f64,
        write_cpu.as_secs_f64() * 1e6 / payments as f64,
    );
    Ok(())
}

/// A sandbox confirm answer, as the reconciler receives it.
fn body(seq: u64, token: &str) -> String {
    let invoice = Invoice {
        seq,
        token: token.to_owned(),
        amount: 1500,
        transaction_id: Some(format!("order-{seq}")),
        confirmed_transaction_id: None,
        created_at: 0,
        fate: Fate {
            outcome: Outcome::Completed,
            settle_after_ms: 0,
            paid_amount: 1500,
        },
        confirms: Vec::new(),
    };
    responses::confirm(&invoice, "completed", false).to_string()
}
