package dev.deadlockd.examples;

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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.sql.DataSource;

/**
 * The nested getConnection() of a REST handler, on a real HikariCP pool: each request holds a connection while a
 * helper it calls checks out a second one. One request alone works (the daemon still reports the hazard); as many
 * requests at once as the pool has connections wait for each other forever, or until HikariCP's
 * connectionTimeout (30 s) fails every one of them. Wrapped with {@link DeadlockdDataSource}, one request gets a
 * {@link DeadlockException} at once, gives its connection back, and the others complete.
 *
 * <p>Run it against {@code npm start}'s daemon: {@code mvn -q test-compile exec:exec@nested-get-connection}
 * (in client-sdk/java). Without {@code -Djdbc.url} it starts the repository's embedded PostgreSQL.
 */
public final class NestedGetConnection {
  static final int POOL_SIZE = 4;

  private NestedGetConnection() {}

  /** the handler: a connection for the request, and a helper that checks out another one */
  static int handle(DataSource ds, CyclicBarrier allHoldOne) throws Exception {
    try (Connection outer = ds.getConnection()) {
      int n = selectOne(outer);
      if (allHoldOne != null) allHoldOne.await(30, TimeUnit.SECONDS);
      return n + audit(ds);
    }
  }

  /** the helper: takes its own connection (the mistake; pass `outer` down instead) */
  static int audit(DataSource ds) throws Exception {
    try (Connection inner = ds.getConnection()) {
      return selectOne(inner);
    }
  }

  static int selectOne(Connection c) throws Exception {
    try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("select 1")) {
      r.next();
      return r.getInt(1);
    }
  }

  public static void main(String[] args) throws Exception {
    try (ExampleSupport.Database db = ExampleSupport.Database.open();
        Deadlockd dd = ExampleSupport.connect("nested-get-connection");
        HikariDataSource hikari = pool(db)) {
      DataSource ds = DeadlockdDataSource.wrap(dd, hikari);
      CountDownLatch hazard = new CountDownLatch(1);
      dd.onHazard(h -> {
        System.out.println("   hazard from the daemon (" + h.path("kind").asText() + "):\n" + indent(h.path("text").asText()));
        hazard.countDown();
      });

      System.out.println("\n1. one request alone: it works, and the nested checkout is reported as a hazard");
      handle(ds, null);
      if (!hazard.await(10, TimeUnit.SECONDS)) System.out.println("   (no hazard within 10 s)");

      System.out.println("\n2. " + POOL_SIZE + " requests at once on a pool of " + POOL_SIZE + " (HikariCP connectionTimeout "
          + hikari.getConnectionTimeout() / 1000 + " s)");
      AtomicLong allHeldAt = new AtomicLong();
      CyclicBarrier allHoldOne = new CyclicBarrier(POOL_SIZE, () -> allHeldAt.set(System.nanoTime()));
      ConcurrentLinkedQueue<String> outcomes = new ConcurrentLinkedQueue<>();
      AtomicLong abortedAt = new AtomicLong();
      List<Thread> requests = new ArrayList<>();
      for (int i = 0; i < POOL_SIZE; i++) {
        Thread t = new Thread(() -> {
          String me = Thread.currentThread().getName();
          try {
            handle(ds, allHoldOne);
            outcomes.add("completed");
            System.out.println("   " + me + ": completed");
          } catch (DeadlockException e) {
            abortedAt.set(System.nanoTime());
            outcomes.add("deadlock");
            System.out.println("   " + me + ": DeadlockException " + e.deadlockId() + "\n" + indent(e.reportText()));
          } catch (Exception e) {
            outcomes.add(e.getClass().getSimpleName());
            System.out.println("   " + me + ": " + e);
          }
        }, "request-" + i);
        requests.add(t);
        t.start();
      }
      for (Thread t : requests) t.join();
      long deadlocks = outcomes.stream().filter("deadlock"::equals).count();
      long completed = outcomes.stream().filter("completed"::equals).count();
      long ms = abortedAt.get() == 0 ? -1 : (abortedAt.get() - allHeldAt.get()) / 1_000_000;
      System.out.println("\nresult: " + deadlocks + " DeadlockException" + (deadlocks == 1 ? "" : "s") + " after " + ms
          + " ms (from the moment every request held a connection), " + completed + " of " + POOL_SIZE + " requests completed;"
          + " without deadlockd all " + POOL_SIZE + " would wait " + hikari.getConnectionTimeout() / 1000 + " s for an SQLTransientConnectionException");
      System.out.println("RESULT deadlockExceptions=" + deadlocks + " completed=" + completed + " resolvedMs=" + ms);
      if (deadlocks != 1 || completed != POOL_SIZE - 1) System.exit(1);
    }
  }

  private static HikariDataSource pool(ExampleSupport.Database db) {
    HikariConfig c = new HikariConfig();
    c.setJdbcUrl(db.url);
    c.setUsername(db.user);
    c.setPassword(db.password);
    c.setMaximumPoolSize(POOL_SIZE);
    c.setPoolName("orders-db");
    return new HikariDataSource(c); // connectionTimeout: HikariCP's default, 30 s
  }

  static String indent(String text) {
    return text.replaceAll("(?m)^", "      ");
  }
}
