"""deadlockd: report Python locks, pools and distributed locks to the deadlockd daemon.

    import deadlockd
    dd = deadlockd.connect("ws://127.0.0.1:7070/v1/stream", service="orders")
    a, b = dd.Lock("account:a"), dd.Lock("account:b")
    with a, b:
        ...

A blocked acquire that the daemon picks as a deadlock victim raises DeadlockError in that
thread. With the daemon down every lock keeps working (fail-open).
"""

from ._client import Client, Task, connect, retry_on_deadlock
from ._primitives import Lock, RLock, RWLock, Semaphore
from ._resource import Cancel, Held, SharedResource
from .aio import AsyncLock, AsyncSemaphore
from .errors import DeadlockError, NotHeldError

__all__ = [
    "AsyncLock",
    "AsyncSemaphore",
    "Cancel",
    "Client",
    "DeadlockError",
    "Held",
    "Lock",
    "NotHeldError",
    "RLock",
    "RWLock",
    "Semaphore",
    "SharedResource",
    "Task",
    "connect",
    "retry_on_deadlock",
]
