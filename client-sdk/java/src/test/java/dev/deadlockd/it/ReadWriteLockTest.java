package dev.deadlockd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
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

  /** write, read, unlock the write: a downgrade, as the JDK's; the daemon sees the read hold, then the writer's turn */
  @Test
  void aDowngradeKeepsTheReadLockAndTheDaemonSeesIt() throws Exception {
    try (DaemonProcess daemon = new DaemonProcess(); Deadlockd dd = Deadlockd.connect(daemon.url, "java-rw-downgrade")) {
      DReadWriteLock rw = dd.readWriteLock("downgraded");
      rw.writeLock().lock();
      List<Object> writer = new CopyOnWriteArrayList<>();
      Thread other = new Thread(() -> {
        rw.writeLock().lock();
        writer.add("wrote");
        rw.writeLock().unlock();
      }, "other-writer");
      other.start();
      DaemonProcess.until(() -> holds(daemon, "downgraded").equals(List.of("main:exclusive", "other-writer:waits exclusive")),
          "the daemon to see the write hold and the queued writer");
      rw.readLock().lock();
      rw.writeLock().unlock();
      DaemonProcess.until(() -> holds(daemon, "downgraded").equals(List.of("main:shared", "other-writer:waits exclusive")),
          "the daemon to see the read hold left after the downgrade");
      assertTrue(writer.isEmpty() && other.isAlive(), "the other writer still waits: we read");
      rw.readLock().unlock();
      other.join(DaemonProcess.STEP_MS);
      assertEquals(List.of("wrote"), writer);
      DaemonProcess.until(() -> holds(daemon, "downgraded").isEmpty(), "everything released on the daemon too");
      assertEquals(0, daemon.deadlocks().size());
    }
  }

  /** the daemon's edges at this client's resource {@code name} (GET /v1/graph): "owner:mode" holds, "owner:waits mode" */
  private static List<String> holds(DaemonProcess daemon, String name) {
    try {
      JsonNode g = daemon.get("/v1/graph");
      java.util.Map<String, String> labels = new java.util.HashMap<>();
      for (JsonNode n : g.path("nodes")) labels.put(n.path("key").asText(), n.path("attributes").path("label").asText());
      List<String> out = new java.util.ArrayList<>();
      for (JsonNode e : g.path("edges")) {
        JsonNode a = e.path("attributes");
        boolean holds = a.path("kind").asText().equals("holds");
        String res = holds ? e.path("source").asText() : e.path("target").asText();
        String owner = holds ? e.path("target").asText() : e.path("source").asText();
        if (!res.endsWith(":" + name)) continue;
        out.add(labels.get(owner) + ":" + (holds ? "" : "waits ") + a.path("mode").asText());
      }
      java.util.Collections.sort(out);
      return out;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
