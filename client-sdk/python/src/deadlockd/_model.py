"""The process-local state the SDK reports: owners, resources, holds and waits."""

from __future__ import annotations

import threading
import time
from typing import Any, Literal, Protocol

Kind = Literal["mutex", "rwlock", "semaphore"]
Mode = Literal["shared", "exclusive"]


class Owner:
    """Something that holds and waits: a thread, an asyncio task or a ``dd.task()``."""

    __slots__ = ("abortable", "declared_epoch", "ended", "held", "id", "name", "priority", "records", "started_at")

    def __init__(self, owner_id: str, name: str, priority: int = 0, abortable: bool = True) -> None:
        self.id = owner_id
        self.name = name
        self.priority = priority
        self.abortable = abortable
        self.started_at = time.time() * 1000
        self.ended = False
        self.declared_epoch = -1
        # what this owner holds now, oldest first (the newest is the `held` side of an order fact)
        self.held: list[Resource] = []
        # live records of this owner the reporter tracks
        self.records: set[Rec] = set()

    def declaration(self) -> dict[str, Any]:
        return {
            "type": "owner",
            "owner": self.id,
            "name": self.name[:512],
            "priority": self.priority,
            "abortable": self.abortable,
            "startedAt": self.started_at,
        }


class Resource(Protocol):
    """A resource as the reporter sees it: an id and a declaration sent before first use."""

    id: str
    declared_epoch: int
    # its handle in that epoch, when the daemon takes handles (proto ResourceEvent.handle)
    handle: int
    # a counted resource (semaphore, pool): taking it again while holding it is a nested checkout
    counted: bool

    def declaration(self) -> dict[str, Any]: ...


class Rec:
    """One hold or wait the daemon knows (or will know once it is old enough)."""

    __slots__ = (
        "kind", "mode", "owner", "reported", "resource", "since", "stack", "start", "tracked", "units",
        "wait_id", "waiter",
    )

    def __init__(
        self,
        kind: Literal["hold", "wait"],
        owner: Owner,
        resource: Resource,
        *,
        mode: Mode | None = None,
        units: int | None = None,
        wait_id: str | None = None,
        stack: str | None = None,
    ) -> None:
        self.kind: Literal["hold", "wait"] = kind
        self.owner = owner
        self.resource = resource
        self.mode = mode
        self.units = units
        self.wait_id = wait_id
        self.stack = stack
        self.since = time.time() * 1000
        self.start = time.monotonic()
        self.reported = False
        self.tracked = False
        # the pending Wait of a reported wait record
        self.waiter: Wait | None = None

    def event(self, ref: str | int) -> dict[str, Any]:
        """Its hold or wait event; ``ref`` names the resource (its name, or its handle)."""
        ev: dict[str, Any]
        if self.kind == "hold":
            ev = {"type": "hold", "owner": self.owner.id, "resource": ref, "since": self.since}
        else:
            ev = {"type": "wait", "waitId": self.wait_id, "owner": self.owner.id, "resource": ref}
            ev["since"] = self.since
        if self.mode is not None:
            ev["mode"] = self.mode
        if self.units is not None:
            ev["units"] = self.units
        if self.stack is not None:
            ev["stack"] = self.stack
        return ev


class Wait:
    """A pending, reported wait: the daemon may abort it (then ``error`` is set and ``wake`` fires)."""

    __slots__ = ("done", "error", "hooks", "rec", "wake")

    def __init__(self, rec: Rec) -> None:
        self.rec = rec
        self.error: BaseException | None = None
        self.done = False
        self.wake = threading.Event()
        # called (outside the SDK's lock) when the wait is aborted: cancel hooks of external acquires
        self.hooks: list[Any] = []
