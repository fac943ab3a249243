"""The seed case: a SQLAlchemy QueuePool exhausted by nested sessions, on a real PostgreSQL."""

from __future__ import annotations

import threading
import time
from typing import Any

from conftest import Daemon, Postgres, until
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

import deadlockd
from deadlockd.sqlalchemy import instrument_engine


def test_nested_session_hazard_at_concurrency_1_then_one_deadlock_error_for_10_threads(
    daemon: Daemon, pg: Postgres
) -> None:
    dd = deadlockd.connect(daemon.url, service="orders")
    hazards: list[dict[str, Any]] = []
    dd.on_hazard(hazards.append)
    engine = create_engine(pg.sqlalchemy_url, pool_size=5, max_overflow=5, pool_timeout=30)
    try:
        gate = instrument_engine(dd, engine)
        assert gate is not None and gate.capacity == 10

        def nested(barrier: threading.Barrier | None) -> None:
            with Session(engine) as outer:
                outer.execute(text("select 1"))
                if barrier is not None:
                    barrier.wait()
                # the helper opens its own session instead of using the caller's: a second checkout
                with Session(engine) as inner:
                    inner.execute(text("select 1"))

        # concurrency 1: nothing blocks, but the daemon already reports the hazard
        nested(None)
        until(lambda: any(h["kind"] == "nested-pool-checkout" for h in hazards), "the nested-checkout hazard")
        hazard = next(h for h in hazards if h["kind"] == "nested-pool-checkout")
        assert any("test_sqlalchemy.py" in (s.get("stack") or "") for s in hazard["sites"]), hazard

        barrier = threading.Barrier(10)
        errors: list[deadlockd.DeadlockError] = []
        finished: list[int] = []

        def worker(i: int) -> None:
            try:
                nested(barrier)
            except deadlockd.DeadlockError as e:
                errors.append(e)
            finished.append(i)

        t0 = time.monotonic()
        threads = [threading.Thread(target=worker, args=(i,), name=f"worker-{i}") for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        took = time.monotonic() - t0
        assert sorted(finished) == list(range(10)), "all workers finished"
        assert len(errors) == 1, f"exactly one DeadlockError, got {len(errors)}"
        assert took < 25, f"resolved by the daemon, not by the pool's 30 s timeout ({took:.1f} s)"
        report = errors[0].report
        assert len(report["members"]) == 10
        assert gate.available == 10, "every unit given back"
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        engine.dispose()
        dd.close()


def test_a_connection_closed_by_another_thread_gives_its_unit_back(daemon: Daemon, pg: Postgres) -> None:
    dd = deadlockd.connect(daemon.url, service="handoff")
    engine = create_engine(pg.sqlalchemy_url, pool_size=1, max_overflow=0)
    try:
        gate = instrument_engine(dd, engine)
        assert gate is not None
        conn = engine.connect()
        assert gate.available == 0
        t = threading.Thread(target=conn.close)
        t.start()
        t.join(30)
        assert gate.available == 1
        with engine.connect() as again:
            assert again.execute(text("select 2")).scalar() == 2
        engine.dispose()  # a new pool: still gated
        with engine.connect():
            assert gate.available == 0
        assert gate.available == 1
    finally:
        engine.dispose()
        dd.close()
