"""connect() and the Client: the link, the reporter, named primitives, and the daemon's questions."""

from __future__ import annotations

import functools
import inspect
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, cast

from ._link import Link
from ._model import Owner
from ._primitives import Lock, RLock, RWLock, Semaphore
from ._reporter import Reporter
from ._resource import SharedResource
from ._runtime import Runtime, task_owner
from .aio import AsyncLock, AsyncSemaphore
from .errors import DeadlockError

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_REPORT_AFTER = 0.002
DEFAULT_FLUSH_INTERVAL = 0.001

log = logging.getLogger("deadlockd")

Named = Lock | Semaphore | RWLock | SharedResource | AsyncLock | AsyncSemaphore


class Client:
    """A process's connection to deadlockd and the factory of its primitives."""

    def __init__(
        self,
        url: str,
        *,
        service: str,
        instance: str | None = None,
        token: str | None = None,
        report_after: float = DEFAULT_REPORT_AFTER,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        connect_timeout: float = 2.0,
        reconnect: tuple[float, float] | None = (0.1, 5.0),
        capture_stacks: bool = True,
        max_buffered_events: int = 100_000,
        logger: logging.Logger | None = None,
    ) -> None:
        if not isinstance(url, str) or not url:
            raise TypeError("connect: `url` is required")
        if not isinstance(service, str) or not service:
            raise TypeError("connect: `service` is required")
        for what, v in (("report_after", report_after), ("flush_interval", flush_interval),
                        ("connect_timeout", connect_timeout)):
            if not isinstance(v, (int, float)) or v < 0:
                raise TypeError(f"connect: `{what}` must be a number >= 0 (seconds)")
        self.service = service
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        self.logger = logger or log
        self._reporter = Reporter(report_after=report_after, flush_interval=flush_interval,
                                  max_buffered_events=max(1, max_buffered_events), logger=self.logger)
        self._rt = Runtime(self._reporter, self.logger, capture_stacks)
        self._named: dict[str, Named] = {}
        self._named_lock = threading.Lock()
        self._deadlock_cbs: list[Callable[[dict[str, Any]], object]] = []
        self._hazard_cbs: list[Callable[[dict[str, Any]], object]] = []
        self._closed = False
        self._link = Link(
            url=url, service=service, instance=self.instance, token=token, connect_timeout=connect_timeout,
            reconnect=reconnect, logger=self.logger,
            # a reconnect always resyncs with a snapshot; a first connection only if state exists already
            on_welcome=lambda w, first: self._reporter.attach(
                self._link, not first, "handles" in (w.get("features") or [])),
            on_frame=self._on_frame, on_down=self._reporter.detach,
        )

    def _start(self) -> None:
        self._link.start()

    # ---- primitives -------------------------------------------------------------------------------

    def Lock(self, name: str) -> Lock:
        return self._lookup(name, Lock, lambda: Lock(self._rt, name))

    def RLock(self, name: str) -> RLock:
        return self._lookup(name, RLock, lambda: RLock(self._rt, name))

    def Semaphore(self, name: str, value: int = 1) -> Semaphore:
        sem = self._lookup(name, Semaphore, lambda: Semaphore(self._rt, name, value))
        if sem.capacity != value:
            raise ValueError(f"semaphore '{name}' exists with capacity {sem.capacity}, not {value}")
        return sem

    def RWLock(self, name: str) -> RWLock:
        return self._lookup(name, RWLock, lambda: RWLock(self._rt, name))

    def AsyncLock(self, name: str) -> AsyncLock:
        return self._lookup(name, AsyncLock, lambda: AsyncLock(self._rt, name))

    def AsyncSemaphore(self, name: str, value: int = 1) -> AsyncSemaphore:
        sem = self._lookup(name, AsyncSemaphore, lambda: AsyncSemaphore(self._rt, name, value))
        if sem.capacity != value:
            raise ValueError(f"semaphore '{name}' exists with capacity {sem.capacity}, not {value}")
        return sem

    def resource(self, name: str) -> SharedResource:
        """A shared cross-process resource (distributed lock, advisory lock), reported only."""
        return self._lookup(name, SharedResource, lambda: SharedResource(self._rt, name))

    def _lookup(self, name: str, kind: type[T], make: Callable[[], T]) -> T:
        with self._named_lock:
            found = self._named.get(name)
            if found is not None:
                if type(found) is kind:
                    return found
                raise TypeError(f"'{name}' is already a {type(found).__name__}; one name, one kind")
            made = make()
            self._named[name] = cast(Named, made)
            return made

    # ---- owners -------------------------------------------------------------------------------

    def task(self, name: str, *, priority: int = 0, abortable: bool = True) -> Task:
        """A named owner with a priority: ``with dd.task("job"):`` or ``@dd.task("job")``."""
        return Task(self, name, priority, abortable)

    def _end_owner(self, owner: Owner) -> None:
        rep = self._reporter
        with rep.lock:
            for rec in list(owner.records):
                if rec.kind == "hold":
                    self.logger.warning("deadlockd: task '%s' ended still holding '%s'; it is no longer tracked",
                                        owner.name, rec.resource.id)
                    break
            rep.owner_ended(owner)

    # ---- events -------------------------------------------------------------------------------

    def on_deadlock(self, cb: Callable[[dict[str, Any]], object]) -> None:
        """cb(report) for every deadlock involving one of this process's owners (on the link thread)."""
        self._deadlock_cbs.append(cb)

    def on_hazard(self, cb: Callable[[dict[str, Any]], object]) -> None:
        """cb(hazard) for lock-order inversions and nested pool checkouts (on the link thread)."""
        self._hazard_cbs.append(cb)

    @property
    def connected(self) -> bool:
        return self._link.welcomed

    @property
    def stats(self) -> dict[str, int]:
        rep = self._reporter
        with rep.lock:
            return {"events_sent": rep.events_sent, "frames_sent": rep.frames_sent,
                    "buffered_events": len(rep.log), "live_records": len(rep.live)}

    def flush(self) -> None:
        self._reporter.flush()

    def close(self) -> None:
        """Flush and close the connection. Primitives keep working locally afterwards."""
        if self._closed:
            return
        self._closed = True
        self._reporter.flush()
        self._link.close()
        self._reporter.detach()
        self._reporter.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # ---- the daemon's frames (link thread) ---------------------------------------------------------

    def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        try:
            if kind == "abort":
                self._on_abort(frame)
            elif kind == "confirm":
                self._on_confirm(frame)
            elif kind == "deadlock":
                for cb in self._deadlock_cbs:
                    cb(frame.get("report") or {})
            elif kind == "hazard":
                for cb in self._hazard_cbs:
                    cb(frame.get("hazard") or {})
            elif kind == "error":
                fatal = " (fatal)" if frame.get("fatal") else ""
                self.logger.warning("deadlockd: daemon error %s%s: %s", frame.get("code"), fatal, frame.get("message"))
            # any other type: a newer daemon's frame this SDK does not know; ignored
        except Exception:
            self.logger.exception("deadlockd: handling a %s frame failed", kind)

    def _on_abort(self, frame: dict[str, Any]) -> None:
        """Reject exactly that pending wait (its cancel goes first), unless the abort may have expired."""
        deadlock, wait_id, owner = frame.get("deadlock"), frame.get("waitId"), frame.get("owner")
        if not isinstance(deadlock, str) or not isinstance(wait_id, str):
            return
        rep = self._reporter
        result = "stale"
        hooks: list[Callable[[], object]] = []
        expires = frame.get("expiresAt")
        with rep.lock:
            w = rep.waits.get(wait_id)
            if w is not None and not w.done and w.error is None:
                daemon_now = self._link.daemon_clock_at_most()
                if isinstance(expires, (int, float)) and daemon_now is not None and daemon_now > expires:
                    result = "expired"
                    self.logger.warning("deadlockd: abort for deadlock %s arrived after it expired; not carried out "
                                        "(the daemon chooses again)", deadlock)
                elif w.rec.owner.id == owner:
                    report = frame.get("report")
                    w.error = DeadlockError(deadlock, report if isinstance(report, dict) else {})
                    w.done = True
                    rep.ended(w.rec, "deadlock")
                    hooks = list(w.hooks)
                    w.wake.set()
                    result = "aborted"
        for hook in hooks:
            try:
                hook()
            except Exception:
                self.logger.exception("deadlockd: a cancel hook failed")
        rep.flush_then(lambda: {"type": "abort_result", "deadlock": deadlock, "waitId": wait_id, "result": result})

    def _on_confirm(self, frame: dict[str, Any]) -> None:
        check, asked = frame.get("check"), frame.get("waits")
        if not isinstance(check, str) or not isinstance(asked, list):
            return
        rep = self._reporter
        rep.flush_then(lambda: {"type": "confirm_result", "check": check,
                                "pending": [w for w in asked if isinstance(w, str) and w in rep.waits]})


