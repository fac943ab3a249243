"""Drives the protocol conformance vectors (proto/conformance/*.json) from Python.

The vectors are generated from the zod schemas in proto/src; see proto/conformance/README.md.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from conftest import REPO, STEP_S
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

CONFORMANCE = REPO / "proto" / "conformance"


def load_suite(name: str) -> dict[str, Any]:
    suite: dict[str, Any] = json.loads((CONFORMANCE / f"{name}.json").read_text())
    return suite


def matches(actual: Any, expected: Any) -> bool:
    """Every field of expected is in actual with an equal value (objects recursively; arrays exactly)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and matches(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            matches(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    return bool(actual == expected)


_NOW = re.compile(r"^\$now([+-]\d+)?$")
_VAR = re.compile(r"\$(waitId|owner)")


def resolve(value: Any, variables: dict[str, str], now: float) -> Any:
    if isinstance(value, str):
        m = _NOW.match(value)
        if m:
            return now + int(m.group(1) or 0)
        return _VAR.sub(lambda v: variables.get(v.group(1), v.group(0)), value)
    if isinstance(value, list):
        return [resolve(v, variables, now) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, variables, now) for k, v in value.items()}
    return value


def flatten(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in frames:
        if f.get("type") in ("events", "snapshot"):
            out.extend({"event": e} for e in f["events"])
        else:
            out.append(f)
    return out


def match_in_order(items: list[Any], patterns: list[Any]) -> bool:
    i = 0
    for p in patterns:
        while i < len(items) and not matches(items[i], p):
            i += 1
        if i == len(items):
            return False
        i += 1
    return True


class Frames:
    """Frames received on one connection, with a wait for a condition over them."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.cv = threading.Condition()
        self.closed = False

    def add(self, frame: dict[str, Any]) -> None:
        with self.cv:
            self.items.append(frame)
            self.cv.notify_all()

    def close(self) -> None:
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def wait(self, cond: Callable[[list[dict[str, Any]]], bool], what: str, timeout: float = STEP_S) -> None:
        deadline = time.monotonic() + timeout
        with self.cv:
            while not cond(self.items):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; frames: {json.dumps(self.items)[:4000]}")
                self.cv.wait(left)


class FakeDaemon:
    """A WebSocket server that records the SDK's frames and sends what the test says."""

    def __init__(self) -> None:
        self.frames = Frames()
        self._conn: ServerConnection | None = None
        self._ready = threading.Event()
        self.server: Server = serve(self._handle, "127.0.0.1", 0, compression=None)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/v1/stream"

    def _handle(self, conn: ServerConnection) -> None:
        if self._conn is not None:
            self.frames.add({"type": "__second_connection__"})
        self._conn = conn
        self._ready.set()
        try:
            for msg in conn:
                self.frames.add(json.loads(msg))
        except ConnectionClosed:
            pass

    def send(self, frame: Any) -> None:
        assert self._ready.wait(STEP_S)
        assert self._conn is not None
        self._conn.send(json.dumps(frame))

    def drop(self) -> None:
        """Close the current connection from the daemon's side."""
        assert self._conn is not None
        self._conn.close()

    def close(self) -> None:
        self.server.shutdown()
