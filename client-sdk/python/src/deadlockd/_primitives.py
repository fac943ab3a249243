"""Drop-in locks: dd.Lock, dd.RLock, dd.Semaphore, dd.RWLock (``with`` and ``acquire(timeout=...)`` as threading).

An uncontended acquire stays in the process: it takes the real lock and notes its holder,
nothing else. Only an acquire that blocks for ``report_after`` is reported, together with the
holders it waits for; from then on its wait can be aborted by the daemon (DeadlockError in
that thread). Lock/RLock are a ``threading`` lock underneath; Semaphore/RWLock a Condition.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

from ._model import Mode, Owner, Rec
from ._runtime import Runtime, task_owner
from .errors import NotHeldError

_task_owner_get = task_owner.get


def _drop(held: list[Any], res: object) -> None:
    """Remove the newest occurrence of res from an owner's held stack (usually the last)."""
    if held and held[-1] is res:
        held.pop()
        return
    for i in range(len(held) - 1, -1, -1):
        if held[i] is res:
            del held[i]
            return


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None or timeout < 0 else time.monotonic() + timeout


class _Named:
    counted = False
    kind = "mutex"

    def __init__(self, rt: Runtime, name: str) -> None:
        if not isinstance(name, str) or not 0 < len(name) <= 256:
            raise TypeError("a resource name is a string of 1 to 256 characters")
        self._rt = rt
        self.id = name
        self.name = name
        self.declared_epoch = -1
        self.handle = -1

    def declaration(self) -> dict[str, Any]:
        return {"type": "resource", "resource": self.id, "kind": self.kind, "scope": "local", "fifo": False}

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError


class Lock(_Named):
    """``threading.Lock`` that the daemon sees when it blocks."""

    def __init__(self, rt: Runtime, name: str) -> None:
        super().__init__(rt, name)
        self._lock = threading.Lock()
        self._holder: Owner | None = None
        self._hold_rec: Rec | None = None
        self._waiters = 0

    def declaration(self) -> dict[str, Any]:
        return {"type": "resource", "resource": self.id, "kind": "mutex", "scope": "local", "fifo": False}

    def locked(self) -> bool:
        return self._lock.locked()

    # __enter__/__exit__ repeat acquire()/release()'s uncontended path inline: a Python call is
    # a large part of what an uncontended lock costs (see the bench, "Python SDK cost")
    def __enter__(self) -> bool:
        if self._lock.acquire(False):
            owner = _task_owner_get()
            if owner is None:
                try:
                    owner = self._rt.tls.owner
                except AttributeError:
                    owner = self._rt.current_owner()
            held = owner.held
            if held:
                self._rt.asked(owner, self)
            self._holder = owner
            held.append(self)
            return True
        return self._acquire_slow(True, -1)

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        owner = self._holder
        if owner is None:
            raise NotHeldError(f"release of lock '{self.id}', which is not held")
        self._holder = None
        held = owner.held
        if held and held[-1] is self:
            held.pop()
        else:
            _drop(held, self)
        if self._hold_rec is not None or self._waiters:
            self._report_release()
        self._lock.release()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(False):
            owner = self._rt.current_owner()
            if owner.held:
                self._rt.asked(owner, self)
            self._holder = owner
            owner.held.append(self)
            return True
        return self._acquire_slow(blocking, timeout)

    def _acquire_slow(self, blocking: bool, timeout: float) -> bool:
        if not blocking:
            return False
        rt = self._rt
        owner = rt.current_owner()
        if owner.held:
            rt.asked(owner, self)
        since = time.time() * 1000
        deadline = _deadline(timeout)
        first = rt.report_after if deadline is None else min(rt.report_after, max(0.0, timeout))
        if self._lock.acquire(True, first):
            self._holder = owner
            owner.held.append(self)
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        stack = rt.site()
        rep = rt.reporter
        with rep.lock:
            self._waiters += 1
            self._report_holder()
            w = rt.register_wait(owner, self, since, stack=stack)

        def granted(rec: Rec) -> None:
            self._holder = owner
            self._hold_rec = rec if rec.reported else None
            if rec.tracked and not rec.reported:
                rep.ended(rec)
            owner.held.append(self)

        try:
            return rt.wait_loop(w, lambda s: self._lock.acquire(True, s), deadline, granted,
                                self._lock.release, self._report_holder)
        finally:
            with rep.lock:
                self._waiters -= 1

    def _report_holder(self) -> None:
        """Under the reporter lock: make the current holder's hold known (someone waits for it)."""
        holder = self._holder
        if holder is not None and self._hold_rec is None:
            rec = Rec("hold", holder, self)
            self._hold_rec = rec
            self._rt.reporter.begin(rec, True)

    def release(self) -> None:
        owner = self._holder
        if owner is None:
            raise NotHeldError(f"release of lock '{self.id}', which is not held")
        self._holder = None
        _drop(owner.held, self)
        # the order matters (see _report_holder): the holder is cleared before looking for waiters
        if self._hold_rec is not None or self._waiters:
            self._report_release()
        self._lock.release()

    def _report_release(self) -> None:
        rep = self._rt.reporter
        with rep.lock:
            rec = self._hold_rec
            self._hold_rec = None
            if rec is not None:
                rep.ended(rec)


