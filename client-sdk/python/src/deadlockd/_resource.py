"""Shared, cross-process resources the SDK only reports: distributed locks, database advisory locks.

``dd.resource(name).acquire(fn)`` runs ``fn(cancel)`` as the real acquire in the calling thread,
reports its wait (once ``report_after`` old) and the hold once fn returns. If the daemon picks
the wait as a deadlock victim, the cancel hooks fn registered run at once (e.g. cancel the
PostgreSQL query), and acquire raises DeadlockError; a lock fn still delivers afterwards goes
to ``dispose``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

from ._model import Rec
from ._runtime import Runtime
from .errors import NotHeldError

T = TypeVar("T")


class Cancel:
    """Given to the real acquire: ``on_cancel(hook)`` runs hook if the wait is aborted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hooks: list[Callable[[], object]] = []
        self.cancelled = False
        self.reason: BaseException | None = None

    def on_cancel(self, hook: Callable[[], object]) -> None:
        with self._lock:
            if not self.cancelled:
                self._hooks.append(hook)
                return
        hook()

    def fire(self, reason: BaseException) -> None:
        with self._lock:
            if self.cancelled:
                return
            self.cancelled = True
            self.reason = reason
            hooks, self._hooks = self._hooks, []
        for hook in hooks:
            with contextlib.suppress(Exception):
                hook()


class Held(Generic[T]):
    """A hold of a shared resource: ``release()`` reports the release (you release the real lock)."""

    def __init__(self, res: SharedResource, rec: Rec, value: T) -> None:
        self._res = res
        self._rec = rec
        self.value = value
        self.released = False

    def release(self) -> None:
        if self.released:
            raise NotHeldError(f"resource '{self._res.id}' was already released")
        self.released = True
        rt = self._res._rt
        held = self._rec.owner.held
        for i in range(len(held) - 1, -1, -1):
            if held[i] is self._res:
                del held[i]
                break
        with rt.reporter.lock:
            rt.reporter.ended(self._rec)

    def __enter__(self) -> T:
        return self.value

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


class SharedResource:
    counted = False

    def __init__(self, rt: Runtime, name: str) -> None:
        self._rt = rt
        self.id = name
        self.name = name
        self.declared_epoch = -1
        self.handle = -1

    def declaration(self) -> dict[str, Any]:
        # the daemon cannot know the order of waits from different clients: never FIFO
        return {"type": "resource", "resource": self.id, "kind": "mutex", "scope": "global", "fifo": False}

    def acquire(self, fn: Callable[[Cancel], T], *, dispose: Callable[[T], object] | None = None) -> Held[T]:
        rt = self._rt
        owner = rt.current_owner()
        if owner.held:
            rt.asked(owner, self)
        rep = rt.reporter
        cancel = Cancel()
        since = time.time() * 1000
        stack = rt.site()
        with rep.lock:
            w = rt.register_wait(owner, self, since, stack=stack, report_now=False)
            w.hooks.append(lambda: cancel.fire(w.error or RuntimeError("aborted")))
        try:
            value = fn(cancel)
        except BaseException:
            with rep.lock:
                if w.error is None:
                    w.done = True
                    rep.ended(w.rec, "error")
            if w.error is not None:
                raise w.error from None
            raise
        with rep.lock:
            if w.error is None:
                w.done = True
                rep.granted(w.rec)
                owner.held.append(self)
                return Held(self, w.rec, value)
        # aborted while the real lock was on its way: give it back
        if dispose is not None:
            dispose(value)
        else:
            rt.logger.warning("deadlockd: resource %s was acquired after its wait was aborted; pass dispose= "
                              "to give it back", self.id)
        raise w.error