class Task:
    """A named owner: a context manager (the block runs as it) and a decorator (each call is a new one)."""

    def __init__(self, client: Client, name: str, priority: int, abortable: bool) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError("task: a name is required")
        self._client = client
        self.name = name
        self.priority = priority
        self.abortable = abortable
        # one Task object may be entered by several threads at once: a stack per thread
        self._local = threading.local()

    def __enter__(self) -> Owner:
        owner = self._client._rt.new_owner(self.name, self.priority, self.abortable)
        stack: list[tuple[Owner, Any]] = self._local.__dict__.setdefault("stack", [])
        stack.append((owner, task_owner.set(owner)))
        return owner

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        owner, token = self._local.stack.pop()
        task_owner.reset(token)
        self._client._end_owner(owner)

    async def __aenter__(self) -> Owner:
        return self.__enter__()

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.__exit__(et, ev, tb)

    def __call__(self, fn: F) -> F:
        client, name, prio, ab = self._client, self.name, self.priority, self.abortable
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with Task(client, name, prio, ab):
                    return await fn(*args, **kwargs)
            return cast(F, run_async)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with Task(client, name, prio, ab):
                return fn(*args, **kwargs)
        return cast(F, run)



def connect(url: str, *, service: str, **options: Any) -> Client:
    """Connect to the daemon. Returns at the welcome, or after connect_timeout without one (fail-open)."""
    client = Client(url, service=service, **options)
    client._start()
    return client


def retry_on_deadlock(fn: Callable[[], T], *, attempts: int = 5, backoff: float = 0.01) -> T:
    """Run fn; when it raises DeadlockError, run it again (up to `attempts` times, with a growing pause)."""
    for i in range(attempts):
        try:
            return fn()
        except DeadlockError:
            if i == attempts - 1:
                raise
            time.sleep(backoff * (2 ** i))
    raise AssertionError("unreachable")
