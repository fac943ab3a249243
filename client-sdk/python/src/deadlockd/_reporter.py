"""The ordered event log: what happens to holds and waits becomes wire events.

Rules the daemon relies on (the same as the Node SDK's):
- events go out in the order things happened;
- a wait is reported only once it is ``report_after`` old; a hold only when someone waits
  for it (local primitives) or once it is ``report_after`` old (shared resources);
- what was never reported leaves no trace: its release/grant/cancel sends nothing;
- an owner/resource is declared once per connection, right before its first use;
- while disconnected nothing is buffered; after (re)connecting a ``snapshot`` replaces the
  daemon's view of this client with the whole current state.

Everything here runs under ``lock`` (the SDK's one state lock); frames are written under
``send_lock`` (taken before ``lock``), so they leave in the order they were made.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from ._model import Owner, Rec, Resource, Wait

# Events per frame at most, whatever more the daemon takes: the daemon cannot pause inside one
# frame's JSON parse and checks, and a 10,000-event frame (its default limit) held its event loop
# 10-20 ms for every client; frames of 2,000 cost it 2-4 ms each. Not for a snapshot to a daemon
# that takes no snapshot parts: there the frames after the first are applied as they come.
EVENTS_PER_FRAME = 2000


class Sink(Protocol):
    max_events_per_frame: int
    max_frame_bytes: int
    max_snapshot_events: int | None

    def send_text(self, text: str) -> None: ...


class Reporter:
    def __init__(self, *, report_after: float, flush_interval: float, max_buffered_events: int,
                 logger: logging.Logger) -> None:
        self.report_after = report_after
        self.flush_interval = flush_interval
        self.max_buffered = max_buffered_events
        self.logger = logger
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.sink: Sink | None = None
        self.epoch = 0
        # The connection's daemon takes resource handles (welcome ``features``): each resource
        # declared in an epoch gets the next integer, and its holds, waits and releases name it
        # by that (the daemon finds it in an array slot, not by a hash lookup of the name). A new
        # epoch starts at 0 again: it begins with a snapshot, which replaces the daemon's handles.
        self.handles = False
        self.next_handle = 0
        self.seq = 1
        self.log: list[dict[str, Any]] = []
        self.need_snapshot = False
        # every tracked record, in the order it began; the not yet reported ones separately
        self.live: dict[Rec, None] = {}
        self.unreported: dict[Rec, None] = {}
        # reported pending waits by id (the daemon's abort/confirm name them)
        self.waits: dict[str, Wait] = {}
        # lock-order pairs sent in this epoch; read without the lock on the hot path (GIL-atomic)
        self.order_pairs: set[tuple[str, str]] = set()
        # owners whose thread ended (appended by weakref finalizers, handled by the flusher)
        self.ended_owners: collections.deque[Owner] = collections.deque()
        self.events_sent = 0
        self.frames_sent = 0
        self._overflow_warned = False
        self._snapshot_warned = False
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="deadlockd-flush", daemon=True)
        self._thread.start()

    # ---- connection ---------------------------------------------------------------------------

    def attach(self, sink: Sink, resync: bool, handles: bool = False) -> None:
        """A connection was welcomed; ``handles``: its welcome lists the ``handles`` feature."""
        with self.send_lock:
            with self.lock:
                self.sink = sink
                self.handles = handles
                self.seq = 1
                if resync or self.live:
                    frames = self._snapshot_frames()
                else:
                    self._new_epoch()
                    self.log = []
                    frames = []
            self._write(frames)

    def detach(self) -> None:
        with self.lock:
            self.sink = None
            self.log = []
            self.need_snapshot = False
            self.unreported = {}
            for rec in self.live:
                rec.reported = False
            # waits of a lost connection cannot be aborted by it; they are reported again in the snapshot
            self.waits = {}

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    def owner_gone(self, owner: Owner) -> None:
        """A thread's owner is gone (called from a finalizer: no locking here; the flusher ends it)."""
        self.ended_owners.append(owner)
        self._wake.set()

    # ---- what happens in the app (callers hold self.lock) -----------------------------------------

    def begin(self, rec: Rec, report_now: bool) -> None:
        if rec.owner.ended:
            return
        rec.tracked = True
        self.live[rec] = None
        rec.owner.records.add(rec)
        if self.sink is None or self.need_snapshot:
            return
        if report_now:
            self._describe(rec, self.log)
            self._pushed()
        else:
            self.unreported[rec] = None
            self._wake.set()

    def granted(self, rec: Rec) -> None:
        rec.kind = "hold"
        rec.since = time.time() * 1000
        if rec.tracked and rec.reported and rec.wait_id is not None:
            self.waits.pop(rec.wait_id, None)
            self._push({"type": "grant", "waitId": rec.wait_id, "since": rec.since})

    def ended(self, rec: Rec, reason: str | None = None) -> None:
        if not rec.tracked:
            return
        self._untrack(rec)
        if not rec.reported:
            return
        if rec.kind == "hold":
            ev: dict[str, Any] = {"type": "release", "owner": rec.owner.id, "resource": self._ref(rec.resource)}
            if rec.mode is not None:
                ev["mode"] = rec.mode
            if rec.units is not None:
                ev["units"] = rec.units
            self._push(ev)
        elif rec.wait_id is not None:
            self.waits.pop(rec.wait_id, None)
            ev = {"type": "cancel", "waitId": rec.wait_id}
            if reason is not None:
                ev["reason"] = reason
            self._push(ev)

    def order(self, owner: Owner, held: Resource, acquired: Resource, stack: str | None) -> None:
        if self.sink is None or self.need_snapshot:
            return
        self._declare_resource(held, self.log)
        self._declare_resource(acquired, self.log)
        ev: dict[str, Any] = {"type": "order", "held": held.id, "acquired": acquired.id, "owner": owner.id}
        if stack is not None:
            ev["stack"] = stack
        self._push(ev)

    def owner_ended(self, owner: Owner) -> None:
        if owner.ended:
            return
        owner.ended = True
        for rec in list(owner.records):
            self._untrack(rec)
            if rec.wait_id is not None:
                self.waits.pop(rec.wait_id, None)
        if self.sink is not None and owner.declared_epoch == self.epoch:
            self._push({"type": "end", "owner": owner.id})

    def resource_changed(self, res: Resource) -> None:
        if self.sink is not None and res.declared_epoch == self.epoch:
            self._push(self._declaration(res))

    def connected(self) -> bool:
        return self.sink is not None

    # ---- flushing -----------------------------------------------------------------------------

    def flush(self) -> None:
        """Send what is buffered and the reports that are due."""
        with self.send_lock:
            with self.lock:
                frames = self._take_frames()
            self._write(frames)

    def flush_then(self, control: Callable[[], dict[str, Any]]) -> None:
        """Everything buffered first, then a control frame (abort_result, confirm_result) made under the lock."""
        with self.send_lock:
            with self.lock:
                frames = self._take_frames()
                if self.sink is not None:
                    frames.append(json.dumps(control(), separators=(",", ":")))
            self._write(frames)

    def _take_frames(self) -> list[str]:
        while self.ended_owners:
            self.owner_ended(self.ended_owners.popleft())
        if self.sink is None:
            return []
        if self.need_snapshot:
            return self._snapshot_frames()
        self._report_due()
        if not self.log:
            return []
        events, self.log = self.log, []
        return self._frames("events", events)

    def _write(self, frames: list[str]) -> None:
        sink = self.sink
        if sink is None:
            return
        for text in frames:
            try:
                sink.send_text(text)
            except Exception as err:  # the link notices and reconnects; the snapshot resyncs
                self.logger.debug("deadlockd: send failed: %s", err)
                return

    def _run(self) -> None:
        while not self._closed:
            timeout = self._next_due()
            self._wake.wait(timeout)
            if self._closed:
                return
            self._wake.clear()
            if self.flush_interval > 0:
                time.sleep(self.flush_interval)  # batch what comes in the meantime
            try:
                self.flush()
            except Exception:  # never let the flusher die
                self.logger.exception("deadlockd: flush failed")

    def _next_due(self) -> float | None:
        with self.lock:
            for rec in self.unreported:
                return max(0.0005, rec.start + self.report_after - time.monotonic())
        return None

    def _report_due(self) -> None:
        if not self.unreported:
            return
        now = time.monotonic()
        for rec in list(self.unreported):
            if now - rec.start < self.report_after:
                return
            del self.unreported[rec]
            self._describe(rec, self.log)

    def _push(self, ev: dict[str, Any]) -> None:
        if self.sink is None or self.need_snapshot:
            return
        self.log.append(ev)
        self._pushed()

    def _pushed(self) -> None:
        if len(self.log) > self.max_buffered:
            if not self._overflow_warned:
                self._overflow_warned = True
                self.logger.warning(
                    "deadlockd: event buffer exceeded %d events; dropping it and resyncing with a snapshot",
                    self.max_buffered,
                )
            self.log = []
            self.unreported = {}
            self.need_snapshot = True
        self._wake.set()

    def _untrack(self, rec: Rec) -> None:
        rec.tracked = False
        self.live.pop(rec, None)
        self.unreported.pop(rec, None)
        rec.owner.records.discard(rec)

    def _describe(self, rec: Rec, out: list[dict[str, Any]]) -> None:
        rec.reported = True
        self._declare_owner(rec.owner, out)
        self._declare_resource(rec.resource, out)
        out.append(rec.event(self._ref(rec.resource)))
        if rec.kind == "wait" and rec.waiter is not None and rec.wait_id is not None:
            self.waits[rec.wait_id] = rec.waiter

    def _declare_owner(self, owner: Owner, out: list[dict[str, Any]]) -> None:
        if owner.declared_epoch != self.epoch:
            owner.declared_epoch = self.epoch
            out.append(owner.declaration())

    def _declare_resource(self, res: Resource, out: list[dict[str, Any]]) -> None:
        if res.declared_epoch != self.epoch:
            res.declared_epoch = self.epoch
            if self.handles:
                res.handle = self.next_handle
                self.next_handle += 1
            out.append(self._declaration(res))

    def _declaration(self, res: Resource) -> dict[str, Any]:
        """The resource's declaration, with its handle when the daemon takes handles."""
        ev = res.declaration()
        if self.handles:
            ev["handle"] = res.handle
        return ev

    def _ref(self, res: Resource) -> str | int:
        """How a hold, wait or release names a resource declared in this epoch: handle or name."""
        return res.handle if self.handles else res.id

    def _new_epoch(self) -> None:
        self.epoch += 1
        self.next_handle = 0
        self.order_pairs = set()

    def _snapshot_frames(self) -> list[str]:
        """The whole current state as `snapshot` frame(s); too large for the daemon: wait until it shrinks."""
        sink = self.sink
        assert sink is not None
        self._new_epoch()
        self.log = []
        self.unreported = {}
        events: list[dict[str, Any]] = []
        now = time.monotonic()
        for rec in self.live:
            old = now - rec.start >= self.report_after
            if (rec.kind == "wait" and old) or (rec.kind == "hold" and (rec.reported or old)):
                self._describe(rec, events)
            else:
                rec.reported = False
                self.unreported[rec] = None
        limit = sink.max_snapshot_events
        if limit is not None and len(events) > limit:
            self._new_epoch()
            self.waits = {}
            self.need_snapshot = True
            if not self._snapshot_warned:
                self._snapshot_warned = True
                self.logger.warning(
                    "deadlockd: this client's state (%d events) exceeds the daemon's --max-snapshot-events (%d); "
                    "nothing is reported until it shrinks", len(events), limit)
            return []
        self.need_snapshot = False
        self._snapshot_warned = False
        return self._frames("snapshot", events)

    def _frames(self, kind: str, events: list[dict[str, Any]]) -> list[str]:
        sink = self.sink
        assert sink is not None
        parts = kind == "snapshot" and sink.max_snapshot_events is not None
        unparted = kind == "snapshot" and not parts
        limit = sink.max_events_per_frame
        size = max(1, limit if unparted else min(limit, EVENTS_PER_FRAME))
        chunks = [events[i:i + size] for i in range(0, len(events), size)] or [[]]
        out: list[str] = []
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            part_kind = kind if (i == 0 or parts) else "events"
            self._encode(part_kind, chunk, parts and not last, sink.max_frame_bytes, out)
        return out

    def _encode(self, kind: str, events: list[dict[str, Any]], more: bool, max_bytes: int, out: list[str]) -> None:
        frame: dict[str, Any] = {"type": kind, "seq": self.seq, "events": events}
        if more:
            frame["more"] = True
        text = json.dumps(frame, separators=(",", ":"))
        if len(events) > 1 and len(text.encode()) > max_bytes:
            # halve until it fits (the daemon closes the connection on an oversized frame)
            half = len(events) // 2
            parts = kind == "snapshot" and self.sink is not None and self.sink.max_snapshot_events is not None
            self._encode(kind, events[:half], parts, max_bytes, out)
            self._encode(kind if parts else "events", events[half:], more, max_bytes, out)
            return
        self.seq += 1
        self.frames_sent += 1
        self.events_sent += len(events)
        out.append(text)

