"""The seed case: 10 threads, each holding a session while a helper opens a second one.

pool_size=5 + max_overflow=5 = 10 connections, all held by threads that each wait for an 11th.
Without deadlockd: every thread waits 30 s and fails with "QueuePool limit of size 5 overflow 5
reached, connection timed out, timeout 30". With it: one DeadlockError, the others finish.

    DEADLOCKD_URL=ws://127.0.0.1:7070/v1/stream DATABASE_URL=postgresql+psycopg://... \\
        python examples/sqlalchemy_nested_session.py
"""

import os
import threading
import time

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

import deadlockd
from deadlockd.sqlalchemy import instrument_engine

dd = deadlockd.connect(os.environ.get("DEADLOCKD_URL", "ws://127.0.0.1:7070/v1/stream"), service="orders")
engine = create_engine(os.environ["DATABASE_URL"], pool_size=5, max_overflow=5, pool_timeout=30)
instrument_engine(dd, engine)
everyone_has_one = threading.Barrier(10)


def audit_log(order_id: int) -> None:
    # the bug: a helper that opens its own session instead of using the caller's
    with Session(engine) as s:
        s.execute(text("select :id"), {"id": order_id})


def place_order(order_id: int) -> None:
    with Session(engine) as s:
        s.execute(text("select 1"))
        everyone_has_one.wait()
        audit_log(order_id)


def worker(order_id: int) -> None:
    try:
        place_order(order_id)
        print(f"order {order_id}: done")
    except deadlockd.DeadlockError as e:
        print(f"order {order_id}: DeadlockError {e.deadlock_id}")


t0 = time.monotonic()
threads = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"all 10 finished in {time.monotonic() - t0:.2f} s")
dd.close()
