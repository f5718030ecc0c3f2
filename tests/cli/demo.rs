//! `demo` through the real binary: it checks itself against the sandbox's truth, so a run
//! that exits 0 has reconciled every payment; here the terminal output is checked too.

use crate::helpers::*;

#[tokio::test]
async fn the_demo_shows_the_summary_a_sample_event_and_the_three_callback_paths() {
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("demo.db");
    let out = tokio::process::Command::new(BIN)
        .args([
            "demo",
            "--payments",
            "20",
            "--keep-db",
            kept.to_str().unwrap(),
        ])
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "all 23 invoices agree with the sandbox's truth",
        "all 6 payouts agree with the sandbox",
        "withdrawal  pending              1",
        "\"type\": \"payment.completed\"",
        "callback delivered   ORD-CB-DELIVERED   completed",
        "callback lost        ORD-CB-LOST        completed",
        "callback forged      ORD-CB-FORGED      pending",
        "kept: the database",
        "next: ",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
    // Faults are summarised at the end, not logged between the progress lines.
    assert!(!stderr(&out).contains("WARN"), "{}", stderr(&out));
    assert!(kept.with_extension("events.jsonl").exists());
}
