"""The Python third of the Java test's three-language cycle: a Python service that takes two PostgreSQL
advisory locks through the Python SDK's adapter (deadlockd.pg), the first at once, the second when the test
says "go" on stdin. Prints JSON lines: {"holding": key}, then {"result": "granted"} or
{"result": "deadlock", "deadlockId": ...}. Args: daemon_url dsn first second."""

import json
import sys

import psycopg

import deadlockd
from deadlockd.pg import advisory_lock


def say(o: object) -> None:
    sys.stdout.write(json.dumps(o) + "\n")
    sys.stdout.flush()


def main() -> None:
    url, dsn, first, second = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    dd = deadlockd.connect(url, service="py-inventory")
    result: dict[str, object] = {}
    with psycopg.connect(dsn, autocommit=True) as conn, dd.task("py-transfer"), advisory_lock(dd, conn, first):
        say({"holding": first})
        if sys.stdin.readline().strip() != "go":
            return
        try:
            with advisory_lock(dd, conn, second):
                result = {"result": "granted"}
        except deadlockd.DeadlockError as e:
            result = {"result": "deadlock", "deadlockId": e.deadlock_id}
    dd.close()
    say(result)


main()
