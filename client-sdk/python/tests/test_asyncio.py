"""asyncio twins: the owners are asyncio tasks; a deadlock between two coroutines costs one DeadlockError."""

from __future__ import annotations

import asyncio

from conftest import STEP_S, Daemon

import deadlockd


def test_two_coroutines_deadlock_one_victim_loop_carries_on(daemon: Daemon) -> None:
    dd = deadlockd.connect(daemon.url, service="aio")

    async def main() -> tuple[list[str], list[deadlockd.DeadlockError]]:
        a, b = dd.AsyncLock("aio:a"), dd.AsyncLock("aio:b")
        both = asyncio.Event()
        entered = 0
        done: list[str] = []
        errors: list[deadlockd.DeadlockError] = []

        async def run(name: str, x: deadlockd.AsyncLock, y: deadlockd.AsyncLock) -> None:
            nonlocal entered
            async with x:
                entered += 1
                if entered == 2:
                    both.set()
                await both.wait()
                try:
                    async with y:
                        pass
                except deadlockd.DeadlockError as e:
                    errors.append(e)
                    return
            done.append(name)

        await asyncio.wait_for(asyncio.gather(
            asyncio.create_task(run("ab", a, b), name="coro-ab"),
            asyncio.create_task(run("ba", b, a), name="coro-ba"),
        ), STEP_S * 2)
        return done, errors

    try:
        done, errors = asyncio.run(main())
        assert len(errors) == 1 and len(done) == 1
        names = {m["name"] for m in errors[0].report["members"]}
        assert names == {"coro-ab", "coro-ba"}, "the asyncio tasks are the owners"
    finally:
        dd.close()


def test_async_semaphore_timeout_and_units(daemon: Daemon) -> None:
    dd = deadlockd.connect(daemon.url, service="aio-sem")

    async def main() -> None:
        sem = dd.AsyncSemaphore("aio:pool", 2)
        holding, done = asyncio.Event(), asyncio.Event()

        async def holder() -> None:
            # another task holds both units (one task waiting for a unit it holds itself would be
            # a deadlock of one, which the daemon rightly aborts)
            await sem.acquire()
            await sem.acquire()
            holding.set()
            await done.wait()
            sem.release()
            sem.release()

        task = asyncio.create_task(holder(), name="holder")
        await holding.wait()
        assert await sem.acquire(timeout=0.05) is False
        done.set()
        assert await sem.acquire(timeout=STEP_S) is True
        sem.release()
        await task
        assert not sem.locked()

    try:
        asyncio.run(main())
    finally:
        dd.close()
