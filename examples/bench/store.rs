//! The write path alone: what recording one confirm outcome costs in SQLite, without HTTP.
//! It isolates the store's share of the drain's CPU (the drain mixes HTTP, SQLite and the
//! sandbox on the same cores).

use ligdicash_reconciler::ligdicash::ConfirmAnswer;
use ligdicash_reconciler::payment::Status;
use ligdicash_reconciler::payment::{Change, ConfirmOutcome};
use ligdicash_reconciler::sandbox::scenario::Outcome;
use ligdicash_reconciler::sandbox::{InvoiceSpec, Sandbox, SandboxConfig, responses};
use ligdicash_reconciler::store::Store;
use ligdicash_reconciler::time::now_ms;
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
    // BENCH_STORE_SQL runs SQL on the filled database first, e.g. `DROP INDEX events_state`
    // to measure what one index costs the write path.
    if let Ok(sql) = std::env::var("BENCH_STORE_SQL") {
        store.connection().execute_batch(&sql)?;
    }

    // The answers, as the sandbox would send them (not measured).
    let sandbox = Sandbox::new(SandboxConfig::default());
    let mut outcomes = Vec::with_capacity(payments);
    for p in store.due(i64::MAX, payments, &Default::default())? {
        outcomes.push(completed_outcome(&sandbox, p)?);
    }

    let started = Instant::now();
    let cpu_before = crate::common::cpu_time(std::process::id())?;
    for chunk in outcomes.chunks(BATCH) {
        // The real clock, as in the daemon: event ids start with the time, so a constant
        // time would scatter their inserts over the whole index.
        store.apply_outcomes(chunk, now_ms(), &[])?;
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
        "| payments | fill (s) | write µs/payment (batches of {BATCH}) | write CPU µs/payment |"
    );
    println!("|---:|---:|---:|---:|");
    println!(
        "| {payments} | {:.1} | {:.1} | {:.1} |",
        fill.as_secs_f64(),
        write.as_secs_f64() * 1e6 / payments as f64,
        write_cpu.as_secs_f64() * 1e6 / payments as f64,
    );
    Ok(())
}

/// The sandbox's `completed` confirm answer for a fresh invoice of order `id`.
pub fn completed_body(sandbox: &Sandbox, id: i64) -> anyhow::Result<String> {
    let token = sandbox.add_invoice(&InvoiceSpec {
        outcome: Outcome::Completed,
        amount: 1500,
        paid_amount: None,
        transaction_id: Some(format!("order-{id}")),
        confirmed_transaction_id: None,
        settle_after_ms: 0,
    });
    let invoice = sandbox
        .invoice(&token)
        .ok_or_else(|| anyhow::anyhow!("the sandbox lost invoice {token}"))?;
    Ok(responses::confirm(&invoice, "completed", false).to_string())
}

/// `p` confirmed `completed` as the sandbox would answer it, written as the poller would.
pub fn completed_outcome(
    sandbox: &Sandbox,
    p: ligdicash_reconciler::payment::DuePayment,
) -> anyhow::Result<ConfirmOutcome> {
    let body = completed_body(sandbox, p.id)?;
    Ok(ConfirmOutcome {
        payment_id: p.id,
        kind: p.kind,
        token: p.token,
        at: now_ms(),
        latency_ms: 1,
        http_status: Some(200),
        outcome: "completed",
        error: None,
        answer: Some(ConfirmAnswer::parse(body.as_bytes())?),
        raw_body: Some(body),
        change: Change::Finalize {
            status: Status::Completed,
            reason: None,
        },
        from: p.status,
        claimed_reason: p.claimed_reason,
    })
}