class RLock(Lock):
    """``threading.RLock`` that the daemon sees when it blocks."""

    def __init__(self, rt: Runtime, name: str) -> None:
        super().__init__(rt, name)
        self._lock = threading.RLock()  # type: ignore[assignment]  # the same acquire/release calls
        self._count = 0
        self._ident = 0  # the holding thread (only that thread sets or clears it)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._ident == threading.get_ident():  # re-entry by the holding thread
            self._lock.acquire()
            self._count += 1
            return True
        if super().acquire(blocking, timeout):
            self._ident = threading.get_ident()
            self._count = 1
            return True
        return False

    def release(self) -> None:
        if self._ident != threading.get_ident():
            raise NotHeldError(f"release of rlock '{self.id}', which this thread does not hold")
        if self._count > 1:
            self._count -= 1
            self._lock.release()
            return
        self._count = 0
        self._ident = 0
        super().release()


class _Unit:
    """One hold of a counted primitive: who, how much, and its record once someone waited for it."""

    __slots__ = ("mode", "owner", "rec", "units")

    def __init__(self, owner: Owner, units: int | None, mode: Mode | None) -> None:
        self.owner = owner
        self.units = units
        self.mode = mode
        self.rec: Rec | None = None


class _Counted(_Named):
    """Shared machinery of Semaphore and RWLock: a Condition-guarded state plus a list of holders."""

    def __init__(self, rt: Runtime, name: str) -> None:
        super().__init__(rt, name)
        self._cond = threading.Condition(threading.Lock())
        self._units: list[_Unit] = []
        self._waiters = 0

    def _can(self, units: int, mode: Mode | None) -> bool:
        raise NotImplementedError

    def _take(self, units: int, mode: Mode | None) -> None:
        raise NotImplementedError

    def _give(self, units: int, mode: Mode | None) -> None:
        raise NotImplementedError

    def _unit_units(self, units: int) -> int | None:
        return units

    def _acquire(self, units: int, mode: Mode | None, blocking: bool, timeout: float | None) -> _Unit | None:
        rt = self._rt
        owner = rt.current_owner()
        if owner.held:
            rt.asked(owner, self)
        cond = self._cond
        with cond:
            if self._can(units, mode):
                self._take(units, mode)
                return self._held(owner, units, mode)
        if not blocking:
            return None
        since = time.time() * 1000
        deadline = _deadline(timeout)
        first = rt.report_after if deadline is None or timeout is None else min(rt.report_after, max(0.0, timeout))
        with cond:
            if cond.wait_for(lambda: self._can(units, mode), first):
                self._take(units, mode)
                return self._held(owner, units, mode)
        if deadline is not None and time.monotonic() >= deadline:
            return None
        stack = rt.site()
        rep = rt.reporter
        with rep.lock:
            self._waiters += 1
            self._report_holders()
            w = rt.register_wait(owner, self, since, mode=mode, units=self._unit_units(units), stack=stack)
        got: list[_Unit] = []

        def attempt(slice_s: float) -> bool:
            with cond:
                if cond.wait_for(lambda: self._can(units, mode), slice_s):
                    self._take(units, mode)
                    return True
                return False

        def granted(rec: Rec) -> None:
            u = _Unit(owner, self._unit_units(units), mode)
            u.rec = rec if rec.reported else None
            if rec.tracked and not rec.reported:
                rep.ended(rec)
            self._units.append(u)
            owner.held.append(self)
            got.append(u)

        def give_back() -> None:
            with cond:
                self._give(units, mode)
                cond.notify_all()

        try:
            ok = rt.wait_loop(w, attempt, deadline, granted, give_back, self._report_holders)
        finally:
            with rep.lock:
                self._waiters -= 1
        return got[0] if ok else None

    def _held(self, owner: Owner, units: int, mode: Mode | None) -> _Unit:
        u = _Unit(owner, self._unit_units(units), mode)
        self._units.append(u)
        owner.held.append(self)
        return u

    def _report_holders(self) -> None:
        rep = self._rt.reporter
        for u in list(self._units):
            if u.rec is None:
                rec = Rec("hold", u.owner, self, mode=u.mode, units=u.units)
                u.rec = rec
                rep.begin(rec, True)

    def _release(self, u: _Unit, units: int, mode: Mode | None) -> None:
        try:
            self._units.remove(u)
        except ValueError:
            raise NotHeldError(f"release of '{self.id}': that hold was already released") from None
        _drop(u.owner.held, self)
        if u.rec is not None or self._waiters:
            rep = self._rt.reporter
            with rep.lock:
                rec = u.rec
                u.rec = None
                if rec is not None:
                    rep.ended(rec)
        with self._cond:
            self._give(units, mode)
            self._cond.notify_all()

    def _unit_of(self, owner: Owner, mode: Mode | None = None) -> _Unit:
        units = self._units
        for i in range(len(units) - 1, -1, -1):
            u = units[i]
            if u.owner is owner and (mode is None or u.mode == mode):
                return u
        if units and mode is None:
            return units[-1]  # as threading.Semaphore: any thread may release
        raise NotHeldError(f"release of '{self.id}', which this owner does not hold")


