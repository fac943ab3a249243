"""Real threads with dd.Lock against a real daemon: transfers in opposite orders, a 3-way ring."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from conftest import Daemon, until

import deadlockd


def test_transfers_between_two_accounts_8_threads_conserve_money(daemon: Daemon) -> None:
    dd = deadlockd.connect(daemon.url, service="bank")
    try:
        locks = {"a": dd.Lock("account:a"), "b": dd.Lock("account:b")}
        balance = {"a": 1000, "b": 1000}
        deadlocks: list[str] = []
        done = []
        rounds = 15
        # every thread starts its transfers together, so opposite orders really meet
        start = threading.Barrier(8)

        def transfer(src: str, dst: str, amount: int) -> None:
            with locks[src]:
                # hold the first lock long enough for the other direction to take its own first lock
                gate.wait_for_pair()
                with locks[dst]:
                    balance[src] -= amount
                    balance[dst] += amount

        class Gate:
            """Each round, the two directions take their first lock before either takes its second."""

            def __init__(self) -> None:
                self.cv = threading.Condition()
                self.inside = 0

            def wait_for_pair(self) -> None:
                with self.cv:
                    self.inside += 1
                    self.cv.notify_all()
                    self.cv.wait_for(lambda: self.inside >= 2, timeout=0.05)

            def reset(self) -> None:
                with self.cv:
                    self.inside = 0

        gate = Gate()

        def worker(i: int) -> None:
            start.wait()
            src, dst = ("a", "b") if i % 2 == 0 else ("b", "a")
            for _ in range(rounds):
                def once() -> None:
                    try:
                        transfer(src, dst, 1 + i)
                    except deadlockd.DeadlockError as e:
                        deadlocks.append(e.deadlock_id)
                        raise
                    finally:
                        gate.reset()
                deadlockd.retry_on_deadlock(once, attempts=50, backoff=0.001)
            done.append(i)

        threads = [threading.Thread(target=worker, args=(i,), name=f"transfer-{i}") for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert sorted(done) == list(range(8)), "every worker finished all its transfers"
        assert balance["a"] + balance["b"] == 2000, "money is conserved"
        net = sum((1 + i) * rounds * (1 if i % 2 == 0 else -1) for i in range(8))
        assert balance["a"] == 1000 - net
        assert deadlocks, "opposite orders under a barrier deadlocked at least once and retried"
        ids = {d["id"] for d in daemon.deadlocks()}
        assert set(deadlocks) <= ids, "each DeadlockError names a deadlock the daemon recorded"
    finally:
        dd.close()


def test_three_way_ring_costs_exactly_one_deadlock_error(daemon: Daemon) -> None:
    dd = deadlockd.connect(daemon.url, service="ring")
    try:
        locks = [dd.Lock(f"ring:{i}") for i in range(3)]
        first_taken = threading.Barrier(3)
        errors: list[deadlockd.DeadlockError] = []
        finished: list[int] = []

        def member(i: int) -> None:
            with locks[i]:
                first_taken.wait()
                try:
                    with locks[(i + 1) % 3]:
                        pass
                except deadlockd.DeadlockError as e:
                    errors.append(e)
                    return
            finished.append(i)

        threads = [threading.Thread(target=member, args=(i,), name=f"ring-{i}") for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(errors) == 1, f"exactly one victim, got {len(errors)}"
        assert len(finished) == 2
        report: dict[str, Any] = errors[0].report
        assert len(report["members"]) == 3
        assert all(m["service"] == "ring" for m in report["members"])
        # the waits carry Python call sites of this file
        stacks = [w.get("stack", "") for m in report["members"] for w in m["waits"]]
        assert any("test_threads.py" in s and "in member" in s for s in stacks), stacks
        until(lambda: daemon.deadlocks(), "the deadlock in the daemon's history")
    finally:
        dd.close()


def test_task_names_owner_and_priority_picks_the_victim(daemon: Daemon) -> None:
    dd = deadlockd.connect(daemon.url, service="prio")
    try:
        a, b = dd.Lock("p:a"), dd.Lock("p:b")
        both = threading.Barrier(2)
        victims: list[str] = []

        def run(name: str, prio: int, first: deadlockd.Lock, second: deadlockd.Lock) -> None:
            with dd.task(name, priority=prio), first:
                both.wait()
                try:
                    with second:
                        pass
                except deadlockd.DeadlockError:
                    victims.append(name)

        t1 = threading.Thread(target=run, args=("important", 10, a, b))
        t2 = threading.Thread(target=run, args=("batch", 0, b, a))
        t1.start()
        t2.start()
        t1.join(60)
        t2.join(60)
        assert victims == ["batch"], "the lowest priority owner is the victim"
    finally:
        dd.close()


@pytest.mark.parametrize("kind", ["Lock", "RLock"])
def test_timeout_and_nonblocking_as_threading(daemon: Daemon, kind: str) -> None:
    dd = deadlockd.connect(daemon.url, service="t")
    try:
        lock = getattr(dd, kind)(f"t:{kind}")
        assert lock.acquire()
        got: list[bool] = []
        t = threading.Thread(target=lambda: got.extend([lock.acquire(False), lock.acquire(timeout=0.05)]))
        t.start()
        t.join(30)
        assert got == [False, False]
        lock.release()
        with pytest.raises(deadlockd.NotHeldError):
            lock.release()
    finally:
        dd.close()
