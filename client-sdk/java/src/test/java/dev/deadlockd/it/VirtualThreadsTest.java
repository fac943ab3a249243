package dev.deadlockd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.deadlockd.DLock;
import dev.deadlockd.DSemaphore;
import dev.deadlockd.DeadlockException;
import dev.deadlockd.Deadlockd;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Owners that are virtual threads (JDK 21+). The SDK is built for Java 17, so the virtual threads are made through
 * reflection; on a JDK before 21 every test here is skipped (scripts/run-java-tests.mjs runs this class a second
 * time on a JDK 21+ when the machine has one).
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class VirtualThreadsTest {
  DaemonProcess daemon;
  Deadlockd dd;

  @BeforeEach
  void start() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need a JDK 21+; this is " + Runtime.version());
    daemon = new DaemonProcess();
    dd = Deadlockd.connect(daemon.url, "java-virtual");
    assertTrue(dd.connected());
  }

  @AfterEach
  void stop() {
    if (dd != null) dd.close();
    if (daemon != null) daemon.close();
  }

  /** Thread.ofVirtual().name(prefix, 0).factory(), through reflection (this compiles against Java 17) */
  static ThreadFactory virtualThreads(String prefix) throws Exception {
    Class<?> builder = Class.forName("java.lang.Thread$Builder");
    Object b = Thread.class.getMethod("ofVirtual").invoke(null);
    b = builder.getMethod("name", String.class, long.class).invoke(b, prefix, 0L);
    return (ThreadFactory) builder.getMethod("factory").invoke(b);
  }

  static boolean isVirtual(Thread t) {
    try {
      return (Boolean) Thread.class.getMethod("isVirtual").invoke(t);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void twoVirtualThreadsInOppositeOrderOneDeadlockExceptionNamingThem() throws Exception {
    DLock a = dd.lock("vt-account:1");
    DLock b = dd.lock("vt-account:2");
    CyclicBarrier bothHold = new CyclicBarrier(2);
    List<Object> results = new java.util.concurrent.CopyOnWriteArrayList<>();
    ThreadFactory vf = virtualThreads("vt-transfer-");
    Thread x = vf.newThread(() -> results.add(LockScenarios.transfer(a, b, bothHold)));
    Thread y = vf.newThread(() -> results.add(LockScenarios.transfer(b, a, bothHold)));
    assertTrue(isVirtual(x) && isVirtual(y));
    x.start();
    y.start();
    x.join(DaemonProcess.STEP_MS * 2);
    y.join(DaemonProcess.STEP_MS * 2);
    assertEquals(2, results.size(), results.toString());
    DeadlockException e = (DeadlockException) results.stream().filter(r -> r instanceof DeadlockException).findFirst()
        .orElseThrow(() -> new AssertionError("no DeadlockException: " + results));
    assertTrue(results.contains("done"), results.toString());
    String report = e.report().toString();
    assertTrue(report.contains("vt-transfer-0") && report.contains("vt-transfer-1"), "the report names both virtual threads: " + report);
    assertEquals(1, daemon.deadlocks().size());
  }

  @Test
  void diningPhilosophersOnVirtualThreads() throws Exception {
    LockScenarios.philosophers(dd, daemon, 50, "vt-fork-", virtualThreads("vt-philosopher-"));
  }

  /**
   * Waits do not pin their carrier: with far more virtual threads blocked in dd locks and semaphores than there are
   * carrier threads (the scheduler has one per core), another virtual thread still runs. Were a wait pinned, the first
   * few waiters would hold every carrier and neither the other waiters nor that thread would ever run.
   */
  @Test
  void blockedVirtualThreadsLeaveTheirCarriers() throws Exception {
    int onLock = 150;
    int onSemaphore = 50;
    DLock lock = dd.lock("vt-busy-lock");
    DSemaphore sem = dd.semaphore("vt-busy-semaphore", 1);
    lock.lock();
    sem.acquire();
    ThreadFactory vf = virtualThreads("vt-waiter-");
    AtomicInteger done = new AtomicInteger();
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    List<Thread> waiters = new ArrayList<>();
    for (int i = 0; i < onLock + onSemaphore; i++) {
      boolean useLock = i < onLock;
      Thread t = vf.newThread(() -> {
        try {
          if (useLock) {
            lock.lock();
            lock.unlock();
          } else {
            sem.acquire();
            sem.release();
          }
          done.incrementAndGet();
        } catch (Throwable e) {
          failures.add(e);
        }
      });
      waiters.add(t);
      t.start();
    }
    // every one of them is blocked in a wait the daemon knows (reported after reportAfterMs)
    DaemonProcess.until(() -> queued(daemon, "vt-busy-lock") == onLock && queued(daemon, "vt-busy-semaphore") == onSemaphore,
        "all " + (onLock + onSemaphore) + " virtual threads waiting at once");
    CountDownLatch ran = new CountDownLatch(1);
    vf.newThread(ran::countDown).start();
    assertTrue(ran.await(DaemonProcess.STEP_MS, TimeUnit.MILLISECONDS), "a virtual thread runs while 200 others wait");
    assertEquals(0, done.get());
    lock.unlock();
    sem.release();
    for (Thread t : waiters) t.join(DaemonProcess.STEP_MS);
    assertTrue(failures.isEmpty(), failures.toString());
    assertEquals(onLock + onSemaphore, done.get(), "every waiter got its turn");
    assertEquals(0, daemon.deadlocks().size());
  }

  /** the daemon's count of waits queued at this client's resource {@code name} (GET /v1/graph) */
  private static long queued(DaemonProcess daemon, String name) {
    try {
      for (JsonNode n : daemon.get("/v1/graph").path("nodes")) {
        JsonNode a = n.path("attributes");
        if (a.path("kind").asText().equals("resource") && a.path("resource").asText().endsWith(":" + name)) return a.path("queued").asLong();
      }
      return 0;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
