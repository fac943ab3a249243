"""Framing: events and snapshot frames split at EVENTS_PER_FRAME even when the daemon takes more."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from deadlockd._reporter import EVENTS_PER_FRAME, Reporter


@dataclass
class Sink:
    max_events_per_frame: int
    max_snapshot_events: int | None
    max_frame_bytes: int = 16 * 1024 * 1024
    sent: list[str] = field(default_factory=list)

    def send_text(self, text: str) -> None:
        self.sent.append(text)


def frames_of(kind: str, sink: Sink, n: int) -> list[dict[str, object]]:
    reporter = Reporter(report_after=0, flush_interval=0, max_buffered_events=10**6, logger=logging.getLogger("test"))
    reporter.sink = sink
    events = [{"type": "owner", "owner": f"o{i}"} for i in range(n)]
    return [json.loads(t) for t in reporter._frames(kind, events)]  # the framing itself is under test


def test_snapshot_parts_and_event_frames_carry_at_most_events_per_frame() -> None:
    n = EVENTS_PER_FRAME * 2 + 5
    for kind in ("snapshot", "events"):
        frames = frames_of(kind, Sink(max_events_per_frame=10_000, max_snapshot_events=250_000), n)
        sizes = [len(f["events"]) for f in frames]  # type: ignore[arg-type]
        assert sizes == [EVENTS_PER_FRAME, EVENTS_PER_FRAME, 5], (kind, sizes)
        if kind == "snapshot":
            assert [f.get("more") for f in frames] == [True, True, None]


def test_a_daemon_that_takes_no_snapshot_parts_gets_the_snapshot_whole_up_to_its_limit() -> None:
    frames = frames_of("snapshot", Sink(max_events_per_frame=10_000, max_snapshot_events=None), EVENTS_PER_FRAME * 2)
    assert [(f["type"], len(f["events"])) for f in frames] == [("snapshot", EVENTS_PER_FRAME * 2)]  # type: ignore[arg-type]
