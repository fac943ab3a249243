"""The protocol conformance suite, from Python: the daemon side against a real daemon, the SDK side
(the Python SDK) against a fake daemon that plays proto/conformance/sdk.json."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conformance import FakeDaemon, Frames, flatten, load_suite, match_in_order, matches, resolve
from conftest import STEP_S, Daemon, until
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

import deadlockd

DAEMON = load_suite("daemon")
SDK = load_suite("sdk")


# ---- daemon side --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def conformance_daemon() -> Iterator[Daemon]:
    d = Daemon(["--log-level", "warn", *DAEMON["daemonArgs"]])
    yield d
    d.stop()


@pytest.mark.parametrize("vector", DAEMON["vectors"], ids=[v["name"] for v in DAEMON["vectors"]])
def test_daemon_side(conformance_daemon: Daemon, vector: dict[str, Any]) -> None:
    frames = Frames()
    with ws_connect(conformance_daemon.url, max_size=None, compression=None, proxy=None) as ws:
        def read() -> None:
            try:
                for msg in ws:
                    frames.add(json.loads(msg))
            except ConnectionClosed:
                pass
            frames.close()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        if vector["helloFirst"]:
            ws.send(json.dumps(DAEMON["hello"]))
            frames.wait(lambda fs: any(f["type"] == "welcome" for f in fs), "the welcome")
            with frames.cv:
                frames.items.pop(0)
        for s in vector["send"]:
            ws.send(s["raw"] if "raw" in s else json.dumps(s["frame"]))
        seq = DAEMON["barrier"]["seq"]

        def is_barrier(f: dict[str, Any]) -> bool:
            return bool(f.get("type") == "error" and (f.get("ref") or {}).get("seq") == seq)

        if vector["then"] == "open":
            ws.send(json.dumps(DAEMON["barrier"]))
            frames.wait(lambda fs: any(is_barrier(f) for f in fs), "the barrier round trip (connection open)")
        else:
            frames.wait(lambda _fs: frames.closed, "the daemon to close the connection")
        got = [f for f in frames.items if not is_barrier(f)]
        assert len(got) == len(vector["expect"]), got
        for g, e in zip(got, vector["expect"], strict=True):
            assert matches(g, e), (g, e)


# ---- SDK side -----------------------------------------------------------------------------------

@pytest.mark.parametrize("vector", SDK["vectors"], ids=[v["name"] for v in SDK["vectors"]])
def test_sdk_side(vector: dict[str, Any]) -> None:
    fake = FakeDaemon()
    now = time.time() * 1000
    deadlocks: list[str] = []
    hazards: list[str] = []
    release = threading.Event()
    threads: list[threading.Thread] = []
    dd: deadlockd.Client | None = None
    try:
        connected: list[deadlockd.Client] = []
        t = threading.Thread(target=lambda: connected.append(deadlockd.connect(
            fake.url, service="conformance", instance="conformance-1", reconnect=None, report_after=0,
            connect_timeout=STEP_S)))
        t.start()
        fake.frames.wait(lambda fs: any(f["type"] == "hello" for f in fs), "the hello")
        hello = next(f for f in fake.frames.items if f["type"] == "hello")
        assert matches(hello, SDK["hello"]), hello
        for field, kind in SDK["helloTypes"].items():
            value = hello.get(field)
            ok = isinstance(value, int) and not isinstance(value, bool) if kind == "integer" else isinstance(value, str)
            assert ok, f"hello.{field} is a {kind}: {hello}"
        fake.send(resolve(vector["welcome"], {}, now))
        t.join(STEP_S)
        dd = connected[0]
        assert dd.connected
        dd.on_deadlock(lambda r: deadlocks.append(r["id"]))
        dd.on_hazard(lambda h: hazards.append(h["id"]))

        variables: dict[str, str] = {}
        outcome: list[Any] = []
        if vector["setup"] == "blocked-wait":
            lock = dd.Lock("conf-lock")
            taken = threading.Event()

            def holder() -> None:
                with dd.task("conf-holder"), lock:
                    taken.set()
                    release.wait(STEP_S * 4)

            def waiter() -> None:
                try:
                    with dd.task("conf-waiter"), lock:
                        outcome.append("granted")
                except deadlockd.DeadlockError as e:
                    outcome.append(e)

            threads.append(threading.Thread(target=holder))
            threads[-1].start()
            assert taken.wait(STEP_S)
            threads.append(threading.Thread(target=waiter))
            threads[-1].start()

            def is_wait(x: dict[str, Any]) -> bool:
                # the lock by name, or by the handle its declaration gave it (a daemon that takes handles)
                if matches(x, {"event": {"type": "wait", "resource": "conf-lock"}}):
                    return True
                decl = next((y["event"] for y in flatten(fake.frames.items)
                             if matches(y, {"event": {"type": "resource", "resource": "conf-lock"}})), None)
                return decl is not None and "handle" in decl and matches(
                    x, {"event": {"type": "wait", "resource": decl["handle"]}})

            fake.frames.wait(lambda fs: any(is_wait(x) for x in flatten(fs)), "the wait on conf-lock")
            ev = next(x for x in flatten(fake.frames.items) if is_wait(x))["event"]
            variables = {"waitId": ev["waitId"], "owner": ev["owner"]}
        if "setupExpect" in vector:
            got = flatten(fake.frames.items)
            expected_setup = vector["setupExpect"]
            assert match_in_order(got, expected_setup), f"after the setup, in order: {expected_setup}; got {got}"
        mark = len(fake.frames.items)
        for f in vector["send"]:
            fake.send(resolve(f, variables, now))
        expected = resolve(vector["expect"], variables, now)
        fake.frames.wait(lambda fs: match_in_order(flatten(fs[mark:]), expected), f"in order: {json.dumps(expected)}")

        if vector["after"] == "deadlock-error":
            until(lambda: outcome, "the blocked acquire to fail")
            assert outcome and isinstance(outcome[0], deadlockd.DeadlockError), outcome
            assert outcome[0].deadlock_id == vector["deadlockId"]
        elif vector["after"] == "still-waiting":
            assert outcome == [], "the blocked acquire is still pending"
        limit = vector.get("eventsPerFrameAtMost")
        if limit is not None:
            for f in fake.frames.items:
                if f["type"] in ("events", "snapshot"):
                    assert len(f["events"]) <= limit, f
        callbacks = vector.get("callbacks") or {}
        if "deadlock" in callbacks:
            assert deadlocks == callbacks["deadlock"]
        if "hazard" in callbacks:
            assert hazards == callbacks["hazard"]
        assert [f for f in fake.frames.items if f["type"] in ("hello", "__second_connection__")] == [hello], \
            "one connection: nothing made the SDK reconnect"
    finally:
        release.set()
        for th in threads:
            th.join(STEP_S)
        if dd is not None:
            dd.close()
        fake.close()
