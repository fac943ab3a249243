"""Errors the SDK raises at the application."""

from __future__ import annotations

from typing import Any


class DeadlockError(Exception):
    """The daemon picked this blocked acquire as the victim of a deadlock.

    Raised in the one thread (or asyncio task) whose acquire was chosen; the
    lock was not taken. ``deadlock_id`` names the deadlock in the daemon
    (``GET /v1/deadlocks/<id>``), ``report`` is the daemon's report as a dict
    and ``text`` its readable rendering (also the message).
    """

    def __init__(self, deadlock_id: str, report: dict[str, Any]) -> None:
        text = str(report.get("text", ""))
        super().__init__(f"deadlock {deadlock_id}: this acquire was chosen as the victim\n{text}")
        self.deadlock_id = deadlock_id
        self.report = report
        self.text = text


class NotHeldError(RuntimeError):
    """release() of a lock this owner does not hold."""
