"""The link: reconnect with resume + resumeSecret and a snapshot in parts; a silent daemon is cut off."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

from conformance import FakeDaemon, flatten
from conftest import STEP_S, Daemon, until

import deadlockd


def test_reconnect_resumes_with_the_last_secret_and_resyncs_in_snapshot_parts() -> None:
    fake = FakeDaemon()
    release = threading.Event()
    threads: list[threading.Thread] = []
    dd: deadlockd.Client | None = None
    limits = {"maxFrameBytes": 1_048_576, "maxEventsPerFrame": 2, "maxSnapshotEvents": 100}
    try:
        connected: list[deadlockd.Client] = []
        t = threading.Thread(target=lambda: connected.append(deadlockd.connect(
            fake.url, service="resume", report_after=0, reconnect=(0.01, 0.05), connect_timeout=STEP_S)))
        t.start()
        fake.frames.wait(lambda fs: any(f["type"] == "hello" for f in fs), "the first hello")
        fake.send({"type": "welcome", "protocol": 1, "session": "s-1", "namespace": "default", "limits": limits,
                   "resumed": False, "resumeSecret": "secret-1"})
        t.join(STEP_S)
        dd = connected[0]
        lock = dd.Lock("resume-lock")
        taken = threading.Event()

        def holder() -> None:
            with lock:
                taken.set()
                release.wait(STEP_S * 4)

        def waiter() -> None:
            with lock:
                pass

        threads += [threading.Thread(target=holder), threading.Thread(target=waiter)]
        threads[0].start()
        assert taken.wait(STEP_S)
        threads[1].start()
        fake.frames.wait(lambda fs: any(x.get("event", {}).get("type") == "wait" for x in flatten(fs)), "the wait")
        wait_id = next(x["event"]["waitId"] for x in flatten(fake.frames.items)
                       if x.get("event", {}).get("type") == "wait")

        mark = len(fake.frames.items)
        fake.drop()  # the daemon's side of the connection goes away
        fake.frames.wait(lambda fs: any(f["type"] == "hello" for f in fs[mark:]), "the hello of the reconnect")
        hello = next(f for f in fake.frames.items[mark:] if f["type"] == "hello")
        assert hello["resume"] == "s-1" and hello["resumeSecret"] == "secret-1", hello
        fake.send({"type": "welcome", "protocol": 1, "session": "s-1", "namespace": "default", "limits": limits,
                   "resumed": True, "resumeSecret": "secret-2"})

        def snapshot_done(fs: list[dict[str, Any]]) -> bool:
            parts = [f for f in fs[mark:] if f["type"] == "snapshot"]
            return bool(parts) and not parts[-1].get("more")

        fake.frames.wait(snapshot_done, "a complete snapshot")
        after = fake.frames.items[mark:]
        parts = [f for f in after if f["type"] == "snapshot"]
        assert len(parts) >= 2, "more events than maxEventsPerFrame: several parts"
        assert all(p.get("more") is True for p in parts[:-1]) and "more" not in parts[-1]
        assert all(len(p["events"]) <= 2 for p in parts)
        assert not any(f["type"] == "events" for f in after[:after.index(parts[-1])]), "nothing between the parts"
        events = [e for p in parts for e in p["events"]]
        assert {"type": "wait", "waitId": wait_id} in [{"type": e["type"], "waitId": e.get("waitId")} for e in events]
        assert any(e["type"] == "hold" and e["resource"] == "resume-lock" for e in events)
    finally:
        release.set()
        for th in threads:
            th.join(STEP_S)
        if dd is not None:
            dd.close()
        fake.close()


class Proxy:
    """A TCP proxy to the daemon that can freeze: bytes stop flowing, the sockets stay open."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.flowing = threading.Event()
        self.flowing.set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                self.flowing.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            # a close while frozen is not passed on either: the other side hears nothing at all
            self.flowing.wait()
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


def test_a_silent_daemon_is_taken_for_dead_after_three_heartbeats(start_daemon: Callable[..., Daemon]) -> None:
    daemon = start_daemon("--heartbeat-ms", "200")
    proxy = Proxy(daemon.port)
    dd = deadlockd.connect(f"ws://127.0.0.1:{proxy.port}/v1/stream", service="silent", reconnect=(0.02, 0.1))
    try:
        assert dd.connected
        proxy.flowing.clear()  # the network goes quiet; no socket closes
        until(lambda: not dd.connected, "the SDK to give up on the silent link")
        proxy.flowing.set()
        until(lambda: dd.connected, "the SDK to reconnect once bytes flow again")
    finally:
        proxy.flowing.set()
        dd.close()
        proxy.close()
