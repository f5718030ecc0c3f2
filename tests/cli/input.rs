//! Bad input gets a clear one-line error, a documented exit code, and writes nothing.

use crate::helpers::*;

#[tokio::test]
async fn bad_cli_arguments_are_refused_and_write_nothing() {
    let env = TestEnv::start().await;
    env.enqueue("tok-1", Some("ORD-1"), Some(5000)).await;
    let long = "x".repeat(5000);
    let cases: &[(&[&str], i32, &str)] = &[
        (&["enqueue", ""], 2, "token"),
        (&["enqueue", &long], 2, "token"),
        (&["enqueue", "tok-2", "--amount", "0"], 2, "amount"),
        (&["enqueue", "tok-2", "--amount", "-5"], 2, "amount"),
        (&["enqueue", "tok-2", "--amount", "12.5"], 2, "amount"),
        (&["enqueue", "tok-2", "--amount", "abc"], 2, "amount"),
        (
            &["enqueue", "tok-2", "--transaction-id", ""],
            2,
            "transaction-id",
        ),
        (
            &[
                "enqueue",
                "tok-1",
                "--transaction-id",
                "ORD-9",
                "--amount",
                "5000",
            ],
            1,
            "transaction_id",
        ),
        (
            &[
                "enqueue",
                "tok-1",
                "--transaction-id",
                "ORD-1",
                "--amount",
                "10",
            ],
            1,
            "amount",
        ),
        (&["show", "no-such-token"], 1, "no-such-token"),
        (&["requeue", "no-such-token"], 1, "no-such-token"),
        (&["list", "--status", "paid"], 2, "paid"),
        (&["frobnicate"], 2, "frobnicate"),
        (&["run", "--until-idel"], 2, "until-idel"),
    ];
    for (args, code, needle) in cases {
        let out = env.run(args).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?} should mention {needle}: {err}"
        );
    }
    // Idempotent re-enqueue succeeds and changes nothing.
    env.enqueue("tok-1", Some("ORD-1"), Some(5000)).await;
    let count: i64 = env
        .shop_connection()
        .query_row("SELECT count(*) FROM payments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 1);
}

/// One rule for a token on the command line: `show` and `requeue` find what `enqueue`
/// stored from the same text, surrounding spaces and all.
#[tokio::test]
async fn every_command_reads_a_token_by_the_same_rule() {
    let env = TestEnv::start().await;
    assert_ok(&env.run(&["enqueue", " spaced "]).await);
    assert_eq!(env.show(" spaced ").await["token"], "spaced");
    let out = env.run(&["requeue", " spaced "]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("its status is pending"),
        "{}",
        stderr(&out)
    );
    for command in ["show", "requeue"] {
        let out = env.run(&[command, " "]).await;
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        assert!(stderr(&out).contains("token"), "{}", stderr(&out));
    }
}

#[tokio::test]
async fn bad_configuration_exits_3_naming_the_problem_and_creates_nothing() {
    let env = TestEnv::start().await;
    let db = env.dir.path().join("never-created.db");
    let base = format!("[database]\npath = {:?}\n", db.display().to_string());
    let cases = [
        ("[poll]\nconcurency = 4\n", "concurency"),
        ("[poll]\nfirst_delay = \"10\"\n", "missing unit"),
        ("[poll]\nconcurrency = -1\n", "concurrency"),
        ("[poll]\nconcurrency = 0\n", "concurrency"),
        ("[poll]\njitter = 1.5\n", "jitter"),
        // An idle daemon would spin; durations that overflow the schedule's arithmetic.
        ("[poll]\nscan_interval = \"0s\"\n", "poll.scan_interval"),
        ("[poll]\nmax_interval = \"99999h\"\n", "poll.max_interval"),
        (
            "[poll]\ninitial_interval = \"999999999999999h\"\n",
            "initial_interval",
        ),
        (
            "[poll]\ngive_up_after = \"999999999999999d\"\n",
            "give_up_after",
        ),
        (
            "[ligdicash]\nbase_url = \"http://app.ligdicash.com\"\n",
            "https",
        ),
        (
            "[ligdicash]\nbase_url = \"https://x\"\n[poll]\nmin_interval = \"1s\"\n",
            "min_interval",
        ),
        ("[ligdicash]\nconfirm_style = \"query\"\n", "confirm_style"),
        (
            "[ligdicash]\nbase_url = \"ftp://127.0.0.1:2121\"\n",
            "scheme \"ftp\"",
        ),
        // check-config reads the webhook secrets as run does.
        (
            "[[events.webhooks]]\nurl = \"https://hooks.example/x\"\nsecret_env = \"UNSET_HOOK_SECRET\"\n",
            "UNSET_HOOK_SECRET",
        ),
    ];
    for (text, needle) in cases {
        std::fs::write(&env.config_path, format!("{base}{text}")).unwrap();
        for command in ["run", "check-config"] {
            let out = env.run(&[command]).await;
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(3), "{text}: {err}");
            assert!(
                err.contains(needle),
                "{text} should mention {needle}: {err}"
            );
            assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        }
    }
    assert!(
        !db.exists(),
        "a refused configuration must not create the database"
    );

    let out = tokio::process::Command::new(BIN)
        .args(["--config", "/nonexistent/config.toml", "run"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("/nonexistent/config.toml"));
}

