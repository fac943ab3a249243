"""Fail-open with no daemon, and a deadlock that formed while the daemon was down (kill -9, restart,
snapshot resync)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

import pytest
from conftest import STEP_S, Daemon, until

import deadlockd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_no_daemon_locks_still_work_one_warning_nothing_buffered(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="deadlockd")
    url = f"ws://127.0.0.1:{free_port()}/v1/stream"
    dd = deadlockd.connect(url, service="lonely", connect_timeout=0.5, reconnect=(0.02, 0.05))
    try:
        assert not dd.connected
        a, b = dd.Lock("a"), dd.Semaphore("pool", 2)
        counter = [0]

        def work() -> None:
            for _ in range(200):
                with b, a:
                    counter[0] += 1

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(STEP_S)
        assert counter[0] == 800
        # reconnect attempts go on in the background (several at this backoff), yet one warning
        until(lambda: dd._link.attempts >= 4, "a few reconnect attempts")
        warnings = [r for r in caplog.records if "not reachable" in r.getMessage()]
        assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
        assert "locks keep working" in warnings[0].getMessage()
        assert dd.stats["buffered_events"] == 0
        assert dd.stats["events_sent"] == 0
    finally:
        dd.close()


def test_deadlock_formed_while_daemon_down_is_found_after_restart(
    start_daemon: Callable[..., Daemon],
) -> None:
    first = start_daemon()
    port = first.port
    dd = deadlockd.connect(first.url, service="resync", reconnect=(0.02, 0.2))
    try:
        assert dd.connected
        first.kill9()
        until(lambda: not dd.connected, "the SDK to notice the daemon is gone")
        a, b = dd.Lock("resync:a"), dd.Lock("resync:b")
        both = threading.Barrier(2)
        errors: list[deadlockd.DeadlockError] = []
        done: list[str] = []

        def run(name: str, x: deadlockd.Lock, y: deadlockd.Lock) -> None:
            with x:
                both.wait()
                try:
                    with y:
                        pass
                except deadlockd.DeadlockError as e:
                    errors.append(e)
                    return
            done.append(name)

        t1 = threading.Thread(target=run, args=("ab", a, b))
        t2 = threading.Thread(target=run, args=("ba", b, a))
        t1.start()
        t2.start()
        # both are blocked now, with nobody to tell; a new daemon on the same port
        until(lambda: a._waiters and b._waiters, "both threads blocked")
        second = start_daemon(port=port)
        until(lambda: dd.connected, "the SDK to reconnect")
        t1.join(STEP_S * 2)
        t2.join(STEP_S * 2)
        assert len(errors) == 1, "the snapshot showed the cycle: exactly one victim"
        assert len(done) == 1
        assert [d["id"] for d in second.deadlocks()] == [errors[0].deadlock_id]
    finally:
        dd.close()
