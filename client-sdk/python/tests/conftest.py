"""Fixtures: a real daemon process (the built server) per test, a real PostgreSQL per session."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
CLI = REPO / "server" / "dist" / "src" / "cli.js"
# generous: the machine may be 10x slower than a laptop
STARTUP_S = 60.0
STEP_S = 30.0


def until(cond: Callable[[], Any], what: str, timeout: float = STEP_S, every: float = 0.01) -> Any:
    """Wait for cond() to return something truthy (never a fixed sleep as synchronisation)."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


class Daemon:
    def __init__(self, args: list[str], port: int = 0) -> None:
        self.args = args
        self.lines: list[str] = []
        self._cv = threading.Condition()
        self.proc = subprocess.Popen(
            ["node", "--enable-source-maps", str(CLI), "--port", str(port), *args],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
            # history in memory unless a test names a file: a shared ./data/history.sqlite would carry
            # one test's deadlocks into the next (and a second daemon on it exits: the file is locked)
            env={"DEADLOCKD_HISTORY_FILE": ":memory:", **os.environ},
        )
        threading.Thread(target=self._drain, daemon=True).start()
        m = self.wait_for_line(r"deadlockd listening on (http://[^\s]+):(\d+)", STARTUP_S)
        self.http_url = f"{m.group(1)}:{m.group(2)}"
        self.port = int(m.group(2))
        self.url = self.http_url.replace("http", "ws", 1) + "/v1/stream"

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                del self.lines[:-2000]
                self._cv.notify_all()

    def wait_for_line(self, pattern: str, timeout: float = STEP_S) -> re.Match[str]:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cv:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    m = rx.search(line)
                    if m:
                        return m
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and seen == len(self.lines)):
                    raise AssertionError(f"no daemon line matching {pattern!r}; output:\n" + self.logs())
                self._cv.wait(min(left, 0.2))

    def logs(self) -> str:
        return "\n".join(self.lines[-60:])

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.http_url + path, timeout=STEP_S) as r:
            return json.loads(r.read())

    def deadlocks(self) -> list[dict[str, Any]]:
        body = self.get("/v1/deadlocks?limit=1000")
        items = body.get("deadlocks", body) if isinstance(body, dict) else body
        return list(items)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def start(*args: str, port: int = 0) -> Daemon:
        d = Daemon(["--log-level", "warn", *args], port)
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()


@pytest.fixture
def daemon(start_daemon: Callable[..., Daemon]) -> Daemon:
    return start_daemon()


class Postgres:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", str(REPO / "scripts" / "embedded-pg-server.mjs")],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("embedded PostgreSQL did not start (see the output above)")
        self.config: dict[str, Any] = json.loads(line)

    @property
    def dsn(self) -> str:
        c = self.config
        return f"postgresql://{c['user']}:{c['password']}@{c['host']}:{c['port']}/{c['database']}"

    @property
    def sqlalchemy_url(self) -> str:
        return self.dsn.replace("postgresql://", "postgresql+psycopg://", 1)

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait()


@pytest.fixture(scope="session")
def pg() -> Iterator[Postgres]:
    server = Postgres()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _env_for_children() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
