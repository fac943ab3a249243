"""Two accounts, eight threads transferring in both directions with dd.Lock, every transfer retried
on DeadlockError: the money is conserved and every transfer completes.

    DEADLOCKD_URL=ws://127.0.0.1:7070/v1/stream python examples/threads_transfer.py
"""

import os
import threading

import deadlockd

dd = deadlockd.connect(os.environ.get("DEADLOCKD_URL", "ws://127.0.0.1:7070/v1/stream"), service="bank")
accounts = {"alice": 100, "bob": 100}
locks = {name: dd.Lock(f"account:{name}") for name in accounts}
deadlocks = 0


def transfer(src: str, dst: str) -> None:
    with locks[src], locks[dst]:  # the other direction takes these in the opposite order
        accounts[src] -= 1
        accounts[dst] += 1


def worker(i: int) -> None:
    global deadlocks
    src, dst = ("alice", "bob") if i % 2 else ("bob", "alice")
    for _ in range(200):
        while True:
            try:
                transfer(src, dst)
                break
            except deadlockd.DeadlockError:
                deadlocks += 1  # the daemon picked this thread; nothing was changed: try again


threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"balances {accounts}, total {sum(accounts.values())}, deadlocks resolved: {deadlocks}")
dd.close()
