"""Owners, lock-order facts and the wait protocol shared by every primitive."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from ._model import Mode, Owner, Rec, Resource, Wait
from ._reporter import Reporter
from ._site import capture_site, first_app_frame

# A blocked acquire wakes this often to see whether the daemon aborted it (abort latency bound).
POLL_SECONDS = 0.02

# the owner set by `dd.task()` for the code it runs (threads and asyncio tasks inherit contexts)
task_owner: contextvars.ContextVar[Owner | None] = contextvars.ContextVar("deadlockd_owner", default=None)


class _ThreadMarker:
    """Lives in a thread-local: when the thread ends it is collected, and its owner ends."""


class Runtime:
    def __init__(self, reporter: Reporter, logger: logging.Logger, capture_stacks: bool) -> None:
        self.reporter = reporter
        self.logger = logger
        self.capture_stacks = capture_stacks
        self.report_after = reporter.report_after
        self.tls = threading.local()
        self._owner_ids = itertools.count(1)
        self._wait_ids = itertools.count(1)
        self._async_owners: weakref.WeakKeyDictionary[asyncio.Task[Any], Owner] = weakref.WeakKeyDictionary()
        self._warned_nested: set[str] = set()

    # ---- owners ---------------------------------------------------------------------------------

    def current_owner(self) -> Owner:
        owner = task_owner.get()
        if owner is not None:
            return owner
        try:
            found: Owner = self.tls.owner
            return found
        except AttributeError:
            return self._new_thread_owner()

    def current_async_owner(self) -> Owner:
        """Inside an event loop: the running asyncio task is the owner (unless a dd.task() says otherwise)."""
        owner = task_owner.get()
        if owner is not None:
            return owner
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        if task is None:
            return self.current_owner()
        found = self._async_owners.get(task)
        if found is None:
            found = self.new_owner(task.get_name())
            self._async_owners[task] = found
            gone = self.reporter.owner_gone
            owner = found
            task.add_done_callback(lambda _t: gone(owner))
        return found

    def new_owner(self, name: str, priority: int = 0, abortable: bool = True) -> Owner:
        return Owner(f"o{next(self._owner_ids)}", name, priority, abortable)

    def _new_thread_owner(self) -> Owner:
        owner = self.new_owner(threading.current_thread().name)
        marker = _ThreadMarker()
        self.tls.owner = owner
        self.tls.marker = marker
        weakref.finalize(marker, self.reporter.owner_gone, owner)
        return owner

    def site(self) -> str | None:
        return capture_site() if self.capture_stacks else None

    # ---- lock order -----------------------------------------------------------------------------

    def asked(self, owner: Owner, acquired: Resource) -> None:
        """`owner`, which holds something, asks for `acquired` (lockdep-style order facts)."""
        held = owner.held
        newest = held[-1]
        self._fact(owner, newest, acquired)
        # a nested checkout is a hazard even with something else taken in between
        if acquired.counted and newest is not acquired and acquired in held[:-1]:
            self._fact(owner, acquired, acquired)

    def _fact(self, owner: Owner, held: Resource, acquired: Resource) -> None:
        rep = self.reporter
        nested = held is acquired and acquired.counted
        warn = nested and acquired.id not in self._warned_nested
        key = (held.id, acquired.id)
        report = rep.sink is not None and key not in rep.order_pairs
        if not warn and not report:
            return
        stack = self.site()
        if warn:
            self._warned_nested.add(acquired.id)
            self.logger.warning(
                "deadlockd: nested checkout: '%s' asked for another unit of '%s' while holding one. With as many "
                "such owners at once as the pool has units, they deadlock; pass the unit you hold down instead of "
                "checking out another.%s", owner.name, acquired.id, first_app_frame(stack))
        if report:
            with rep.lock:
                if key in rep.order_pairs or rep.sink is None:
                    return
                rep.order_pairs.add(key)
                rep.order(owner, held, acquired, stack)

    # ---- waits ----------------------------------------------------------------------------------

    def register_wait(self, owner: Owner, res: Resource, since: float, *, mode: Mode | None = None,
                      units: int | None = None, stack: str | None = None, report_now: bool = True) -> Wait:
        """A wait the daemon may abort. Caller holds reporter.lock."""
        rec = Rec("wait", owner, res, mode=mode, units=units, wait_id=f"w{next(self._wait_ids)}", stack=stack)
        rec.since = since
        w = Wait(rec)
        rec.waiter = w
        self.reporter.begin(rec, report_now)
        return w

    def wait_loop(
        self,
        w: Wait,
        attempt: Callable[[float], bool],
        deadline: float | None,
        on_grant: Callable[[Rec], None],
        give_back: Callable[[], None],
        refresh: Callable[[], None] | None = None,
    ) -> bool:
        """Block in short slices until granted (True), timed out (False) or aborted (raises DeadlockError)."""
        rep = self.reporter
        while True:
            if w.error is not None:
                raise w.error
            slice_s = POLL_SECONDS
            if deadline is not None:
                slice_s = min(slice_s, max(0.0, deadline - time.monotonic()))
            if attempt(slice_s):
                with rep.lock:
                    if w.error is None:
                        w.done = True
                        rep.granted(w.rec)
                        on_grant(w.rec)
                        return True
                give_back()
                raise w.error
            if deadline is not None and time.monotonic() >= deadline:
                with rep.lock:
                    if w.error is None:
                        w.done = True
                        rep.ended(w.rec, "timeout")
                        return False
                raise w.error
            if refresh is not None:
                with rep.lock:
                    refresh()
