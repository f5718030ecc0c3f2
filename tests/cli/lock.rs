//! One `run` per database, whatever name reaches it.

use crate::helpers::*;
use ligdicash_reconciler::sandbox::Outcome;
use std::time::Duration;

/// A hard link is a second real path to the database: a `run` through it is refused
/// while another `run` holds the database (a symlink is covered by `lock`'s unit tests).
#[tokio::test]
async fn a_second_run_through_a_hard_link_to_the_database_exits_5() {
    let env = TestEnv::start().await;
    let token = env.invoice(Outcome::Never, 100, "ORD-1").await;
    let first = env.spawn(&["run"]);
    env.wait_confirmed(&token).await;

    let elsewhere = env.dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let link = elsewhere.join("linked.db");
    std::fs::hard_link(&env.db, &link).unwrap();
    let link = link.to_str().unwrap();
    // `--until-idle`: were it let in, it would finish (the payment times out) and exit 0.
    let second = env.run(&["--database", link, "run", "--until-idle"]).await;
    assert_eq!(second.status.code(), Some(5), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("already running"),
        "{}",
        stderr(&second)
    );

    terminate(&first);
    let out = tokio::time::timeout(Duration::from_secs(10), first.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_ok(&out);
}
