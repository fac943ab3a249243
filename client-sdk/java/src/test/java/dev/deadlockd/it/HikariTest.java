package dev.deadlockd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.deadlockd.DeadlockException;
import dev.deadlockd.Deadlockd;
import dev.deadlockd.DeadlockdDataSource;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A real HikariCP pool on a real PostgreSQL: the nested getConnection() of a REST handler. */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class HikariTest {
  static Postgres pg;
  static DaemonProcess daemon;

  @BeforeAll
  static void start() throws Exception {
    pg = new Postgres();
    daemon = new DaemonProcess();
  }

  @AfterAll
  static void stop() {
    if (daemon != null) daemon.close();
    if (pg != null) pg.close();
  }

  static HikariDataSource hikari(String name, int size) {
    HikariConfig c = new HikariConfig();
    c.setJdbcUrl(pg.jdbcUrl());
    c.setUsername(pg.user());
    c.setPassword(pg.password());
    c.setMaximumPoolSize(size);
    c.setPoolName(name);
    return new HikariDataSource(c); // connectionTimeout: HikariCP's default 30 s
  }

  static int one(Connection c) throws Exception {
    try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("select 1")) {
      r.next();
      return r.getInt(1);
    }
  }

  /** the handler: a connection for the request, and a helper that checks out a second one */
  static int handler(DeadlockdDataSource ds, CyclicBarrier allHoldOne) throws Exception {
    try (Connection outer = ds.getConnection()) {
      one(outer);
      if (allHoldOne != null) allHoldOne.await(DaemonProcess.STEP_MS, TimeUnit.MILLISECONDS);
      try (Connection inner = ds.getConnection()) {
        return one(inner) + one(outer);
      }
    }
  }

  @Test
  void nestedCheckoutIsAHazardAtConcurrencyOne() throws Exception {
    try (Deadlockd dd = Deadlockd.connect(daemon.url, "java-rest"); HikariDataSource h = hikari("nested-one", 4)) {
      List<JsonNode> hazards = new CopyOnWriteArrayList<>();
      dd.onHazard(hazards::add);
      DeadlockdDataSource ds = DeadlockdDataSource.wrap(dd, h);
      int before = daemon.deadlocks().size();
      assertEquals(2, handler(ds, null));
      DaemonProcess.until(() -> !hazards.isEmpty(), "the nested-checkout hazard");
      JsonNode hz = hazards.get(0);
      assertTrue(hz.toString().contains("pool:nested-one"), hz.toString());
      assertTrue(hz.toString().contains("HikariTest.handler"), "the Java call site: " + hz);
      assertEquals(before, daemon.deadlocks().size(), "a hazard, not a deadlock");
    }
  }

  @Test
  void nThreadsNestedOnAPoolOfNOneDeadlockExceptionNotNTimeouts() throws Exception {
    int n = 4;
    try (Deadlockd dd = Deadlockd.connect(daemon.url, "java-rest-n"); HikariDataSource h = hikari("nested-n", n)) {
      DeadlockdDataSource ds = DeadlockdDataSource.wrap(dd, h);
      CyclicBarrier allHoldOne = new CyclicBarrier(n);
      ConcurrentLinkedQueue<Object> results = new ConcurrentLinkedQueue<>();
      List<Thread> ts = new ArrayList<>();
      long t0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        Thread t = new Thread(() -> {
          try {
            results.add(handler(ds, allHoldOne));
          } catch (DeadlockException e) {
            results.add(e);
          } catch (Exception e) {
            results.add(e.toString());
          }
        }, "request-" + i);
        ts.add(t);
        t.start();
      }
      for (Thread t : ts) t.join(DaemonProcess.STEP_MS * 2);
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertEquals(n, results.size(), results.toString());
      assertEquals(1, results.stream().filter(r -> r instanceof DeadlockException).count(), "one DeadlockException: " + results);
      assertEquals(n - 1, results.stream().filter(r -> Integer.valueOf(2).equals(r)).count(), "the others completed: " + results);
      assertTrue(ms < 25_000, "resolved long before HikariCP's 30 s timeout: " + ms + " ms");
      assertEquals(n, h.getHikariPoolMXBean().getIdleConnections() + h.getHikariPoolMXBean().getActiveConnections());
      assertEquals(0, h.getHikariPoolMXBean().getActiveConnections(), "every connection back in the pool");
    }
  }
}
