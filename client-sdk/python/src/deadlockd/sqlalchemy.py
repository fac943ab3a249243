"""SQLAlchemy: each pool checkout is one unit of a counted resource of the pool's real capacity.

    from deadlockd.sqlalchemy import instrument_engine
    engine = create_engine(url, pool_size=5, max_overflow=5)
    instrument_engine(dd, engine)

Checkouts are gated by the SDK's own counted semaphore (``pool_size + max_overflow`` units)
before SQLAlchemy's pool is asked, so a thread that would wait in the pool waits in the gate
instead: a wait the daemon sees and can abort (DeadlockError in that thread) rather than
SQLAlchemy's ``QueuePool limit ... connection timed out, timeout 30``. The pool itself never
blocks: it never has more checkouts than units. The pool's ``checkout``/``checkin``/``detach``
events tie each unit to its connection, so a connection returned from any thread (or by the
garbage collector) gives its unit back. A nested checkout (a second session opened by a thread
that holds one) is reported as a hazard the first time it happens, at concurrency 1.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from ._client import Client
from ._primitives import Semaphore

_UNIT_KEY = "deadlockd_unit"


def pool_capacity(pool: Pool) -> int | None:
    """pool_size + max_overflow of a QueuePool; None for an unbounded pool (nothing to gate)."""
    size = getattr(pool, "size", None)
    if not callable(size):
        return None
    overflow = int(getattr(pool, "_max_overflow", 0))
    if overflow < 0:
        return None
    capacity = int(size()) + overflow
    return capacity if capacity > 0 else None


def instrument_engine(dd: Client, engine: Engine, *, name: str | None = None) -> Semaphore | None:
    """Report and gate the engine's pool checkouts; returns the gate (None: the pool is unbounded)."""
    capacity = pool_capacity(engine.pool)
    if capacity is None:
        dd.logger.warning("deadlockd: the pool of %s is unbounded; its checkouts are not reported", engine.url)
        return None
    label = name or f"sqlalchemy pool {engine.url.render_as_string(hide_password=True)}"
    gate = dd.Semaphore(label, capacity)
    _instrument_pool(engine.pool, gate)

    @event.listens_for(engine, "engine_disposed")
    def _recreated(_engine: Engine) -> None:
        # dispose() replaces the pool (same settings): gate the new one too
        _instrument_pool(engine.pool, gate)

    return gate


def _instrument_pool(pool: Pool, gate: Semaphore) -> None:
    if getattr(pool, "_deadlockd_gate", None) is gate:
        return
    pending = threading.local()
    original = pool.connect

    def connect() -> Any:
        unit = gate.acquire_unit()  # DeadlockError here if the daemon picks this wait
        pending.unit = unit
        try:
            return original()
        except BaseException:
            if getattr(pending, "unit", None) is unit:
                pending.unit = None
                gate.release_unit(unit)  # type: ignore[arg-type]
            raise

    # an instance attribute: Engine.raw_connection() calls self.pool.connect()
    pool.connect = connect  # type: ignore[method-assign]
    pool._deadlockd_gate = gate  # type: ignore[attr-defined]

    @event.listens_for(pool, "checkout")
    def _checkout(_dbapi: Any, record: Any, _proxy: Any) -> None:
        unit = getattr(pending, "unit", None)
        pending.unit = None
        if unit is not None:
            record.info[_UNIT_KEY] = unit

    def _give_back(record: Any) -> None:
        unit = record.info.pop(_UNIT_KEY, None) if record is not None else None
        if unit is not None:
            gate.release_unit(unit)

    @event.listens_for(pool, "checkin")
    def _checkin(_dbapi: Any, record: Any) -> None:
        _give_back(record)

    @event.listens_for(pool, "detach")
    def _detach(_dbapi: Any, record: Any) -> None:
        _give_back(record)
