"""The README's examples run as a new user would run them, against a real daemon and PostgreSQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import HERE, STEP_S, Daemon, Postgres

EXAMPLES = HERE.parent / "examples"


def run_example(name: str, env: dict[str, str]) -> str:
    r = subprocess.run([sys.executable, str(EXAMPLES / name)], env={**os.environ, **env}, capture_output=True,
                       text=True, timeout=STEP_S * 4)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_sqlalchemy_nested_session_example_one_deadlock_error(daemon: Daemon, pg: Postgres) -> None:
    out = run_example("sqlalchemy_nested_session.py", {"DEADLOCKD_URL": daemon.url, "DATABASE_URL": pg.sqlalchemy_url})
    assert len(re.findall(r"DeadlockError DL-", out)) == 1, out
    assert len(re.findall(r": done", out)) == 9, out
    seconds = float(re.search(r"all 10 finished in ([\d.]+) s", out).group(1))  # type: ignore[union-attr]
    assert seconds < 25, f"resolved by the daemon, not the pool's 30 s timeout: {out}"
    print(out)


def test_threads_transfer_example_conserves_money(daemon: Daemon) -> None:
    out = run_example("threads_transfer.py", {"DEADLOCKD_URL": daemon.url})
    assert "total 200" in out, out
