package dev.deadlockd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 180, unit = TimeUnit.SECONDS)
class LocksTest {
  DaemonProcess daemon;
  Deadlockd dd;

  @BeforeEach
  void start() throws Exception {
    daemon = new DaemonProcess();
    dd = Deadlockd.connect(daemon.url, "java-locks");
    assertTrue(dd.connected(), "welcomed by the daemon");
  }

  @AfterEach
  void stop() throws Exception {
    dd.close();
    daemon.close();
  }

  @Test
  void twoThreadsInOppositeOrderOneDeadlockExceptionInOneThread() throws Exception {
    DLock a = dd.lock("account:1");
    DLock b = dd.lock("account:2");
    CyclicBarrier bothHold = new CyclicBarrier(2);
    List<Object> results = new java.util.concurrent.CopyOnWriteArrayList<>();
    Runnable t1 = () -> results.add(LockScenarios.transfer(a, b, bothHold));
    Runnable t2 = () -> results.add(LockScenarios.transfer(b, a, bothHold));
    Thread x = new Thread(t1, "transfer-1-2");
    Thread y = new Thread(t2, "transfer-2-1");
    x.start();
    y.start();
    x.join(DaemonProcess.STEP_MS * 2);
    y.join(DaemonProcess.STEP_MS * 2);
    assertEquals(2, results.size(), "both threads finished: " + results);
    long aborted = results.stream().filter(r -> r instanceof DeadlockException).count();
    assertEquals(1, aborted, "exactly one victim: " + results);
    assertTrue(results.contains("done"), results.toString());
    DeadlockException e = (DeadlockException) results.stream().filter(r -> r instanceof DeadlockException).findFirst().orElseThrow();
    assertTrue(e.reportText().contains("account:1") && e.reportText().contains("account:2"), e.reportText());
    assertTrue(e.report().toString().contains("LockScenarios.transfer"), "the report names the Java call site: " + e.report());
    List<JsonNode> dls = daemon.deadlocks();
    assertEquals(1, dls.size(), dls.toString());
    assertTrue(!a.isLocked() && !b.isLocked(), "everything released");
  }

  /** platform threads named prefix0, prefix1, … */
  private static ThreadFactory platformThreads(String prefix) {
    AtomicInteger next = new AtomicInteger();
    return r -> new Thread(r, prefix + next.getAndIncrement());
  }

  @Test
  void diningPhilosophers5() throws Exception {
    LockScenarios.philosophers(dd, daemon, 5, "fork-5-", platformThreads("philosopher-"));
  }

  @Test
  void diningPhilosophers50() throws Exception {
    LockScenarios.philosophers(dd, daemon, 50, "fork-50-", platformThreads("philosopher-"));
  }

  @Test
  void transfersWith8ThreadsConserveTheTotal() throws Exception {
    int accounts = 4;
    long[] balance = new long[accounts];
    java.util.Arrays.fill(balance, 1000);
    List<DLock> locks = new ArrayList<>();
    for (int i = 0; i < accounts; i++) locks.add(dd.lock("acct-" + i));
    AtomicInteger deadlocks = new AtomicInteger();
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    List<Thread> ts = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      int seed = t;
      Thread th = new Thread(() -> {
        java.util.Random rnd = new java.util.Random(seed);
        try {
          for (int k = 0; k < 200; k++) {
            int from = rnd.nextInt(accounts);
            int to = (from + 1 + rnd.nextInt(accounts - 1)) % accounts;
            Deadlockd.retryOnDeadlock(() -> {
              try {
                locks.get(from).lock();
                try {
                  locks.get(to).lock();
                  try {
                    balance[from] -= 1;
                    balance[to] += 1;
                  } finally {
                    locks.get(to).unlock();
                  }
                } finally {
                  locks.get(from).unlock();
                }
              } catch (DeadlockException e) {
                deadlocks.incrementAndGet();
                throw e;
              }
              return null;
            }, 1000);
          }
        } catch (Throwable e) {
          failures.add(e);
        }
      });
      ts.add(th);
      th.start();
    }
    for (Thread th : ts) th.join(DaemonProcess.STEP_MS * 4);
    assertTrue(failures.isEmpty(), failures.toString());
    long total = 0;
    for (long b : balance) total += b;
    assertEquals(1000L * accounts, total, "money conserved");
  }

  @Test
  void reentrancyIsNeverADeadlockAndUncontendedSendsNothing() throws Exception {
    DLock a = dd.lock("reentrant");
    long before = dd.eventsSent();
    for (int i = 0; i < 1000; i++) {
      a.lock();
      a.lock();
      assertEquals(2, a.getHoldCount());
      a.unlock();
      a.unlock();
    }
    assertEquals(before, dd.eventsSent(), "uncontended lock/unlock sends nothing");
    // held three times while another thread waits well past the report delay: the holder re-enters, no deadlock
    a.lock();
    a.lock();
    Thread other = new Thread(() -> {
      a.lock();
      a.unlock();
    }, "waiter");
    other.start();
    DaemonProcess.until(() -> dd.eventsSent() > before, "the wait to be reported");
    a.lock();
    a.unlock();
    a.unlock();
    a.unlock();
    other.join(DaemonProcess.STEP_MS);
    assertTrue(!other.isAlive());
    assertEquals(0, daemon.deadlocks().size(), "reentrancy is not a deadlock");
  }

  @Test
  void tryLockTimesOutAsTheJdksDoes() throws Exception {
    DLock a = dd.lock("try");
    a.lock();
    Object[] r = new Object[1];
    Thread t = new Thread(() -> {
      try {
        r[0] = a.tryLock(50, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        r[0] = e;
      }
    });
    t.start();
    t.join(DaemonProcess.STEP_MS);
    assertEquals(Boolean.FALSE, r[0]);
    assertTrue(a.tryLock());
    a.unlock();
    a.unlock();
    assertInstanceOf(Boolean.class, r[0]);
  }
}
