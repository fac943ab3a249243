package dev.deadlockd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.deadlockd.DLock;
import dev.deadlockd.DeadlockException;
import dev.deadlockd.Deadlockd;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** The lock scenarios run both on platform threads (LocksTest) and on virtual threads (VirtualThreadsTest). */
final class LockScenarios {
  private LockScenarios() {}

  /**
   * One side of two opposite transfers: takes {@code first}, meets the other side at {@code bothHold}, then takes
   * {@code second}. Returns "done", the DeadlockException when this side was the victim, or what else went wrong.
   */
  static Object transfer(DLock first, DLock second, CyclicBarrier bothHold) {
    first.lock();
    try {
      bothHold.await(DaemonProcess.STEP_MS, TimeUnit.MILLISECONDS);
      second.lock();
      try {
        return "done";
      } finally {
        second.unlock();
      }
    } catch (DeadlockException e) {
      return e;
    } catch (Exception e) {
      return e.toString();
    } finally {
      first.unlock();
    }
  }

  /**
   * n philosophers, each on a thread of {@code threads}: every one takes the left fork, then (all holding one) the
   * right. One cycle, one victim (who retries), and every philosopher eats.
   */
  static void philosophers(Deadlockd dd, DaemonProcess daemon, int n, String forkPrefix, ThreadFactory threads) throws Exception {
    List<DLock> forks = new ArrayList<>();
    for (int i = 0; i < n; i++) forks.add(dd.lock(forkPrefix + i));
    CyclicBarrier allHoldLeft = new CyclicBarrier(n);
    AtomicInteger eaten = new AtomicInteger();
    ConcurrentLinkedQueue<String> victims = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    List<Thread> started = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      DLock left = forks.get(i);
      DLock right = forks.get((i + 1) % n);
      Thread t = threads.newThread(() -> {
        try {
          boolean first = true;
          for (;;) {
            left.lock();
            try {
              if (first) allHoldLeft.await(DaemonProcess.STEP_MS, TimeUnit.MILLISECONDS);
              first = false;
              right.lock();
              try {
                eaten.incrementAndGet();
                return;
              } finally {
                right.unlock();
              }
            } catch (DeadlockException e) {
              victims.add(Thread.currentThread().getName() + " " + e.deadlockId());
            } finally {
              left.unlock();
            }
          }
        } catch (Throwable e) {
          failures.add(e);
        }
      });
      started.add(t);
      t.start();
    }
    for (Thread t : started) t.join(DaemonProcess.STEP_MS * 3);
    assertTrue(failures.isEmpty(), failures.toString());
    assertEquals(n, eaten.get(), "every philosopher ate");
    assertEquals(1, victims.size(), "one cycle, one victim: " + victims);
    assertEquals(1, daemon.deadlocks().size());
  }
}
