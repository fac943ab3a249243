"""A Python service and a Node service take two PostgreSQL advisory locks in opposite orders.

Each goes through its own SDK's adapter (deadlockd.pg / @deadlockd/client/pg-advisory), which
name the locks identically, so the daemon sees one cycle across both processes and languages,
aborts exactly one side, and its report names both services with each side's call site in its
own language.
"""

from __future__ import annotations

import json
import subprocess
import threading
from typing import Any

import psycopg
from conftest import HERE, REPO, STEP_S, Daemon, Postgres, until

import deadlockd
from deadlockd.pg import advisory_lock

KEY_A, KEY_B = 91_001, 91_002


def test_python_and_node_deadlock_on_advisory_locks_one_victim_both_call_sites(daemon: Daemon, pg: Postgres) -> None:
    node = subprocess.Popen(
        ["node", str(HERE / "support" / "node_transfer.mjs"), daemon.url, json.dumps(pg.config),
         str(KEY_B), str(KEY_A)],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    node_lines: list[dict[str, Any]] = []

    def read_node() -> None:
        assert node.stdout is not None
        for line in node.stdout:
            if line.startswith("{"):
                node_lines.append(json.loads(line))

    reader = threading.Thread(target=read_node, daemon=True)
    reader.start()
    dd = deadlockd.connect(daemon.url, service="py-orders")
    py_result: list[Any] = []
    try:
        with psycopg.connect(pg.dsn, autocommit=True) as conn, dd.task("py-transfer"), \
                advisory_lock(dd, conn, KEY_A):
            until(lambda: any("holding" in x for x in node_lines), "the Node side to hold its first lock", 60)
            assert node.stdin is not None
            node.stdin.write("go\n")
            node.stdin.flush()
            try:
                with advisory_lock(dd, conn, KEY_B):
                    py_result.append("granted")
            except deadlockd.DeadlockError as e:
                py_result.append(e)
        node.wait(STEP_S * 2)
        reader.join(STEP_S)
        assert node.returncode == 0, node.stderr.read() if node.stderr else ""
        node_result = next(x for x in node_lines if "result" in x)
        outcomes = [py_result[0] if py_result[0] == "granted" else "deadlock", node_result["result"]]
        assert sorted(outcomes) == ["deadlock", "granted"], f"exactly one side aborted: {outcomes}"

        history = daemon.deadlocks()
        assert len(history) == 1, history
        report = daemon.get(f"/v1/deadlocks/{history[0]['id']}")
        report = report.get("report", report)
        services = {m["service"] for m in report["members"]}
        assert services == {"py-orders", "node-billing"}
        stacks = {m["service"]: "\n".join(w.get("stack") or "" for w in m["waits"]) for m in report["members"]}
        assert 'test_cross_language.py", line' in stacks["py-orders"], stacks["py-orders"]
        assert "node_transfer.mjs:" in stacks["node-billing"], stacks["node-billing"]
        names = {w["resource"] for m in report["members"] for w in m["waits"]}
        # both SDKs named the locks alike (the daemon shows shared resources as g:<name>)
        assert len(names) == 2 and all("pg:" in n and "/advisory:9100" in n for n in names), names
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
        dd.close()
