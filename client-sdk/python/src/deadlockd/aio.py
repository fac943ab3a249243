"""asyncio twins: ``dd.AsyncLock(name)`` and ``dd.AsyncSemaphore(name, n)`` (``async with``).

Inside an event loop the owner is the running asyncio task (or the ``dd.task()`` around it), so
two coroutines of one thread that wait for each other are a deadlock the daemon sees. A blocked
acquire the daemon picks raises DeadlockError in that task only; the loop carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType
from typing import Any

from ._model import Rec
from ._primitives import _drop, _Unit
from ._runtime import Runtime
from .errors import NotHeldError


class _AsyncCounted:
    kind = "semaphore"
    counted = True

    def __init__(self, rt: Runtime, name: str, capacity: int) -> None:
        if not isinstance(name, str) or not 0 < len(name) <= 256:
            raise TypeError("a resource name is a string of 1 to 256 characters")
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError("capacity is an integer >= 1")
        self._rt = rt
        self.id = name
        self.name = name
        self.capacity = capacity
        self.declared_epoch = -1
        self.handle = -1
        self._sem = asyncio.Semaphore(capacity)
        self._units: list[_Unit] = []
        self._waiters = 0

    def declaration(self) -> dict[str, Any]:
        ev: dict[str, Any] = {"type": "resource", "resource": self.id, "kind": self.kind, "scope": "local",
                              "fifo": False}
        if self.kind == "semaphore":
            ev["capacity"] = self.capacity
        return ev

    def _units_field(self) -> int | None:
        return 1 if self.kind == "semaphore" else None

    def _took(self, owner: Any, rec: Rec | None = None) -> None:
        u = _Unit(owner, self._units_field(), None)
        u.rec = rec
        self._units.append(u)
        owner.held.append(self)

    def _report_holders(self) -> None:
        rep = self._rt.reporter
        for u in list(self._units):
            if u.rec is None:
                u.rec = Rec("hold", u.owner, self, units=u.units)
                rep.begin(u.rec, True)

    async def acquire(self, timeout: float | None = None) -> bool:
        rt = self._rt
        owner = rt.current_async_owner()
        if owner.held:
            rt.asked(owner, self)
        if not self._sem.locked():
            await self._sem.acquire()
            self._took(owner)
            return True
        since = time.time() * 1000
        start = time.monotonic()
        acq = asyncio.ensure_future(self._sem.acquire())
        first = rt.report_after if timeout is None else min(rt.report_after, timeout)
        try:
            await asyncio.wait({acq}, timeout=first)
        except asyncio.CancelledError:
            await self._withdraw(acq)
            raise
        if acq.done():
            self._took(owner)
            return True
        rep = rt.reporter
        loop = asyncio.get_running_loop()
        with rep.lock:
            self._waiters += 1
            self._report_holders()
            w = rt.register_wait(owner, self, since, units=self._units_field(), stack=rt.site())
            w.hooks.append(lambda: loop.call_soon_threadsafe(acq.cancel))
        try:
            left = None if timeout is None else max(0.0, timeout - (time.monotonic() - start))
            try:
                await asyncio.wait({acq}, timeout=left)
            except asyncio.CancelledError:
                got = await self._withdraw(acq)
                with rep.lock:
                    if w.error is None:
                        w.done = True
                        rep.ended(w.rec, "signal")
                if got:
                    self._sem.release()
                raise
            got = (acq.done() and not acq.cancelled()) or await self._withdraw(acq)
            with rep.lock:
                if w.error is None:
                    w.done = True
                    if got:
                        rep.granted(w.rec)
                        self._took(owner, w.rec if w.rec.reported else None)
                        return True
                    rep.ended(w.rec, "timeout")
                    return False
            if got:
                self._sem.release()
            raise w.error
        finally:
            with rep.lock:
                self._waiters -= 1

    @staticmethod
    async def _withdraw(acq: asyncio.Future[Any]) -> bool:
        """Cancel a pending inner acquire; True if it had succeeded anyway (the caller gives it back)."""
        if acq.done():
            return not acq.cancelled() and acq.exception() is None
        acq.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await acq
        return not acq.cancelled()

    def release(self) -> None:
        owner = self._rt.current_async_owner()
        units = self._units
        found = next((u for u in reversed(units) if u.owner is owner), units[-1] if units else None)
        if found is None:
            raise NotHeldError(f"release of '{self.id}', which is not held")
        units.remove(found)
        _drop(found.owner.held, self)
        if found.rec is not None or self._waiters:
            rep = self._rt.reporter
            with rep.lock:
                rec, found.rec = found.rec, None
                if rec is not None:
                    rep.ended(rec)
        self._sem.release()

    def locked(self) -> bool:
        return self._sem.locked()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.release()


class AsyncLock(_AsyncCounted):
    """``asyncio.Lock`` that the daemon sees when it blocks."""

    kind = "mutex"
    counted = False

    def __init__(self, rt: Runtime, name: str) -> None:
        super().__init__(rt, name, 1)


class AsyncSemaphore(_AsyncCounted):
    """``asyncio.Semaphore(n)``; each acquire is one unit of a counted resource."""
