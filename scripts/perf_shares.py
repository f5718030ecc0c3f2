#!/usr/bin/env python3
"""Splits the reconciler's CPU in a drain profile into the shares docs/benchmarks.md shows.

    RECONCILER_BIN=target/profiling/ligdicash-reconciler BENCH_PERF=drain.perf \
        target/release/examples/bench drain 30000
    perf script -i drain.perf -F comm,tid,ip,sym > drain.script
    python3 scripts/perf_shares.py drain.script

Each sample goes to the first bucket whose pattern appears anywhere in its call stack;
the "seen in" lines count every sample whose stack contains the pattern (they overlap).
"""

import collections
import sys

BUCKETS = [
    ("recording outcomes: commit", ["execute_batch"]),
    ("recording outcomes: statements", ["apply_outcomes"]),
    ("dispatcher, due query, hand-offs", ["ligdicash_reconciler::store::", "poller::Dispatcher",
                                          "poller::Poller", "poller::queue", "write_loop"]),
    ("HTTP: the client's request and response path", ["LigdicashClient::confirm",
                                                     "transport::Transport"]),
    ("parsing and classifying answers", ["classify"]),
    ("confirm worker, rest", ["confirm_one", "poller::worker"]),
    ("HTTP: hyper's connection tasks", ["hyper::proto", "hyper_util", "hyper::client"]),
    ("tokio scheduling, wake-ups", ["tokio::runtime"]),
]

SEEN_IN = [
    ("URL parsing", ["url::parser", "Url>::parse", "http::uri::Uri::from_shared", "uri::parse"]),
    ("tokio timers", ["tokio::runtime::time::", "TimerEntry", "time::sleep::Sleep"]),
    ("malloc and free", ["malloc", "_int_free", "cfree"]),
    ("SQLite", ["sqlite3"]),
]


def stacks(path):
    stack = []
    with open(path, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line[:1] in "\t ":
                stack.append(line.strip())
            elif not line.strip():
                if stack:
                    yield "\n".join(stack)
                stack = []
    if stack:
        yield "\n".join(stack)


def main(path):
    buckets, seen, total = collections.Counter(), collections.Counter(), 0
    for stack in stacks(path):
        total += 1
        name = next((n for n, pats in BUCKETS if any(p in stack for p in pats)), "other")
        buckets[name] += 1
        for n, pats in SEEN_IN:
            if any(p in stack for p in pats):
                seen[n] += 1
    for name, count in buckets.most_common():
        print(f"{100 * count / total:5.1f}%  {name}")
    for name, count in seen.most_common():
        print(f"{100 * count / total:5.1f}%  seen in: {name}")
    print(f"{total} samples")


if __name__ == "__main__":
    main(sys.argv[1])