#[tokio::test]
async fn missing_credentials_exit_3_and_name_the_variables() {
    let env = TestEnv::start().await;
    let out = env
        .cmd(&["run", "--until-idle"])
        .env_remove("LIGDICASH_API_KEY")
        .env_remove("LIGDICASH_API_TOKEN")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("LIGDICASH_API_KEY"),
        "{}",
        stderr(&out)
    );
    assert!(!env.db.exists());
}

#[tokio::test]
async fn check_config_prints_the_effective_config_without_secrets() {
    let env = TestEnv::start().await;
    let out = env
        .cmd(&["check-config"])
        .env("LIGDICASH_API_KEY", "key-SECRET-value")
        .env("LIGDICASH_API_TOKEN", "token-SECRET-value")
        .output()
        .await
        .unwrap();
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("environment LIGDICASH_API_KEY"), "{text}");
    assert!(text.contains("max_requests_per_second"), "{text}");
    assert!(
        !text.contains("SECRET") && !stderr(&out).contains("SECRET"),
        "{text}"
    );
}

/// `base_url` is shown as webhook URLs are: without user name, password or query, in
/// `check-config`'s output and in the error refusing it.
#[tokio::test]
async fn check_config_shows_base_url_without_its_credentials_or_query() {
    let mut env = TestEnv::start().await;
    let plain = env.config.ligdicash.base_url.clone();
    let host = plain.trim_start_matches("http://").trim_end_matches('/');
    env.config.ligdicash.base_url = format!("http://shop:pw-SECRET@{host}/?key=k-SECRET");
    env.write_config();
    let out = env.run(&["check-config"]).await;
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("base_url = \"http://{host}/?…\"")),
        "{text}"
    );
    assert!(!text.contains("SECRET"), "{text}");

    env.config.ligdicash.base_url = "http://shop:pw-SECRET@pay.example/?key=k-SECRET".into();
    env.write_config();
    let out = env.run(&["check-config"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("http://pay.example/?…"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("SECRET"), "{}", stderr(&out));
}

#[tokio::test]
async fn unusable_databases_exit_4_with_a_clear_message() {
    let env = TestEnv::start().await;
    // A database from a newer release.
    assert_ok(&env.run(&["migrate"]).await);
    env.shop_connection()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let out = env.run(&["run", "--until-idle"]).await;
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("newer"), "{}", stderr(&out));

    // A file that is not a database.
    let garbage = env.dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![7u8; 4096]).unwrap();
    let out = env
        .run(&["--database", garbage.to_str().unwrap(), "show", "x"])
        .await;
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("garbage.db"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&garbage).unwrap(),
        vec![7u8; 4096],
        "left untouched"
    );

    // A directory nobody can write to (even root: /proc).
    let out = env
        .run(&[
            "--database",
            "/proc/ligdicash-reconciler-test.db",
            "migrate",
        ])
        .await;
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("/proc/ligdicash-reconciler-test.db"),
        "{}",
        stderr(&out)
    );

    // A directory that does not exist.
    let out = env
        .run(&["--database", "/nonexistent-dir/r.db", "migrate"])
        .await;
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("/nonexistent-dir"),
        "{}",
        stderr(&out)
    );
}

/// A table the shop created before, under a name `schema.sql` uses, is named in one short
/// line (not the migration SQL), and the file is left as it was.
#[tokio::test]
async fn an_existing_table_that_does_not_match_the_schema_is_named_in_one_short_line() {
    let env = TestEnv::start().await;
    env.shop_connection()
        .execute_batch("CREATE TABLE payments (id INTEGER PRIMARY KEY, foo TEXT);")
        .unwrap();
    for command in [&["migrate"][..], &["run", "--until-idle"]] {
        let out = env.run(command).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "{command:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.len() < 400, "{} bytes: {err}", err.len());
        assert!(
            err.contains("reconciler.db") && err.contains("`payments`") && err.contains("token"),
            "{err}"
        );
    }
    let version: i64 = env
        .shop_connection()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 0, "nothing written");
}

/// A PostgreSQL database that cannot be reached fails the commands that use it (exit 4),
/// naming the URL without its password, and is never silently replaced by the SQLite file.
#[tokio::test]
async fn an_unreachable_postgresql_database_fails_without_showing_its_password() {
    let env = TestEnv::start().await;
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let url = "postgres://shop:s3cr3t-pw@127.0.0.1:1/shop?sslmode=disable";
    for args in [&["list"][..], &["migrate"], &["run", "--until-idle"]] {
        let out = env
            .cmd(args)
            .env("LIGDICASH_RECONCILER_DATABASE_URL", url)
            .output()
            .await
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {err}");
        assert!(err.contains("127.0.0.1:1/shop"), "{err}");
        assert!(!err.contains("s3cr3t-pw"), "{err}");
    }
    let out = env
        .cmd(&["check-config"])
        .env("LIGDICASH_RECONCILER_DATABASE_URL", url)
        .output()
        .await
        .unwrap();
    assert_ok(&out);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cr3t-pw"));
    assert!(!env.db.exists(), "no SQLite file created instead");
}
