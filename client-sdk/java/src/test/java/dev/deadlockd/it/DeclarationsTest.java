package dev.deadlockd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.deadlockd.DLock;
import dev.deadlockd.DReadWriteLock;
import dev.deadlockd.DSemaphore;
import dev.deadlockd.Deadlockd;
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
