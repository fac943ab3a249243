package dev.deadlockd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.deadlockd.DLock;
import dev.deadlockd.DReadWriteLock;
import dev.deadlockd.DSemaphore;
import dev.deadlockd.Deadlockd;
import dev.deadlockd.SharedResource;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What the SDK declares for each kind of lock, as the Node SDK does and the protocol defines (proto/src/frames.ts,
 * ResourceEvent): the JDK-like locks are {@code reentrant} and {@code fifo}, with their lockdep {@code class} when
 * given; semaphores are {@code fifo}. Read off the wire by a fake daemon (FakeDaemon).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DeclarationsTest {
  @Test
  void locksAreDeclaredReentrantAndFifoWithTheirClass() throws Exception {
    FakeDaemon fake = new FakeDaemon();
    Deadlockd[] dd = new Deadlockd[1];
    String url = fake.url();
    Thread connecting = new Thread(() -> dd[0] = Deadlockd.connect(new Deadlockd.Options(url, "declarations").reconnect(false)
        .connectTimeoutMs(DaemonProcess.STEP_MS)));
    connecting.start();
    try {
      ConformanceTest.await(fake.frames, f -> f.path("type").asText().equals("hello"), "the hello", null);
      JsonNode suite = DaemonProcess.JSON.readTree(DaemonProcess.REPO.resolve("proto/conformance/sdk.json").toFile());
      fake.send(suite.get("vectors").get(0).get("welcome"));
      connecting.join(DaemonProcess.STEP_MS);
      Deadlockd c = dd[0];
      assertTrue(c.connected());
      DLock account = c.lock("account:1", "account");
      DReadWriteLock rw = c.readWriteLock("config");
      DSemaphore sem = c.semaphore("slots", 2);
      // nested acquires are lock-order facts: each one declares the resources it names
      account.lock();
      rw.writeLock().lock();
      sem.acquire();
      sem.release();
      rw.writeLock().unlock();
      account.unlock();

      JsonNode mutex = declaration(fake, "account:1");
      assertEquals("mutex", mutex.path("kind").asText());
      assertTrue(mutex.path("reentrant").asBoolean() && mutex.path("fifo").asBoolean(), mutex.toString());
      assertEquals("account", mutex.path("class").asText(), mutex.toString());
      JsonNode rwlock = declaration(fake, "config");
      assertEquals("rwlock", rwlock.path("kind").asText());
      assertTrue(rwlock.path("reentrant").asBoolean() && rwlock.path("fifo").asBoolean(), rwlock.toString());
      assertFalse(rwlock.has("class"), rwlock.toString());
      JsonNode semaphore = declaration(fake, "slots");
      assertEquals(2, semaphore.path("capacity").asInt());
      assertTrue(semaphore.path("fifo").asBoolean() && !semaphore.has("reentrant"), semaphore.toString());

      assertEquals(account, c.lock("account:1", "account"), "one name, one lock");
      assertThrows(IllegalArgumentException.class, () -> c.lock("account:1", "other"), "one name, one class");
      assertThrows(IllegalArgumentException.class, () -> c.lock("x", ""), "a class is 1 to 256 characters");
      c.close();
    } finally {
      fake.close();
    }
  }

  /**
   * A snapshot of more than 2,000 events goes in parts of at most 2,000, though the daemon would take 10,000 per
   * frame: shared resources held before the first welcome make the first connection's report a snapshot.
   */
  @Test
  void snapshotPartsCarryAtMostTwoThousandEvents() throws Exception {
    FakeDaemon fake = new FakeDaemon();
    java.util.List<SharedResource.Held<Long>> held = new java.util.ArrayList<>();
    // fail-open: connect returns without a welcome after its timeout; the SDK tries again until one comes
    Deadlockd c = Deadlockd.connect(new Deadlockd.Options(fake.url(), "frames").reconnectDelays(10, 50).connectTimeoutMs(200));
    try {
      ConformanceTest.await(fake.frames, f -> f.path("type").asText().equals("hello"), "the hello", null);
      int n = 1_500; // a declaration and a hold each
      for (int i = 0; i < n; i++) held.add(c.resource("frames:" + i).acquire(abort -> 1L));
      ObjectNode welcome = (ObjectNode) DaemonProcess.JSON.readTree(DaemonProcess.REPO.resolve("proto/conformance/sdk.json").toFile())
          .get("vectors").get(0).get("welcome").deepCopy();
      // bytes split no part here (the SDK halves a frame over maxFrameBytes): only the event count does
      ((ObjectNode) welcome.get("limits")).put("maxEventsPerFrame", 10_000).put("maxFrameBytes", 64 << 20);
      // to the connection open now, again at each poll until the snapshot is complete: a connection that timed
      // out waiting for its welcome may close as the welcome arrives (a welcomed link ignores another welcome)
      DaemonProcess.until(() -> {
        try {
          fake.send(welcome);
        } catch (java.io.IOException e) {
          // between two connections: the next poll sends it to the next one
        }
        return fake.frames.stream().anyMatch(f -> f.path("type").asText().equals("snapshot") && !f.path("more").asBoolean());
      }, "the snapshot's last part");
      java.util.List<Integer> sizes = new java.util.ArrayList<>();
      long holds = 0;
      for (JsonNode f : fake.frames) {
        if (!f.path("type").asText().equals("snapshot")) continue;
        sizes.add(f.path("events").size());
        for (JsonNode e : f.path("events")) if (e.path("type").asText().equals("hold")) holds++;
      }
      assertEquals(n, holds, "every hold in the snapshot");
      assertTrue(sizes.size() >= 2 && sizes.stream().allMatch(k -> k <= 2_000), "parts of " + sizes + " events");
    } finally {
      for (SharedResource.Held<Long> h : held) h.release();
      c.close();
      fake.close();
    }
  }

  private static JsonNode declaration(FakeDaemon fake, String resource) throws InterruptedException {
    JsonNode[] found = {null};
    DaemonProcess.until(() -> {
      for (JsonNode x : ConformanceTest.flatten(fake.frames)) {
        JsonNode e = x.path("event");
        if (e.path("type").asText().equals("resource") && e.path("resource").asText().equals(resource)) found[0] = e;
      }
      return found[0] != null;
    }, "the declaration of " + resource);
    return found[0];
  }
}
