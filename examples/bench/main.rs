//! The benchmark harness: sets up each workload of issue #7, runs the reconciler as its own
//! process against the sandbox (another process), and prints a Markdown table.
//!
//! ```sh
//! cargo build --release
//! cargo run --release --example bench -- drain [PAYMENTS] [CONCURRENCY]
//! cargo run --release --example bench -- idle [ROWS] [SECONDS] [sqlite|postgres] [NODES]
//! cargo run --release --example bench -- detection [PAYMENTS]
//! cargo run --release --example bench -- slow [PAYMENTS] [LATENCY_MS]
//! cargo run --release --example bench -- store [PAYMENTS]
//! cargo run --release --example bench -- store-pg [PAYMENTS] [RTT_US]   # PostgreSQL installed
//! cargo run --release --example bench -- clients [CONCURRENCY]
//! cargo run --release --example bench -- cluster [PAYMENTS] [LATENCY_MS]   # PostgreSQL installed
//! cargo run --release --example bench -- trickle [RATE] [SECONDS] [sqlite|postgres]
//! ```
//! Measured with `/usr/bin/time` (Debian package `time`) and `/proc`. Results go in
//! `docs/benchmarks.md`. Knobs: `BENCH_PERF=FILE` (drain or trickle under `perf record`),
//! `BENCH_RECONCILER_THREADS=N` (the drained reconciler's async worker threads),
//! `BENCH_STORE_SQL=SQL` (run on the store workload's database before its writes).

mod clients;
mod cluster;
mod common;
mod detection;
mod drain;
mod idle;
mod idle_pg;
mod slow;
mod store;
mod store_pg;
mod trickle;

/// The throwaway PostgreSQL server of the tests (`initdb` + `pg_ctl`).
#[path = "../../src/store/postgres/testing/server.rs"]
#[allow(dead_code)]
mod server;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: usize| -> anyhow::Result<usize> {
        args.get(i).map_or(Ok(default), |a| Ok(a.parse()?))
    };
    let workload = args.first().map_or("drain", String::as_str);
    println!("machine: {}", common::machine());
    match workload {
        "drain" => drain::run(arg(1, 100_000)?, arg(2, 4)?),
        "detection" => detection::run(arg(1, 100_000)?),
        "idle" => match args.get(3).map(String::as_str) {
            None | Some("sqlite") => idle::run(arg(1, 1_000_000)?, arg(2, 60)? as u64),
            Some("postgres") => idle_pg::run(arg(1, 1_000_000)?, arg(2, 60)? as u64, arg(4, 2)?),
            Some(other) => anyhow::bail!("idle on {other:?}? sqlite or postgres"),
        },
        "slow" => slow::run(arg(1, 150)?, arg(2, 300)? as u64),
        "store" => store::run(arg(1, 100_000)?),
        "store-pg" => store_pg::run(arg(1, 20_000)?, arg(2, 0)? as u64),
        "clients" => clients::run(arg(1, 4)?),
        "cluster" => cluster::run(arg(1, 300)?, arg(2, 300)? as u64),
        "trickle" => trickle::run(
            arg(1, 30)?,
            arg(2, 60)? as u64,
            args.get(3).map_or("sqlite", String::as_str),
        ),
        other => {
            anyhow::bail!(
                "unknown workload {other:?}; try: clients, cluster, detection, drain, idle, slow, store, store-pg, trickle"
            )
        }
    }
}
