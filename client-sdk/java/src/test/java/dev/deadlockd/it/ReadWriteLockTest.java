package dev.deadlockd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.deadlockd.DReadWriteLock;
import dev.deadlockd.DeadlockException;
import dev.deadlockd.Deadlockd;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ReadWriteLockTest {
  @Test
  void twoReadersUpgradingAtOnceOneDeadlockExceptionTheOtherWrites() throws Exception {
    try (DaemonProcess daemon = new DaemonProcess(); Deadlockd dd = Deadlockd.connect(daemon.url, "java-rw")) {
      DReadWriteLock rw = dd.readWriteLock("config");
      CyclicBarrier bothRead = new CyclicBarrier(2);
      List<Object> results = new CopyOnWriteArrayList<>();
      Runnable upgrader = () -> {
        rw.readLock().lock();
        rw.readLock().lock(); // re-entrant read
        try {
          bothRead.await(DaemonProcess.STEP_MS, TimeUnit.MILLISECONDS);
          rw.writeLock().lock();
          try {
            results.add("wrote");
          } finally {
            rw.writeLock().unlock();
          }
        } catch (DeadlockException e) {
          results.add(e);
        } catch (Exception e) {
          results.add(e.toString());
        } finally {
          rw.readLock().unlock();
          rw.readLock().unlock();
        }
      };
      Thread a = new Thread(upgrader, "upgrader-a");
      Thread b = new Thread(upgrader, "upgrader-b");
      a.start();
      b.start();
      a.join(DaemonProcess.STEP_MS * 2);
      b.join(DaemonProcess.STEP_MS * 2);
      assertEquals(2, results.size(), results.toString());
      assertEquals(1, results.stream().filter(r -> r instanceof DeadlockException).count(), "one victim: " + results);
      assertTrue(results.contains("wrote"), results.toString());
      assertTrue(rw.writeLock().tryLock(), "everything released");
      rw.readLock().lock(); // the writer may read
      rw.readLock().unlock();
      rw.writeLock().unlock();
    }
  }
}
