#!/usr/bin/env bash
# Mutation testing of the pure policy modules against the unit tests alone (issue 14): every
# viable mutant must be caught, or explained under "Mutation testing" in docs/reliability.md.
# Takes about an hour on two busy cores, so it is not part of CI. Results in mutants.out/
# (missed.txt lists the survivors).
#   usage: scripts/mutants.sh [CARGO-MUTANTS OPTIONS]   (needs: cargo install cargo-mutants --locked)
#   e.g.   scripts/mutants.sh --list          count the mutants without testing them
#          scripts/mutants.sh --iterate       re-test only what the last run did not catch
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo mutants --jobs 1 \
  --file src/confirm/decide.rs \
  --file src/confirm/verify.rs \
  --file src/confirm/schedule.rs \
  --file src/ligdicash/classify.rs \
  --file src/ligdicash/amount.rs \
  --file src/report/figures.rs \
  "$@" -- --lib
