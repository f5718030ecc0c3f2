//! Criterion benchmarks of the pure functions on the hot path: parsing and classifying a
//! confirm answer, deciding what it means, the backoff schedule, the webhook signature
//! and the report arithmetic. `cargo bench --bench policy`.

use criterion::{Criterion, criterion_group, criterion_main};
use ligdicash_reconciler::config::PollConfig;
use ligdicash_reconciler::confirm::decide::{Policy, decide};
use ligdicash_reconciler::events::signature;
use ligdicash_reconciler::ligdicash::{ConfirmAnswer, Exchange, classify};
use ligdicash_reconciler::payment::DuePayment;
use ligdicash_reconciler::report::figures::summarise;
use ligdicash_reconciler::sandbox::{InvoiceSpec, Outcome, Sandbox, SandboxConfig, responses};
use ligdicash_reconciler::store::{AttemptFact, DayFacts, PaymentFact};
use std::hint::black_box;

/// A confirm answer as the sandbox (and LigdiCash) sends it, about 1.2 KiB.
fn confirm_body() -> Vec<u8> {
    let sandbox = Sandbox::new(SandboxConfig::default());
    let token = sandbox.add_invoice(&InvoiceSpec {
        outcome: Outcome::Completed,
        amount: 1500,
        paid_amount: None,
        transaction_id: Some("order-7".into()),
        confirmed_transaction_id: None,
        settle_after_ms: 0,
    });
    let invoice = sandbox
        .invoice(&token)
        .unwrap_or_else(|| panic!("invoice {token}"));
    responses::confirm(&invoice, "completed", false)
        .to_string()
        .into_bytes()
}

fn due() -> DuePayment {
    DuePayment {
        id: 1,
        token: "tok".into(),
        transaction_id: Some("order-7".into()),
        expected_amount: Some(1500),
        attempts: 3,
        ..DuePayment::default()
    }
}

fn confirm_answers(c: &mut Criterion) {
    let body = confirm_body();
    c.bench_function("ConfirmAnswer::parse (1.2 KiB answer)", |b| {
        b.iter(|| ConfirmAnswer::parse(black_box(&body)))
    });
    let exchange = Exchange::Reply {
        status: 200,
        retry_after: None,
        body: body.clone(),
    };
    c.bench_function("classify (completed answer)", |b| {
        b.iter(|| classify(black_box(&exchange)))
    });
    let policy = Policy::from_config(&PollConfig::default(), &Default::default());
    let classified = classify(&exchange);
    let payment = due();
    c.bench_function("decide (completed, amount verified)", |b| {
        b.iter(|| {
            decide(
                &policy,
                black_box(&payment),
                black_box(&classified),
                60_000,
                0.3,
            )
        })
    });
    c.bench_function("Schedule::delay", |b| {
        b.iter(|| policy.schedule.delay(black_box(7), black_box(0.3)))
    });
}

fn webhook_signature(c: &mut Criterion) {
    let key = signature::secret_key("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap_or_default();
    let body = vec![b'x'; 600];
    c.bench_function("webhook sign (600-byte payload)", |b| {
        b.iter(|| {
            signature::sign(
                &key,
                black_box("evt_0123456789abcdef"),
                1_649_367_553,
                &body,
            )
        })
    });
}

fn report_arithmetic(c: &mut Criterion) {
    let statuses = [
        "completed",
        "completed",
        "completed",
        "notcompleted",
        "timeout",
        "mismatch",
    ];
    let resolved: Vec<PaymentFact> = (0..10_000)
        .map(|i| PaymentFact {
            token: format!("tok{i}"),
            transaction_id: Some(format!("order-{i}")),
            request_id: Some(format!("P{i:013}")),
            status: statuses[i % statuses.len()].to_owned(),
            status_reason: None,
            expected_amount: Some(1000 + i as i64),
            amount: Some(1000 + i as i64),
            operator_name: Some(["ORANGE BURKINA", "MOOV AFRICA"][i % 2].to_owned()),
            created_at: i as i64 * 1000,
            resolved_at: Some(i as i64 * 1000 + 90_000),
            requeued: false,
            expected_as_written: None,
        })
        .collect();
    let facts = DayFacts {
        start: 0,
        end: 86_400_000,
        resolved,
        attempts: (0..40_000)
            .map(|i| AttemptFact {
                outcome: "pending".into(),
                latency_ms: i % 900,
            })
            .collect(),
        ..DayFacts::default()
    };
    c.bench_function("report summarise (10,000 payments, 40,000 calls)", |b| {
        b.iter(|| {
            summarise(
                black_box(&facts),
                chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default(),
                chrono_tz::Africa::Ouagadougou,
            )
        })
    });
}

criterion_group!(
    benches,
    confirm_answers,
    webhook_signature,
    report_arithmetic
);
criterion_main!(benches);