class Semaphore(_Counted):
    """``threading.Semaphore(n)``; each acquire is one unit of a counted resource (a pool)."""

    counted = True
    kind = "semaphore"

    def __init__(self, rt: Runtime, name: str, value: int) -> None:
        if not isinstance(value, int) or value < 1:
            raise ValueError("a semaphore's value is an integer >= 1")
        super().__init__(rt, name)
        self.capacity = value
        self._free = value

    def declaration(self) -> dict[str, Any]:
        return {"type": "resource", "resource": self.id, "kind": "semaphore", "scope": "local",
                "capacity": self.capacity, "fifo": False}

    def _can(self, units: int, mode: Mode | None) -> bool:
        return self._free >= units

    def _take(self, units: int, mode: Mode | None) -> None:
        self._free -= units

    def _give(self, units: int, mode: Mode | None) -> None:
        self._free += units

    def acquire(self, blocking: bool = True, timeout: float | None = -1) -> bool:
        return self._acquire(1, None, blocking, timeout) is not None

    def acquire_unit(self, timeout: float | None = None) -> _Unit | None:
        """Acquire one unit and get its handle (release it with release_unit, from any thread)."""
        return self._acquire(1, None, True, timeout)

    def release_unit(self, unit: _Unit) -> None:
        self._release(unit, 1, None)

    def release(self) -> None:
        self._release(self._unit_of(self._rt.current_owner()), 1, None)

    @property
    def available(self) -> int:
        return self._free


class RWLock(_Counted):
    """A readers-writer lock: ``with rw.read():`` / ``with rw.write():`` (writers are not starved)."""

    kind = "rwlock"

    def __init__(self, rt: Runtime, name: str) -> None:
        super().__init__(rt, name)
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    def declaration(self) -> dict[str, Any]:
        return {"type": "resource", "resource": self.id, "kind": "rwlock", "scope": "local", "fifo": False}

    def _unit_units(self, units: int) -> int | None:
        return None

    def _can(self, units: int, mode: Mode | None) -> bool:
        if mode == "shared":
            return not self._writer and self._writers_waiting == 0
        return not self._writer and self._readers == 0

    def _take(self, units: int, mode: Mode | None) -> None:
        if mode == "shared":
            self._readers += 1
        else:
            self._writer = True

    def _give(self, units: int, mode: Mode | None) -> None:
        if mode == "shared":
            self._readers -= 1
        else:
            self._writer = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self.acquire_write(blocking, timeout)

    def release(self) -> None:
        owner = self._rt.current_owner()
        u = self._unit_of(owner)
        self._release(u, 1, u.mode)

    def acquire_read(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._acquire(1, "shared", blocking, timeout) is not None

    def acquire_write(self, blocking: bool = True, timeout: float = -1) -> bool:
        with self._cond:
            self._writers_waiting += 1
        try:
            return self._acquire(1, "exclusive", blocking, timeout) is not None
        finally:
            with self._cond:
                self._writers_waiting -= 1
                self._cond.notify_all()

    def read(self) -> _Guard:
        return _Guard(self, "shared")

    def write(self) -> _Guard:
        return _Guard(self, "exclusive")


class _Guard:
    def __init__(self, rw: RWLock, mode: Mode) -> None:
        self._rw = rw
        self._mode: Mode = mode

    def __enter__(self) -> None:
        if self._mode == "shared":
            self._rw.acquire_read()
        else:
            self._rw.acquire_write()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        rw = self._rw
        u = rw._unit_of(rw._rt.current_owner(), self._mode)
        rw._release(u, 1, self._mode)
