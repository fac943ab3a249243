"""Per-operation cost of an uncontended ``with dd.Lock(...)`` against ``with threading.Lock()``.

Measured side by side in alternating rounds (medians), connected to a real daemon whose URL is
the first argument; prints one JSON line. Used by ``npm run bench`` (bench/src/python-lock.ts).
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time

import deadlockd


def per_op_ns(lock: object, n: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(n):
        with lock:  # type: ignore[attr-defined]
            pass
    return (time.perf_counter_ns() - t0) / n


def main() -> None:
    url = sys.argv[1]
    ops = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    dd = deadlockd.connect(url, service="bench-python")
    try:
        ddl = dd.Lock("bench-uncontended")
        tl = threading.Lock()
        per_op_ns(ddl, ops // 10)  # warm-up
        per_op_ns(tl, ops // 10)
        sent_before = dd.stats["events_sent"]
        sdk, plain = [], []
        for _ in range(rounds):
            sdk.append(per_op_ns(ddl, ops))
            plain.append(per_op_ns(tl, ops))
        dd.flush()
        sent = dd.stats["events_sent"] - sent_before
        s, p = statistics.median(sdk), statistics.median(plain)
        print(json.dumps({"connected": dd.connected, "opsPerRound": ops, "rounds": rounds,
                          "nsPerOp": {"sdk": s, "threading": p}, "ratio": s / p, "eventsSent": sent}))
    finally:
        dd.close()


if __name__ == "__main__":
    main()
