"""PostgreSQL advisory locks as a distributed lock, reported through ``dd.resource()``.

    from deadlockd.pg import advisory_lock
    with advisory_lock(dd, conn, 42):      # conn: a psycopg connection in autocommit mode
        ...

The resource is named ``pg:<system identifier>/<database>/advisory:<key>``, exactly as the Node
SDK's ``@deadlockd/client/pg-advisory`` names it, so a Python service and a Node service locking
the same key in the same database report the same resource and the daemon sees cycles through
both. If the daemon picks the wait as a victim, the pending ``pg_advisory_lock`` is cancelled on
the server (libpq's cancel request, repeated every 25 ms until the statement has ended, since the
abort can overtake the query) and DeadlockError is raised. Use an autocommit connection: advisory
locks are per session, and a cancelled statement would otherwise abort the open transaction.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from types import TracebackType
from typing import Any

import psycopg

from ._client import Client
from ._resource import Cancel, Held

CANCEL_RETRY_S = 0.025
INT8 = (-(2**63), 2**63 - 1)

_identities: weakref.WeakKeyDictionary[psycopg.Connection[Any], str] = weakref.WeakKeyDictionary()


def database_identity(conn: psycopg.Connection[Any]) -> str:
    """``<system identifier>/<database>`` (or ``<host>:<port>/<database>`` without pg_control_system access)."""
    found = _identities.get(conn)
    if found is not None:
        return found
    try:
        row = conn.execute("select current_database(), (select system_identifier::text from pg_control_system())"
                           ).fetchone()
    except psycopg.Error:
        row = conn.execute("select current_database(), coalesce(host(inet_server_addr()), 'local') || ':' || "
                           "current_setting('port')").fetchone()
    assert row is not None
    identity = f"{row[1]}/{row[0]}"
    _identities[conn] = identity
    return identity


class AdvisoryHeld:
    def __init__(self, conn: psycopg.Connection[Any], key: int, held: Held[None], resource: str) -> None:
        self._conn = conn
        self._key = key
        self._held = held
        self.resource = resource

    @property
    def released(self) -> bool:
        return self._held.released

    def release(self) -> None:
        """pg_advisory_unlock, then report the release."""
        self._held.release()
        self._conn.execute("select pg_advisory_unlock(%s::int8)", (self._key,))

    def __enter__(self) -> AdvisoryHeld:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def advisory_lock(dd: Client, conn: psycopg.Connection[Any], key: int, *, database: str | None = None) -> AdvisoryHeld:
    """pg_advisory_lock(key) on conn, reported as a wait and then a hold of a shared resource."""
    if not isinstance(key, int) or not INT8[0] <= key <= INT8[1]:
        raise ValueError(f"advisory key {key!r} is not a 64-bit integer")
    name = f"pg:{database or database_identity(conn)}/advisory:{key}"

    def take(cancel: Cancel) -> None:
        settled = threading.Event()

        def withdraw() -> None:
            # repeated until the statement has ended: the abort can overtake the query on its way
            def loop() -> None:
                while not settled.is_set():
                    with contextlib.suppress(Exception):
                        conn.cancel_safe(timeout=5)
                    settled.wait(CANCEL_RETRY_S)

            threading.Thread(target=loop, name="deadlockd-pg-cancel", daemon=True).start()

        cancel.on_cancel(withdraw)
        try:
            conn.execute("select pg_advisory_lock(%s::int8)", (key,))
        finally:
            settled.set()

    def give_back(_value: None) -> None:
        conn.execute("select pg_advisory_unlock(%s::int8)", (key,))

    held = dd.resource(name).acquire(take, dispose=give_back)
    return AdvisoryHeld(conn, key, held, name)
