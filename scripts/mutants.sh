#!/usr/bin/env bash
# Mutation testing of the pure policy modules against the unit tests alone (issue 14): every
# viable mutant must be caught, or explained under "Mutation testing" in docs/reliability.md.
# About 260 mutants: hours on two busy cores with the whole library suite (its PostgreSQL
# tests take most of each run), so it is not part of CI. Results in mutants.out/ (missed.txt
# lists the survivors). Only the library's tests are built and run for each mutant (`-C
# --lib`: with `-- --lib` alone, every test target was rebuilt each time).
#   usage: scripts/mutants.sh [CARGO-MUTANTS OPTIONS] [-- -- TEST FILTERS]
#          (needs: cargo install cargo-mutants --locked)
#   e.g.   scripts/mutants.sh --list          count the mutants without testing them
#          scripts/mutants.sh --iterate       re-test only what the last run did not catch
#          scripts/mutants.sh -- -- report:: payment::
#                                             against those modules' tests only (faster)
#   A `--file` given here adds to the list; for some files only, run `cargo mutants` with
#   these options and those files.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo mutants --jobs 1 --cargo-arg=--lib \
  --file src/confirm/decide.rs \
  --file src/confirm/verify.rs \
  --file src/confirm/schedule.rs \
  --file src/ligdicash/classify.rs \
  --file src/ligdicash/amount.rs \
  --file src/report/figures/mod.rs \
  --file src/report/figures/money.rs \
  --file src/report/figures/discrepancies.rs \
  --file src/report/money_out.rs \
  --file src/payment/callback.rs \
  "$@"
