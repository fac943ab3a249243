"""The WebSocket link to the daemon, on its own thread: hello → welcome, frames in, reconnect.

It never raises at the application: with the daemon unreachable it warns once per outage and
keeps retrying in the background with jittered backoff. A link the daemon stops answering
(no frame and no pong for 3 heartbeat periods) is taken for dead and reconnected.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

PROTOCOL_VERSION = 1
SILENT_BEATS = 3


class Link:
    def __init__(
        self,
        *,
        url: str,
        service: str,
        instance: str,
        token: str | None,
        connect_timeout: float,
        reconnect: tuple[float, float] | None,
        logger: logging.Logger,
        on_welcome: Callable[[dict[str, Any], bool], None],
        on_frame: Callable[[dict[str, Any]], None],
        on_down: Callable[[], None],
    ) -> None:
        self.url = url
        self._service = service
        self._instance = instance
        self._token = token
        self._connect_timeout = connect_timeout
        self._reconnect = reconnect
        self._logger = logger
        self._on_welcome = on_welcome
        self._on_frame = on_frame
        self._on_down = on_down
        self.max_events_per_frame = 1000
        self.max_frame_bytes = 1024 * 1024
        self.max_snapshot_events: int | None = None
        self.session: str | None = None
        self._resume_secret: str | None = None
        self._ws: ClientConnection | None = None
        self._welcomed = False
        self._ever_welcomed = False
        self._closed = threading.Event()
        self._first = threading.Event()
        self._warned = False
        self._last_error: str | None = None
        # the daemon's clock in its welcome, and our monotonic clock when the hello left
        self._daemon_clock: tuple[float, float] | None = None
        # connection attempts so far (diagnostics, tests)
        self.attempts = 0
        self._thread = threading.Thread(target=self._run, name="deadlockd-link", daemon=True)

    @property
    def welcomed(self) -> bool:
        return self._welcomed

    def start(self) -> None:
        """Connect; returns at the first welcome or after connect_timeout (fail-open: one warning)."""
        self._thread.start()
        if not self._first.wait(self._connect_timeout):
            self._warn_down(self._last_error or f"no welcome within {self._connect_timeout:g} s")

    def daemon_clock_at_most(self) -> float | None:
        """An upper bound of the daemon's clock now (ms): its welcome was stamped after our hello left."""
        c = self._daemon_clock
        if c is None:
            return None
        server_time, hello_sent = c
        return server_time + (time.monotonic() - hello_sent) * 1000

    def send_text(self, text: str) -> None:
        ws = self._ws
        if ws is not None and self._welcomed:
            ws.send(text)

    def close(self) -> None:
        self._closed.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close(1000, "client closing")
        self._thread.join(timeout=2)

    def _run(self) -> None:
        attempt = 0
        while not self._closed.is_set():
            welcomed = False
            self.attempts += 1
            try:
                welcomed = self._connection()
            except (OSError, WebSocketException, TimeoutError, ValueError) as err:
                self._last_error = self._last_error or f"{type(err).__name__}: {err}"
            except Exception as err:  # never let the link thread die
                self._logger.exception("deadlockd: link failed")
                self._last_error = str(err)
            if self._closed.is_set() or self._reconnect is None:
                return
            if welcomed:
                attempt = 0
            why = self._last_error or "connection closed"
            self._last_error = None
            self._warn_down(why)
            lo, hi = self._reconnect
            delay = min(hi, lo * 2 ** min(attempt, 30)) * (0.5 + random.random() * 0.5)
            attempt += 1
            self._closed.wait(delay)

    def _connection(self) -> bool:
        """One connection, from connect to close. True if it was welcomed."""
        with connect(self.url, open_timeout=self._connect_timeout, ping_interval=None, close_timeout=1,
                     max_size=None, compression=None, proxy=None) as ws:
            hello: dict[str, Any] = {"type": "hello", "protocol": PROTOCOL_VERSION,
                                     "service": self._service, "instance": self._instance,
                                     "pid": os.getpid()}
            host = socket.gethostname()[:256]
            if host:
                hello["host"] = host  # with pid: the process, shown in reports
            if self._token is not None:
                hello["token"] = self._token
            if self.session is not None:
                hello["resume"] = self.session
                if self._resume_secret is not None:
                    hello["resumeSecret"] = self._resume_secret
            hello_sent = time.monotonic()
            ws.send(json.dumps(hello))
            welcome = self._await_welcome(ws, hello_sent + self._connect_timeout)
            self._apply_welcome(welcome, hello_sent)
            self._ws = ws
            self._welcomed = True
            first = not self._ever_welcomed
            self._ever_welcomed = True
            if self._warned:
                self._logger.info("deadlockd: connected to %s", self.url)
            self._warned = False
            self._on_welcome(welcome, first)
            self._first.set()
            try:
                self._read(ws, int(welcome.get("heartbeatMs") or 0) / 1000)
            finally:
                self._welcomed = False
                self._ws = None
                self._on_down()
            return True

    def _await_welcome(self, ws: ClientConnection, deadline: float) -> dict[str, Any]:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no welcome within {self._connect_timeout:g} s")
            frame = _parse(ws.recv(timeout=remaining))
            if frame is None:
                continue
            if frame.get("type") == "welcome":
                return frame
            if frame.get("type") == "error":
                # e.g. UNAUTHORIZED or PROTOCOL_VERSION: the daemon closes next; the warning names it
                self._last_error = f"{frame.get('code')}: {frame.get('message')}"

    def _apply_welcome(self, welcome: dict[str, Any], hello_sent: float) -> None:
        limits = welcome.get("limits") or {}
        self.max_events_per_frame = int(limits.get("maxEventsPerFrame", self.max_events_per_frame))
        self.max_frame_bytes = int(limits.get("maxFrameBytes", self.max_frame_bytes))
        snap = limits.get("maxSnapshotEvents")
        self.max_snapshot_events = int(snap) if isinstance(snap, int) else None
        self.session = str(welcome.get("session"))
        secret = welcome.get("resumeSecret")
        self._resume_secret = secret if isinstance(secret, str) else None
        st = welcome.get("serverTime")
        self._daemon_clock = (float(st), hello_sent) if isinstance(st, (int, float)) else None

    def _read(self, ws: ClientConnection, period: float) -> None:
        """Frames until the connection ends; with a heartbeat, a silent daemon is cut off."""
        heard = time.monotonic()
        pong: threading.Event | None = None
        while not self._closed.is_set():
            try:
                raw = ws.recv(timeout=period if period > 0 else None)
            except TimeoutError:
                now = time.monotonic()
                if pong is not None and pong.is_set():
                    heard, pong = now, None
                if now - heard > period * SILENT_BEATS:
                    self._last_error = f"no frame or pong from the daemon for {now - heard:.1f} s"
                    return
                if pong is None:
                    pong = ws.ping()
                continue
            heard = time.monotonic()
            frame = _parse(raw)
            if frame is not None and frame.get("type") != "welcome":
                self._on_frame(frame)

    def _warn_down(self, why: str) -> None:
        if self._warned or self._closed.is_set():
            return
        self._warned = True
        tail = "not reconnecting" if self._reconnect is None else "reconnecting in the background"
        self._logger.warning(
            "deadlockd not reachable at %s (%s); locks keep working without deadlock detection, %s",
            self.url, why, tail)


def _parse(raw: str | bytes) -> dict[str, Any] | None:
    if isinstance(raw, bytes):
        return None
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return None
    return frame
